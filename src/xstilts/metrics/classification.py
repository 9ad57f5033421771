"""Sentence(-pair) classification and multiple choice: accuracy (XNLI, XCOPA, PAWS-X) and macro-F1
(sentiment sets such as NusaX and AfriSenti report sklearn's `f1_score(average="macro")`)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from xstilts.metrics.registry import check_lengths, register


@register("accuracy", main="accuracy")
def accuracy(predictions: Sequence[Hashable], references: Sequence[Hashable]) -> dict[str, float]:
    """Share of exact label matches, as XTREME's evaluate.py `accuracy`."""
    check_lengths(predictions, references, "accuracy")
    return {"accuracy": 100.0 * sum(p == r for p, r in zip(predictions, references)) / len(references)}


@register("macro_f1", main="macro_f1")
def macro_f1(predictions: Sequence[Hashable], references: Sequence[Hashable]) -> dict[str, float]:
    """Unweighted mean of per-class F1 over every label seen in gold or predictions.

    Matches sklearn's default (labels = union of both sides; a class with no true positives scores 0).
    """
    check_lengths(predictions, references, "macro_f1")
    per_class = []
    for label in set(references) | set(predictions):
        tp = sum(p == label and r == label for p, r in zip(predictions, references))
        fp = sum(p == label and r != label for p, r in zip(predictions, references))
        fn = sum(p != label and r == label for p, r in zip(predictions, references))
        per_class.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"macro_f1": 100.0 * sum(per_class) / len(per_class)}
