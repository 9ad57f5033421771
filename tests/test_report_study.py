import warnings

import pytest
from scipy import stats as sps

from xstilts.metrics.xtreme_r import XTREME_R, XTREME_R_PAPER
from xstilts.report.conditions import ConditionInfo, Design, Primary, infer_condition
from xstilts.report.study import ReportWarning, build_report
from xstilts.report.xtreme import ReportError, aggregate, language_scores
from xstilts.store import ResultRow

SEEDS = (1, 2, 3)
# per-seed gain of each condition over "none", the same in every language and task
DELTAS = {"none": (0.0, 0.0, 0.0), "sst2": (1.0, 2.0, 4.0), "nusax-eng": (0.5, 0.5, 1.5),
          "nusax-bug": (2.0, 3.0, 3.0)}
ALIGN_GAIN = {"none": 0.0, "sst2": 3.0, "nusax-eng": 1.0, "nusax-bug": 5.0}


def row(condition, task, language, metric, value, *, seed=None, layer=None, direction=None, version="1", **kw):
    return ResultRow(model="me5-small", model_hash="h", condition=condition, task=task, task_version=version,
                     dataset=task, split="test", language=language, direction=direction, layer=layer,
                     seed=seed, metric=metric, value=value, data_hash="d", git_hash="g", package_version="0", **kw)


def study_rows(deltas=DELTAS, seeds=SEEDS, xnli_langs=("en", "de", "sw"), align=ALIGN_GAIN):
    """xnli: en 80+s, de 70+s, sw 60+s (+ delta); mlqa: en F1 80 / EM 60, de 70 / 50; tatoeba probes."""
    base = {"en": 80.0, "de": 70.0, "sw": 60.0}
    rows = []
    for cond, ds in deltas.items():
        for seed, d in zip(seeds, ds):
            rows += [row(cond, "xnli", lang, "accuracy", base[lang] + seed + d, seed=seed) for lang in xnli_langs]
            for lang, (f1, em) in {"en": (80.0, 60.0), "de": (70.0, 50.0)}.items():
                rows += [row(cond, "mlqa", lang, "f1", f1 + d, seed=seed),
                         row(cond, "mlqa", lang, "exact_match", em + d, seed=seed)]
        for layer, level in ((0, 20.0), (6, 40.0)):
            for lang in ("de", "sw"):
                for direction in (f"{lang}->eng", f"eng->{lang}"):
                    rows.append(row(cond, "tatoeba", lang, "accuracy", level + align.get(cond, 0.0),
                                    layer=layer, direction=direction))
    return rows


@pytest.fixture(scope="module")
def report():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean study raises no warning
        return build_report(study_rows())


def test_xtreme_aggregation_per_condition_and_seed(report):
    agg = next(a for a in report.aggregates if a.condition == "none" and a.seed == 1)
    xnli = agg.tasks["xnli"]
    assert xnli.average == pytest.approx((81 + 71 + 61) / 3)
    assert xnli.average_without_en == pytest.approx(66.0)
    assert xnli.english == 81.0 and xnli.gap == pytest.approx(15.0)
    assert "ar" in xnli.missing and "de" not in xnli.missing
    assert agg.tasks["mlqa"].per_language == {"en": 70.0, "de": 60.0}  # (F1 + EM) / 2
    assert agg.categories == {"classification": pytest.approx(71.0), "question answering": 65.0}
    assert agg.overall == pytest.approx((71.0 + 65.0) / 2)
    assert agg.partial and "tatoeba" in agg.missing_tasks  # probes are not fine-tuned target rows
    assert set(agg.partial_categories) == {"classification", "question answering"}
    order = [(a.condition, a.seed) for a in report.aggregates]
    assert order[:4] == [("none", 1), ("none", 2), ("none", 3), ("sst2", 1)]


def test_non_benchmark_task_needs_one_metric():
    assert aggregate("none", 1, {"sib200": {"en": 50.0, "yo": 30.0}}).tasks["sib200"].average == 40.0
    rows = [row("none", "sib200", "en", "accuracy", 1.0), row("none", "sib200", "en", "f1", 1.0)]
    with pytest.raises(ReportError, match="several metrics"):
        language_scores(rows)


def test_gains_mean_std_and_tests(report):
    g = report.gain("sst2", "xnli")
    assert g.units == SEEDS and not g.encoders  # no design: one phase-2 run per condition, units are seeds
    assert g.gain.mean == pytest.approx(7 / 3) and g.gain.std == pytest.approx(sps.tstd([1, 2, 4]))
    assert g.per_language["sw"].mean == pytest.approx(7 / 3)
    assert set(g.per_language) == {"de", "sw"}  # zero-shot: the training language is left out
    assert g.p == pytest.approx(sps.ttest_1samp([1, 2, 4], 0).pvalue)
    assert g.ci == pytest.approx(tuple(sps.ttest_1samp([1, 2, 4], 0).confidence_interval(0.95)))
    assert report.gain("sst2", "mlqa").gain.mean == pytest.approx(7 / 3)
    assert report.gain("none", "xnli") is None
    # Holm across the 6 condition × task comparisons, on the t-test p-values
    ps = [c.p for c in report.gains]
    m, order = len(ps), sorted(range(len(ps)), key=lambda i: ps[i])
    running, expected = 0.0, {}
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        expected[i] = running
    assert [c.p_holm for c in report.gains] == pytest.approx([expected[i] for i in range(m)])


