"""The report's tables as plain grids of strings, rendered by rich for the terminal and by html.py.

One builder per table keeps terminal and HTML showing the same numbers.
"""

from __future__ import annotations

import statistics

from rich.console import Console

from xstilts.report.answer import headline
from xstilts.report.grid import Grid, to_rich
from xstilts.report.learning import learning_grid
from xstilts.report.setup import limits
from xstilts.report.stats import MIN_UNITS, Comparison, fmt_ci, fmt_p
from xstilts.report.study import StudyReport
from xstilts.console import make_console

STARS_NOTE = "* p<0.05, ** p<0.01, *** p<0.001 after Holm correction"
NA_NOTE = f"n/a: fewer than {MIN_UNITS} units, so no p-value and no claim (see Limits)"


def _f(x: float | None, signed: bool = False) -> str:
    return "" if x is None else f"{x:+.2f}" if signed else f"{x:.2f}"


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def _cell(c: Comparison | None) -> str:
    return "" if c is None else f"{c.gain}{c.stars}"


def _test_note(comps: list[Comparison]) -> str:
    """What the stars mean, and plainly when too few units allow no significance claim."""
    if not comps:
        return ""
    if not any(c.tested for c in comps):
        return f"no stars: fewer than {MIN_UNITS} units, no claim (see Limits)"
    units = sorted({len(c.units) for c in comps if c.tested})
    note = f"t-test over {'/'.join(map(str, units))} units, {STARS_NOTE}"
    return note + (f"; no stars in cells of tasks with fewer than {MIN_UNITS} units (no claim)"
                   if not all(c.tested for c in comps) else "")


def _where(report: StudyReport, task: str) -> str:
    """'test, first 200 examples per language' for a task (or probe label) from the report's setup;
    each outcome's for a comparison over several ('tatoeba+flores')."""
    if "+" in task:
        return "; ".join(f"{t}: {_where(report, t)}" for t in task.split("+"))
    s, base = report.setup, task.split(" ")[0]
    cut = s.eval_cut.get(base) or s.probe_cut.get(base)
    unit = "sentences" if base in s.probe_cut else "examples"
    return "/".join(s.splits.get(base, ())) + (f", first {cut} {unit} per language" if cut else "")


def languages_note(report: StudyReport, comps: list[Comparison]) -> str:
    """The data and language set behind a table of comparisons: per task, its split, any cut, and the
    languages averaged (the training language is excluded from transfer comparisons; each row uses
    the languages both of its sides have)."""
    by_task: dict[str, list[set[str]]] = {}
    for c in comps:
        by_task.setdefault(c.task, []).append({lang.split("/")[0] for lang in c.languages})
    parts = []
    for task, sets in by_task.items():
        union = set().union(*sets)
        varies = "" if all(s == union for s in sets) else ", rows: the languages both sides have"
        parts.append(f"{task} ({_where(report, task)}{varies}): {', '.join(sorted(union))}")
    return ("Data and languages: " + "; ".join(parts)) if parts else ""


def _with_breaks(grid: Grid, report: StudyReport, names: list[str]) -> Grid:
    kinds = [report.conditions[n].kind for n in names]
    grid.breaks = {i for i in range(len(kinds) - 1) if kinds[i] != kinds[i + 1]}
    return grid


def mean_score(report: StudyReport, condition: str, task: str) -> float | None:
    """Task average of `condition` over its seeds."""
    return _mean([a.tasks[task].average for a in report.aggregates_of(condition) if task in a.tasks])


def baseline_score(report: StudyReport, task: str) -> float | None:
    """The baseline's zero-shot score over the same units and languages as the gains on TASK."""
    comps = [c for c in report.gains if c.task == task]
    return comps[0].b_mean if comps else None


def comparison_grid(report: StudyReport) -> Grid:
    """Conditions × target tasks: gain over the baseline ± std over seeds, stars; alignment gains after."""
    probes = list(report.probe_tasks)
    grid = Grid("Gain over no intermediate training (points)",
                ["condition", "kind", *report.target_tasks, "mean", *(f"Δ align {p}" for p in probes),
                 *(["Δ align"] if len(probes) > 1 else [])],
                caption=f"{report.baseline}: absolute zero-shot scores over the languages of the gains (training "
                        "language excluded). Target cells: zero-shot gain, mean ± std over units. "
                        + (f"{note}. " if (note := _test_note(report.gains)) else "")
                        + "Δ align: retrieval score gain averaged over layers, languages and directions")
    names = list(report.conditions)
    for name in names:
        info, align = report.conditions[name], report.alignment.get(name)
        if name == report.baseline:
            cells = [_f(baseline_score(report, t)) for t in report.target_tasks]
            mean = ""
        else:
            cells = [_cell(report.gain(name, t)) for t in report.target_tasks]
            mean = _f(align.transfer_gain if align else None, signed=True)
        aligned = [_f(align.per_task.get(p) if align else None, signed=True) for p in probes]
        overall = [_f(align.gain if align else None, signed=True)] if len(probes) > 1 else []
        grid.rows.append([name, info.kind, *cells, mean, *aligned, *overall])
    grid.caption += ". " + languages_note(report, [*report.gains, *report.alignment_gains])
    return _with_breaks(grid, report, names)


