"""Tagging features: first-sub-token labels, empty words, long sentences split into pieces, alignment back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tiny import tiny_tokenizer
from xstilts.data.examples import TaggingExample
from xstilts.errors import XstiltsError
from xstilts.features.tagging import IGNORE, align_predictions, build_tagging_features, pieces

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
    assert feat["example_index"] == feat["first_word"] == 0


def test_word_without_tokens_gets_unk_and_keeps_its_tag():
    tok = tiny_tokenizer()
    words = ("the", "", "cat")  # an empty word yields no sub-token
    feat = build_tagging_features([TaggingExample("a", words, ("O", "B-LOC", "O"))], tok, 32, TAGS)[0]
    assert len(feat["word_starts"]) == 3
    assert feat["input_ids"][feat["word_starts"][1]] == tok.unk_token_id
    assert [feat["labels"][t] for t in feat["word_starts"]] == [0, 3, 0]


def test_long_sentence_is_split_into_pieces_and_every_word_predicted():
    tok = tiny_tokenizer()
    words = ("the", "mailmen", "mailmen", "sat", "on", "the", "mat")
    per_word = [len(tok(w, add_special_tokens=False)["input_ids"]) for w in words]
    max_length = 2 + per_word[0] + per_word[1] + 1  # room for part of the third word only
    tags = ("O", "B-PER", "I-PER", "O", "O", "O", "B-LOC")
    ex = TaggingExample("a", words, tags)
    feats = build_tagging_features([ex], tok, max_length, TAGS)
    assert len(feats) > 1 and all(len(f["input_ids"]) <= max_length for f in feats)
    # the pieces cover every word once, in order, each with its own gold tag
    assert [f["first_word"] for f in feats] == sorted({f["first_word"] for f in feats})
    assert sum(len(f["word_starts"]) for f in feats) == len(words)
    assert [f["labels"][t] for f in feats for t in f["word_starts"]] == [TAGS.index(t) for t in tags]
    assert feats[0]["first_word"] == 0 and len(feats[0]["word_starts"]) == 2  # greedy: the first two words fit
    # the model's own argmax reaches every word: predict word w's tag as (w mod 4)
    logits = [one_hot(f, {t: (f["first_word"] + i) % 4 for i, t in enumerate(f["word_starts"])}) for f in feats]
    assert align_predictions(feats, logits) == [[w % 4 for w in range(len(words))]]


def test_pieces_pack_words_greedily_and_keep_a_long_word_alone():
    assert pieces([2, 2, 2, 2], 5) == [(0, 2), (2, 4)]
    assert pieces([1, 9, 1], 4) == [(0, 1), (1, 2), (2, 3)]
    assert pieces([3, 3], 6) == [(0, 2)]
    assert pieces([], 4) == [(0, 0)]


def test_several_sentences_align_back_in_order():
    tok = tiny_tokenizer()
    exs = [TaggingExample(str(i), ("the", "cat", "sat", "on", "the", "mat")[: 2 + i], ()) for i in range(3)]
    feats = build_tagging_features(exs, tok, 5, TAGS)  # 3 words per piece
    assert [f["example_index"] for f in feats] == [0, 1, 2, 2]
    logits = [one_hot(f, {t: 1 for t in f["word_starts"]}) for f in feats]
    assert align_predictions(feats, logits) == [[1] * 2, [1] * 3, [1] * 4]
    with pytest.raises(ValueError, match="out of order"):
        align_predictions([*feats[:2], feats[3], feats[2]], logits)


def test_bad_tags_are_reported():
    tok = tiny_tokenizer()
    with pytest.raises(XstiltsError, match="2 words but 1 tags"):
        build_tagging_features([TaggingExample("a", ("a", "b"), ("O",))], tok, 8, TAGS)
    with pytest.raises(XstiltsError, match="'B-ORG'"):
        build_tagging_features([TaggingExample("a", ("a",), ("B-ORG",))], tok, 8, TAGS)
