"""How good a predicted ranking of candidates is against their actual gains (Poth et al. 2021,
"What to Pre-Train on? Efficient Intermediate Task Selection", use NDCG and regret@k the same way).

Tied predictions carry no order, so every score here is its expectation over the orderings of the
tied candidates (each equally likely), computed exactly: a constant prediction scores what a random
ranking scores on average, whatever order the candidates are listed in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby

import numpy as np
from scipy.stats import rankdata

__all__ = ["ndcg_at_k", "regret_at_k", "spearman_rho", "tie_groups", "top_k"]


def top_k(predicted: Sequence[float], k: int) -> list[int]:
    """Indices of the K highest predictions (ties: the earlier candidate first), for display only."""
    return sorted(range(len(predicted)), key=lambda i: (-predicted[i], i))[:k]


def tie_groups(predicted: Sequence[float]) -> list[list[int]]:
    """Candidates grouped by equal prediction, best group first."""
    order = sorted(range(len(predicted)), key=lambda i: -predicted[i])
    return [list(g) for _, g in groupby(order, key=lambda i: predicted[i])]


def _relevance(gains: Sequence[float]) -> list[float]:
    floor = min(gains)
    return [g - floor for g in gains]


def _dcg(predicted: Sequence[float], rel: Sequence[float], k: int) -> float:
    """Expected DCG@K: a tied group spread over ranks [start, start + size) puts its mean relevance
    at each of those ranks."""
    total, start = 0.0, 0
    for group in tie_groups(predicted):
        mean_rel = sum(rel[i] for i in group) / len(group)
        total += mean_rel * sum(1 / math.log2(r + 2) for r in range(start, min(start + len(group), k)))
        start += len(group)
    return total


def ndcg_at_k(predicted: Sequence[float], gains: Sequence[float], k: int) -> float:
    """NDCG@K of the order PREDICTED gives; relevance is each candidate's gain minus the smallest
    gain (so the worst candidate counts 0). 1.0 when the top K are the K best in their order."""
    rel = _relevance(gains)
    ideal = _dcg(rel, rel, k)
    return _dcg(predicted, rel, k) / ideal if ideal > 0 else 1.0


def regret_at_k(predicted: Sequence[float], gains: Sequence[float], k: int) -> float:
    """The best actual gain minus the best gain among the K candidates ranked first (0: the best
    candidate is among them), in the gains' own units. A tied group cut by rank K contributes a
    random subset of its members: its j-th best is the best one drawn with probability
    C(size - j, m - 1) / C(size, m) for m drawn."""
    sure, start = -math.inf, 0
    for group in tie_groups(predicted):
        if start + len(group) <= k:
            sure = max(sure, *(gains[i] for i in group))
            start += len(group)
            continue
        m = k - start
        if m <= 0:
            break
        values = sorted((gains[i] for i in group), reverse=True)
        size = len(values)
        expected = sum(math.comb(size - j, m - 1) / math.comb(size, m) * max(sure, v)
                       for j, v in enumerate(values, 1))
        return max(gains) - expected
    return max(gains) - sure


def spearman_rho(predicted: Sequence[float], gains: Sequence[float]) -> float:
    """Spearman's rho, expected over the orderings of tied predictions: rho is linear in the
    predicted ranks and a tied candidate's expected rank is the group's mid-rank, so the mid-ranks
    go in the covariance and the variance is that of untied ranks. NaN when the gains are constant
    or there are fewer than 2 candidates."""
    n = len(gains)
    actual = rankdata(gains)
    if n < 2 or np.ptp(actual) == 0:
        return math.nan
    pred = rankdata(predicted)
    centred = actual - actual.mean()
    untied = n * (n * n - 1) / 12
    return float(np.dot(pred - pred.mean(), centred) / math.sqrt(untied * np.dot(centred, centred)))