def xtreme_grid(report: StudyReport) -> Grid:
    """XTREME-R scores per condition (mean over seeds): task averages, English, gap, categories, overall."""
    aggs = report.aggregates
    cats = list(dict.fromkeys(c for a in aggs for c in a.categories))
    partial = {c for a in aggs for c in a.partial_categories} | ({"overall"} if any(a.partial for a in aggs) else set())
    columns = list(dict.fromkeys([*report.target_tasks, *(t for a in aggs for t in a.tasks)]))
    grid = Grid("Official XTREME-R scores (English included, as XTREME-R's evaluate.py; mean over runs)",
                ["condition", *columns, "en", "transfer gap",
                 *(c + (" †" if c in partial else "") for c in [*cats, "overall"])],
                signed=False)
    missing = sorted({m for a in aggs for m in a.missing_tasks})
    langs_missing = {t: r.missing for a in aggs for t, r in a.tasks.items() if r.missing}
    notes = ["† partial: over the XTREME-R tasks present only"] if missing else []
    if missing:
        notes.append(f"tasks not run: {', '.join(missing)}")
    notes += [f"{t} lacks {', '.join(m)}" for t, m in langs_missing.items()]
    outside = sorted({t for a in aggs for t, r in a.tasks.items() if not r.in_benchmark})
    if outside:
        notes.append(f"not XTREME-R tasks, left out of categories and overall: {', '.join(outside)}")
    averaged = [t for t in columns if t not in outside]
    if averaged:
        notes.append(f"overall averages {', '.join(averaged)}")
    present = {t: sorted({lang for a in aggs if t in a.tasks for lang in a.tasks[t].per_language
                          if t in outside or lang in report.benchmark.task(t).languages})
               for t in columns}
    notes.append("Data and languages: " + "; ".join(f"{t} ({_where(report, t)}): {', '.join(ls)}"
                                                   for t, ls in present.items() if ls)
                 + ". These scores include English and only XTREME-R's languages, so they differ from the "
                 "zero-shot tables, which exclude English and average every language evaluated")
    if retrieval := [t for t in columns if t not in report.target_tasks]:
        notes.append(f"{', '.join(retrieval)}: probe rows of the xtreme-r protocol (English queries, the official "
                     "layer; after fine-tuning where the spec says `after:`)")
    grid.caption = ". ".join([report.benchmark.describe(), *notes,
                              "task scores average the XTREME-R languages present; en and gap average over tasks"])
    names = [n for n in report.conditions if report.aggregates_of(n)]
    for name in names:
        aggs_c = report.aggregates_of(name)
        tasks = [r for a in aggs_c for r in a.tasks.values()]
        grid.rows.append([
            name,
            *(_f(mean_score(report, name, t)) for t in columns),
            _f(_mean([r.english for r in tasks if r.english is not None])),
            _f(_mean([r.gap for r in tasks if r.gap is not None])),
            *(_f(_mean([a.categories[c] for a in aggs_c if c in a.categories])) for c in cats),
            _f(_mean([a.overall for a in aggs_c if a.overall is not None])),
        ])
    return _with_breaks(grid, report, names)


def _test_rows(comps: list[Comparison], with_power: bool = False) -> list[list[str]]:
    return [[c.a, c.b, c.task, str(len(c.units)) + ("" if c.encoders else " (seeds)"), str(c.gain), fmt_ci(c.ci),
             fmt_p(c.p, len(c.units)), fmt_p(c.p_holm, len(c.units)), c.verdict_text(with_power) + c.stars
             + "".join(f"; {f}" for f in c.flags)] for c in comps]


TEST_COLUMNS = ["condition", "minus", "task", "units", "difference", "95% CI", "p (t)", "p Holm", "verdict"]
TEST_METHOD = ("The unit is the trained encoder (phase-2 seed; its fine-tuning seeds and languages averaged "
               "first), or the fine-tuning seed where a condition had one phase-2 run ('(seeds)': then two "
               "encoders are compared, not kinds of training); transfer: zero-shot languages only; "
               "difference: mean ± std over units; 95% CI and p: t over units (paired by unit, Welch where "
               "units differ); verdicts: different (Holm p < alpha), equivalent within ±margin (two one-sided "
               f"tests, Holm), else inconclusive with its power for the margin; tests need {MIN_UNITS}+ units")


