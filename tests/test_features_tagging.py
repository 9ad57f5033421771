"""Tagging features: first-sub-token labels, empty words, whole-word truncation, alignment back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tiny import tiny_tokenizer
from xstilts.data.examples import TaggingExample
from xstilts.errors import XstiltsError
from xstilts.features.tagging import IGNORE, align_predictions, build_tagging_features

TAGS = ["O", "B-PER", "I-PER", "B-LOC"]


def one_hot(feature: dict, tag_per_token: dict[int, int], width: int = 4, pad: int = 2):
    rows = np.zeros((len(feature["input_ids"]) + pad, width))
    for t, tag in tag_per_token.items():
        rows[t, tag] = 1.0
    return rows


def test_labels_on_first_sub_token_only():
    tok = tiny_tokenizer()
    words = ("the", "mailmen", "barked")  # "mailmen" is not in the vocabulary whole
    assert len(tok("mailmen", add_special_tokens=False)["input_ids"]) > 1
    feat = build_tagging_features([TaggingExample("a", words, ("O", "B-PER", "O"))], tok, 32, TAGS)[0]
    assert feat["input_ids"] == tok(list(words), is_split_into_words=True)["input_ids"]
    labels = feat["labels"]
    assert labels[0] == labels[-1] == IGNORE
    assert [labels[t] for t in feat["word_starts"]] == [0, 1, 0]
    assert sum(label != IGNORE for label in labels) == 3
    assert feat["n_words"] == 3


def test_word_without_tokens_gets_unk_and_keeps_its_tag():
    tok = tiny_tokenizer()
    words = ("the", "", "cat")  # an empty word yields no sub-token
    feat = build_tagging_features([TaggingExample("a", words, ("O", "B-LOC", "O"))], tok, 32, TAGS)[0]
    assert len(feat["word_starts"]) == 3
    assert feat["input_ids"][feat["word_starts"][1]] == tok.unk_token_id
    assert [feat["labels"][t] for t in feat["word_starts"]] == [0, 3, 0]


def test_truncation_drops_whole_words_and_alignment_fills_them():
    tok = tiny_tokenizer()
    words = ("the", "mailmen", "mailmen", "sat")
    per_word = [len(tok(w, add_special_tokens=False)["input_ids"]) for w in words]
    max_length = 2 + per_word[0] + per_word[1] + 1  # room for part of the third word only
    ex = TaggingExample("a", words, ("O", "B-PER", "I-PER", "O"))
    feat = build_tagging_features([ex], tok, max_length, TAGS)[0]
    assert len(feat["input_ids"]) == max_length - 1 and len(feat["word_starts"]) == 2
    logits = [one_hot(feat, {feat["word_starts"][0]: 3, feat["word_starts"][1]: 2})]
    assert align_predictions([feat], logits) == [[3, 2, 0, 0]]
    assert align_predictions([feat], np.stack(logits), fill_id=1) == [[3, 2, 1, 1]]


def test_single_word_longer_than_budget_is_cut_inside():
    tok = tiny_tokenizer()
    feat = build_tagging_features([TaggingExample("a", ("mailmenmailmen",), ())], tok, 4, TAGS)[0]
    assert len(feat["input_ids"]) == 4 and feat["word_starts"] == [1] and "labels" not in feat


def test_bad_tags_are_reported():
    tok = tiny_tokenizer()
    with pytest.raises(XstiltsError, match="2 words but 1 tags"):
        build_tagging_features([TaggingExample("a", ("a", "b"), ("O",))], tok, 8, TAGS)
    with pytest.raises(XstiltsError, match="'B-ORG'"):
        build_tagging_features([TaggingExample("a", ("a",), ("B-ORG",))], tok, 8, TAGS)
