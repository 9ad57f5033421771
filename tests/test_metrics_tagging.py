import pytest

from xstilts.metrics import get_metric
from xstilts.metrics.tagging import ner_f1, pos_accuracy, pos_f1


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
