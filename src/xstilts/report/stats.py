"""Comparing two conditions with the trained encoder as the unit of replication.

Why the encoder: a claim about a *kind* of intermediate training ("Javanese beats English") is a
claim about the distribution of encoders that training produces, so its replicates are phase-2
runs (units). Phase-3 seeds nested in one encoder are averaged first (the unit's score); languages
are averaged within a unit too, never counted as replicates (they share the encoder and the
English training data). With one encoder per condition the units are phase-3 seeds and the
comparison is between two particular encoders, which the report says in words.

Why t: the interval is mean ± t(n-1) · sd / √n over unit differences (paired where both sides have
the same units, Welch otherwise). Its coverage is right for normal unit means at any n (a
percentile bootstrap of 3 units covered 74% in a simulation fitted to this project's data), and
the p-value comes from the same t, so interval and test never disagree about excluding zero.

Verdicts: *different* (Holm-adjusted t-test p < alpha), *equivalent* within ±margin (two one-sided
tests, statsmodels, Holm-adjusted too), else *inconclusive*, with the power the comparison had to
detect a difference of the margin. Below `MIN_UNITS` units nothing is claimed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as sps
from statsmodels.stats.power import TTestIndPower, TTestPower
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

MIN_UNITS = 3  # fewer units: differences and intervals only, no p-values and no verdict
CONFIDENCE = 0.95
ALPHA = 0.05
MARGIN = 1.0  # points: the smallest difference that matters, unless the spec's analysis: says otherwise
TARGET_POWER = 0.8
NO_CLAIM = (f"No significance claim is made with fewer than {MIN_UNITS} units (trained encoders, or "
            "fine-tuning seeds of one encoder): no p-values, only the differences and their 95% t intervals")

Verdict = Literal["different", "equivalent", "inconclusive", "no claim"]


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (None with one value) of some per-unit numbers."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values to summarise")
        std = statistics.stdev(values) if len(values) > 1 else None
        return cls(statistics.fmean(values), std, len(values))

    def __str__(self) -> str:
        return f"{self.mean:+.2f}" + (f" ± {self.std:.2f}" if self.std is not None else "")


@dataclass
class Comparison:
    """Condition `a` minus condition `b` on one outcome (a target task or a probe), by unit.

    `units`: the units compared (paired: both sides' shared units; unpaired: a's); `a_scores`/
    `b_scores`: each unit's score (mean over its phase-3 seeds and the shared languages); `gain`:
    the difference (paired: per unit; unpaired: of the means, std of a's units); `ci`: its t
    interval (None below 2 units); `per_language`: gain per language over units. `p`: the t-test
    (None below `MIN_UNITS`);
    `p_holm`/`p_equiv` (TOST, Holm-adjusted) and `verdict` are filled by `decide` across one family.
    """

    a: str
    b: str
    task: str
    units: tuple[int | None, ...]
    a_scores: tuple[float, ...]
    b_scores: tuple[float, ...]
    gain: Spread
    ci: tuple[float, float] | None
    per_language: dict[str, Spread]
    p: float | None
    paired: bool = True
    encoders: bool = True  # units are trained encoders (False: phase-3 seeds of one encoder per side)
    languages: tuple[str, ...] = ()
    p_tost: float | None = None
    p_holm: float | None = field(default=None)
    p_equiv: float | None = field(default=None)
    power: float | None = field(default=None)
    margin: float = MARGIN
    alpha: float = ALPHA
    verdict: Verdict = "no claim"
    flags: tuple[str, ...] = ()  # caveats a reader must see beside it (e.g. declared data overlap)

    @property
    def tested(self) -> bool:
        """Whether there were enough units to test at all."""
        return len(self.units) >= MIN_UNITS and self.p is not None

    @property
    def stars(self) -> str:
        return stars(self.p_holm)

    @property
    def b_mean(self) -> float:
        return statistics.fmean(self.b_scores)

    @property
    def a_mean(self) -> float:
        return statistics.fmean(self.a_scores)

    def verdict_text(self, with_power: bool = False) -> str:
        """The verdict in words, with what it rests on. An inconclusive verdict always names its
        power; WITH_POWER names it beside any verdict (a declared comparison: the power it had)."""
        n = f"{len(self.units)} unit{'s' * (len(self.units) != 1)}"
        power = "" if self.power is None else f", power {self.power:.0%} for ±{self.margin:g}"
        if self.verdict == "different":
            side = self.a if self.gain.mean > 0 else self.b
            return f"different: {side} higher (p Holm {fmt_p(self.p_holm)}, {n}{power * with_power})"
        if self.verdict == "equivalent":
            return f"equivalent within ±{self.margin:g} (TOST p Holm {fmt_p(self.p_equiv)}, {n}{power * with_power})"
        if self.verdict == "inconclusive":
            return f"inconclusive ({n}{power})"
        return f"no claim ({n}: at least {MIN_UNITS} needed)"


def stars(p: float | None) -> str:
    if p is None or math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def fmt_p(p: float | None, n_units: int | None = None) -> str:
    """A p-value for people: 'n/a (2 units)' where too few units allowed no test."""
    if p is None or math.isnan(p):
        return f"n/a ({n_units} unit{'s' * (n_units != 1)})" if n_units is not None else "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}" if p >= 1e-9 else "<1e-9"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "n/a (1 unit)" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def t_interval(diffs: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """mean ± t(n-1) · sd/√n; None with fewer than 2 values; a point where all values agree."""
    d = np.asarray(diffs, float)
    if d.size < 2:
        return None
    half = sps.t.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
                   ) -> tuple[float, float] | None:
    """Welch's interval for mean(a) - mean(b); None unless both sides have 2+ values."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.size < 2 or y.size < 2:
        return None
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff, se = float(x.mean() - y.mean()), math.sqrt(va + vb)
    if se == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1))
    half = sps.t.ppf(0.5 + confidence / 2, df) * se
    return diff - half, diff + half


