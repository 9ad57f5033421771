"""Nearest-neighbour search over sentence embeddings (faiss), by cosine or by margin.

Embeddings arrive L2-normalised, so inner product = cosine. Margin scoring is the
ratio margin of Artetxe & Schwenk (2019): cos(x, y) divided by the mean of the average
cosine of x to its k nearest targets and of y to its k nearest sources, which
penalises "hub" sentences that are close to everything.
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

Scorer = Literal["cosine", "margin"]


def knn(queries: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product search: (scores, indices), each (n_queries, k), best first."""
    k = min(k, len(keys))
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(np.ascontiguousarray(keys, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def search(src: np.ndarray, tgt: np.ndarray, *, scorer: Scorer, top: int = 1, margin_k: int = 4,
           candidates: int = 16) -> np.ndarray:
    """For each source row, the indices of its `top` best targets, best first.

    With scorer="margin", the `candidates` nearest targets by cosine are re-scored by the
    ratio margin over `margin_k` neighbours in each direction (LASER's mining recipe)."""
    if scorer == "cosine":
        return knn(src, tgt, top)[1]
    if scorer != "margin":
        raise ValueError(f"scorer must be 'cosine' or 'margin', not {scorer!r}")
    src_avg = knn(src, tgt, margin_k)[0].mean(axis=1)  # x's mean cosine to its k nearest targets
    tgt_avg = knn(tgt, src, margin_k)[0].mean(axis=1)  # y's mean cosine to its k nearest sources
    cos, idx = knn(src, tgt, max(candidates, top))
    margin = cos / ((src_avg[:, None] + tgt_avg[idx]) / 2)
    order = np.argsort(-margin, axis=1, kind="stable")[:, :top]
    return np.take_along_axis(idx, order, axis=1)