def test_low_resource_minus_english_on_parallel_data(report):
    assert report.conditions["nusax-bug"].kind == "low-resource" and report.conditions["nusax-bug"].pair == "nusax"
    assert list(report.conditions) == ["none", "sst2", "nusax-eng", "nusax-bug"]
    (xnli, mlqa) = report.pairs
    assert (xnli.a, xnli.b, xnli.task) == ("nusax-bug", "nusax-eng", "xnli")
    assert xnli.gain.mean == pytest.approx((1.5 + 2.5 + 1.5) / 3)
    assert xnli.p == pytest.approx(sps.ttest_1samp([1.5, 2.5, 1.5], 0).pvalue)
    assert xnli.p_holm == pytest.approx(2 * xnli.p)  # two comparisons, equal p


def test_alignment_gain_next_to_transfer_gain(report):
    a = report.alignment["sst2"]
    assert a.per_task == {"tatoeba": pytest.approx(3.0)} and a.gain == pytest.approx(3.0)
    assert a.transfer_gain == pytest.approx(7 / 3)
    assert a.curves == {"tatoeba": {0: 23.0, 6: 43.0}}
    assert report.alignment["none"].gain is None and report.alignment["none"].curves["tatoeba"][0] == 20.0
    rho, p = report.correlation
    expected = sps.spearmanr([3.0, 1.0, 5.0], [7 / 3, 2.5 / 3, 8 / 3])
    # three points in the same order: 2 of the 6 orderings are as extreme (exact, not the t approximation)
    assert rho == pytest.approx(expected.statistic) == 1.0 and p == pytest.approx(2 / 6)


def test_refuses_mixed_task_versions():
    rows = study_rows()
    rows.append(row("sst2", "xnli", "fr", "accuracy", 50.0, seed=1, version="2"))
    with pytest.raises(ReportError, match=r"xnli rows come from different task versions \(v1: .*; v2: sst2\)"):
        build_report(rows)


def test_refuses_duplicate_scores():
    rows = study_rows()
    rows.append(rows[0].model_copy(update={"split": "validation"}))
    with pytest.raises(ReportError, match="splits or protocols mixed"):
        build_report(rows)


def test_warns_on_different_language_sets():
    rows = [r for r in study_rows() if not (r.condition == "sst2" and r.task == "xnli" and r.language == "sw")]
    with pytest.warns(ReportWarning, match="xnli: conditions were evaluated on different languages.*sst2 lacks sw"):
        rep = build_report(rows)
    assert rep.gain("sst2", "xnli").per_language.keys() == {"de"}
    assert any("sst2 lacks sw" in w for w in rep.warnings)


def test_condition_metadata_given_or_inferred():
    assert infer_condition("none").kind == "none"
    assert infer_condition("multi:all").kind == "multi"
    assert infer_condition("mlm+sst2").kind == "mlm"
    assert infer_condition("translated:sst2-ind").kind == "translated"
    assert infer_condition("sib200-yor") == ConditionInfo("sib200-yor", "low-resource", (), "sib200")
    assert infer_condition("sst2").kind == "english"
    given = [ConditionInfo("nusax-bug", "translated", ("nusax",), pair="nusax")]
    rep = build_report(study_rows(), given)
    assert rep.conditions["nusax-bug"].kind == "translated"
    assert [(c.a, c.b) for c in rep.pairs] == [("nusax-bug", "nusax-eng")] * 2


def probe_rows(condition, level, **kw):
    return [row(condition, "tatoeba", lang, "accuracy", level, layer=6, direction=f"{lang}->eng", **kw)
            for lang in ("de", "sw")]


def test_probe_scores_of_different_protocols_are_never_averaged_together():
    rows = [*probe_rows("none", 40.0, scorer="cosine"), *probe_rows("none", 60.0, scorer="margin"),
            *probe_rows("x", 41.0, scorer="cosine"), *probe_rows("x", 64.0, scorer="margin"),
            *probe_rows("none", 50.0, scorer="cosine", protocol={"max_sentences": 100}),
            *probe_rows("x", 52.0, scorer="cosine", protocol={"max_sentences": 100})]
    rows[0:0] = [row(c, "xnli", "en", "accuracy", 80.0, seed=1) for c in ("none", "x")]
    rep = build_report(rows)
    cosine = "tatoeba (scorer=cosine, max_sentences=None)"
    margin = "tatoeba (scorer=margin, max_sentences=None)"
    short = "tatoeba (scorer=cosine, max_sentences=100)"
    assert rep.probe_tasks == (cosine, margin, short)
    assert rep.alignment["x"].per_task == {cosine: 1.0, margin: 4.0, short: 2.0}
    assert rep.alignment["none"].curves[margin] == {6: 60.0}