def paired_ttest(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value; None with fewer than 2 pairs, 1.0/0.0 when all differences agree."""
    if len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    if len(a) < 2:
        return None
    diffs = np.asarray(a, float) - np.asarray(b, float)
    if np.allclose(diffs, diffs[0]):  # zero variance: t is 0/0 or ±inf, scipy returns nan
        return 1.0 if np.isclose(diffs[0], 0.0) else 0.0
    return float(sps.ttest_rel(a, b).pvalue)


def welch_ttest(a: Sequence[float], b: Sequence[float]) -> float | None:
    if len(a) < 2 or len(b) < 2:
        return None
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        return 1.0 if np.isclose(a[0], b[0]) else 0.0
    return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def tost(a: Sequence[float], b: Sequence[float], margin: float, *, paired: bool) -> float | None:
    """p of two one-sided tests that |mean(a) - mean(b)| < margin (statsmodels); None below 2 units."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if x.size < 2 or (not paired and y.size < 2):
        return None
    if paired:
        d = x - y
        if np.allclose(d, d[0]):
            return 0.0 if abs(d[0]) < margin else 1.0
    p = ttost_paired(x, y, -margin, margin)[0] if paired else ttost_ind(x, y, -margin, margin, usevar="unequal")[0]
    return float(p)


def power(sd: float | None, n: int, margin: float, alpha: float = ALPHA, *, paired: bool = True) -> float | None:
    """Power of the two-sided t-test to detect a difference of MARGIN with N units per side, given
    the sd of a unit difference (paired) or of one side's units (unpaired, equal n assumed)."""
    if sd is None or n < 2 or math.isnan(sd):
        return None
    if sd == 0:
        return 1.0
    # the noncentral t directly: statsmodels' TTestPower returns NaN once power nears 1 (sd 0.3, 8 units)
    df, nc = (n - 1, margin / sd * math.sqrt(n)) if paired else (2 * n - 2, margin / sd * math.sqrt(n / 2))
    t = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(t, df, nc) + sps.nct.cdf(-t, df, nc))


def units_needed(sd: float | None, margin: float, alpha: float = ALPHA, target: float = TARGET_POWER, *,
                 paired: bool = True) -> int | None:
    """Units (per side) for TARGET power to detect MARGIN; None when sd is unknown."""
    if sd is None or math.isnan(sd):
        return None
    if sd == 0:
        return 2
    effect = margin / sd
    solver = TTestPower() if paired else TTestIndPower()
    n = solver.solve_power(effect_size=effect, power=target, alpha=alpha, alternative="two-sided")
    return max(2, math.ceil(float(np.atleast_1d(n)[0])))


def _order(units) -> tuple:
    return tuple(sorted(units, key=lambda s: (s is None, s or 0)))


