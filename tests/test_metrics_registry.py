import pytest

from xstilts.metrics import UnknownMetricError, get_metric, metric_names, register
from xstilts.metrics.classification import accuracy


def test_lookup_returns_registered_function():
    metric = get_metric("accuracy")
    assert metric.fn is accuracy
    assert metric.higher_is_better and metric.aggregation == "mean"
    assert metric([1, 2], [1, 3]) == {"accuracy": 50.0}
    assert metric.aggregate([50.0, 70.0]) == 60.0


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownMetricError, match="did you mean 'squad_v2', 'squad'"):
        get_metric("squad_v1")
    with pytest.raises(KeyError):
        get_metric("zzzz")


def test_duplicate_name_fails_and_keeps_original():
    with pytest.raises(ValueError, match="already registered"):
        register("accuracy", main="accuracy")(lambda p, r: {"accuracy": 0.0})
    assert get_metric("accuracy").fn is accuracy


def test_unknown_aggregation_fails():
    with pytest.raises(ValueError, match="unknown aggregation"):
        register("never_registered", main="x", aggregation="sum")


def test_aggregate_of_nothing_fails():
    with pytest.raises(ValueError, match="nothing to aggregate"):
        get_metric("accuracy").aggregate([])


def test_expected_metric_names():
    assert metric_names() == [
        "accuracy", "bucc_f1", "macro_f1", "map_at_20", "mlqa", "ner_f1", "ner_f1_seqeval",
        "pos_accuracy", "pos_f1", "pos_f1_seqeval", "squad", "squad_v2", "tatoeba_accuracy",
    ]