def test_probe_label_is_the_task_when_one_protocol():
    rows = [*probe_rows("none", 40.0, scorer="cosine", prefix="query: "), *probe_rows("x", 43.0, scorer="cosine")]
    rep = build_report(rows)
    assert rep.probe_tasks == ("tatoeba (prefix='query: ')", "tatoeba (prefix=None)")
    assert rep.alignment["x"].per_task == {}  # no baseline probe under x's protocol: no gain
    same = build_report([*probe_rows("none", 40.0, scorer="cosine"), *probe_rows("x", 43.0, scorer="cosine")])
    assert same.probe_tasks == ("tatoeba",) and same.alignment["x"].per_task == {"tatoeba": 3.0}


def test_baseline_is_the_condition_of_kind_none_whatever_its_name():
    rows = study_rows(deltas={"vanilla": (0.0, 0.0, 0.0), "none": (1.0, 2.0, 4.0)}, align={"none": 3.0})
    infos = [ConditionInfo("vanilla", "none"), ConditionInfo("none", "english", ("sst2",))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = build_report(rows, infos)
    assert rep.baseline == "vanilla" and list(rep.conditions) == ["vanilla", "none"]
    assert [(c.a, c.b, c.task) for c in rep.gains] == [("none", "vanilla", "xnli"), ("none", "vanilla", "mlqa")]
    assert rep.gain("none", "xnli").gain.mean == pytest.approx(7 / 3)
    assert rep.alignment["none"].per_task == {"tatoeba": pytest.approx(3.0)}
    with pytest.warns(ReportWarning, match="no condition of kind 'none'"):
        none_kind = build_report(rows, [ConditionInfo("vanilla", "english"), ConditionInfo("none", "english")])
    assert none_kind.baseline is None and none_kind.gains == []


def test_translated_condition_is_compared_with_its_source_task():
    deltas = {"none": (0.0, 0.0, 0.0), "sst2": (1.0, 2.0, 4.0), "sst2-yor": (3.0, 3.0, 5.0),
              "nusax-bug": (2.0, 3.0, 3.0)}
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("sst2-yor", "translated", ("sst2_yor",), translation_of="sst2"),
             ConditionInfo("nusax-bug", "translated", ("nusax:bug",), translation_of="nusax:eng")]
    rep = build_report(study_rows(deltas), infos)
    assert [(c.a, c.b, c.task) for c in rep.translations] == [("sst2-yor", "sst2", "xnli"),
                                                              ("sst2-yor", "sst2", "mlqa")]
    xnli = rep.translations[0]
    assert xnli.gain.mean == pytest.approx(4 / 3)  # seed differences 2, 1, 1
    assert xnli.p == pytest.approx(sps.ttest_rel([2.0, 1.0, 1.0], [0.0, 0.0, 0.0]).pvalue)
    assert xnli.p_holm == pytest.approx(min(1.0, 2 * xnli.p))  # a family of two equal p-values
    assert rep.gain("sst2-yor", "xnli").gain.mean == pytest.approx(11 / 3)  # also compared with the baseline


def test_retrieval_choice_decides_whether_lareqa_is_an_xtreme_r_task():
    rows = study_rows()
    rows += [row(c, "lareqa", lang, "map_at_20", 30.0, seed=s) for c in DELTAS for s in SEEDS for lang in ("en", "de")]
    official, paper = build_report(rows), build_report(rows, retrieval="paper")
    assert official.benchmark is XTREME_R and paper.benchmark is XTREME_R_PAPER
    agg_o = next(a for a in official.aggregates if a.condition == "none" and a.seed == 1)
    agg_p = next(a for a in paper.aggregates if a.condition == "none" and a.seed == 1)
    assert not agg_o.tasks["lareqa"].in_benchmark and "retrieval" not in agg_o.categories
    assert agg_o.overall == pytest.approx((71.0 + 65.0) / 2)  # xnli and mlqa only
    assert agg_p.tasks["lareqa"].in_benchmark and agg_p.categories["retrieval"] == 30.0
    assert agg_p.overall == pytest.approx((71.0 + 65.0 + 30.0) / 3)
    assert "mewsli-x" in agg_p.missing_tasks and "lareqa" not in agg_o.missing_tasks
    with pytest.raises(ValueError, match="unknown XTREME-R retrieval choice"):
        build_report(rows, retrieval="both")


