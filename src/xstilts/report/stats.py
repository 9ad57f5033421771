"""Paired statistics for comparing two conditions on one task, with the seed as the unit.

Why seeds: every condition is fine-tuned with the same seeds as the one it is compared with, so
seed s of one is paired with seed s of the other, and each seed's score is the mean over the
languages both have. Languages are not independent draws of a condition's effect (they share the
encoder, the run and the English training data), so they are never counted as replicates: they
enter only the interval, as the inner level of a hierarchical bootstrap (seeds, then languages
within each seed). Tests: a paired t-test and an exact permutation test that flips whole seeds.
With fewer than `MIN_SEEDS` seeds no test is run and no significance is claimed; the gain and its
interval are still reported.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

MIN_SEEDS = 3  # fewer seeds: effect sizes and intervals only, no p-values
EXACT_FLIPS_UP_TO = 16  # seeds: all 2**n sign patterns enumerated; Monte Carlo above
N_RESAMPLES = 20_000  # Monte-Carlo sign patterns
N_BOOTSTRAP = 10_000
CONFIDENCE = 0.95
NO_CLAIM = (f"No significance claim is made with fewer than {MIN_SEEDS} seeds: no p-values, only the "
            "differences and their 95% bootstrap intervals")


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
    """Condition `a` minus condition `b` on one task, paired by seed.

    `a_scores`/`b_scores`: task score per shared seed (mean over shared languages); `gain`: their
    difference over seeds; `ci`: its hierarchical-bootstrap interval; `per_language`: gain per
    language over seeds. p-values are None with fewer than `MIN_SEEDS` seeds; `p_holm` (on the
    t-test) is filled by `apply_holm` across one family of comparisons.
    """

    a: str
    b: str
    task: str
    seeds: tuple[int | None, ...]
    a_scores: tuple[float, ...]
    b_scores: tuple[float, ...]
    gain: Spread
    ci: tuple[float, float]
    per_language: dict[str, Spread]
    p_ttest: float | None
    p_perm: float | None
    p_holm: float | None = field(default=None)

    @property
    def tested(self) -> bool:
        """Whether there were enough seeds to test at all."""
        return len(self.seeds) >= MIN_SEEDS

    @property
    def stars(self) -> str:
        return stars(self.p_holm)


def stars(p: float | None) -> str:
    if p is None or math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def fmt_p(p: float | None, n_seeds: int | None = None) -> str:
    """A p-value for people: 'n/a (2 seeds)' where too few seeds allowed no test."""
    if p is None or math.isnan(p):
        return f"n/a ({n_seeds} seed{'s' * (n_seeds != 1)})" if n_seeds is not None else "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}" if p >= 1e-9 else "<1e-9"


def fmt_ci(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


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


def seed_flip_test(diffs: Sequence[float], *, exact_up_to: int = EXACT_FLIPS_UP_TO,
                   n_resamples: int = N_RESAMPLES, seed: int = 0) -> float | None:
    """Two-sided p-value of the mean per-seed difference under sign flips of whole seeds.

    Exact (every one of the 2**n patterns) up to `exact_up_to` seeds; above, `n_resamples` random
    patterns and p = (k + 1) / (n_resamples + 1), which is never 0. None with no difference.
    """
    d = np.asarray(diffs, float)
    if d.size == 0:
        return None
    bound = abs(d.mean()) - 1e-9 * max(1.0, abs(d.mean()))  # ties count as extreme despite rounding
    if d.size <= exact_up_to:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d) / d.size >= bound))
    signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(n_resamples, d.size))
    k = int(np.sum(np.abs(signs @ d) / d.size >= bound))
    return (k + 1) / (n_resamples + 1)


def hierarchical_bootstrap(diffs_by_seed: Sequence[Sequence[float]], *, n_boot: int = N_BOOTSTRAP,
                           confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean gain: resample seeds, then languages within each drawn seed.

    `diffs_by_seed[i]` holds seed i's per-language differences; a replicate is the mean over the
    drawn seeds of the mean over each one's drawn languages. Seeded, so the same input gives the
    same interval.
    """
    groups = [np.asarray(g, float) for g in diffs_by_seed]
    if not groups or any(g.size == 0 for g in groups):
        raise ValueError("every seed needs at least one language difference")
    rng = np.random.default_rng(seed)
    n = len(groups)
    # inner[s, b, j]: mean of a resample of seed s's languages, for replicate b and draw position j
    inner = np.stack([g[rng.integers(0, g.size, size=(n_boot, n, g.size))].mean(axis=-1) for g in groups])
    picked = rng.integers(0, n, size=(n_boot, n))
    replicates = inner[picked, np.arange(n_boot)[:, None], np.arange(n)[None, :]].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(lo), float(hi)


def compare(a: str, b: str, task: str, a_by_seed: Mapping, b_by_seed: Mapping) -> Comparison | None:
    """`a` minus `b` on `task` from {seed: {language: score}} maps; None if they share no seed.

    Each seed's task score is the mean over the languages both conditions have for that seed, so a
    missing language on one side never shows up as a gain.
    """
    seeds = tuple(sorted((s for s in a_by_seed if s in b_by_seed), key=lambda s: (s is None, s or 0)))
    if not seeds:
        return None
    a_scores, b_scores, per_seed = [], [], []
    by_lang: dict[str, list[float]] = {}
    for s in seeds:
        langs = sorted(set(a_by_seed[s]) & set(b_by_seed[s]))
        if not langs:
            return None
        a_scores.append(statistics.fmean(a_by_seed[s][lang] for lang in langs))
        b_scores.append(statistics.fmean(b_by_seed[s][lang] for lang in langs))
        per_seed.append([a_by_seed[s][lang] - b_by_seed[s][lang] for lang in langs])
        for lang, d in zip(langs, per_seed[-1]):
            by_lang.setdefault(lang, []).append(d)
    diffs = [x - y for x, y in zip(a_scores, b_scores)]
    tested = len(seeds) >= MIN_SEEDS
    return Comparison(a, b, task, seeds, tuple(a_scores), tuple(b_scores), Spread.of(diffs),
                      hierarchical_bootstrap(per_seed),
                      {lang: Spread.of(v) for lang, v in sorted(by_lang.items())},
                      paired_ttest(a_scores, b_scores) if tested else None,
                      seed_flip_test(diffs) if tested else None)


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
    """Fill `p_holm` from the t-test p-values across one family (e.g. every condition × task)."""
    for comp, p in zip(comparisons, holm([c.p_ttest for c in comparisons])):
        comp.p_holm = p


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Spearman's rho and its p-value, or None with fewer than 3 points or a constant side."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    res = sps.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)
