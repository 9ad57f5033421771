import pytest

from xstilts.metrics import get_metric
from xstilts.metrics.qa import (
    mixed_segmentation,
    mlqa_scores,
    normalize_mlqa,
    normalize_squad,
    squad_scores,
    squad_v2_scores,
)


def test_squad_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_squad("The  Quick, brown-fox!") == "quick brownfox"
    assert normalize_squad("Theory of an apple") == "theory of apple"  # 'the' only as a word


def test_squad_takes_max_over_gold_answers():
    em, f1 = squad_scores("the cat sat", ["a cat", "cat sat down"])
    assert em == 0.0
    assert f1 == pytest.approx(0.8)  # P=1, R=2/3 against the second answer
    assert squad_scores("the cat sat", ["dog", "The cat, sat."]) == (1.0, 1.0)


def test_squad_empty_prediction_and_official_quirk():
    assert squad_scores("", ["cat"]) == (0.0, 0.0)
    # Both sides normalise to "": v1.1 counts an exact match but no common token for F1.
    assert squad_scores("", ["the"]) == (1.0, 0.0)


def test_squad_v1_rejects_question_without_gold():
    with pytest.raises(ValueError, match="no gold answers"):
        squad_scores("cat", [])


def test_squad_v2_no_answer_convention():
    assert squad_v2_scores("", []) == (1.0, 1.0)
    assert squad_v2_scores("", ["", "  "]) == (1.0, 1.0)
    assert squad_v2_scores("cat", []) == (0.0, 0.0)
    assert squad_v2_scores("", ["cat"]) == (0.0, 0.0)
    em, f1 = squad_v2_scores("black cat", ["cat"])
    assert (em, f1) == (0.0, pytest.approx(2 / 3))


def test_squad_corpus_scores_on_0_100():
    out = get_metric("squad")(["cat", "big dog"], [["cat"], ["a dog"]])
    assert out["exact_match"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx((100 + 100 * 2 / 3) / 2)


def test_mlqa_removes_unicode_punctuation_where_squad_does_not():
    assert normalize_mlqa("“The” cat’s", "en") == "cats"
    assert mlqa_scores("cats", ["“The” cat’s"], "en") == (1.0, 1.0)
    em, f1 = squad_scores("cat’s", ["“The” cat’s"])  # ASCII punctuation only: “ and ” stay tokens
    assert (em, f1) == (0.0, pytest.approx(0.5))
    assert normalize_mlqa("¿Qué?", "es") == "qué"


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "El perro y la casa", "perro y casa"),
        ("de", "Der Hund, die Katze und das Haus dieser Stadt", "hund katze und haus dieser stadt"),
        ("de", "Einem Mann eines Tages", "mann tages"),
        ("vi", "cái bàn của tôi", "bàn tôi"),
        ("hi", "The दिल्ली", "the दिल्ली"),  # Hindi has no article list, not even English ones
        ("zh", "The 北京", "the 北 京"),
        ("ar", "الكتاب", "كتاب"),
        ("ar", "مال", "م"),  # the official pattern removes ال inside words too
    ],
)
def test_mlqa_per_language_articles(lang, text, expected):
    assert normalize_mlqa(text, lang) == expected


def test_mlqa_arabic_article_gives_exact_match():
    assert mlqa_scores("كتاب", ["الكتاب"], "ar") == (1.0, 1.0)


def test_mlqa_chinese_scores_characters():
    assert normalize_mlqa("北京大学，位于 Beijing city", "zh") == "北 京 大 学 位 于 beijing city"
    em, f1 = mlqa_scores("北京大学", ["北京的大学"], "zh")
    assert em == 0.0
    assert f1 == pytest.approx(2 * 1 * 0.8 / 1.8)  # 4 shared characters: P=1, R=4/5


def test_mixed_segmentation_splits_cjk_and_punctuation():
    assert mixed_segmentation("abc 中文,def") == ["abc", "中", "文", ",", "def"]
    assert mixed_segmentation("") == []


def test_mlqa_rejects_unknown_language():
    with pytest.raises(ValueError, match="no rules for language 'fr'"):
        normalize_mlqa("le chat", "fr")


def test_mlqa_metric_requires_aligned_inputs():
    metric = get_metric("mlqa")
    assert metric(["北京"], [["北京"]], lang="zh") == {"exact_match": 100.0, "f1": 100.0}
    with pytest.raises(ValueError, match="1 predictions but 2 references"):
        metric(["a"], [["a"], ["b"]], lang="en")
    with pytest.raises(ValueError, match="no examples"):
        metric([], [], lang="en")


def test_missing_prediction_scores_zero_as_the_official_scripts():
    # evaluate-v1.1.py: a question absent from the predictions "will receive score 0" (EM and F1);
    # an empty string is an answer, and matches a gold that normalises to "" (the quirk above).
    assert squad_scores(None, ["the"]) == (0.0, 0.0)
    assert mlqa_scores(None, ["北京"], "zh") == (0.0, 0.0)
    golds = [["the"], ["cat"], ["big dog"]]
    assert get_metric("squad")([None, "cat", "dog"], golds) == pytest.approx(
        {"exact_match": 100 / 3, "f1": (0 + 100 + 100 * 2 / 3) / 3})
    assert get_metric("squad")(["", "cat", "dog"], golds)["exact_match"] == pytest.approx(200 / 3)
    assert get_metric("mlqa")([None, "Hund"], [["Hund"], ["der Hund"]], lang="de") == {"exact_match": 50.0,
                                                                                     "f1": 50.0}
    with pytest.raises(ValueError, match="no gold answers"):
        squad_scores(None, [])