def test_zero_shot_excludes_english_and_reports_it_on_its_own_line():
    rows = study_rows()
    rows = [r.model_copy(update={"value": r.value + 10.0}) if (r.condition, r.language, r.task) == ("sst2", "en", "xnli")
            else r for r in rows]  # a large English-only gain must not move the zero-shot gain
    rep = build_report(rows)
    assert rep.gain("sst2", "xnli").gain.mean == pytest.approx(7 / 3)
    english = next(c for c in rep.english if c.a == "sst2" and c.task == "xnli")
    assert english.gain.mean == pytest.approx(7 / 3 + 10.0) and english.languages == ("en",)
    # the baseline printed beside the gains is over the same languages (de, sw) and units
    assert rep.gain("sst2", "xnli").b_mean == pytest.approx((71 + 61 + 72 + 62 + 73 + 63) / 6)


def nested_rows(units=(1, 2, 3, 4), reps=2):
    """xnli rows of 'none' and 'x' with fine-tuning seeds nested in units (protocol['unit'])."""
    out = []
    for cond, shift in (("none", 0.0), ("x", 2.0)):
        for u in units:
            for r in range(reps):
                seed = u + 1000 * r
                out += [row(cond, "xnli", lang, "accuracy", 60.0 + shift + u * (cond == "x") + r, seed=seed,
                            protocol={"unit": u}) for lang in ("en", "sw")]
    return out


def test_nested_fine_tuning_seeds_are_averaged_within_their_unit():
    design = Design(phase2_runs={"none": 0, "x": 4})
    rep = build_report(nested_rows(), design=design)
    g = rep.gain("x", "xnli")
    assert g.units == (1, 2, 3, 4) and g.encoders and rep.units_are_encoders
    assert g.a_scores == (63.5, 64.5, 65.5, 66.5) and g.b_scores == (60.5,) * 4  # mean of reps 0 and 1
    assert g.verdict == "different"


def test_runs_that_did_not_learn_are_left_out_and_listed():
    """The report leaves out what `not_learned` names: a run that did not learn and every node built
    on it (here every row of the nusax-eng encoder, whose phase 2 is node 'i')."""
    from types import SimpleNamespace as NS

    from xstilts.report.learning import Learning, not_learned

    rows = study_rows()
    for r in rows:
        r.protocol["node"] = f"{r.condition}-{r.task}-{r.seed}"
    records = [NS(phase="intermediate", condition="nusax-eng", seed=1, task="nusax:eng", node="i", learned=False,
                  why="final loss 1.09 ≥ 0.97 × ln 3"),
               NS(phase="finetune", condition="sst2", seed=2, task="xnli", node="sst2-xnli-2", learned=False,
                  why="English 35.0 < chance 33.3 + 5")]
    nodes = [{"key": "i"}, *({"key": k, "deps": ["i"] * k.startswith("nusax-eng-")}
                             for k in dict.fromkeys(r.protocol["node"] for r in rows))]
    rep = build_report(rows, learning=Learning(records, not_learned(records, nodes)))
    assert not any(c.a == "nusax-eng" or c.b == "nusax-eng" for c in rep.comparisons)
    assert rep.gain("sst2", "xnli").units == (1, 3) and rep.gain("sst2", "mlqa").units == (1, 2, 3)
    assert len(rep.excluded) == 2 and "nusax-eng" in rep.excluded[0] and "seed 2" in rep.excluded[1]
    assert rep.learning == records
    kept = build_report(rows, learning=Learning(records, {}))  # listed, but nothing named to leave out
    assert any(c.a == "nusax-eng" for c in kept.comparisons) and len(kept.excluded) == 2


def test_declared_primary_comparison_by_kind_with_its_verdict_and_flags():
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("nusax-eng", "english", ("nusax:eng",), pair="nusax"),
             ConditionInfo("nusax-bug", "low-resource", ("nusax:bug",), pair="nusax")]
    design = Design(primary=(Primary("low-resource", "nusax-eng", ("xnli",)),
                             Primary("nusax-bug", "nusax-eng", ("tatoeba",))),
                    declared_overlap={"nusax-bug": ("xnli",)})
    rep = build_report(study_rows(), infos, design=design)
    xnli, tatoeba = rep.primary
    assert (xnli.a, xnli.b, xnli.task) == ("low-resource", "nusax-eng", "xnli")
    assert xnli.gain.mean == pytest.approx((1.5 + 2.5 + 1.5) / 3) and xnli.verdict in ("different", "inconclusive")
    assert xnli.flags and "declared overlap" in xnli.flags[0]
    assert tatoeba.units == (None,) and tatoeba.gain.mean == pytest.approx(4.0) and tatoeba.verdict == "no claim"
    assert any("declared overlap" in f for c in rep.pairs for f in c.flags)
