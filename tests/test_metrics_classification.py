import pytest

from xstilts.metrics import get_metric
from xstilts.metrics.classification import accuracy, macro_f1


def test_accuracy():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == {"accuracy": 50.0}
    assert accuracy(["entailment"], ["entailment"]) == {"accuracy": 100.0}


def test_macro_f1_hand_computed():
    # a: tp1 fp0 fn1 -> 2/3; b: tp1 fp2 fn0 -> 1/2; c: tp0 -> 0
    out = macro_f1(["a", "b", "b", "b"], ["a", "a", "b", "c"])
    assert out["macro_f1"] == pytest.approx(100 * (2 / 3 + 1 / 2 + 0) / 3)


def test_macro_f1_counts_labels_only_predicted():
    assert macro_f1(["a", "b"], ["a", "a"])["macro_f1"] == pytest.approx(100 / 3)


def test_macro_f1_agrees_with_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    preds = [0, 2, 1, 1, 0, 2, 2, 1, 0, 0]
    refs = [0, 1, 1, 2, 0, 2, 1, 1, 2, 0]
    expected = 100 * sklearn_metrics.f1_score(refs, preds, average="macro")
    assert macro_f1(preds, refs)["macro_f1"] == pytest.approx(expected)


@pytest.mark.parametrize("name", ["accuracy", "macro_f1"])
def test_classification_rejects_empty_and_misaligned(name):
    metric = get_metric(name)
    with pytest.raises(ValueError, match="no examples"):
        metric([], [])
    with pytest.raises(ValueError, match="1 predictions but 2 references"):
        metric([1], [1, 2])
