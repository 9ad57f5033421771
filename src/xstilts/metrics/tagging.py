"""Token-tagging metrics for WikiANN-NER and UD-POS, as XTREME's run_tag.py / evaluate.py score them.

XTREME scores both NER and UD-POS with seqeval's default (lenient, IOB-style) `f1_score` over the
sentences: for NER that is entity-level F1; for POS tags (no B-/I- prefixes) seqeval reads the first
letter of each tag as its chunk marker, so runs of the same tag merge into one "chunk". That number is
`pos_f1`, what XTREME and XTREME-R report for UD-POS. `pos_accuracy` is plain token accuracy, the
usual POS metric, kept beside it because the two can differ.

seqeval note: we call the installed seqeval (>= 1.0). It names chunk types after dropping the first
letter (seqeval 0.0.x, current when XTREME was released, kept the whole tag). For UD tags this
matters where CCONJ and SCONJ are adjacent, and for the one-letter tag X, whose type then equals
that of "O", so an X run ending a sentence is never emitted. NER scores are identical across versions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from seqeval.metrics import f1_score, precision_score, recall_score

from xstilts.metrics.registry import check_lengths, register


def _check(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], what: str) -> None:
    check_lengths(predictions, references, what)
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise ValueError(f"{what}: sentence {i} has {len(pred)} predicted tags but {len(ref)} gold tags")


def _seqeval_prf(predictions, references) -> dict[str, float]:
    preds, refs = [list(p) for p in predictions], [list(r) for r in references]
    with warnings.catch_warnings():  # POS tags are "not NE tags" and empty classes warn; both expected
        warnings.simplefilter("ignore")
        return {
            "f1": 100.0 * f1_score(refs, preds),
            "precision": 100.0 * precision_score(refs, preds),
            "recall": 100.0 * recall_score(refs, preds),
        }


@register("ner_f1", main="f1")
def ner_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level P/R/F1 over IOB2 tag sequences (seqeval default mode: I- after O opens an entity)."""
    _check(predictions, references, "ner_f1")
    return _seqeval_prf(predictions, references)


@register("pos_f1", main="f1")
def pos_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """seqeval F1 on raw UPOS tags, exactly what XTREME's run_tag.py reports as UD-POS "F1"."""
    _check(predictions, references, "pos_f1")
    return _seqeval_prf(predictions, references)


@register("pos_accuracy", main="accuracy")
def pos_accuracy(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Token accuracy over all tokens of all sentences (micro average)."""
    _check(predictions, references, "pos_accuracy")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("pos_accuracy: no tokens to score")
    correct = sum(p == r for pred, ref in zip(predictions, references) for p, r in zip(pred, ref))
    return {"accuracy": 100.0 * correct / total}
