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
from xstilts.errors import BadValue

Scorer = Literal["cosine", "margin"]


def knn(queries: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product search: (scores, indices), each (n_queries, k), best first."""
    k = min(k, len(keys))
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(np.ascontiguousarray(keys, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def search(src: np.ndarray, tgt: np.ndarray, *, scorer: Scorer, top: int = 1, margin_k: int = 4) -> np.ndarray:
    """For each source row, the indices of its `top` best targets, best first.

    With scorer="margin", the `margin_k` nearest targets by cosine (at least `top`) are re-scored
    by the ratio margin over `margin_k` neighbours in each direction, as XTREME's
    utils_retrieve.score_candidates: the same k for candidates and for the margin."""
    if scorer == "cosine":
        return knn(src, tgt, top)[1]
    if scorer != "margin":
        raise BadValue(f"scorer must be 'cosine' or 'margin', not {scorer!r}")
    src_avg = knn(src, tgt, margin_k)[0].mean(axis=1)  # x's mean cosine to its k nearest targets
    tgt_avg = knn(tgt, src, margin_k)[0].mean(axis=1)  # y's mean cosine to its k nearest sources
    cos, idx = knn(src, tgt, max(margin_k, top))
    margin = cos / ((src_avg[:, None] + tgt_avg[idx]) / 2)
    order = np.argsort(-margin, axis=1, kind="stable")[:, :top]
    return np.take_along_axis(idx, order, axis=1)


def mine(src: np.ndarray, tgt: np.ndarray, *, margin_k: int = 4) -> list[tuple[int, int, float]]:
    """Bitext mining by ratio margin, as XTREME's BUCC (utils_retrieve.mine_bitext, mode 'mine',
    retrieval 'max'): each sentence of either side proposes its best margin-scored neighbour
    among its `margin_k` nearest; proposals are taken best-first, each sentence used once, and
    only those scoring above 0 are kept (mine_bitext's default threshold).
    Returns (source index, target index, margin score), best first."""
    fwd_sim, fwd_idx = knn(src, tgt, margin_k)
    bwd_sim, bwd_idx = knn(tgt, src, margin_k)
    fwd_mean, bwd_mean = fwd_sim.mean(axis=1), bwd_sim.mean(axis=1)
    fwd = fwd_sim / ((fwd_mean[:, None] + bwd_mean[fwd_idx]) / 2)
    bwd = bwd_sim / ((bwd_mean[:, None] + fwd_mean[bwd_idx]) / 2)
    fwd_best, bwd_best = fwd_idx[np.arange(len(src)), fwd.argmax(1)], bwd_idx[np.arange(len(tgt)), bwd.argmax(1)]
    pairs = np.concatenate([np.stack([np.arange(len(src)), fwd_best], 1), np.stack([bwd_best, np.arange(len(tgt))], 1)])
    scores = np.concatenate([fwd.max(1), bwd.max(1)])
    seen_src, seen_tgt, out = set(), set(), []
    for i in np.argsort(-scores, kind="stable"):
        a, b = int(pairs[i, 0]), int(pairs[i, 1])
        if a not in seen_src and b not in seen_tgt:
            seen_src.add(a)
            seen_tgt.add(b)
            if scores[i] > 0:
                out.append((a, b, float(scores[i])))
    return out
