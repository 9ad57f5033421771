"""LogME and H-score against values computed another way, and the ranking metrics against
hand-computed ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xstilts.metrics.ranking import ndcg_at_k, regret_at_k
from xstilts.metrics.transferability import hscore, logme


def _log_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """log p(y | F, alpha, beta) of Bayesian linear regression, straight from the matrices."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    return (n / 2 * math.log(beta) + d / 2 * math.log(alpha) - n / 2 * math.log(2 * math.pi)
            - beta / 2 * float(np.sum((y - f @ m) ** 2)) - alpha / 2 * float(m @ m)
            - 0.5 * np.linalg.slogdet(a)[1])


@pytest.mark.parametrize("n, d", [(60, 5), (20, 30)])  # more examples than dimensions, and fewer
def test_logme_is_the_maximised_evidence(n, d):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, d))
    labels = (f[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    grid = np.exp(np.linspace(-6, 6, 121))
    best = [max(_log_evidence(f, (labels == k).astype(float), a, b) for a in grid for b in grid) / n
            for k in (0, 1)]
    assert logme(f, labels) == pytest.approx(np.mean(best), abs=2e-3)
    assert logme(f, labels) >= np.mean(best) - 1e-9  # the fixed point is at least the grid's best


def test_logme_and_hscore_prefer_features_that_carry_the_labels():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=300)
    informative = np.eye(3)[labels] * 2 + rng.normal(size=(300, 3)) * 0.5
    noise = rng.normal(size=(300, 3))
    assert logme(informative, labels) > logme(noise, labels)
    assert hscore(informative, labels) > 1.5 > 0.1 > hscore(noise, labels)


def test_hscore_of_the_labels_themselves_is_classes_minus_one():
    labels = np.repeat(np.arange(4), 25)
    assert hscore(np.eye(4)[labels], labels) == pytest.approx(3.0)  # E[f|y] = f: all variance explained


def test_ndcg_and_regret_by_hand():
    gains = [1.0, 3.0, 0.0, 2.0]  # relevance = gain - min = the same numbers
    assert ndcg_at_k([0.4, 0.9, 0.1, 0.5], gains, 3) == pytest.approx(1.0)  # order 1, 3, 0: the ideal
    # predicted order 0, 2, 1: DCG = 1/log2(2) + 0/log2(3) + 3/log2(4) = 2.5; ideal 3 + 2/log2(3) + 1/2
    assert ndcg_at_k([0.9, 0.1, 0.5, 0.0], gains, 3) == pytest.approx(2.5 / (3.5 + 2 / math.log2(3)))
    assert regret_at_k([0.9, 0.1, 0.5, 0.0], gains, 1) == 2.0  # took gain 1 instead of 3
    assert regret_at_k([0.9, 0.1, 0.5, 0.0], gains, 3) == 0.0  # the best is in the top 3
