"""Does a ranking of intermediate tasks predict a study's gains? The checks `xstilts recommend`
prints, built so that a figure cannot look better than the data allow:

- every figure (mean over targets 'task:language' of Spearman, NDCG@k, regret@1, regret@k) sits
  beside the random ranking: its exact mean, and a permutation p (the fraction of random
  rankings scoring at least as well). A task's languages share their fine-tuning runs and a
  per-task signal (LogME, H-score) ranks them alike, so one random ranking is drawn per task
  and shared by its languages;
- beside the noise ceiling: how well the gains of one half of the units (phase-2 seeds, or
  seeds) rank the candidates for the other half. Below NOISE_FLOOR, or with fewer than 2 units,
  the gains are mostly noise and the check cannot tell a good signal from a bad one;
- the least-squares blend of the signals is scored only on a whole task left out: a language (or
  a family of languages) left out is not held out, its gains come from the same runs as the
  task's other languages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from scipy.stats import rankdata

from xstilts.metrics.ranking import ndcg_at_k, regret_at_k, spearman_rho

DRAWS = 10_000  # random rankings per permutation p
RNG_SEED = 0
MAX_SPLITS = 200
HELD_OUT = "fitted (leave one task out)"

Table = Mapping[str, Mapping[str, float]]  # 'task:language' -> candidate -> value


def metric_names(k: int) -> list[str]:
    return ["spearman", f"ndcg@{k}", "regret@1", f"regret@{k}"]


def higher_is_better(metric: str) -> bool:
    return not metric.startswith("regret")


def _task(target: str) -> str:
    return target.split(":", 1)[0]


def _per_target(pred: Sequence[float], actual: Sequence[float], k: int) -> list[float]:
    return [spearman_rho(pred, actual), ndcg_at_k(pred, actual, k), regret_at_k(pred, actual, 1),
            regret_at_k(pred, actual, k)]


def _nanmean(values) -> float:
    """The mean of the finite values (a NaN: Spearman on constant gains), else NaN."""
    v = np.asarray(values, dtype=float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan


def _rounded(figures: Mapping[str, float]) -> dict[str, float]:
    return {m: v if m == "targets" else round(v, 3) for m, v in figures.items()}


def _means(per_target: list[list[float]], k: int) -> dict[str, float]:
    cols = np.array(per_target, dtype=float).reshape(-1, 4)
    return {m: _nanmean(c) for m, c in zip(metric_names(k), cols.T)}


def score(predicted: Table, gains: Table, candidates: Sequence[str], k: int) -> dict[str, float]:
    """The four figures of PREDICTED against GAINS, each the mean over targets, and their count."""
    rows = [_per_target([predicted[t][c] for c in candidates], [gains[t][c] for c in candidates], k)
            for t in predicted]
    return {**_means(rows, k), "targets": len(rows)}


def random_mean(gains: Table, candidates: Sequence[str], k: int) -> dict[str, float]:
    """The exact mean of a random ranking: a constant prediction, scored over its tie orderings."""
    return score({t: {c: 0.0 for c in candidates} for t in gains}, gains, candidates, k)


def random_draws(gains: Table, candidates: Sequence[str], k: int, draws: int = DRAWS,
                 seed: int = RNG_SEED) -> dict[str, np.ndarray]:
    """Metric -> DRAWS figures of random rankings (one random order per task, shared by its
    languages), each the mean over targets as in `score`."""
    rng = np.random.default_rng(seed)
    n = len(candidates)
    orders = {task: np.argsort(rng.random((draws, n)), axis=1) for task in dict.fromkeys(map(_task, gains))}
    top, disc = min(k, n), 1 / np.log2(np.arange(min(k, n)) + 2)
    per: list[np.ndarray] = []
    for target, by_c in gains.items():
        g = np.array([by_c[c] for c in candidates], dtype=float)
        order = orders[_task(target)]
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(n, 0, -1)[None, :].repeat(draws, 0), axis=1)  # first = n
        actual = rankdata(g) - (n + 1) / 2
        denom = math.sqrt(n * (n * n - 1) / 12 * float(actual @ actual))
        rho = (ranks - (n + 1) / 2) @ actual / denom if denom > 0 else np.full(draws, np.nan)
        rel = g - g.min()
        ideal = float(np.sort(rel)[::-1][:top] @ disc)
        ndcg = (rel[order[:, :top]] @ disc) / ideal if ideal > 0 else np.ones(draws)
        per.append(np.stack([rho, ndcg, g.max() - g[order[:, :1]].max(1), g.max() - g[order[:, :top]].max(1)]))
    stacked = np.stack(per)  # target x metric x draw
    return {m: np.array([_nanmean(col) for col in stacked[:, i, :].T]) if np.isnan(stacked[:, i, :]).any()
            else stacked[:, i, :].mean(0) for i, m in enumerate(metric_names(k))}


def permutation_p(observed: float, draws: np.ndarray, metric: str) -> float:
    """(1 + random rankings scoring at least as well as OBSERVED) / (1 + draws): never 0."""
    if not math.isfinite(observed) or not np.isfinite(draws).all():
        return math.nan
    hits = draws >= observed - 1e-9 if higher_is_better(metric) else draws <= observed + 1e-9
    return round((1 + int(hits.sum())) / (1 + len(draws)), 4)


def noise_ceiling(unit_gains: Mapping[str, Mapping[str, Mapping[str, float]]], candidates: Sequence[str],
                  k: int) -> dict[str, float]:
    """The figures the gains of one half of the units score against the other half's (both
    directions, averaged over splits into disjoint halves), with 'units' and 'splits'. With fewer
    than 2 units shared by every target and candidate: only 'units'."""
    sets = [set(by_unit) for by_c in unit_gains.values() for by_unit in by_c.values()]
    units = sorted(set.intersection(*sets)) if sets else []
    if len(units) < 2 or not unit_gains:
        return {"units": len(units)}
    splits = list(combinations(units, len(units) // 2))
    if len(splits) > MAX_SPLITS:
        pick = np.random.default_rng(RNG_SEED).choice(len(splits), MAX_SPLITS, replace=False)
        splits = [splits[i] for i in sorted(pick)]
    figures = []
    for half in splits:
        other = [u for u in units if u not in half]
        a = {t: {c: float(np.mean([by_c[c][u] for u in half])) for c in candidates} for t, by_c in unit_gains.items()}
        b = {t: {c: float(np.mean([by_c[c][u] for u in other])) for c in candidates} for t, by_c in unit_gains.items()}
        figures += [score(a, b, candidates, k), score(b, a, candidates, k)]
    out = {m: _nanmean([f[m] for f in figures]) for m in metric_names(k)}
    return {**_rounded(out), "units": len(units), "splits": len(splits)}


def z_scores(values: Mapping[str, float]) -> dict[str, float]:
    finite = [v for v in values.values() if math.isfinite(v)]
    sd = float(np.std(finite)) if len(finite) > 1 else 0.0
    if sd == 0:
        return {c: 0.0 for c in values}
    mu = float(np.mean(finite))
    return {c: (v - mu) / sd if math.isfinite(v) else 0.0 for c, v in values.items()}


def held_out_blend(signals: Mapping[str, Table], gains: Table, candidates: Sequence[str]
                   ) -> dict[str, dict[str, float]]:
    """Target -> candidate -> the prediction of a least-squares blend of the signals' z-scores fitted
    on the other tasks' targets; empty with fewer than 2 tasks."""
    names = [s for s in signals if s != "combined"]

    def design(target: str) -> np.ndarray:
        z = [z_scores(signals[s][target]) for s in names]
        return np.array([[1.0] + [zs[c] for zs in z] for c in candidates])

    if len({_task(t) for t in gains}) < 2:
        return {}
    held = {}
    for target in gains:
        train = [t for t in gains if _task(t) != _task(target)]
        x = np.vstack([design(t) for t in train])
        y = np.concatenate([[gains[t][c] for c in candidates] for t in train])
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        held[target] = dict(zip(candidates, design(target) @ w))
    return held


