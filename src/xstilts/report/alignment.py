"""Terminal tables for alignment probes: one row per language, one column per layer and direction
where that fits the console; where it does not (`--layers all` on a 24-layer model makes 50
columns), a per-layer table of language means and a per-language table at the best and last
layers instead. The full grid stays in the store (and `align --json`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table

from ..store import ResultRow


def _kind(direction: str | None) -> str:
    return "eng→xx" if (direction or "").startswith("eng") else "xx→eng"


def _mean(vals: Sequence[float]) -> str:
    return f"{sum(vals) / len(vals):.1f}" if vals else ""


class PerLanguage:
    """A rich renderable: the wide grid when it fits the console it is printed on, else the
    condensed pair of tables (so a 100-column terminal and a 200-column log both read well)."""

    def __init__(self, rows: Sequence[ResultRow], title: str, groups: dict[str, Iterable[str]]):
        self.title, self.metric = title, rows[0].metric if rows else ""
        self.cols = sorted({(r.layer, _kind(r.direction)) for r in rows}, key=lambda c: (c[0] is None, c[0] or 0, c[1]))
        self.cell: dict[str, dict[tuple, float]] = defaultdict(dict)
        for r in rows:
            self.cell[r.language][(r.layer, _kind(r.direction))] = r.value
        self.groups = {name: [lang for lang in langs if lang in self.cell] for name, langs in groups.items()}
        self.groups = {name: members for name, members in self.groups.items() if members}

    def _group_mean(self, members: Sequence[str], col: tuple) -> str:
        return _mean([self.cell[lang][col] for lang in members if col in self.cell[lang]])

    def wide(self) -> Table:
        """Languages down, (layer, direction) across; group means (e.g. XTREME-36) at the bottom."""
        table = Table(title=self.title, caption=f"{self.metric}; layer 0 = embedding output", show_lines=False)
        table.add_column("language")
        for layer, kind in self.cols:
            table.add_column(f"L{layer} {kind}", justify="right")
        for lang in sorted(self.cell):
            table.add_row(lang, *(f"{self.cell[lang][c]:.1f}" if c in self.cell[lang] else "" for c in self.cols))
        for name, members in self.groups.items():
            table.add_row(f"[bold]mean {name} ({len(members)})[/]",
                          *[f"[bold]{self._group_mean(members, c)}[/]" for c in self.cols], end_section=False)
        return table

    def condensed(self) -> Group:
        """Layers down with each group's mean per direction; then languages down at the layer
        with the best mean (over every language and direction) and at the last layer."""
        layers = sorted({layer for layer, _ in self.cols}, key=lambda v: (v is None, v or 0))
        kinds = sorted({kind for _, kind in self.cols})
        by_layer = Table(title=f"{self.title}: mean per layer", show_lines=False,
                         caption=f"{self.metric}; layer 0 = embedding output")
        by_layer.add_column("layer", justify="right")
        for name, members in self.groups.items():
            for kind in kinds:
                by_layer.add_column(f"{name} ({len(members)}) {kind}", justify="right")
        everyone = sorted(self.cell)

        def overall(layer) -> float:
            vals = [self.cell[lang][(layer, k)] for lang in everyone for k in kinds if (layer, k) in self.cell[lang]]
            return sum(vals) / len(vals) if vals else float("-inf")

        best = max(layers, key=overall)
        for layer in layers:
            by_layer.add_row(f"[bold]{layer}[/]" if layer == best else str(layer),
                             *(self._group_mean(members, (layer, kind))
                               for members in self.groups.values() for kind in kinds))
        shown = list(dict.fromkeys([best, layers[-1]]))
        by_lang = Table(title=f"{self.title}: per language at layer {best} (best mean)"
                              + (f" and {layers[-1]} (last)" if len(shown) > 1 else ""),
                        caption="every layer of every language: the results store, or `xstilts align --json FILE`",
                        show_lines=False)
        by_lang.add_column("language")
        for layer in shown:
            for kind in kinds:
                by_lang.add_column(f"L{layer} {kind}", justify="right")
        for lang in everyone:
            by_lang.add_row(lang, *(f"{self.cell[lang][(layer, kind)]:.1f}" if (layer, kind) in self.cell[lang] else ""
                                    for layer in shown for kind in kinds))
        for name, members in self.groups.items():
            by_lang.add_row(f"[bold]mean {name} ({len(members)})[/]",
                            *(f"[bold]{self._group_mean(members, (layer, kind))}[/]" for layer in shown for kind in kinds))
        return Group(by_layer, by_lang)

    def fits(self, console: Console, width: int) -> bool:
        """Whether the grid's natural width (every cell unwrapped) is within WIDTH."""
        natural = Measurement.get(console, console.options.update(max_width=10**5), self.wide()).maximum
        return natural <= width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.wide() if self.fits(console, options.max_width) else self.condensed()


def per_language_table(rows: Sequence[ResultRow], title: str, groups: dict[str, Iterable[str]]) -> PerLanguage:
    """Languages down, (layer, direction) across, group means at the bottom; condensed where the
    console is too narrow for one column per layer and direction (see PerLanguage)."""
    return PerLanguage(rows, title, groups)
