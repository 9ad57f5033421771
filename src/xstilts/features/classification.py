"""Sentence and sentence-pair classification features.

Feature: ``{"input_ids": [...], "labels": int}``. Unlabelled examples (label None) get no
"labels" key at all, so a loss can never be computed on a made-up label. No
token_type_ids: XLM-R family encoders use a single segment type.
"""

from __future__ import annotations

from collections.abc import Sequence

from xstilts.data.examples import TextExample
from xstilts.errors import XstiltsError

VERSION = 1


def label_ids(label_list: Sequence[str]) -> dict[str, int]:
    """Label → id by position in ``label_list``; duplicates would make ids ambiguous."""
    mapping = {label: i for i, label in enumerate(label_list)}
    if len(mapping) != len(label_list):
        raise XstiltsError(f"label_list has duplicates: {list(label_list)}")
    return mapping


def lookup_label(mapping: dict[str, int], label: str, uid: str) -> int:
    try:
        return mapping[label]
    except KeyError:
        raise XstiltsError(f"example {uid}: label {label!r} not in {sorted(mapping)}") from None


def build_classification_features(
    examples: Sequence[TextExample], tokenizer, max_length: int, label_list: Sequence[str]
) -> list[dict]:
    """One feature per example; pairs are truncated "longest_first" (trim the longer side)."""
    mapping = label_ids(label_list)
    features = []
    for ex in examples:
        enc = tokenizer(ex.text_a, ex.text_b, truncation="longest_first", max_length=max_length)
        feature: dict[str, list[int] | int] = {"input_ids": list(enc["input_ids"])}
        if ex.label is not None:
            feature["labels"] = lookup_label(mapping, ex.label, ex.uid)
        features.append(feature)
    return features
