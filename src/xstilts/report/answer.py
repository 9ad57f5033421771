"""The study's answer in two or three short sentences, before any table or figure.

1. What ran: the model, the conditions, the units (trained encoders, or fine-tuning seeds of one
   encoder per condition) and the budgets of phase 2 and phase 3 in steps.
2. The verdicts, per outcome: the comparisons the spec declared before running (its `analysis:`
   primary comparisons), each with its difference, 95% interval and verdict; without a declaration
   the parallel pairs (the same data in a local language minus in English), else the gains over no
   intermediate training, as verdict counts and the range of differences per task. Scores of
   different tasks are different metrics (accuracy, F1, ...) and are never averaged together.
3. The one caveat that changes how to read sentence 2: a smoke run, too few units for any claim,
   or one phase-2 run per condition (then the comparisons are between particular encoders).
"""

from __future__ import annotations

from collections import Counter

from xstilts.report.setup import metric_text, steps_text
from xstilts.report.stats import MIN_UNITS, Comparison, fmt_ci
from xstilts.report.study import StudyReport


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'s' * (k != 1)}"


def units_phrase(report: StudyReport) -> str:
    """'3 trained encoders per condition' or 'one phase-2 encoder per condition, 1 fine-tuning seed each'."""
    units = max((len(c.units) for c in report.comparisons), default=0)
    if report.units_are_encoders:
        return f"{_n(units, 'trained encoder')} (phase-2 seeds) per condition"
    return f"one phase-2 encoder per condition, {_n(units, 'fine-tuning seed')} each"


def setup_sentence(report: StudyReport) -> str:
    """Sentence 1: model, conditions, units, budgets."""
    s = report.setup
    model = ", ".join(s.models) or "the model"
    p3 = sorted({n for steps in s.phase3_steps.values() for n in steps})
    trained = any(i.kind != "none" for i in report.conditions.values())
    if trained and not report.design.phase2_steps and not p3:
        budgets = "budgets of phase 2 and phase 3 not recorded"
    else:
        budgets = (f"phase 2 {steps_text(report.design.phase2_steps)}, " if trained else "") + f"phase 3 {steps_text(p3)}"
    return (f"{model}, {_n(len(report.conditions), 'condition')}, {units_phrase(report)}; {budgets}"
            + (" (smoke budget)" if report.design.smoke else "") + ".")


def _quote(c: Comparison, metric: str) -> str:
    return f"{c.a} − {c.b} on {c.task} ({metric}): {c.gain.mean:+.2f} points {fmt_ci(c.ci)}, {c.verdict_text(with_power=True)}"


def _per_task(report: StudyReport, comps: list[Comparison]) -> str:
    """'xnli, accuracy: -3.19 to +1.31, 2 inconclusive; udpos, f1: ...': one clause per task or probe."""
    by_task: dict[str, list[Comparison]] = {}
    for c in comps:
        by_task.setdefault(c.task, []).append(c)
    clauses = []
    for task, cs in by_task.items():
        counts = Counter(f"different ({'higher' if c.gain.mean > 0 else 'lower'})" if c.verdict == "different"
                         else c.verdict for c in cs)
        verdicts = ", ".join(f"{n} {v}" for v, n in counts.most_common())
        lo, hi = min(c.gain.mean for c in cs), max(c.gain.mean for c in cs)
        spread = f"{lo:+.2f}" if len(cs) == 1 else f"{lo:+.2f} to {hi:+.2f}"
        metric = metric_text(report.setup, task.split(" ")[0])
        clauses.append(f"{'probe ' if task in report.probe_tasks else ''}{task}, {metric}: {spread}, {verdicts}")
    return "; ".join(clauses)


def verdict_sentence(report: StudyReport) -> str | None:
    """Sentence 2: the verdicts per outcome; None with nothing compared."""
    if report.primary:
        quotes = "; ".join(_quote(c, metric_text(report.setup, c.task)) for c in report.primary)
        return f"Declared comparisons (margin ±{report.design.margin:g} points): {quotes}."
    comps, what = (([*report.pairs, *report.alignment_pairs],
                    "Low-resource minus English intermediate training on the same data")
                   if report.pairs else ([*report.gains, *report.alignment_gains],
                                         f"Intermediate training minus none ({report.baseline})"))
    if not comps:
        return None
    return f"{what}, zero-shot, in points: {_per_task(report, comps)}."


def caveat_sentence(report: StudyReport) -> str:
    """Sentence 3: the caveat that most changes the reading ('' without one)."""
    if report.design.smoke:
        return "Smoke run: the numbers only show that the code paths work."
    units = max((len(c.units) for c in report.comparisons), default=0)
    if units < MIN_UNITS:
        return f"With {_n(units, 'unit')} no significance claim is made."
    if not report.units_are_encoders:
        return "With one phase-2 run per condition these compare particular encoders, not kinds of training."
    return ""


def headline(report: StudyReport) -> str | None:
    """The answer in 2–3 sentences; None with nothing compared."""
    verdicts = verdict_sentence(report)
    if verdicts is None:
        return None
    return " ".join(s for s in (setup_sentence(report), verdicts, caveat_sentence(report)) if s)
