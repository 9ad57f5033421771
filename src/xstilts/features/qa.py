"""Extractive QA (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): sliding windows and span decoding.

Windows follow transformers' run_qa.py: the question (left-stripped, cut to
``max_query_length`` tokens) is the first segment and the context is split into windows of
at most ``max_length`` tokens that overlap by ``doc_stride`` tokens (overlap, as in run_qa.py,
not BERT's step size). Features:

- training: ``{"input_ids", "start_positions", "end_positions"}``; both positions are 0
  (the <s> token) when the window does not hold the whole answer or the question is
  impossible. Only the first gold answer is used.
- evaluation: ``{"input_ids", "example_index", "offsets"}``; offsets are (char_start,
  char_end) into the original context for context tokens and None elsewhere.

Answers are cut from the original context by character offsets (never detokenised) and
stripped of surrounding whitespace, since sentencepiece offsets may include a leading space.
The end is extended over combining marks: after NFKC composition ("e" + U+0301 → "é") the
token's offsets cover only the base character.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from xstilts.data.examples import QAExample
from xstilts.errors import BadValue

VERSION = 1


def _question(tokenizer, question: str, max_query_length: int) -> str:
    """Cut the question text after its ``max_query_length``-th token."""
    question = question.lstrip()
    offsets = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return question if len(offsets) <= max_query_length else question[: offsets[max_query_length - 1][1]]


def _windows(examples, tokenizer, max_length: int, doc_stride: int, max_query_length: int):
    """Yield (example index, input_ids, offsets, sequence ids) for every window."""
    budget = max_length - max_query_length - tokenizer.num_special_tokens_to_add(pair=True)
    if not 0 <= doc_stride < budget:
        raise BadValue(f"doc_stride={doc_stride} must be in [0, {budget}): "
                         f"max_length - max_query_length - special tokens")
    if not examples:
        return
    enc = tokenizer(
        [_question(tokenizer, ex.question, max_query_length) for ex in examples],
        [ex.context for ex in examples],
        truncation="only_second", max_length=max_length, stride=doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )
    for i, ids in enumerate(enc["input_ids"]):
        yield enc["overflow_to_sample_mapping"][i], ids, enc["offset_mapping"][i], enc.sequence_ids(i)


def _answer_tokens(offsets, seq_ids, start_char: int, end_char: int) -> tuple[int, int]:
    """Token span covering [start_char, end_char) in this window, or (0, 0) if not all inside."""
    ctx = [t for t, s in enumerate(seq_ids) if s == 1 and offsets[t][1] > offsets[t][0]]
    if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return 0, 0
    start = next(t for t in ctx if offsets[t][1] > start_char)
    end = next(t for t in reversed(ctx) if offsets[t][0] < end_char)
    return (start, end) if start <= end else (0, 0)


def build_qa_train_features(
    examples: Sequence[QAExample], tokenizer, max_length: int = 384, doc_stride: int = 128,
    max_query_length: int = 64,
) -> list[dict]:
    features = []
    for idx, ids, offsets, seq_ids in _windows(examples, tokenizer, max_length, doc_stride, max_query_length):
        ex = examples[idx]
        start = end = 0
        if ex.answers and not ex.is_impossible:
            text, char_start = ex.answers[0]
            start, end = _answer_tokens(offsets, seq_ids, char_start, char_start + len(text))
        features.append({"input_ids": list(ids), "start_positions": start, "end_positions": end})
    return features


def build_qa_eval_features(
    examples: Sequence[QAExample], tokenizer, max_length: int = 384, doc_stride: int = 128,
    max_query_length: int = 64,
) -> list[dict]:
    windows = _windows(examples, tokenizer, max_length, doc_stride, max_query_length)
    return [
        {"input_ids": list(ids), "example_index": idx,
         "offsets": [tuple(o) if s == 1 else None for o, s in zip(offsets, seq_ids)]}
        for idx, ids, offsets, seq_ids in windows
    ]


def _window_best(offsets, start_logits, end_logits, n_best: int | None, max_answer_length: int):
    """Best valid (score, char_start, char_end) among the top-n start × top-n end tokens."""
    n = len(offsets)
    s, e = np.asarray(start_logits[:n], float), np.asarray(end_logits[:n], float)
    valid = np.array([o is not None and o[1] > o[0] for o in offsets])
    starts, ends = np.argsort(-s, kind="stable")[:n_best], np.argsort(-e, kind="stable")[:n_best]
    length = ends[None, :] - starts[:, None] + 1
    ok = valid[starts][:, None] & valid[ends][None, :] & (length >= 1) & (length <= max_answer_length)
    if not ok.any():
        return None
    scores = np.where(ok, s[starts][:, None] + e[ends][None, :], -np.inf)
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    return scores[i, j], offsets[starts[i]][0], offsets[ends[j]][1]


def _best_span(windows, n_best, max_answer_length):
    found = [b for f, s, e in windows if (b := _window_best(f["offsets"], s, e, n_best, max_answer_length))]
    return max(found, key=lambda b: b[0]) if found else None


def _past_marks(text: str, end: int) -> int:
    while end < len(text) and unicodedata.category(text[end]).startswith("M"):
        end += 1
    return end


def decode_qa(
    examples: Sequence[QAExample], eval_features: Sequence[dict], start_logits, end_logits,
    n_best: int = 20, max_answer_length: int = 30, null_threshold: float | None = None,
) -> dict[str, str]:
    """{uid: answer text} from per-feature logits (rows may be padded past input_ids).

    Candidates are the top ``n_best`` start and end tokens of each window, as in run_qa.py;
    spans outside the context, with end < start or longer than ``max_answer_length`` are
    rejected, and the best-scoring span over all windows wins. ``null_threshold=None`` is
    SQuAD 1.1: never predict "" (if no top-n candidate is valid, all tokens are searched).
    A float is SQuAD 2.0: predict "" when the null score (the lowest <s> start+end over the
    example's windows) exceeds the best span score by more than ``null_threshold``.
    """
    by_example = defaultdict(list)
    for window in zip(eval_features, start_logits, end_logits, strict=True):
        by_example[window[0]["example_index"]].append(window)
    predictions = {}
    for idx, ex in enumerate(examples):
        windows = by_example[idx]
        best = _best_span(windows, n_best, max_answer_length)
        if best is None and null_threshold is None:
            best = _best_span(windows, None, max_answer_length)
        null = min((float(s[0]) + float(e[0]) for _, s, e in windows), default=np.inf)
        if best is None or (null_threshold is not None and null - best[0] > null_threshold):
            predictions[ex.uid] = ""
        else:
            predictions[ex.uid] = ex.context[best[1]:_past_marks(ex.context, best[2])].strip()
    return predictions
