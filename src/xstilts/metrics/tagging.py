"""Token-tagging metrics for WikiANN-NER and UD-POS, as XTREME's run_tag.py / evaluate.py score them.

XTREME scores both tasks with seqeval's `f1_score` over whole sentences, and its scripts ran
seqeval 0.0.12. For NER (IOB2 tags) that is entity-level F1, the same in every seqeval version.
For POS tags (no B-/I- prefixes) the versions differ: 0.0.12 reads the first letter of a tag as
its chunk marker and the *whole tag* as its chunk type, so runs of one tag merge into a chunk and
SCONJ/SYM ("S") are single-word chunks; seqeval >= 1.0 drops the first letter from the type, so
CCONJ and SCONJ share the type "CONJ" and swapping them costs nothing (UD_Yoruba-YTB test with
the two swapped: 90.60 under 0.0.12, 99.43 under 1.2.2).

`pos_f1` / `ner_f1` are the official numbers, computed by `xtreme_chunks` below: seqeval 0.0.12's
rules, rewritten here (the XTREME-R scores use them). `pos_f1_seqeval` / `ner_f1_seqeval` call
the installed seqeval, kept as a named alternative. Every registered tagging F1 names its
implementation, which goes into each row's protocol. `pos_accuracy` is plain token accuracy.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from importlib.metadata import version

from xstilts.metrics.registry import check_lengths, register

XTREME_IMPL = "xtreme: seqeval 0.0.12 rules (xstilts.metrics.tagging)"
SEQEVAL_IMPL = f"seqeval {version('seqeval')} (installed)"


def _check(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]], what: str) -> None:
    check_lengths(predictions, references, what)
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise ValueError(f"{what}: sentence {i} has {len(pred)} predicted tags but {len(ref)} gold tags")


# ---- seqeval 0.0.12's chunking --------------------------------------------------------------
# A tag "B-PER" has marker "B" and type "PER"; a tag without "-" ("NOUN", "O") has marker = its
# first letter and type = the whole tag. Markers O and "." are outside any chunk.


def _ends(prev_marker: str, marker: str, prev_type: str, type_: str) -> bool:
    """Does a chunk end between the previous word and this one? (0.0.12's end_of_chunk)"""
    if prev_marker in ("E", "S"):
        return True
    if prev_marker in ("B", "I") and marker in ("B", "S", "O"):
        return True
    return prev_marker not in ("O", ".") and prev_type != type_


def _starts(prev_marker: str, marker: str, prev_type: str, type_: str) -> bool:
    """Does a chunk start at this word? (0.0.12's start_of_chunk)"""
    if marker in ("B", "S"):
        return True
    if prev_marker in ("E", "S", "O") and marker in ("E", "I"):
        return True
    return marker not in ("O", ".") and prev_type != type_


def xtreme_chunks(sentences: Sequence[Sequence[str]]) -> set[tuple[str, int, int]]:
    """(type, first, last) of every chunk, positions counted over the sentences joined with an "O"
    between them (as 0.0.12 flattens nested lists), so no chunk crosses a sentence end."""
    flat = [tag for sentence in sentences for tag in (*sentence, "O")]
    chunks, begin, prev_marker, prev_type = set(), 0, "O", ""
    for i, tag in enumerate([*flat, "O"]):
        marker, type_ = tag[0], tag.split("-")[-1]
        if _ends(prev_marker, marker, prev_type, type_):
            chunks.add((prev_type, begin, i - 1))
        if _starts(prev_marker, marker, prev_type, type_):
            begin = i
        prev_marker, prev_type = marker, type_
    return chunks


def _prf(n_correct: int, n_pred: int, n_true: int) -> dict[str, float]:
    """Micro P/R/F1 on the 0-100 scale; an empty side scores 0, as both seqeval versions do."""
    p = n_correct / n_pred if n_pred else 0.0
    r = n_correct / n_true if n_true else 0.0
    return {"f1": 100.0 * (2 * p * r / (p + r) if p + r else 0.0), "precision": 100.0 * p, "recall": 100.0 * r}


def xtreme_prf(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """P/R/F1 exactly as seqeval 0.0.12's f1/precision/recall_score on nested lists."""
    pred, true = xtreme_chunks(predictions), xtreme_chunks(references)
    return _prf(len(pred & true), len(pred), len(true))


def seqeval_prf(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """P/R/F1 from the installed seqeval (default mode)."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    preds, refs = [list(p) for p in predictions], [list(r) for r in references]
    with warnings.catch_warnings():  # POS tags are "not NE tags" and empty classes warn; both expected
        warnings.simplefilter("ignore")
        return {"f1": 100.0 * float(f1_score(refs, preds)), "precision": 100.0 * float(precision_score(refs, preds)),
                "recall": 100.0 * float(recall_score(refs, preds))}


@register("ner_f1", main="f1", implementation=XTREME_IMPL)
def ner_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level P/R/F1 over IOB2 tag sequences (I- after O opens an entity), as XTREME scores it."""
    _check(predictions, references, "ner_f1")
    return xtreme_prf(predictions, references)


@register("pos_f1", main="f1", implementation=XTREME_IMPL)
def pos_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Chunk F1 on raw UPOS tags under seqeval 0.0.12's rules: XTREME(-R)'s UD-POS "F1"."""
    _check(predictions, references, "pos_f1")
    return xtreme_prf(predictions, references)


@register("ner_f1_seqeval", main="f1", implementation=SEQEVAL_IMPL)
def ner_f1_seqeval(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """`ner_f1` by the installed seqeval (identical on valid IOB2 tags)."""
    _check(predictions, references, "ner_f1_seqeval")
    return seqeval_prf(predictions, references)


@register("pos_f1_seqeval", main="f1", implementation=SEQEVAL_IMPL)
def pos_f1_seqeval(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """`pos_f1` by the installed seqeval (>= 1.0 chunks POS tags differently from XTREME's 0.0.12)."""
    _check(predictions, references, "pos_f1_seqeval")
    return seqeval_prf(predictions, references)


@register("pos_accuracy", main="accuracy")
def pos_accuracy(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Token accuracy over all tokens of all sentences (micro average)."""
    _check(predictions, references, "pos_accuracy")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("pos_accuracy: no tokens to score")
    correct = sum(p == r for pred, ref in zip(predictions, references) for p, r in zip(pred, ref))
    return {"accuracy": 100.0 * correct / total}
