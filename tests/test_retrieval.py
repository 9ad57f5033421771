"""Nearest-neighbour search: faiss cosine equals brute force; margin scoring by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xstilts.evaluation.retrieval import knn, mine, search


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_cosine_search_equals_brute_force():
    rng = np.random.default_rng(1)
    a, b = _unit(rng.standard_normal((50, 16))), _unit(rng.standard_normal((70, 16)))
    expected = np.argsort(-(a @ b.T), axis=1)[:, :3]
    assert np.array_equal(search(a, b, scorer="cosine", top=3), expected)


@pytest.mark.parametrize("k", [3, 4])
def test_margin_rescores_the_k_nearest_as_xtreme_by_brute_force(k):
    """XTREME's score_candidates: the k nearest by cosine, re-scored by the margin over the same k."""
    rng = np.random.default_rng(2)
    a, b = _unit(rng.standard_normal((400, 8))), _unit(rng.standard_normal((400, 8)))
    sim = a @ b.T
    fwd = np.sort(sim, axis=1)[:, -k:].mean(1)
    bwd = np.sort(sim.T, axis=1)[:, -k:].mean(1)
    margin = sim / ((fwd[:, None] + bwd[None, :]) / 2)
    nearest = np.argsort(-sim, axis=1)[:, :k]
    expected = nearest[np.arange(len(a)), np.take_along_axis(margin, nearest, 1).argmax(1)]
    got = search(a, b, scorer="margin", margin_k=k)[:, 0]
    assert np.array_equal(got, expected)
    # over all targets instead of the k nearest, some answers differ: the k is part of the protocol
    assert not np.array_equal(got, margin.argmax(1))


def test_mining_keeps_only_pairs_scoring_above_zero():
    """mine_bitext writes a proposal only when its margin is above its threshold 0: here x1's best
    proposal (y1, cosine 0) scores 0 and is dropped, the true pair (x0, y0) is kept."""
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert [(a, b) for a, b, _ in mine(x, y, margin_k=2)] == [(0, 0)]
    assert mine(x, y, margin_k=2)[0][2] == pytest.approx(4.0)  # 1 / ((0.5 + 0) / 2)


def test_margin_demotes_a_hub():
    # target 0 is a "hub": fairly close to every source; each source's true match is
    # slightly less close than the hub by cosine but stands out by margin.
    src = _unit(np.array([[1, 0.0, 0], [0, 1, 0], [0, 0, 1]]) + 0.0)
    hub = _unit(np.array([[1, 1, 1.0]]))
    true = _unit(np.array([[1, 0.15, 0.15], [0.15, 1, 0.15], [0.15, 0.15, 1]]))
    tgt = np.concatenate([hub, true * 0 + _unit(true)])
    tgt[1:] = _unit(np.array([[1, 0.9, 0.9], [0.9, 1, 0.9], [0.9, 0.9, 1]]))  # true matches, hub-like too
    cos_top = search(src, tgt, scorer="cosine")[:, 0]
    margin_top = search(src, tgt, scorer="margin", margin_k=2)[:, 0]
    assert np.array_equal(margin_top, [1, 2, 3])
    assert np.all(knn(src, tgt, 1)[1][:, 0] == cos_top)


def test_unknown_scorer():
    x = _unit(np.eye(3))
    with pytest.raises(ValueError, match="scorer"):
        search(x, x, scorer="dot")  # type: ignore[arg-type]
