"""Dual-encoder training pairs for LAReQA-style QA retrieval, built from SQuAD-format data.

Feature: ``{"q_input_ids": question, "p_input_ids": answer sentence}``; with
``with_context=True`` the passage side is the pair (sentence, its paragraph), as LAReQA
encodes candidates, truncating only the paragraph. Impossible questions are skipped.
``query_prefix``/``passage_prefix`` (e.g. e5's "query: "/"passage: ") are protocol
settings the caller records.

Sentence splitting is deliberately simple: a sentence ends after [.!?] followed by
whitespace or the end of the text, or after a CJK terminator [。！？] wherever it occurs
(CJK text has no spaces between sentences). The answer sentence is the one holding the
answer's first character.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from xstilts.data.examples import QAExample

VERSION = 1

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)\s*|[。！？]\s*")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(char_start, char_end) of each sentence, trailing whitespace excluded."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start() + 1))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in ((s, s + len(text[s:e].rstrip())) for s, e in spans) if e > s]


def answer_sentence(context: str, char_start: int) -> str:
    spans = split_sentences(context)
    i = bisect.bisect_right([s for s, _ in spans], char_start) - 1
    return context[spans[max(i, 0)][0]:spans[max(i, 0)][1]]


def build_retrieval_pairs(
    examples: Sequence[QAExample], tokenizer, max_length: int, with_context: bool = False,
    query_prefix: str = "", passage_prefix: str = "",
) -> list[dict]:
    pairs = []
    for ex in examples:
        if ex.is_impossible or not ex.answers:
            continue
        sentence = passage_prefix + answer_sentence(ex.context, ex.answers[0][1])
        question = tokenizer(query_prefix + ex.question, truncation=True, max_length=max_length)
        passage = tokenizer(sentence, ex.context if with_context else None,
                            truncation="only_second" if with_context else True, max_length=max_length)
        pairs.append({"q_input_ids": list(question["input_ids"]), "p_input_ids": list(passage["input_ids"])})
    return pairs
