"""The study's answer in a few sentences, with its uncertainty: what a reader needs before the tables.

The answer is the verdict of the comparisons the spec declared before running (its `analysis:`
primary comparisons) in the engine's words: different, equivalent within ±margin, or
inconclusive with the power it had. Without a declaration it is the parallel pairs (the same data
in a local language minus in English), else the gains over no intermediate training, counted per
verdict per task: scores of different tasks are different metrics and are never averaged. When
each condition had one phase-2 run it says that the comparison is between two encoders.
"""

from __future__ import annotations

from collections import Counter

from xstilts.report.stats import MIN_UNITS, Comparison, fmt_ci
from xstilts.report.study import StudyReport


def _units_note(report: StudyReport) -> str:
    if report.units_are_encoders:
        return ""
    return (" Each condition had one phase-2 run, so these compare particular encoders (units: fine-tuning "
            "seeds), not kinds of intermediate training.")


def _quote(c: Comparison) -> str:
    return f"{c.a} − {c.b} on {c.task}: {c.gain.mean:+.2f} points {fmt_ci(c.ci)}, {c.verdict_text()}"


def _count(comps: list[Comparison]) -> str:
    """'xnli: 2 inconclusive; udpos: 1 equivalent, 1 different' — verdicts per task."""
    by_task: dict[str, Counter] = {}
    for c in comps:
        by_task.setdefault(c.task, Counter())[c.verdict] += 1
    return "; ".join(f"{t}: " + ", ".join(f"{n} {v}" for v, n in counts.most_common()) for t, counts in by_task.items())


def headline(report: StudyReport) -> str | None:
    """The answer (primary verdicts first); None with nothing compared."""
    margin = f"±{report.design.margin:g} points, alpha {report.design.alpha:g}"
    if report.primary:
        quotes = "; ".join(_quote(c) for c in report.primary)
        return f"Primary (declared, margin {margin}): {quotes}.{_units_note(report)}"
    comps, what = ((report.pairs, "Low-resource minus English intermediate training on the same data")
                   if report.pairs else (report.gains, f"Intermediate training minus none ({report.baseline})"))
    if not comps:
        return None
    units = max(len(c.units) for c in comps)
    if units < MIN_UNITS:
        verdict = f"no significance claim with {units} unit{'s' * (units != 1)}"
    else:
        verdict = f"verdicts per task (margin {margin}, Holm): {_count(comps)}"
    largest = max(comps, key=lambda c: abs(c.gain.mean))
    return (f"{what}, zero-shot (training language excluded): {verdict}. Largest difference: "
            f"{_quote(largest)}.{_units_note(report)}")
