"""Sentence(-pair) classification and multiple-choice features."""

from __future__ import annotations

import pytest

from tests.tiny import tiny_tokenizer
from xstilts.data.examples import ChoiceExample, TextExample
from xstilts.errors import XstiltsError
from xstilts.features.choice import build_choice_features, first_segment
from xstilts.features.classification import build_classification_features

LABELS = ["entailment", "neutral", "contradiction"]
LONG = "the cat sat on the mat " * 6


def test_pair_classification_ids_and_labels():
    tok = tiny_tokenizer()
    exs = [TextExample("a", "the cat sat", "the mat", "neutral"), TextExample("b", "the dog", None, None)]
    feats = build_classification_features(exs, tok, 64, LABELS)
    assert feats[0] == {"input_ids": tok("the cat sat", "the mat")["input_ids"], "labels": 1}
    assert feats[1] == {"input_ids": tok("the dog")["input_ids"]}  # unlabelled: no "labels" key


def test_pair_truncation_is_longest_first():
    tok = tiny_tokenizer()
    ex = TextExample("a", LONG, "the mat", "entailment")
    feat = build_classification_features([ex], tok, 12, LABELS)[0]
    ids = feat["input_ids"]
    assert len(ids) == 12
    assert ids[-3:] == tok("the mat")["input_ids"][1:]  # short second segment kept whole
    assert ids[1:7] == tok(LONG)["input_ids"][1:7]  # the long first one was cut


def test_unknown_label_names_the_example():
    with pytest.raises(XstiltsError, match="x7.*'maybe'"):
        build_classification_features([TextExample("x7", "a", None, "maybe")], tiny_tokenizer(), 8, LABELS)


def test_copa_question_becomes_a_sentence():
    # XTREME's third_party/run_xcopa.py: f"{premise} What was the {question}?"
    ex = ChoiceExample("c", "The man fell.", "cause", ("He slipped.", "He sang."), 0)
    assert first_segment(ex) == "The man fell. What was the cause?"
    effect = ChoiceExample("e", "The man fell.", "effect", ("a", "b"), 1)
    assert first_segment(effect) == "The man fell. What was the effect?"
    csqa = ChoiceExample("q", "", "Where do cats sit?", ("mat", "war"), 0)
    assert first_segment(csqa) == "Where do cats sit?"


def test_choice_features_keep_choices_whole_and_truncate_first_segment():
    tok = tiny_tokenizer()
    ex = ChoiceExample("c", LONG, "who sat", ("the cat", "the dog barked"), 1)
    feat = build_choice_features([ex], tok, 12)[0]
    assert feat["labels"] == 1 and len(feat["input_ids"]) == 2
    for ids, choice in zip(feat["input_ids"], ex.choices):
        assert len(ids) == 12
        assert ids[-len(tok(choice)["input_ids"]) + 1:] == tok(choice)["input_ids"][1:]
    huge = ChoiceExample("h", "the cat", "", ("the mat " * 20,), None)
    feat = build_choice_features([huge], tok, 10)[0]
    assert "labels" not in feat and len(feat["input_ids"][0]) == 10
    with pytest.raises(XstiltsError, match="out of range"):
        build_choice_features([ChoiceExample("z", "a", "b", ("x", "y"), 2)], tok, 10)
