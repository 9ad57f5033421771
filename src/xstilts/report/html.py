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
from xstilts.report.answer import headline, units_phrase
from xstilts.report.setup import limits, metric_text
from xstilts.report.stats import MIN_UNITS
from xstilts.report.study import StudyReport
from xstilts.report.grid import TEXT_COLUMNS, Grid
from xstilts.report.tables import (
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
figure { margin: 0.8em 0; } figcaption { color: #555; font-size: 0.85em; max-width: 70em; }
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


def _figure(png: bytes | None, alt: str, caption: str) -> str:
    if png is None:
        return ""
    return f'<figure>{_img(png, alt)}<figcaption>{html.escape(caption)}</figcaption></figure>'


def forest_caption(report: StudyReport) -> str:
    """What the forest plot shows and how to read it."""
    comps, what = plots.forest_comparisons(report)
    units = sorted({len(c.units) for c in comps})
    return (f"{what}. One panel per outcome, each in its own metric (different metrics are never averaged); "
            "point: the difference in points (mean over units: "
            + ("trained encoders" if report.units_are_encoders else "fine-tuning seeds of one encoder per condition")
            + f", {'/'.join(map(str, units))} per row), bar: its 95% t interval (none with 1 unit), shaded band: "
            f"±{report.design.margin:g} point{'s' * (report.design.margin != 1)}, the equivalence margin; the verdict is written beside each "
            f"row (filled markers: tested, {MIN_UNITS}+ units; open: too few units for a claim). Transfer rows are "
            "zero-shot (the training language excluded); probe rows average languages, directions and layers.")


def _list(items: Sequence[str], title: str, cls: str = "warn") -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return f'<div class="{cls}"><b>{html.escape(title)}</b><ul>{lis}</ul></div>'


def study_summary(report: StudyReport) -> str:
    """The study in one paragraph: conditions, targets with their data and languages, probes, units."""
    s = report.setup
    seeds = sorted({a.seed for a in report.aggregates if a.seed is not None})
    targets = "; ".join(
        f"{t} ({metric_text(s, t)}, {'/'.join(s.splits.get(t, ()))}"
        + (f", first {s.eval_cut[t]} examples per language" if t in s.eval_cut else "") + ")"
        for t in report.target_tasks)
    probes = "; ".join(
        p + (f" (first {s.probe_cut[p.split(' ')[0]]} sentences per language)" if p.split(" ")[0] in s.probe_cut else "")
        for p in report.probe_tasks)
    return (f"{len(report.conditions)} conditions ({', '.join(report.conditions)}); model: {', '.join(s.models) or '—'}; "
            f"target tasks: {targets or '—'}; alignment probes: {probes or '—'}; fine-tuning seeds: "
            f"{', '.join(map(str, seeds)) or '—'}; {units_phrase(report)}. Scores and gains are in points (0–100); "
            "transfer comparisons are zero-shot (the training language excluded). Every table names its data and "
            f"languages below it. {report.benchmark.describe()}.")


def render_html(report: StudyReport, title: str = "xstilts study report", recommendations: Sequence[Grid] = (),
                provenance: Sequence[Grid] = ()) -> str:
    """The whole report as one HTML string; RECOMMENDATIONS: `xstilts recommend`'s grids, if it ran.
    It opens with the answer: a smoke banner if any, the 2–3 sentence answer, the forest plot of the
    declared (else baseline) comparisons, then the study's limits; the tables and other figures follow."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if report.design.smoke:
        parts.append('<p class="warn"><b>SMOKE RUN</b>: tiny budgets that test the code paths; '
                     'these numbers mean nothing.</p>')
    if answer := headline(report):
        parts.append(f'<p class="answer"><b>Answer:</b> {html.escape(answer)}</p>')
    parts.append(_figure(plots.forest(report), "forest plot of the comparisons", forest_caption(report)))
    parts.append(_list(limits(report), "Limits of this study"))
    if report.excluded:
        parts.append(_list(report.excluded, "Runs left out: runs that did not learn"))
    parts += [f"<p>{html.escape(study_summary(report))}</p>",
              f"<p class='note'>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"]
    parts.append(_list(report.warnings, "Warnings"))
    if report.primary:
        parts += ["<h2>Declared primary comparisons</h2>", grid_html(primary_grid(report))]
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
                  _img(plots.alignment_scatter(report), "alignment gain vs transfer gain")]
        single = [p for p in report.probe_tasks if p not in plots.curve_probes(report)]
        parts.append(_img(plots.layer_curves(report), "retrieval score by layer"))
        if single:
            parts.append(f"<p class='note'>{html.escape(', '.join(single))}: scored at one layer, so no layer "
                         "curve.</p>")
        if report.alignment_gains or report.alignment_pairs:
            parts.append(grid_html(alignment_tests_grid(report)))
    if report.learning:
        from xstilts.report.learning import learning_grid

        parts += ["<h2>Did each run learn its own task?</h2>", grid_html(learning_grid(report.learning))]
        if any(r.phase == "finetune" for r in report.learning):
            parts.append(grid_html(learning_grid(report.learning, "finetune")))
        parts.append(_figure(plots.training_curves(report), "training curves", CURVES_CAPTION)
                     or "<p class='note'>No training curves: these nodes recorded no dev curve (nodes record "
                        "one since xstilts kept `learning` in their outputs).</p>")
    if recommendations:
        parts += ["<h2>Which intermediate task would cheap signals have picked?</h2>",
                  *(grid_html(g) for g in recommendations)]
    if provenance:
        parts += ["<h2>Where the rows come from</h2>", *(grid_html(g) for g in provenance)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


CURVES_CAPTION = ("Training curves per node kind: phase 2, each intermediate run's score on its own task's dev set; "
                  "phase 3, each fine-tuning run's English dev score (one line per run, colour: condition; dotted: "
                  "chance). A curve still rising at its last point had not converged.")


def write_html(report: StudyReport, path: str | Path, title: str = "xstilts study report",
               recommendations: Sequence[Grid] = (), provenance: Sequence[Grid] = ()) -> Path:
    """Write the report to `path` (parents created) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, title, recommendations, provenance), encoding="utf-8")
    return path
