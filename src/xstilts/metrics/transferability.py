"""Transferability estimators: how well a frozen encoder's features of a target task's training
examples already separate its labels, computed without training anything.

- LogME (You et al., ICML 2021, "LogME: Practical Assessment of Pre-trained Models for Transfer
  Learning"): the log marginal evidence of a Bayesian linear model from features to each one-hot
  label column, maximised over its prior and noise precisions (alpha, beta) by the paper's
  fixed-point iteration on the SVD of the features; mean over label columns, per example.
- H-score (Bao et al., ICIP 2019): tr(cov(f)^+ cov(E[f | y])), the share of feature variance the
  labels explain, in units of dimensions (at most the number of classes minus one).
Higher is better for both.
"""

from __future__ import annotations

import numpy as np

__all__ = ["logme", "hscore"]


def _evidence(n: int, d: int, alpha: float, beta: float, sigma: np.ndarray, res2: float, m2: float) -> float:
    return (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - 0.5 * (d - len(sigma)) * np.log(alpha) - beta / 2 * res2 - alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))


def logme(features: np.ndarray, labels: np.ndarray, *, max_iter: int = 100, tol: float = 1e-5) -> float:
    """LogME of FEATURES (n x d) for integer class LABELS (n,): the mean over classes of the
    maximised log evidence per example."""
    f = np.asarray(features, dtype=np.float64)
    y_all = np.asarray(labels)
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s ** 2  # eigenvalues of F^T F (the other d - len(s) are zero)
    scores = []
    for k in np.unique(y_all):
        y = (y_all == k).astype(np.float64)
        z2 = (u.T @ y) ** 2
        outside = float(y @ y - z2.sum())  # the part of y no feature direction reaches
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            t = alpha / beta
            gamma = float(np.sum(sigma / (sigma + t)))
            m2 = float(np.sum(sigma * z2 / (sigma + t) ** 2))
            res2 = float(np.sum(z2 * (t / (sigma + t)) ** 2)) + outside
            alpha, beta = gamma / (m2 + 1e-12), (n - gamma) / (res2 + 1e-12)
            if abs(alpha / beta - t) / t < tol:
                break
        t = alpha / beta
        m2 = float(np.sum(sigma * z2 / (sigma + t) ** 2))
        res2 = float(np.sum(z2 * (t / (sigma + t)) ** 2)) + outside
        scores.append(_evidence(n, d, alpha, beta, sigma, res2, m2) / n)
    return float(np.mean(scores))


def hscore(features: np.ndarray, labels: np.ndarray) -> float:
    """H-score of FEATURES (n x d) for integer class LABELS (n,)."""
    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(axis=0)
    y = np.asarray(labels)
    cov_f = f.T @ f / len(f)
    means = np.zeros_like(f)
    for k in np.unique(y):
        means[y == k] = f[y == k].mean(axis=0)
    cov_g = means.T @ means / len(f)
    return float(np.trace(np.linalg.pinv(cov_f, rcond=1e-10, hermitian=True) @ cov_g))
