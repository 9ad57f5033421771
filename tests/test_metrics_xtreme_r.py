import dataclasses

import pytest

from xstilts.data import languages
from xstilts.metrics import get_metric
from xstilts.metrics.xtreme_r import (
    CLASSIFICATION,
    QUESTION_ANSWERING,
    RETRIEVAL,
    STRUCTURED_PREDICTION,
    XTREME_R,
    XTREME_R_LANGUAGES,
    XTREME_R_PAPER,
    category_averages,
    language_average,
    overall_score,
    task_score,
    transfer_gap,
    xtreme_r,
)

# google-research/xtreme, evaluate.py at commit da430dd06cc7344ceb2e7cb030219656ebf0606a:
# XTREME_R_TASK2LANGS and XTREME_R_GROUP2TASK (the lists `--xtreme_version xtreme-r` scores), copied
# by hand, language for language, in the script's order. panx and mewslix are our wikiann and mewsli-x.
OFFICIAL_TASK2LANGS = {
    "xnli": "ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh",
    "panx": "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,"
            "my,zh,kk,tr,et,fi,hu,qu,pl,uk,az,lt,pa,gu,ro",
    "udpos": "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh,"
             "lt,pl,uk,wo,ro",
    "tatoeba": "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,"
               "et,fi,hu,az,lt,pl,uk,ro",
    "xcopa": "et,ht,id,it,qu,sw,ta,th,tr,vi,zh",
    "lareqa": "",  # evaluate.py does not score LAReQA (third_party/evaluate_retrieval.py does)
    "mewslix": "ar,de,en,es,fa,ja,pl,ro,ta,tr,uk",
    "xquad": "en,es,de,el,ru,tr,ar,vi,th,zh,hi,ro",
    "mlqa": "en,es,de,ar,hi,vi,zh",
    "tydiqa": "en,ar,bn,fi,id,ko,ru,sw,te",
}
OFFICIAL_GROUP2TASK = {
    "classification": ["xnli", "xcopa"], "tagging": ["udpos", "panx"], "qa": ["xquad", "mlqa", "tydiqa"],
    "retrieval": ["tatoeba", "mewslix"],
}
OURS = {"panx": "wikiann", "mewslix": "mewsli-x"}
# XQuAD-R (LAReQA's data), as the XTREME-R paper scores LAReQA.
LAREQA = "ar,de,el,en,es,hi,ru,th,tr,vi,zh"

# One tiny valid input per metric, to check that the declared score keys exist in its output.
SAMPLES = {
    "accuracy": ([1], [1], {}), "tatoeba_accuracy": ([0], [0], {}),
    "pos_f1": ([["NOUN"]], [["NOUN"]], {}), "ner_f1": ([["B-PER"]], [["B-PER"]], {}),
    "squad": (["a"], [["a"]], {}), "mlqa": (["a"], [["a"]], {"lang": "en"}),
    "map_at_20": ([[0]], [{0}], {}),
}


def test_language_lists_equal_the_official_ones_language_for_language():
    scored = {OURS.get(t, t): tuple(langs.split(",")) for t, langs in OFFICIAL_TASK2LANGS.items() if langs}
    assert XTREME_R_LANGUAGES == scored  # same tasks, same languages, same order
    assert {t.name: t.languages for t in XTREME_R.tasks} == scored
    assert len(XTREME_R.task("tatoeba").languages) == 41 and "ro" in XTREME_R.task("xquad").languages
    assert XTREME_R_PAPER.task("lareqa").languages == tuple(LAREQA.split(","))
    assert {t.name: t.languages for t in XTREME_R_PAPER.tasks if t.name != "lareqa"} == scored
    with pytest.raises(KeyError, match="no task 'bucc'"):
        XTREME_R.task("bucc")


def test_catalog_tatoeba_list_is_the_official_one():
    iso1 = {**{v: k for k, v in languages.XTREME36_ISO1.items()}, "az": "aze", "lt": "lit", "pl": "pol",
            "uk": "ukr", "ro": "ron"}
    assert languages.XTREME_R_TATOEBA == tuple(iso1[c] for c in OFFICIAL_TASK2LANGS["tatoeba"].split(","))
    assert len(languages.XTREME_R_TATOEBA) == 41 and set(languages.XTREME_R_TATOEBA) <= set(languages.TATOEBA_LANGS)


def test_retrieval_category_is_a_declared_choice():
    categories = {"classification": CLASSIFICATION, "tagging": STRUCTURED_PREDICTION, "qa": QUESTION_ANSWERING,
                  "retrieval": RETRIEVAL}
    for group, tasks in OFFICIAL_GROUP2TASK.items():
        assert {t.name for t in XTREME_R.tasks if t.category == categories[group]} == {OURS.get(t, t) for t in tasks}
    assert [t.name for t in XTREME_R_PAPER.tasks if t.category == RETRIEVAL] == ["mewsli-x", "lareqa", "tatoeba"]
    assert xtreme_r() is XTREME_R and xtreme_r("paper") is XTREME_R_PAPER
    assert XTREME_R.describe() == ("xtreme-r retrieval category: official (mewsli-x + tatoeba, as "
                                   "google-research/xtreme evaluate.py)")
    assert "paper (mewsli-x + lareqa + tatoeba" in XTREME_R_PAPER.describe()
    with pytest.raises(ValueError, match="official or paper"):
        xtreme_r("table")


def test_every_task_metric_is_registered_and_yields_its_score_keys():
    for task in XTREME_R_PAPER.tasks:
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
    # official: retrieval = (mewsli-x 40 + tatoeba 80) / 2; LAReQA is no task; overall over 9 tasks
    assert category_averages(XTREME_R, TASK_SCORES) == {
        "classification": 75.0, "structured prediction": 70.0, "question answering": 60.0, "retrieval": 60.0,
    }
    assert overall_score(XTREME_R, TASK_SCORES) == pytest.approx(590 / 9)
    assert overall_score(dataclasses.replace(XTREME_R, overall="categories"), TASK_SCORES) == pytest.approx(66.25)
    # paper: LAReQA 30 joins retrieval; overall over 10 tasks
    assert category_averages(XTREME_R_PAPER, TASK_SCORES)["retrieval"] == pytest.approx(50.0)
    assert overall_score(XTREME_R_PAPER, TASK_SCORES) == pytest.approx(62.0)
    by_category = dataclasses.replace(XTREME_R_PAPER, overall="categories")
    assert overall_score(by_category, TASK_SCORES) == pytest.approx(63.75)


def test_partial_results_get_categories_but_no_overall():
    partial = {k: v for k, v in TASK_SCORES.items() if k != "tatoeba"}
    assert "retrieval" not in category_averages(XTREME_R, partial)
    with pytest.raises(ValueError, match="missing tatoeba"):
        overall_score(XTREME_R, partial)
    with pytest.raises(ValueError, match="unknown overall"):
        overall_score(dataclasses.replace(XTREME_R, overall="median"), TASK_SCORES)
