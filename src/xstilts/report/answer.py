"""The study's answer in one sentence, with its uncertainty: what a reader needs before the tables.

The question the toolkit exists for is whether low-resource intermediate training beats English
intermediate training, so the sentence is about the study's parallel pairs (the same data in a
local language minus in English) when it has them, else about the gains over no intermediate
training. It counts what was significant after Holm, quotes the largest difference with its
interval and p-value, and adds the alignment probes' difference, so one line cannot overstate.
"""

from __future__ import annotations

import statistics

from xstilts.report.stats import MIN_SEEDS, Comparison, fmt_ci, fmt_p
from xstilts.report.study import StudyReport

ALPHA = 0.05


def _quote(c: Comparison, versus: bool) -> str:
    name = f"{c.a} vs {c.b}" if versus else c.a
    p = f", p Holm {fmt_p(c.p_holm)}" if c.tested else ""
    return f"{name} on {c.task}, {c.gain.mean:+.2f} {fmt_ci(c.ci)}{p}"


def _verdict(comps: list[Comparison], better: str, worse: str) -> str:
    """'better' / 'worse' / 'no significant difference', from the Holm-corrected tests."""
    up = [c for c in comps if c.p_holm is not None and c.p_holm < ALPHA and c.gain.mean > 0]
    down = [c for c in comps if c.p_holm is not None and c.p_holm < ALPHA and c.gain.mean < 0]
    n = len(comps)
    if up and not down:
        return f"{better} in {len(up)} of {n} comparisons (significant after Holm, p < {ALPHA})"
    if down and not up:
        return f"{worse} in {len(down)} of {n} comparisons (significant after Holm, p < {ALPHA})"
    if up and down:
        return f"mixed: {better} in {len(up)} and {worse} in {len(down)} of {n} comparisons after Holm"
    return f"no significant difference in any of {n} comparisons after Holm (p < {ALPHA})"


def _alignment_difference(report: StudyReport) -> str:
    diffs = [report.alignment[c.a].gain - report.alignment[c.b].gain for c in report.pairs
             if c.a in report.alignment and c.b in report.alignment
             and report.alignment[c.a].gain is not None and report.alignment[c.b].gain is not None]
    pairs = {(c.a, c.b) for c in report.pairs}
    if not diffs:
        return ""
    per_pair = statistics.fmean(diffs)
    return (f"; on the alignment probes (retrieval, mean over probes, languages and layers) the "
            f"low-resource side moved alignment {per_pair:+.2f} points more than English "
            f"({len(pairs)} pair{'s' * (len(pairs) != 1)}, no test: one phase-2 run per condition)")


def headline(report: StudyReport) -> str | None:
    """One sentence answering the study's question with its uncertainty; None with nothing compared."""
    if report.pairs:
        comps = report.pairs
        low = ", ".join(dict.fromkeys(c.a for c in comps))
        eng = ", ".join(dict.fromkeys(c.b for c in comps))
        seeds = max(len(c.seeds) for c in comps)
        largest = max(comps, key=lambda c: abs(c.gain.mean))
        mean = statistics.fmean(c.gain.mean for c in comps)
        if seeds < MIN_SEEDS:
            verdict = f"no significance claim with {seeds} seed{'s' * (seeds != 1)}"
        else:
            verdict = _verdict(comps, "low-resource is better", "English is better")
        return (f"Low-resource ({low}) vs English ({eng}) intermediate training on the same data, zero-shot "
                f"over {seeds} fine-tuning seeds: {verdict}; mean difference {mean:+.2f} points over "
                f"{len(comps)} target comparisons, the largest {_quote(largest, True)}"
                f"{_alignment_difference(report)}.")
    if report.gains:
        comps = report.gains
        seeds = max(len(c.seeds) for c in comps)
        best = max(comps, key=lambda c: c.gain.mean)
        verdict = (f"no significance claim with {seeds} seed{'s' * (seeds != 1)}" if seeds < MIN_SEEDS
                   else _verdict(comps, "intermediate training helps", "intermediate training hurts"))
        return (f"Intermediate training vs none ({report.baseline}), zero-shot over {seeds} fine-tuning seeds: "
                f"{verdict}; the largest gain {_quote(best, False)}.")
    return None
