import pytest

from xstilts.metrics import get_metric
from xstilts.metrics.retrieval import (
    average_precision_at_k,
    bucc_extract,
    bucc_f1,
    bucc_optimize,
    lareqa_relevant,
    map_at_20,
    tatoeba_accuracy,
)


def test_tatoeba_gold_is_identity():
    assert tatoeba_accuracy([0, 2, 1, 3]) == {"accuracy": 50.0}
    assert tatoeba_accuracy([1, 0], [1, 1]) == {"accuracy": 50.0}
    with pytest.raises(ValueError, match="no examples"):
        tatoeba_accuracy([])


def test_bucc_f1():
    out = bucc_f1([("a", "x"), ("b", "y"), ("c", "z")], [("a", "x"), ("b", "w")])
    assert out == pytest.approx({"f1": 40.0, "precision": 100 / 3, "recall": 50.0})
    assert bucc_f1([], [("a", "x")]) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    with pytest.raises(ValueError, match="no gold"):
        bucc_f1([("a", "x")], [])


CANDIDATES = {("s1", "t1"): 0.9, ("s2", "t2"): 0.8, ("s3", "t3"): 0.7, ("s4", "t4"): 0.6}
GOLD = {("s1", "t1"), ("s3", "t3"), ("s5", "t5")}


def test_bucc_optimize_picks_midpoint_after_best_cut():
    # F1 after each candidate: .5, .4, 2/3, .571 -> cut after s3, halfway to s4's score.
    threshold, f1 = bucc_optimize(CANDIDATES, GOLD)
    assert threshold == pytest.approx(0.65)
    assert f1 == pytest.approx(200 / 3)
    assert sorted(bucc_extract(CANDIDATES, threshold)) == [("s1", "t1"), ("s2", "t2"), ("s3", "t3")]


def test_bucc_optimize_best_at_last_candidate_and_no_hit():
    assert bucc_optimize({("a", "x"): 0.5}, {("a", "x")}) == (0.5, 100.0)
    assert bucc_optimize({("a", "x"): 0.5}, {("b", "y")}) == (0.0, 0.0)


def test_bucc_optimize_ties_are_kept_together():
    threshold, f1 = bucc_optimize({("a", "x"): 0.9, ("b", "y"): 0.9, ("c", "z"): 0.1}, {("a", "x")})
    assert threshold == pytest.approx(0.9)
    assert f1 == pytest.approx(200 / 3)  # both tied pairs are extracted: P=1/2, R=1


def test_average_precision_at_k_reference_cases():
    # Cases from the Kaggle AP@k tests that LAReQA's implementation follows.
    assert average_precision_at_k(range(1, 6), [6, 4, 7, 1, 2], 2) == pytest.approx(0.25)
    assert average_precision_at_k([1, 3], [1, 2, 3, 4, 5], 3) == pytest.approx(5 / 6)
    assert average_precision_at_k([1, 2, 3], [1, 1, 1], 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="relevant"):
        average_precision_at_k([], [1], 20)


def test_map_at_20_divides_by_min_of_relevant_and_k():
    many = set(range(25))
    assert map_at_20([list(range(30))], [many]) == {"map_at_20": pytest.approx(100.0)}


def test_map_at_20_mean_over_queries_and_cut_at_20():
    out = map_at_20([[3, 0, 1], [1, 2, 0]], [{0}, {1, 2}])
    assert out["map_at_20"] == pytest.approx(75.0)  # (1/2 + 1) / 2
    assert map_at_20([list(range(100))], [{20}]) == {"map_at_20": 0.0}  # rank 21
    assert map_at_20([list(range(100))], [{19}])["map_at_20"] == pytest.approx(5.0)  # rank 20: 1/20


def test_lareqa_relevant_collects_answers_in_all_languages():
    candidates = [{"q1"}, set(), {"q1"}, {"q2"}]  # e.g. en and de answer sentences of q1
    assert lareqa_relevant(["q1", "q2", "q1"], candidates) == [{0, 2}, {3}, {0, 2}]
    with pytest.raises(ValueError, match="q3"):
        lareqa_relevant(["q3"], candidates)


def test_retrieval_metrics_are_registered():
    assert get_metric("map_at_20").main == "map_at_20"
    assert get_metric("bucc_f1")([("a", "x")], [("a", "x")])["f1"] == 100.0
