"""Tagging metrics: XTREME's scorer (seqeval 0.0.12's rules) on cases worked by hand from its
published source, the installed seqeval as the named alternative, and known outputs on real data."""

import pytest

from xstilts.data import catalog
from xstilts.metrics import get_metric
from xstilts.metrics.tagging import (
    ner_f1, ner_f1_seqeval, pos_accuracy, pos_f1, pos_f1_seqeval, xtreme_chunks,
)


def test_ner_entity_level_prf():
    out = ner_f1([["B-PER", "I-PER", "O", "B-ORG"]], [["B-PER", "I-PER", "O", "B-LOC"]])
    assert out == pytest.approx({"f1": 50.0, "precision": 50.0, "recall": 50.0})


def test_ner_i_after_o_opens_an_entity():
    assert ner_f1([["O", "I-PER", "I-PER"]], [["O", "B-PER", "I-PER"]])["f1"] == pytest.approx(100.0)


def test_ner_split_entity_gets_no_credit():
    assert ner_f1([["B-PER", "B-PER"]], [["B-PER", "I-PER"]])["f1"] == 0.0


def test_ner_entities_do_not_cross_sentences():
    out = ner_f1([["B-PER"], ["O"]], [["B-PER"], ["I-PER"]])  # gold: two one-token entities
    assert out["precision"] == pytest.approx(100.0)
    assert out["recall"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(200 / 3)


def test_tagging_rejects_misaligned_input():
    with pytest.raises(ValueError, match="sentence 1 has 1 predicted tags but 2 gold tags"):
        ner_f1([["O"], ["O"]], [["O"], ["O", "O"]])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        pos_accuracy([["X"], ["X"]], [["X"]])
    with pytest.raises(ValueError, match="no examples"):
        pos_f1([], [])


def test_pos_accuracy_is_token_micro_average():
    preds = [["NOUN", "NOUN", "DET"], ["ADJ"]]
    refs = [["NOUN", "VERB", "DET"], ["ADJ"]]
    assert pos_accuracy(preds, refs) == {"accuracy": 75.0}
    with pytest.raises(ValueError, match="no tokens"):
        pos_accuracy([[]], [[]])


def test_pos_f1_is_seqeval_chunk_f1_not_accuracy():
    refs = [["NOUN", "NOUN", "VERB"]]
    preds = [["NOUN", "VERB", "VERB"]]
    # seqeval merges runs of equal tags: gold chunks NOUN[0-1], VERB[2]; predicted NOUN[0], VERB[1-2].
    assert pos_f1(preds, refs)["f1"] == 0.0
    assert pos_accuracy(preds, refs)["accuracy"] == pytest.approx(200 / 3)
    assert pos_f1(refs, refs)["f1"] == pytest.approx(100.0)


def test_pos_f1_reads_leading_s_as_single_token_chunk():
    # SYM starts with "S", which seqeval treats as a singleton marker: two chunks, not one.
    out = pos_f1([["SYM", "NOUN"]], [["SYM", "SYM"]])
    assert out["recall"] == pytest.approx(50.0)
    assert out["precision"] == pytest.approx(50.0)


def test_registered_names_point_at_these_functions():
    assert get_metric("ner_f1").main == "f1"
    assert get_metric("pos_accuracy")([["A"]], [["A"]]) == {"accuracy": 100.0}
    assert get_metric("pos_f1").implementation.startswith("xtreme: seqeval 0.0.12")
    assert get_metric("pos_f1_seqeval").implementation.startswith("seqeval 1.")
    assert get_metric("pos_accuracy").implementation == ""


# ---- seqeval 0.0.12's chunking, worked by hand: marker = first letter, type = the whole tag (POS)
# or the part after "-" (IOB); the sentences are joined with an "O" between them.


def test_xtreme_chunks_of_pos_tags():
    # NOUN NOUN (one run) | VERB | SCONJ ("S": a chunk of its own) | SYM SYM (two "S" chunks), "O" at 5
    assert xtreme_chunks([["NOUN", "NOUN", "VERB", "SCONJ", "SYM"], ["SYM", "X"]]) == {
        ("NOUN", 0, 1), ("VERB", 2, 2), ("SCONJ", 3, 3), ("SYM", 4, 4), ("SYM", 6, 6), ("X", 7, 7)}


def test_xtreme_chunks_of_iob_tags():
    # I- after O opens a chunk; a type change ends one and opens the next; B- after I- splits
    assert xtreme_chunks([["O", "I-PER", "I-PER", "I-LOC", "B-LOC", "I-LOC", "B-LOC"]]) == {
        ("PER", 1, 2), ("LOC", 3, 3), ("LOC", 4, 5), ("LOC", 6, 6)}


def test_cconj_sconj_swap_counts_under_xtreme_not_under_modern_seqeval():
    refs, preds = [["NOUN", "CCONJ", "NOUN"]], [["NOUN", "SCONJ", "NOUN"]]
    # 0.0.12: chunks NOUN(0) CCONJ(1) NOUN(2) against NOUN(0) SCONJ(1) NOUN(2): 2 of 3 right.
    assert pos_f1(preds, refs) == pytest.approx({"f1": 200 / 3, "precision": 200 / 3, "recall": 200 / 3})
    # >= 1.0 types both tags "CONJ": the swap is invisible
    assert pos_f1_seqeval(preds, refs)["f1"] == pytest.approx(100.0)


def test_x_is_a_chunk_type_of_its_own():
    assert pos_f1([["NOUN", "X"]], [["NOUN", "X"]])["f1"] == pytest.approx(100.0)
    assert pos_f1([["NOUN", "NOUN"]], [["NOUN", "X"]]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_pos_runs_do_not_cross_sentences():
    assert pos_f1([["NOUN"], ["VERB"]], [["NOUN"], ["NOUN"]])["f1"] == pytest.approx(50.0)


def test_intj_reads_as_inside_marker():
    # "I" markers of one type continue a chunk: INTJ INTJ is one chunk, ADJ/ADV differ in type
    assert pos_f1([["INTJ", "INTJ", "ADJ"]], [["INTJ", "INTJ", "ADV"]])["f1"] == pytest.approx(50.0)


def test_ner_scorers_agree_on_iob2():
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "I-ORG", "B-ORG", "I-ORG"]]
    preds = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "B-ORG", "I-ORG"]]
    assert ner_f1(preds, refs) == pytest.approx(ner_f1_seqeval(preds, refs))
    assert ner_f1(preds, refs)["precision"] == pytest.approx(50.0)  # LOC and ORG(2-3) of 4 predicted


def test_known_outputs_on_yoruba_with_cconj_and_sconj_swapped(data_root):
    # Computed with the published seqeval 0.0.12 (PyPI sdist) and seqeval 1.2.2 on the data root's
    # UD_Yoruba-YTB test (317 sentences, 348 CCONJ and 348 SCONJ).
    refs = [list(x.tags) for x in catalog.read("ud", "test", "yo", data_root)]
    swap = {"CCONJ": "SCONJ", "SCONJ": "CCONJ"}
    preds = [[swap.get(t, t) for t in r] for r in refs]
    assert pos_f1(preds, refs)["f1"] == 90.60457516339869
    assert pos_f1_seqeval(preds, refs)["f1"] == pytest.approx(99.43425806011861)
