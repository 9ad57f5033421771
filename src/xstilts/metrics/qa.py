"""Extractive-QA exact match and token F1, as the official scripts compute them.

* `squad`: SQuAD v1.1 `evaluate-v1.1.py`, which XTREME uses for XQuAD and TyDiQA-GoldP.
* `squad_v2`: SQuAD 2.0 `evaluate-v2.0.py` conventions (an answer that normalises to "" means
  "no answer"; empty prediction vs. no answer scores 1).
* `mlqa`: MLQA `mlqa_evaluation_v1.py` (as copied into XTREME's third_party/evaluate_mlqa.py):
  Unicode punctuation, per-language article lists, and character segmentation for Chinese.

A reference is the list of gold answer strings of one question; the score is the max over them.
A prediction of None means the question went unanswered: it scores 0 (EM and F1), as the official
SQuAD and MLQA scripts score a question missing from the predictions file. (An empty string is an
answer, and scores EM 1 against a gold that normalises to "".)
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from xstilts.metrics.registry import check_lengths, register
from xstilts.errors import BadValue

_ASCII_PUNCT = frozenset(string.punctuation)
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")

# Verbatim from mlqa_evaluation_v1.py. The Arabic pattern's first branch ("\sال^") can never match,
# so every "ال" (also inside words) becomes a space: a quirk of the official scorer, kept on purpose.
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "ar": re.compile(r"\sال^|ال"),
    "hi": None,
    "zh": None,
}
_MIXED_SEGMENTATION_LANGS = frozenset({"zh"})
_CJK = re.compile(r"[\u4e00-\u9fa5]")  # the official range, narrower than the full CJK block
MLQA_LANGUAGES = tuple(sorted(_MLQA_ARTICLES))


def normalize_squad(text: str) -> str:
    """SQuAD v1.1/v2.0: lower, drop ASCII punctuation, drop a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_EN_ARTICLES.sub(" ", text).split())


def _is_mlqa_punct(ch: str) -> bool:
    # Same set as the official PUNCT: every Unicode category P* character plus string.punctuation.
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def mixed_segmentation(text: str) -> list[str]:
    """MLQA's zh tokeniser: each CJK character or punctuation mark is a token, other runs split on space."""
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK.search(ch) or _is_mlqa_punct(ch):
            tokens.extend(run.split())
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def normalize_mlqa(text: str, lang: str) -> str:
    """MLQA: lower, drop Unicode punctuation, drop `lang`'s articles, re-tokenise and join with spaces."""
    if lang not in _MLQA_ARTICLES:
        raise BadValue(f"MLQA normalisation has no rules for language '{lang}' (known: {', '.join(MLQA_LANGUAGES)})")
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punct(ch))
    if (articles := _MLQA_ARTICLES[lang]) is not None:
        text = articles.sub(" ", text)
    tokens = mixed_segmentation(text) if lang in _MIXED_SEGMENTATION_LANGS else text.split()
    return " ".join(t for t in tokens if t.strip())


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _max_over_golds(prediction: str | None, golds: Sequence[str],
                    normalize: Callable[[str], str]) -> tuple[float, float]:
    if not golds:
        raise BadValue("a question has no gold answers (use 'squad_v2' for unanswerable questions)")
    if prediction is None:
        return 0.0, 0.0
    pred = normalize(prediction)
    normed = [normalize(g) for g in golds]
    em = max(float(pred == g) for g in normed)
    f1 = max(_token_f1(pred.split(), g.split()) for g in normed)
    return em, f1


def squad_scores(prediction: str | None, golds: Sequence[str]) -> tuple[float, float]:
    """(EM, F1) in [0, 1] for one question, SQuAD v1.1 rules. An empty prediction gets F1 0, None 0 and 0."""
    return _max_over_golds(prediction, golds, normalize_squad)


def mlqa_scores(prediction: str | None, golds: Sequence[str], lang: str) -> tuple[float, float]:
    """(EM, F1) in [0, 1] for one question, MLQA rules for the answer language `lang`."""
    return _max_over_golds(prediction, golds, lambda s: normalize_mlqa(s, lang))


def squad_v2_scores(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """(EM, F1) in [0, 1] with SQuAD 2.0's no-answer rule: no non-empty gold means the answer is ""."""
    golds = [g for g in golds if normalize_squad(g)] or [""]
    pred = normalize_squad(prediction)
    pred_tokens = pred.split()
    em = f1 = 0.0
    for gold in golds:
        gold_norm = normalize_squad(gold)
        gold_tokens = gold_norm.split()
        em = max(em, float(pred == gold_norm))
        if not gold_tokens or not pred_tokens:
            f1 = max(f1, float(gold_tokens == pred_tokens))
        else:
            f1 = max(f1, _token_f1(pred_tokens, gold_tokens))
    return em, f1


def _corpus(pairs) -> dict[str, float]:
    pairs = list(pairs)
    return {
        "exact_match": 100.0 * sum(em for em, _ in pairs) / len(pairs),
        "f1": 100.0 * sum(f1 for _, f1 in pairs) / len(pairs),
    }


@register("squad", main="f1")
def squad(predictions: Sequence[str | None], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD v1.1 EM/F1 (XQuAD, TyDiQA-GoldP); a None prediction (unanswered question) scores 0."""
    check_lengths(predictions, references, "squad")
    return _corpus(squad_scores(p, g) for p, g in zip(predictions, references))


@register("squad_v2", main="f1")
def squad_v2(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD 2.0 EM/F1 with unanswerable questions (gold list empty or all blank)."""
    check_lengths(predictions, references, "squad_v2")
    return _corpus(squad_v2_scores(p, g) for p, g in zip(predictions, references))


@register("mlqa", main="f1")
def mlqa(predictions: Sequence[str | None], references: Sequence[Sequence[str]], *, lang: str) -> dict[str, float]:
    """MLQA EM/F1 for one answer language `lang` (en, es, de, ar, hi, vi, zh); None scores 0."""
    check_lengths(predictions, references, "mlqa")
    return _corpus(mlqa_scores(p, g, lang) for p, g in zip(predictions, references))
