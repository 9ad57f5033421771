"""Paired statistics for comparing two conditions: seed-paired t-test, sign-flip test, Holm, Spearman.

Why these: every condition is fine-tuned with the same seeds as the baseline, so seed s of one is
paired with seed s of the other (a paired t-test over seeds). With few seeds that test has little
power, so a sign-flip permutation test over the (language, seed) differences is reported beside it,
as a second view that does not assume normality (languages are not independent: read it as such).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

EXACT_FLIPS_UP_TO = 16  # 2**16 sign patterns enumerated exactly; Monte Carlo above
N_RESAMPLES = 20_000


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (None with one value) of some per-seed numbers."""

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
    """Condition `a` minus condition `b` on one task, paired by seed (and by language for the flip test).

    `a_scores`/`b_scores`: task score per shared seed; `per_language`: gain per language over seeds.
    p-values are None where the test cannot run (one seed for the t-test, one difference for the
    flip test); `p_holm` is filled by `holm` across the whole family of comparisons.
    """

    a: str
    b: str
    task: str
    seeds: tuple[int | None, ...]
    a_scores: tuple[float, ...]
    b_scores: tuple[float, ...]
    gain: Spread
    per_language: dict[str, Spread]
    p_ttest: float | None
    p_flip: float | None
    p_holm: float | None = field(default=None)

    @property
    def p_primary(self) -> float | None:
        """The t-test p-value when there are several seeds, else the flip test's."""
        return self.p_ttest if self.p_ttest is not None else self.p_flip

    @property
    def stars(self) -> str:
        return stars(self.p_holm)


def stars(p: float | None) -> str:
    if p is None or math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def fmt_p(p: float | None, n_seeds: int | None = None) -> str:
    """A p-value for people: 'n/a (1 seed)' where no test was possible."""
    if p is None or math.isnan(p):
        return f"n/a ({n_seeds} seed{'s' * (n_seeds != 1)})" if n_seeds is not None else "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}" if p >= 1e-9 else "<1e-9"


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


def sign_flip_test(diffs: Sequence[float], *, seed: int = 0) -> float | None:
    """Two-sided p-value of mean(diffs) under random sign flips (exact up to 16 differences)."""
    d = np.asarray(diffs, float)
    if d.size < 2:
        return None
    if np.allclose(d, 0.0):
        return 1.0
    n_resamples = 2 ** d.size if d.size <= EXACT_FLIPS_UP_TO else N_RESAMPLES
    res = sps.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                               rng=np.random.default_rng(seed))
    return float(min(1.0, res.pvalue))


def compare(a: str, b: str, task: str, a_by_seed: Mapping, b_by_seed: Mapping) -> Comparison | None:
    """`a` minus `b` on `task` from {seed: {language: score}} maps; None if they share no seed.

    Task scores are averaged over the languages both conditions have for that seed, so a missing
    language on one side never shows up as a gain.
    """
    seeds = tuple(sorted((s for s in a_by_seed if s in b_by_seed), key=lambda s: (s is None, s or 0)))
    if not seeds:
        return None
    a_scores, b_scores, diffs = [], [], []
    by_lang: dict[str, list[float]] = {}
    for s in seeds:
        langs = sorted(set(a_by_seed[s]) & set(b_by_seed[s]))
        if not langs:
            return None
        a_scores.append(statistics.fmean(a_by_seed[s][lang] for lang in langs))
        b_scores.append(statistics.fmean(b_by_seed[s][lang] for lang in langs))
        for lang in langs:
            d = a_by_seed[s][lang] - b_by_seed[s][lang]
            diffs.append(d)
            by_lang.setdefault(lang, []).append(d)
    gain = Spread.of([x - y for x, y in zip(a_scores, b_scores)])
    return Comparison(a, b, task, seeds, tuple(a_scores), tuple(b_scores), gain,
                      {lang: Spread.of(v) for lang, v in sorted(by_lang.items())},
                      paired_ttest(a_scores, b_scores), sign_flip_test(diffs))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None stays None and does not count in the family)."""
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    out: list[float | None] = [None] * len(pvalues)
    m, running = len(idx), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def apply_holm(comparisons: Sequence[Comparison]) -> None:
    """Fill `p_holm` across one family (e.g. every condition × task against the baseline)."""
    for comp, p in zip(comparisons, holm([c.p_primary for c in comparisons])):
        comp.p_holm = p


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Spearman's rho and its p-value, or None with fewer than 3 points or a constant side."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    res = sps.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)
