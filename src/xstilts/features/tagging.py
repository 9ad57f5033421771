"""Token tagging (UD-POS, WikiANN-NER): words → sub-tokens and predictions → one tag per word.

Feature: ``{"input_ids", "labels", "word_starts", "n_words"}``. ``labels`` holds the tag id
on the first sub-token of each word and -100 elsewhere (other sub-tokens, specials); it is
omitted when the example has no tags. ``word_starts`` is the token index of each kept word's
first sub-token, so predictions can be read back without labels.

Choices: a word the tokenizer turns into no token at all (zero-width or control characters
under XLM-R's normaliser) is replaced by the unk token, so every word keeps a position.
Truncation drops whole words from the end (only a single word longer than the whole budget
is cut inside); ``align_predictions`` gives dropped words ``fill_id`` (default 0 — put "O"
first in an NER label_list), so metric code always gets one tag per word.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xstilts.data.examples import TaggingExample
from xstilts.errors import XstiltsError
from xstilts.features.classification import label_ids, lookup_label

VERSION = 1
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


def _kept_words(counts: list[int], budget: int) -> int:
    """How many leading words fit whole in ``budget`` tokens (at least one, cut if need be)."""
    total = 0
    for n, count in enumerate(counts):
        total += count
        if total > budget:
            return max(n, 1)
    return len(counts)


def build_tagging_features(
    examples: Sequence[TaggingExample], tokenizer, max_length: int, label_list: Sequence[str]
) -> list[dict]:
    mapping = label_ids(label_list)
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    features = []
    for ex in examples:
        if ex.tags and len(ex.tags) != len(ex.tokens):
            raise XstiltsError(f"example {ex.uid}: {len(ex.tokens)} words but {len(ex.tags)} tags")
        words, counts = _words_with_tokens(tokenizer, list(ex.tokens))
        words = words[: _kept_words(counts, budget)]
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        word_ids = enc.word_ids()
        starts = [t for t, w in enumerate(word_ids) if w is not None and (t == 0 or word_ids[t - 1] != w)]
        feature = {"input_ids": list(enc["input_ids"]), "word_starts": starts, "n_words": len(ex.tokens)}
        if ex.tags:
            labels = [IGNORE] * len(word_ids)
            for t in starts:
                labels[t] = lookup_label(mapping, ex.tags[word_ids[t]], ex.uid)
            feature["labels"] = labels
        features.append(feature)
    return features


def align_predictions(features: Sequence[dict], logits, fill_id: int = 0) -> list[list[int]]:
    """Per example, one predicted tag id per word: argmax at each word's first sub-token.

    ``logits`` has one [tokens, n_tags] array per feature (a padded 3-d batch works too).
    Words dropped by truncation get ``fill_id``.
    """
    predictions = []
    for feature, rows in zip(features, logits, strict=True):
        starts = feature["word_starts"]
        tags = np.asarray(rows)[starts].argmax(-1).tolist() if starts else []
        predictions.append(tags + [fill_id] * (feature["n_words"] - len(tags)))
    return predictions