def compare(a: str, b: str, task: str, a_by_unit: Mapping, b_by_unit: Mapping, *, encoders: bool = True,
            confidence: float = CONFIDENCE) -> Comparison | None:
    """`a` minus `b` on `task` from {unit: {language: score}} maps; None if nothing is shared.

    Paired on the units both sides have (each unit's score is the mean over the languages both
    sides have in it, so a missing language never shows up as a gain); a side with one unit that
    the other lacks (the untrained encoder's probes) is a fixed reference for every unit; sides
    with no unit in common are compared by Welch, on the languages every unit of both has.
    """
    shared = _order(u for u in a_by_unit if u in b_by_unit)
    if not shared and len(b_by_unit) == 1:  # a fixed reference (e.g. the untrained encoder): every unit against it
        ref = next(iter(b_by_unit.values()))
        b_by_unit, shared = {u: ref for u in a_by_unit}, _order(a_by_unit)
    if shared:
        a_scores, b_scores, used = [], [], set()
        by_lang: dict[str, list[float]] = {}
        for u in shared:
            langs = sorted(set(a_by_unit[u]) & set(b_by_unit[u]))
            if not langs:
                return None
            used.update(langs)
            a_scores.append(statistics.fmean(a_by_unit[u][lang] for lang in langs))
            b_scores.append(statistics.fmean(b_by_unit[u][lang] for lang in langs))
            for lang in langs:
                by_lang.setdefault(lang, []).append(a_by_unit[u][lang] - b_by_unit[u][lang])
        diffs = [x - y for x, y in zip(a_scores, b_scores)]
        return Comparison(a, b, task, shared, tuple(a_scores), tuple(b_scores), Spread.of(diffs),
                          t_interval(diffs, confidence), {lang: Spread.of(v) for lang, v in sorted(by_lang.items())},
                          paired_ttest(a_scores, b_scores) if len(shared) >= MIN_UNITS else None, True, encoders,
                          tuple(sorted(used)))
    langs = sorted(set.intersection(*(set(v) for v in [*a_by_unit.values(), *b_by_unit.values()])))
    if not langs or not a_by_unit or not b_by_unit:
        return None
    a_scores = [statistics.fmean(a_by_unit[u][lang] for lang in langs) for u in _order(a_by_unit)]
    b_scores = [statistics.fmean(b_by_unit[u][lang] for lang in langs) for u in _order(b_by_unit)]
    base = statistics.fmean(b_scores)
    per_lang = {lang: Spread.of([a_by_unit[u][lang] - statistics.fmean(b_by_unit[v][lang] for v in b_by_unit)
                                 for u in a_by_unit]) for lang in langs}
    gain = Spread.of([x - base for x in a_scores])
    return Comparison(a, b, task, _order(a_by_unit), tuple(a_scores), tuple(b_scores), gain,
                      welch_interval(a_scores, b_scores, confidence), per_lang,
                      welch_ttest(a_scores, b_scores) if len(a_scores) >= MIN_UNITS else None, False, encoders,
                      tuple(langs))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None stays None and does not count in the family)."""
    given = sorted(((i, p) for i, p in enumerate(pvalues) if p is not None), key=lambda ip: ip[1])
    out: list[float | None] = [None] * len(pvalues)
    m, running = len(given), 0.0
    for rank, (i, p) in enumerate(given):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def sd_of_difference(c: Comparison) -> float | None:
    if c.paired:
        return c.gain.std
    sds = [statistics.stdev(s) for s in (c.a_scores, c.b_scores) if len(s) > 1]
    return math.sqrt(statistics.fmean(sd ** 2 for sd in sds)) if sds else None


def decide(comparisons: Sequence[Comparison], *, margin: float = MARGIN, alpha: float = ALPHA) -> None:
    """Holm across one family, then each comparison's verdict: different / equivalent within
    ±margin / inconclusive (with its power for the margin) / no claim (too few units)."""
    tested = [c for c in comparisons if c.tested]
    for c in comparisons:
        c.margin, c.alpha = margin, alpha
        c.p_tost = tost(c.a_scores, c.b_scores, margin, paired=c.paired) if c.tested else None
        c.power = power(sd_of_difference(c), len(c.units), margin, alpha, paired=c.paired)
        c.p_holm = c.p_equiv = None
        c.verdict = "no claim"
    for c, p in zip(tested, holm([c.p for c in tested])):
        c.p_holm = p
    for c, p in zip(tested, holm([c.p_tost for c in tested])):
        c.p_equiv = p
    for c in tested:
        if c.p_holm is not None and c.p_holm < alpha:
            c.verdict = "different"
        elif c.p_equiv is not None and c.p_equiv < alpha:
            c.verdict = "equivalent"
        else:
            c.verdict = "inconclusive"


def apply_holm(comparisons: Sequence[Comparison]) -> None:
    """A family's verdicts at the default margin and alpha (see `decide`)."""
    decide(comparisons)


EXACT_SPEARMAN = 8  # up to this many points the p-value enumerates every pairing (8! = 40,320)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Spearman's rho and its two-sided p-value, or None with fewer than 3 points or a constant side.
    With a handful of conditions the t approximation is wrong (4 points in perfect order give p 0,
    where only 2 of the 24 orderings are that extreme: p 0.083), so small samples get the exact
    permutation p-value."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    res = sps.spearmanr(x, y)
    rho = float(res.statistic)
    if len(x) > EXACT_SPEARMAN:
        return rho, float(res.pvalue)
    exact = sps.permutation_test((np.asarray(x, float), np.asarray(y, float)),
                                 lambda a, b: sps.spearmanr(a, b).statistic, permutation_type="pairings",
                                 n_resamples=math.inf, alternative="two-sided")
    return rho, float(exact.pvalue)
