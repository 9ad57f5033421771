"""How good a predicted ranking of candidates is against their actual gains (Poth et al. 2021,
"What to Pre-Train on? Efficient Intermediate Task Selection", use NDCG and regret@k the same way)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["ndcg_at_k", "regret_at_k", "top_k"]


def top_k(predicted: Sequence[float], k: int) -> list[int]:
    """Indices of the K highest predictions (ties: the earlier candidate first)."""
    return sorted(range(len(predicted)), key=lambda i: (-predicted[i], i))[:k]


def ndcg_at_k(predicted: Sequence[float], gains: Sequence[float], k: int) -> float:
    """NDCG@K of the order PREDICTED gives; relevance is each candidate's gain minus the smallest
    gain (so the worst candidate counts 0). 1.0 when the top K are the K best in their order."""
    floor = min(gains)
    rel = [g - floor for g in gains]

    def dcg(order: Sequence[int]) -> float:
        return sum(rel[i] / math.log2(rank + 2) for rank, i in enumerate(order))

    ideal = dcg(top_k(rel, k))
    return dcg(top_k(predicted, k)) / ideal if ideal > 0 else 1.0


def regret_at_k(predicted: Sequence[float], gains: Sequence[float], k: int) -> float:
    """The best actual gain minus the best gain among the K candidates ranked first (0: the best
    candidate is among them), in the gains' own units."""
    return max(gains) - max(gains[i] for i in top_k(predicted, k))
