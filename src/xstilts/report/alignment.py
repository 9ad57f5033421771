"""Terminal tables for alignment probes: one row per language, one column per layer and direction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rich.table import Table

from ..store import ResultRow


def _kind(direction: str) -> str:
    return "eng→xx" if direction.startswith("eng") else "xx→eng"


def per_language_table(rows: Sequence[ResultRow], title: str, groups: dict[str, Iterable[str]]) -> Table:
    """Languages down, (layer, direction) across; group means (e.g. XTREME-36) at the bottom."""
    cols = sorted({(r.layer, _kind(r.direction)) for r in rows})
    cell: dict[str, dict[tuple, float]] = defaultdict(dict)
    for r in rows:
        cell[r.language][(r.layer, _kind(r.direction))] = r.value
    metric = rows[0].metric if rows else ""
    table = Table(title=title, caption=f"{metric}; layer 0 = embedding output", show_lines=False)
    table.add_column("language")
    for layer, kind in cols:
        table.add_column(f"L{layer} {kind}", justify="right")
    for lang in sorted(cell):
        table.add_row(lang, *(f"{cell[lang][c]:.1f}" if c in cell[lang] else "" for c in cols))
    for name, langs in groups.items():
        members = [lang for lang in langs if lang in cell]
        if not members:
            continue
        means = []
        for c in cols:
            vals = [cell[lang][c] for lang in members if c in cell[lang]]
            means.append(f"{sum(vals) / len(vals):.1f}" if vals else "")
        table.add_row(f"[bold]mean {name} ({len(members)})[/]", *[f"[bold]{m}[/]" for m in means],
                      end_section=False)
    return table
