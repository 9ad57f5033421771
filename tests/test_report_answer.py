"""The report's first line: the study's answer, with its uncertainty, in the engine's words."""

import warnings

from xstilts.report.answer import headline
from xstilts.report.html import render_html
from xstilts.report.study import ConditionInfo, Design, Primary, build_report
from tests.test_report_study import DELTAS, study_rows


def _report(deltas, seeds=(1, 2, 3), **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(study_rows({k: v[:len(seeds)] for k, v in deltas.items()}, seeds=seeds), **kw)


def test_a_consistent_difference_that_survives_holm_is_called_different():
    # nusax-bug minus nusax-eng: 1.5, 1.6, 1.7 per seed on both tasks (t-test p ~ 0.0015, Holm x2)
    deltas = {**DELTAS, "nusax-eng": (0.5, 0.4, 0.3), "nusax-bug": (2.0, 2.0, 2.0)}
    text = headline(_report(deltas))
    assert text.startswith("Low-resource minus English intermediate training on the same data, zero-shot")
    assert "xnli: 1 different; mlqa: 1 different" in text
    assert "not kinds of intermediate training" in text  # one phase-2 run per condition: said in words


def test_a_difference_holm_does_not_confirm_is_inconclusive_with_its_power():
    text = headline(_report(DELTAS))  # 1.5, 2.5, 1.5: t-test p 0.031, Holm 0.063 on two tasks
    assert "xnli: 1 inconclusive; mlqa: 1 inconclusive" in text
    assert "+1.83 points [" in text and "power" in text


def test_too_few_seeds_make_no_claim_and_the_html_opens_with_the_answer():
    report = _report(DELTAS, seeds=(1, 2))
    text = headline(report)
    assert "no significance claim with 2 units" in text and "p Holm" not in text
    page = render_html(report)
    assert page.index('class="answer"') < page.index("<h2>")


def test_without_pairs_the_answer_is_about_the_gains_over_the_baseline():
    deltas = {k: v for k, v in DELTAS.items() if k != "nusax-bug"}  # nusax-eng alone: no pair
    text = headline(_report(deltas))
    assert text.startswith("Intermediate training minus none (none), zero-shot")
    assert "Largest difference: sst2 − none on " in text


def test_a_declared_primary_comparison_is_the_answer():
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("nusax-eng", "english", ("nusax:eng",), pair="nusax"),
             ConditionInfo("nusax-bug", "low-resource", ("nusax:bug",), pair="nusax")]
    design = Design(margin=0.5, primary=(Primary("low-resource", "nusax-eng", ("xnli",)),),
                    phase2_runs={"none": 0, "sst2": 3, "nusax-eng": 3, "nusax-bug": 3})
    text = headline(_report(DELTAS, conditions=infos, design=design))
    assert text.startswith("Primary (declared, margin ±0.5 points, alpha 0.05): low-resource − nusax-eng on xnli")
    assert "different: low-resource higher (p Holm 0.032, 3 units)" in text and "not kinds" not in text
