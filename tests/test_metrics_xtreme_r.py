import dataclasses

import pytest

from xstilts.metrics import get_metric
from xstilts.metrics.xtreme_r import (
    XTREME_R,
    category_averages,
    language_average,
    overall_score,
    task_score,
    transfer_gap,
)

SIZES = {"xnli": 15, "xcopa": 11, "udpos": 38, "wikiann": 48, "xquad": 11, "mlqa": 7,
         "tydiqa": 9, "mewsli-x": 11, "lareqa": 11, "tatoeba": 41}

# One tiny valid input per metric, to check that the declared score keys exist in its output.
SAMPLES = {
    "accuracy": ([1], [1], {}), "tatoeba_accuracy": ([0], [0], {}),
    "pos_f1": ([["NOUN"]], [["NOUN"]], {}), "ner_f1": ([["B-PER"]], [["B-PER"]], {}),
    "squad": (["a"], [["a"]], {}), "mlqa": (["a"], [["a"]], {"lang": "en"}),
    "map_at_20": ([[0]], [{0}], {}),
}


def test_language_lists():
    assert {t.name: len(t.languages) for t in XTREME_R.tasks} == SIZES
    for task in XTREME_R.tasks:
        assert len(set(task.languages)) == len(task.languages), task.name
    assert "ro" not in XTREME_R.task("xquad").languages
    assert "en" not in XTREME_R.task("tatoeba").languages
    with pytest.raises(KeyError, match="no task 'bucc'"):
        XTREME_R.task("bucc")


def test_every_task_metric_is_registered_and_yields_its_score_keys():
    for task in XTREME_R.tasks:
        predictions, references, options = SAMPLES[task.metric]
        values = get_metric(task.metric)(predictions, references, **options)
        assert set(task.score_keys) <= set(values), task.name


def test_categories_in_declared_order():
    assert XTREME_R.categories == ("classification", "structured prediction", "question answering", "retrieval")
    assert XTREME_R.task("tatoeba").category == "retrieval"


def test_task_score_averages_qa_f1_and_em():
    assert task_score(XTREME_R.task("mlqa"), {"f1": 80.0, "exact_match": 60.0}) == 70.0
    assert task_score(XTREME_R.task("xnli"), {"accuracy": 81.0}) == 81.0
    with pytest.raises(ValueError, match="exact_match"):
        task_score(XTREME_R.task("xquad"), {"f1": 80.0})


def test_language_average_with_and_without_english():
    scores = {"en": 90.0, "de": 80.0, "fr": 70.0, "xx": 0.0}
    assert language_average(scores, ("en", "de", "fr")) == 80.0
    assert language_average(scores, ("en", "de", "fr"), include_english=False) == 75.0
    with pytest.raises(ValueError, match="fr"):
        language_average({"en": 1.0}, ("en", "fr"))
    with pytest.raises(ValueError, match="no languages"):
        language_average({"en": 1.0}, ("en",), include_english=False)


def test_transfer_gap():
    assert transfer_gap({"en": 90.0, "de": 80.0, "fr": 70.0}) == 15.0
    with pytest.raises(ValueError):
        transfer_gap({"de": 80.0})


TASK_SCORES = {"xnli": 80.0, "xcopa": 70.0, "udpos": 76.0, "wikiann": 64.0, "xquad": 70.0,
               "mlqa": 60.0, "tydiqa": 50.0, "mewsli-x": 40.0, "lareqa": 30.0, "tatoeba": 80.0}


def test_category_and_overall_scores():
    assert category_averages(XTREME_R, TASK_SCORES) == {
        "classification": 75.0, "structured prediction": 70.0, "question answering": 60.0, "retrieval": 50.0,
    }
    assert overall_score(XTREME_R, TASK_SCORES) == pytest.approx(62.0)
    by_category = dataclasses.replace(XTREME_R, overall="categories")
    assert overall_score(by_category, TASK_SCORES) == pytest.approx(63.75)


def test_partial_results_get_categories_but_no_overall():
    partial = {k: v for k, v in TASK_SCORES.items() if k != "tatoeba"}
    assert "retrieval" not in category_averages(XTREME_R, partial)
    with pytest.raises(ValueError, match="missing tatoeba"):
        overall_score(XTREME_R, partial)
    with pytest.raises(ValueError, match="unknown overall"):
        overall_score(dataclasses.replace(XTREME_R, overall="median"), TASK_SCORES)
