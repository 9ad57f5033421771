"""One self-contained HTML file for a study: the tables and the PNG figures inlined as base64, so the
report can be mailed or archived without a folder of assets.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from xstilts.report import plots
from xstilts.report.answer import headline
from xstilts.report.stats import NO_CLAIM
from xstilts.report.study import StudyReport
from xstilts.report.tables import (
    TEXT_COLUMNS,
    Grid,
    alignment_grid,
    alignment_tests_grid,
    comparison_grid,
    english_grid,
    pairs_grid,
    primary_grid,
    significance_grid,
    translations_grid,
    xtreme_grid,
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e3e3e3; }
th { background: #f3f3f3; text-align: right; } th.text, td.text { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.break td { border-bottom: 2px solid #999; }
td.pos { color: #1a5fa8; } td.neg { color: #b22222; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.85em; padding-top: 0.4em; max-width: 70em; }
.title { caption-side: top; font-weight: 600; color: #222; font-size: 1em; }
.warn { background: #fff6d6; border-left: 4px solid #e0b000; padding: 0.5em 1em; }
img { max-width: 100%; margin: 0.5em 0; display: block; }
p.note { color: #555; font-size: 0.9em; }
p.answer { font-size: 1.1em; background: #eef4fb; border-left: 4px solid #1a5fa8; padding: 0.6em 1em; }
"""


def _cls(col: str, cell: str, signed: bool) -> str:
    if col in TEXT_COLUMNS:
        return "text"
    if not signed:
        return ""
    return "pos" if cell.startswith("+") else "neg" if cell.startswith("-") and cell[1:2].isdigit() else ""


def grid_html(grid: Grid) -> str:
    """A grid as an HTML table: title on top, caption (notes) below, rules between condition kinds."""
    head = "".join(f'<th class="{"text" if c in TEXT_COLUMNS else ""}">{html.escape(c)}</th>' for c in grid.columns)
    body = []
    for i, row in enumerate(grid.rows):
        cells = "".join(f'<td class="{_cls(c, v, grid.signed)}">{html.escape(v)}</td>'
                        for c, v in zip(grid.columns, row))
        body.append(f'<tr class="{"break" if i in grid.breaks else ""}">{cells}</tr>')
    return (f'<table><caption class="title">{html.escape(grid.title)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table><p class="note">{html.escape(grid.caption)}</p>')


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def render_html(report: StudyReport, title: str = "xstilts study report", recommendations: Sequence[Grid] = ()) -> str:
    """The whole report as one HTML string; RECOMMENDATIONS: `xstilts recommend`'s grids, if it ran."""
    seeds = sorted({a.seed for a in report.aggregates if a.seed is not None})
    unit = ("units: trained encoders (phase-2 seeds)" if report.units_are_encoders
            else "one phase-2 run per condition: units are fine-tuning seeds, so comparisons are between encoders")
    summary = (f"{len(report.conditions)} conditions ({', '.join(report.conditions)}); "
               f"target tasks: {', '.join(report.target_tasks) or '—'}; "
               f"alignment probes: {', '.join(report.probe_tasks) or '—'}; "
               f"fine-tuning seeds: {', '.join(map(str, seeds)) or '—'}; {unit}. Scores and gains are in points "
               "(0–100); transfer comparisons are zero-shot (the training language excluded). "
               f"{report.benchmark.describe()}.")
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if report.design.smoke:
        parts.append('<p class="warn"><b>SMOKE RUN</b>: tiny budgets that test the code paths; '
                     'these numbers mean nothing.</p>')
    if answer := headline(report):
        parts.append(f'<p class="answer"><b>Answer:</b> {html.escape(answer)}</p>')
    if report.primary:
        parts.append(grid_html(primary_grid(report)))
    if report.excluded:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.excluded)
        parts.append(f'<div class="warn"><b>Left out: runs that did not learn</b><ul>{items}</ul></div>')
    parts += [f"<p>{html.escape(summary)}</p>",
             f"<p class='note'>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"]
    if any(not c.tested for c in report.comparisons):
        parts.append(f'<p class="warn"><b>{html.escape(NO_CLAIM)}.</b></p>')
    if report.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
        parts.append(f'<div class="warn"><b>Warnings</b><ul>{items}</ul></div>')
    parts += ["<h2>Gains over no intermediate training</h2>", grid_html(comparison_grid(report)),
              _img(plots.gain_heatmap(report), "gain heatmap"),
              "<h2>Official XTREME-R scores</h2>", grid_html(xtreme_grid(report)),
              "<h2>Significance</h2>", grid_html(significance_grid(report))]
    if report.english:
        parts.append(grid_html(english_grid(report)))
    if report.pairs:
        parts += ["<h2>English vs low-resource intermediate data</h2>", grid_html(pairs_grid(report))]
    if report.translations:
        parts += ["<h2>Translated vs source task</h2>", grid_html(translations_grid(report))]
    if report.gains:
        parts.append("<h2>Gains per language</h2>")
        parts += [_img(plots.language_gains(report, t), f"{t} per-language gains") for t in report.target_tasks]
    if report.probe_tasks:
        parts += ["<h2>Alignment and transfer</h2>", grid_html(alignment_grid(report)),
                  _img(plots.alignment_scatter(report), "alignment gain vs transfer gain"),
                  _img(plots.layer_curves(report), "retrieval score by layer")]
        if report.alignment_gains or report.alignment_pairs:
            parts.append(grid_html(alignment_tests_grid(report)))
    if report.learning:
        from xstilts.report.learning import learning_grid

        parts += ["<h2>Did each run learn its own task?</h2>", grid_html(learning_grid(report.learning))]
    if recommendations:
        parts += ["<h2>Which intermediate task would cheap signals have picked?</h2>",
                  *(grid_html(g) for g in recommendations)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


def write_html(report: StudyReport, path: str | Path, title: str = "xstilts study report",
               recommendations: Sequence[Grid] = ()) -> Path:
    """Write the report to `path` (parents created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, title, recommendations), encoding="utf-8")
    return path
