"""The report's first line: the study's answer in one sentence, with its uncertainty."""

import warnings

from xstilts.report.answer import headline
from xstilts.report.html import render_html
from xstilts.report.study import build_report
from tests.test_report_study import DELTAS, study_rows


def _report(deltas, seeds=(1, 2, 3)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(study_rows({k: v[:len(seeds)] for k, v in deltas.items()}, seeds=seeds))


def test_a_consistent_difference_that_survives_holm_is_called_better():
    # nusax-bug minus nusax-eng: 1.5, 1.6, 1.7 per seed on both tasks (t-test p ~ 0.0015, Holm x2)
    deltas = {**DELTAS, "nusax-eng": (0.5, 0.4, 0.3), "nusax-bug": (2.0, 2.0, 2.0)}
    text = headline(_report(deltas))
    assert text.startswith("Low-resource (nusax-bug) vs English (nusax-eng) intermediate training on the same data")
    assert "low-resource is better in 2 of 2 comparisons (significant after Holm" in text
    assert "mean difference +1.60 points over 2 target comparisons" in text
    # the alignment probes: nusax-bug +5, nusax-eng +1 over the baseline
    assert "moved alignment +4.00 points more than English" in text


def test_a_difference_holm_does_not_confirm_is_not_called_a_win():
    text = headline(_report(DELTAS))  # 1.5, 2.5, 1.5: t-test p 0.031, Holm 0.063 on two tasks
    assert "no significant difference in any of 2 comparisons after Holm" in text
    assert "+1.83 [" in text and "p Holm 0.063" in text


def test_too_few_seeds_make_no_claim_and_the_html_opens_with_the_answer():
    report = _report(DELTAS, seeds=(1, 2))
    text = headline(report)
    assert "no significance claim with 2 seeds" in text and "p Holm" not in text
    page = render_html(report)
    assert page.index('class="answer"') < page.index("<h2>")


def test_without_pairs_the_answer_is_about_the_gains_over_the_baseline():
    deltas = {k: v for k, v in DELTAS.items() if k != "nusax-bug"}  # nusax-eng alone: no pair
    text = headline(_report(deltas))
    assert text.startswith("Intermediate training vs none (none), zero-shot over 3 fine-tuning seeds")
    assert "the largest gain sst2 on " in text