POWER_NOTE = ("power: of the two-sided t-test over these units to detect a difference of ±margin, at the observed "
              "std of a unit's difference (the power the comparison had, not the power it was planned for)")


def _caption(comps: list[Comparison], family: str, report: StudyReport | None = None) -> str:
    claim = [NA_NOTE] if any(not c.tested for c in comps) else []
    margin = f"margin ±{comps[0].margin:g}, alpha {comps[0].alpha:g}" if comps else ""
    where = [note] if report is not None and (note := languages_note(report, comps)) else []
    return ". ".join([*where, TEST_METHOD, f"Holm across {family}; {margin}", *claim])


def primary_grid(report: StudyReport) -> Grid:
    return Grid("Declared primary comparisons", TEST_COLUMNS, _test_rows(report.primary, with_power=True),
                caption=_caption(report.primary, "the primary comparisons", report) + ". " + POWER_NOTE)


def significance_grid(report: StudyReport) -> Grid:
    return Grid("Zero-shot gains over the baseline: tests", TEST_COLUMNS, _test_rows(report.gains),
                caption=_caption(report.gains, "all conditions × tasks", report))


def english_grid(report: StudyReport) -> Grid:
    return Grid("The training language (English) on its own: gains over the baseline", TEST_COLUMNS,
                _test_rows(report.english), caption=_caption(report.english, "these comparisons", report))


def pairs_grid(report: StudyReport) -> Grid:
    return Grid("Same data, different language: low-resource minus English (zero-shot)", TEST_COLUMNS,
                _test_rows(report.pairs),
                caption=_caption(report.pairs, "these comparisons (conditions linked by their pair key)", report))


def translations_grid(report: StudyReport) -> Grid:
    return Grid("Translated vs source: translated condition minus the condition training the source task",
                TEST_COLUMNS, _test_rows(report.translations),
                caption=_caption(report.translations, "these comparisons (linked by translation_of)", report))


def alignment_tests_grid(report: StudyReport) -> Grid:
    comps = [*report.alignment_gains, *report.alignment_pairs]
    return Grid("Alignment probes: gains over the baseline and low-resource minus English", TEST_COLUMNS,
                _test_rows(comps), caption=_caption(comps, "each of the two groups", report)
                + ". Probe score per unit: mean over languages, directions and layers")


def alignment_grid(report: StudyReport) -> Grid:
    probes = list(report.probe_tasks)
    grid = Grid("Alignment gain vs transfer gain", ["condition", "kind", *(f"Δ {p}" for p in probes),
                                                    "Δ align", "Δ transfer"])
    for name, a in report.alignment.items():
        if name != report.baseline:
            grid.rows.append([name, report.conditions[name].kind, *(_f(a.per_task.get(p), True) for p in probes),
                              _f(a.gain, True), _f(a.transfer_gain, True)])
    rho = report.correlation
    p_text = fmt_p(rho[1]) if rho else ""
    grid.caption = (f"Spearman rho = {rho[0]:.2f} (p {'' if p_text.startswith('<') else '= '}{p_text}) "
                    f"across {len(grid.rows)} conditions"
                    if rho else "Spearman correlation needs at least 3 conditions with both gains")
    if note := languages_note(report, report.alignment_gains):
        grid.caption += f". {note}; Δ transfer: mean over the target tasks' zero-shot gains"
    return grid


def print_report(report: StudyReport, console: Console | None = None) -> None:
    """The terminal view: the answer, the study's limits, the primary comparisons, runs left out, the comparison and its
    tests, English on its own, the pairs, translated vs source, alignment tests, the phase-2 learning
    table, the XTREME-R retrieval choice, and warnings."""
    console = console or make_console()
    if report.design.smoke:
        console.print("[bold yellow]SMOKE RUN[/]: tiny budgets that test the code paths; these numbers mean nothing")
    if answer := headline(report):
        console.print(f"[bold]Answer:[/] {answer}")
    for line in limits(report):
        console.print(f"[yellow]limit:[/] {line}")
    if report.primary:
        console.print(to_rich(primary_grid(report)))
    for line in report.excluded:
        console.print(f"[red]left out:[/] {line}")
    console.print(to_rich(comparison_grid(report)))
    for grid, comps in ((significance_grid, report.gains), (english_grid, report.english),
                        (pairs_grid, report.pairs), (translations_grid, report.translations),
                        (alignment_tests_grid, [*report.alignment_gains, *report.alignment_pairs])):
        if comps:
            console.print(to_rich(grid(report)))
    if report.learning:
        console.print(to_rich(learning_grid(report.learning)))
    console.print(report.benchmark.describe())
    if report.correlation:
        console.print(alignment_grid(report).caption.split(". Data and languages")[0])
    for note in report.warnings:
        console.print(f"[yellow]warning:[/] {note}")
