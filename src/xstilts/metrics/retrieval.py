"""Scoring ranked or mined retrieval outputs: Tatoeba, BUCC, LAReQA and Mewsli-X.

Nothing here searches or embeds: evaluators produce neighbours, candidate scores and rankings, and
these functions score them the way google-research/xtreme does (evaluate.py, third_party/
utils_retrieve.py, utils_lareqa.py, utils_mewslix.py).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence

from xstilts.metrics.registry import check_lengths, register
from xstilts.errors import BadValue

Pair = tuple[str, str]


@register("tatoeba_accuracy", main="accuracy")
def tatoeba_accuracy(predictions: Sequence[int], references: Sequence[int] | None = None) -> dict[str, float]:
    """Top-1 accuracy: `predictions[i]` is the neighbour index found for query i.

    Tatoeba's test files are line-aligned, so the gold neighbour of i is i (`references=None`).
    """
    gold = range(len(predictions)) if references is None else references
    check_lengths(predictions, gold, "tatoeba_accuracy")
    return {"accuracy": 100.0 * sum(int(p) == int(g) for p, g in zip(predictions, gold)) / len(gold)}


@register("bucc_f1", main="f1")
def bucc_f1(predictions: Collection[Pair], references: Collection[Pair]) -> dict[str, float]:
    """P/R/F1 of mined (source id, target id) pairs against gold pairs, as evaluate.py `bucc_f1`."""
    mined, gold = {tuple(p) for p in predictions}, {tuple(g) for g in references}
    if not gold:
        raise BadValue("bucc_f1: no gold pairs")
    correct = len(mined & gold)
    if correct == 0:
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    precision, recall = correct / len(mined), correct / len(gold)
    return {
        "f1": 100.0 * 2 * precision * recall / (precision + recall),
        "precision": 100.0 * precision,
        "recall": 100.0 * recall,
    }


def bucc_extract(candidate_scores: Mapping[Pair, float], threshold: float) -> list[Pair]:
    """The candidate pairs kept at `threshold` (score >= threshold), as utils_retrieve.bucc_extract."""
    return [pair for pair, score in candidate_scores.items() if score >= threshold]


def bucc_optimize(candidate_scores: Mapping[Pair, float], gold_pairs: Collection[Pair]) -> tuple[float, float]:
    """(threshold, F1 on 0-100) maximising F1 on gold pairs, as utils_retrieve.bucc_optimize.

    Candidates are taken best-first; after each one F1 is computed, and the best cut-off is placed
    halfway between that candidate's score and the next one's. Two deviations from the official code,
    both where it has no answer: when the best cut-off is after the last candidate the threshold is
    that candidate's score (the official code raises IndexError), and the F1 returned is recomputed on
    what `bucc_extract` keeps at the threshold, as the official `bucc_eval` does (so tied scores are
    kept or dropped together). With no correct candidate the threshold stays 0, as there.
    """
    gold = {tuple(g) for g in gold_pairs}
    if not gold:
        raise BadValue("bucc_optimize: no gold pairs")
    items = sorted(candidate_scores.items(), key=lambda item: -item[1])
    threshold, best_f1, correct = 0.0, 0.0, 0
    for i, (pair, score) in enumerate(items):
        correct += tuple(pair) in gold
        if correct:
            precision, recall = correct / (i + 1), correct / len(gold)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                threshold = (score + items[i + 1][1]) / 2 if i + 1 < len(items) else score
    return threshold, bucc_f1(bucc_extract(candidate_scores, threshold), gold)["f1"]


def average_precision_at_k(relevant: Collection[Hashable], ranking: Sequence[Hashable], k: int | None) -> float:
    """AP@k = sum over the top k of P(i)·rel(i), divided by min(#relevant, k) (utils_lareqa.py).

    A candidate repeated in the ranking counts once but still takes up its rank.
    """
    if not relevant:
        raise ValueError("average precision needs at least one relevant item")
    ranked = list(ranking[:k] if k else ranking)
    hits, score, seen = 0, 0.0, set()
    for i, item in enumerate(ranked):
        if item in relevant and item not in seen:
            hits += 1
            score += hits / (i + 1)
        seen.add(item)
    return score / (min(len(relevant), k) if k else len(relevant))


@register("map_at_20", main="map_at_20")
def map_at_20(predictions: Sequence[Sequence[Hashable]], references: Sequence[Collection[Hashable]]) -> dict[str, float]:
    """XTREME-R mAP@20 (LAReQA, Mewsli-X): mean AP@20 of each query's ranked candidate ids.

    LAReQA: the relevant set of a question is the answer sentence in every language of the pool
    (see `lareqa_relevant`). Mewsli-X: the one gold entity, so AP@20 is the reciprocal rank within
    the top 20, the MRR@20 that utils_mewslix.py computes.
    """
    check_lengths(predictions, references, "map_at_20")
    aps = [average_precision_at_k(rel, ranking, 20) for ranking, rel in zip(predictions, references)]
    return {"map_at_20": 100.0 * sum(aps) / len(aps)}


def lareqa_relevant(question_ids: Sequence[str], candidate_answers: Sequence[Collection[str]]) -> list[set[int]]:
    """For each question's cross-lingual id, the positions of all candidates answering it.

    `candidate_answers[j]` holds the ids of the questions candidate j answers (empty for most
    sentences); ids are shared by the translations of one question, so the answer sentences in all
    languages are relevant, as in utils_lareqa.py `by_xling_id`.
    """
    by_id: dict[str, set[int]] = {}
    for j, answered in enumerate(candidate_answers):
        for qid in answered:
            by_id.setdefault(qid, set()).add(j)
    missing = [q for q in question_ids if q not in by_id]
    if missing:
        raise BadValue(f"no candidate answers question id(s) {missing[:5]}")
    return [by_id[q] for q in question_ids]
