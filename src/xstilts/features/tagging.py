"""Token tagging (UD-POS, WikiANN-NER): words → sub-tokens and predictions → one tag per word.

Feature: ``{"input_ids", "labels", "word_starts", "example_index", "first_word"}``: one
*piece* of a sentence. ``labels`` holds the tag id on the first sub-token of each word and
-100 elsewhere (other sub-tokens, specials); it is omitted when the example has no tags.
``word_starts`` is the token index of each of the piece's words' first sub-token, so
predictions can be read back without labels; ``first_word`` is the sentence position of the
piece's first word.

Long sentences are split, never truncated, as XTREME's utils_preprocess.py splits them: words
are packed greedily into pieces of at most ``max_length`` tokens, specials included, so every
word of every sentence is predicted (at evaluation) and trained on. Training reads the pieces
as separate sentences, as XTREME does; ``align_predictions`` joins them back into one tag per
word of the original sentence. A word the tokenizer turns into no token at all (zero-width or
control characters under XLM-R's normaliser) is replaced by the unk token, so every word keeps
a position; a single word longer than a whole piece is cut inside (its first sub-token, which
carries its tag, is kept).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xstilts.data.examples import TaggingExample
from xstilts.errors import XstiltsError
from xstilts.features.classification import label_ids, lookup_label

VERSION = 2  # 2: long sentences split into pieces (was: truncated)
IGNORE = -100


def _words_with_tokens(tokenizer, words: list[str]) -> tuple[list[str], list[int]]:
    """Words (empty ones → unk) and the sub-token count of each, special tokens excluded."""
    counts = [0] * len(words)
    if words:
        for w in tokenizer(words, is_split_into_words=True, add_special_tokens=False).word_ids():
            counts[w] += 1
    if 0 in counts:
        words = [tokenizer.unk_token if c == 0 else w for w, c in zip(words, counts)]
        counts = [c or 1 for c in counts]
    return words, counts


def pieces(counts: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """(start, end) word ranges covering every word in order, each at most ``budget`` sub-tokens
    (a single longer word alone in its piece): XTREME's greedy split of long sentences."""
    out, start, used = [], 0, 0
    for i, count in enumerate(counts):
        if used and used + count > budget:
            out.append((start, i))
            start, used = i, 0
        used += count
    out.append((start, len(counts)))
    return out


def sentences_split(examples: Sequence[TaggingExample], tokenizer, max_length: int) -> int:
    """How many of the examples are longer than ``max_length`` tokens (split into pieces)."""
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    return sum(len(pieces(_words_with_tokens(tokenizer, list(ex.tokens))[1], budget)) > 1 for ex in examples)


def build_tagging_features(
    examples: Sequence[TaggingExample], tokenizer, max_length: int, label_list: Sequence[str]
) -> list[dict]:
    mapping = label_ids(label_list)
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    features = []
    for index, ex in enumerate(examples):
        if ex.tags and len(ex.tags) != len(ex.tokens):
            raise XstiltsError(f"example {ex.uid}: {len(ex.tokens)} words but {len(ex.tags)} tags")
        words, counts = _words_with_tokens(tokenizer, list(ex.tokens))
        for start, end in pieces(counts, budget):
            enc = tokenizer(words[start:end], is_split_into_words=True, truncation=True, max_length=max_length)
            word_ids = enc.word_ids()
            starts = [t for t, w in enumerate(word_ids) if w is not None and (t == 0 or word_ids[t - 1] != w)]
            feature = {"input_ids": list(enc["input_ids"]), "word_starts": starts, "example_index": index,
                       "first_word": start}
            if ex.tags:
                labels = [IGNORE] * len(word_ids)
                for t in starts:
                    labels[t] = lookup_label(mapping, ex.tags[start + word_ids[t]], ex.uid)
                feature["labels"] = labels
            features.append(feature)
    return features


def align_predictions(features: Sequence[dict], logits) -> list[list[int]]:
    """Per example, one predicted tag id per word: argmax at each word's first sub-token, the
    pieces of a sentence joined in order. ``logits`` has one [tokens, n_tags] array per feature
    (a padded 3-d batch works too)."""
    predictions: list[list[int]] = []
    for feature, rows in zip(features, logits, strict=True):
        starts = feature["word_starts"]
        tags = np.asarray(rows)[starts].argmax(-1).tolist() if starts else []
        if feature["example_index"] == len(predictions):
            predictions.append([])
        sentence = predictions[feature["example_index"]]
        if feature["first_word"] != len(sentence):
            raise ValueError(f"tagging: the pieces of example {feature['example_index']} are out of order")
        sentence += tags
    return predictions
