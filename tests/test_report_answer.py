"""The report's first lines: the study's answer in 2-3 short sentences (model, units, budgets, then the
verdict per outcome, never averaging different metrics), with its uncertainty in the engine's words."""

import re
import warnings

import numpy as np

from xstilts.report.answer import headline
from xstilts.report.html import render_html
from xstilts.report.stats import power
from xstilts.report.conditions import ConditionInfo, Design, Primary
from xstilts.report.study import build_report
from tests.test_report_study import DELTAS, study_rows


def _report(deltas, seeds=(1, 2, 3), rows=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(rows or study_rows({k: v[:len(seeds)] for k, v in deltas.items()}, seeds=seeds), **kw)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", text) if s]


def _with_steps(rows, steps: int):
    """Rows as phase-3 nodes write them: their training settings ride on the row."""
    return [r.model_copy(update={"protocol": {**r.protocol, "hparams": {"max_steps": steps,
                                                                        "max_eval_examples": 200}}})
            if r.layer is None else r for r in rows]


def test_the_answer_names_model_units_budgets_in_at_most_three_sentences():
    rows = _with_steps(study_rows(), 100)
    text = headline(_report(DELTAS, rows=rows, design=Design(phase2_steps=(50,))))
    sentences = _sentences(text)
    assert 2 <= len(sentences) <= 3
    assert sentences[0] == ("me5-small, 4 conditions, one phase-2 encoder per condition, 3 fine-tuning seeds each; "
                            "phase 2 50 steps, phase 3 100 steps.")
    assert all(len(s.split()) <= 45 for s in sentences)


def test_one_seed_reads_in_the_singular():
    text = headline(_report({"none": (0.0,), "sst2": (2.0,)}, seeds=(7,)))
    assert "1 fine-tuning seed each" in text and "1 fine-tuning seeds" not in text
    assert "With 1 unit no significance claim is made." in text


def test_verdicts_are_per_metric_never_averaged_across_tasks():
    # nusax-bug minus nusax-eng: +1.83 on xnli (accuracy), +4.83 on mlqa ((f1+EM)/2): their mean, +3.33, is no answer
    rows = [r.model_copy(update={"value": r.value + 3.0}) if r.task == "mlqa" and r.condition == "nusax-bug" else r
            for r in study_rows()]
    rep = _report(DELTAS, rows=rows)
    text = headline(rep)
    pairs = {c.task: c.gain.mean for c in rep.pairs}
    assert round(pairs["xnli"], 2) == 1.83 and round(pairs["mlqa"], 2) == 4.83
    assert "xnli, accuracy: +1.83, 1 different (higher)" in text
    assert "mlqa, (f1+exact_match)/2: +4.83, 1 different (higher)" in text
    assert f"{(pairs['xnli'] + pairs['mlqa']) / 2:+.2f}" not in text


def test_a_consistent_difference_that_survives_holm_is_called_different():
    # nusax-bug minus nusax-eng: 1.5, 1.6, 1.7 per seed on both tasks (t-test p ~ 0.0015, Holm x2)
    deltas = {**DELTAS, "nusax-eng": (0.5, 0.4, 0.3), "nusax-bug": (2.0, 2.0, 2.0)}
    verdicts = _sentences(headline(_report(deltas)))[1]
    assert verdicts.startswith("Low-resource minus English intermediate training on the same data, zero-shot")
    assert "xnli, accuracy: +1.60, 1 different (higher)" in verdicts
    assert "probe tatoeba, accuracy: +4.00, 1 no claim" in verdicts  # one probe run per encoder
    # one phase-2 run per condition: said in words
    assert _sentences(headline(_report(deltas)))[2] == ("With one phase-2 run per condition these compare particular "
                                                        "encoders, not kinds of training.")


def test_a_difference_holm_does_not_confirm_is_inconclusive():
    text = headline(_report(DELTAS))  # 1.5, 2.5, 1.5: t-test p 0.031, Holm 0.063 on two tasks
    assert "xnli, accuracy: +1.83, 1 inconclusive" in text and "different" not in text


def test_too_few_seeds_make_no_claim_and_the_html_opens_with_the_answer():
    report = _report(DELTAS, seeds=(1, 2))
    text = headline(report)
    assert text.endswith("With 2 units no significance claim is made.") and "p Holm" not in text
    page = render_html(report)
    assert page.index('class="answer"') < page.index("<img") < page.index("<h2>")


def test_without_pairs_the_answer_is_about_the_gains_over_the_baseline():
    deltas = {k: v for k, v in DELTAS.items() if k != "nusax-bug"}  # nusax-eng alone: no pair
    verdicts = _sentences(headline(_report(deltas)))[1]
    assert verdicts.startswith("Intermediate training minus none (none), zero-shot")
    assert "xnli, accuracy: +0.83 to +2.33, 2 inconclusive" in verdicts  # nusax-eng +0.83, sst2 +2.33


def test_a_declared_primary_comparison_is_the_answer():
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("nusax-eng", "english", ("nusax:eng",), pair="nusax"),
             ConditionInfo("nusax-bug", "low-resource", ("nusax:bug",), pair="nusax")]
    design = Design(margin=0.5, primary=(Primary("low-resource", "nusax-eng", ("xnli",)),),
                    phase2_runs={"none": 0, "sst2": 3, "nusax-eng": 3, "nusax-bug": 3})
    report = _report(DELTAS, conditions=infos, design=design)
    sentences = _sentences(headline(report))
    assert len(sentences) == 2 and "3 trained encoders (phase-2 seeds) per condition" in sentences[0]
    assert sentences[1].startswith("Declared comparisons (margin ±0.5 points): low-resource − nusax-eng on xnli "
                                   "(accuracy): +1.83 points [")
    # the power it had: to detect ±0.5 at the observed sd of the 3 unit differences
    primary = report.primary[0]
    expected = power(float(np.std(np.subtract(primary.a_scores, primary.b_scores), ddof=1)), 3, 0.5)
    assert f"different: low-resource higher (p Holm 0.032, 3 units, power {expected:.0%} for ±0.5)" in sentences[1]


def test_a_smoke_report_says_so_first():
    report = _report(DELTAS, design=Design(smoke=True))
    assert headline(report).endswith("Smoke run: the numbers only show that the code paths work.")
    page = render_html(report)
    assert page.index("SMOKE RUN") < page.index('class="answer"')