def validate_ranking(signals: Mapping[str, Table], gains: Table, candidates: Sequence[str],
                     unit_gains: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None, k: int = 3,
                     draws: int = DRAWS) -> dict:
    """{'validation': signal -> figures, 'p': signal -> metric -> permutation p, 'random': the random
    ranking's mean figures, 'ceiling': the noise ceiling, 'draws', 'rng_seed'} over the targets
    with a gain for every candidate. A NaN signal value counts as 0 (no preference)."""
    gains = {t: g for t, g in gains.items() if all(c in g for c in candidates)}
    predictions = {name: {t: {c: v if math.isfinite(v := by_target[t][c]) else 0.0 for c in candidates}
                          for t in gains} for name, by_target in signals.items()}
    if held := held_out_blend(signals, gains, candidates):
        predictions[HELD_OUT] = held
    validation = {name: score(p, gains, candidates, k) for name, p in predictions.items()}
    sample = random_draws(gains, candidates, k, draws)
    p = {name: {m: permutation_p(v[m], sample[m], m) for m in metric_names(k)} for name, v in validation.items()}
    ceiling = noise_ceiling({t: unit_gains[t] for t in gains if t in unit_gains}, candidates, k) if unit_gains else {}
    return {"validation": {name: _rounded(v) for name, v in validation.items()}, "p": p,
            "random": _rounded(random_mean(gains, candidates, k)), "ceiling": ceiling or {"units": 0},
            "draws": draws, "rng_seed": RNG_SEED}
