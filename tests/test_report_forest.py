"""The report leads with the answer: the forest plot first, its numbers recomputed here from the rows;
scales symmetric around 0 with a minimum span; no layer curve for a one-layer probe; training curves
per node kind; the study's limits and every table's data and languages in the HTML."""

import re
import statistics
import warnings

import pytest

from xstilts.report import plots
from xstilts.report.html import render_html
from xstilts.report.learning import Learning, LearningRecord
from xstilts.report.setup import limits, phase2_steps, still_rising
from xstilts.report.conditions import ConditionInfo, Design, Primary
from xstilts.report.study import build_report
from xstilts.report.tables import comparison_grid, pairs_grid, xtreme_grid

from .test_report_study import DELTAS, study_rows


def _build(rows, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(rows, **kw)


def _zero_shot_gain(rows, cond, task, base="none"):
    """Independent: per seed, the mean over non-English languages of cond minus base; then the mean over seeds."""
    def per_seed(c):
        out = {}
        for r in rows:
            if r.condition == c and r.task == task and r.layer is None and r.language != "en" and \
                    r.metric in ("accuracy", "f1", "exact_match"):
                out.setdefault(r.seed, {}).setdefault(r.language, []).append(r.value)
        return {s: statistics.fmean(statistics.fmean(v) for v in langs.values()) for s, langs in out.items()}
    a, b = per_seed(cond), per_seed(base)
    return statistics.fmean(a[s] - b[s] for s in a)


def _points(ax):
    """(row label, x of its marker) for each forest row of one panel, top to bottom."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    markers = [ln for ln in ax.lines if len(ln.get_xdata()) == 1 and ln.get_marker() in ("o", "D")]
    return {labels[int(ln.get_ydata()[0])]: float(ln.get_xdata()[0]) for ln in markers}


def test_without_a_declaration_the_forest_shows_the_gains_and_its_caption_says_so():
    rows = study_rows()
    report = _build(rows)
    fig = plots.forest_figure(report)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in axes] == [
        "xnli (accuracy): difference, points", "mlqa ((f1+exact_match)/2): difference, points",
        "tatoeba (accuracy): difference, points"]
    for ax, task in zip(axes, ("xnli", "mlqa")):
        got = _points(ax)
        assert set(got) == {"sst2 − none", "nusax-eng − none", "nusax-bug − none"}
        for label, x in got.items():
            assert x == pytest.approx(_zero_shot_gain(rows, label.split(" − ")[0], task))
    # symmetric around 0, at least ±1.5 (1.5 x the 1-point margin) points
    for ax in axes:
        lo, hi = ax.get_xlim()
        assert lo == pytest.approx(-hi) and hi >= 1.5
    page = render_html(report)
    assert "No primary comparison is declared" in page and "gains over the baseline (none) instead" in page
    first_img = page.index("<img")
    assert page[first_img:first_img + 80].count("forest plot") == 1 and first_img < page.index("<table>")


def test_a_declared_comparison_is_what_the_forest_shows_with_its_interval():
    rows = study_rows()
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("nusax-eng", "english", ("nusax:eng",), pair="nusax"),
             ConditionInfo("nusax-bug", "low-resource", ("nusax:bug",), pair="nusax")]
    design = Design(primary=(Primary("nusax-bug", "nusax-eng", ("xnli",)),),
                    phase2_runs={"none": 0, "sst2": 3, "nusax-eng": 3, "nusax-bug": 3})
    report = _build(rows, conditions=infos, design=design)
    fig = plots.forest_figure(report)
    (ax,) = [ax for ax in fig.axes if ax.get_visible()]
    diffs = [_zero_shot_gain(rows, "nusax-bug", "xnli", s) for s in ("nusax-eng",)]
    assert _points(ax) == {"nusax-bug − nusax-eng": pytest.approx(diffs[0])}
    # the interval, recomputed: per-seed differences (2 - 0.5, 3 - 0.5, 3 - 1.5) -> mean ± t(2) sd / sqrt(3)
    from scipy import stats as sps
    d = [1.5, 2.5, 1.5]
    half = sps.t.ppf(0.975, 2) * statistics.stdev(d) / 3 ** 0.5
    bars = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1] == 0]
    assert [tuple(b.get_xdata()) for b in bars] == [pytest.approx((statistics.fmean(d) - half,
                                                                   statistics.fmean(d) + half))]
    verdict = [t.get_text() for t in ax.texts]
    assert verdict == [f"+1.83 [{statistics.fmean(d) - half:+.2f}, {statistics.fmean(d) + half:+.2f}]  "
                       f"{plots._short_verdict(report.primary[0])}"]
    assert "The declared primary comparisons" in render_html(report)


def test_a_tiny_difference_is_painted_pale_on_a_symmetric_scale():
    rows = study_rows({"none": (0.0, 0.0, 0.0), "sst2": (-0.007, -0.007, -0.007)})
    report = _build(rows)
    (image,) = plots.heatmap_figure(report).axes[0].images
    assert image.get_clim() == (-1.0, 1.0)  # not ±0.007: a -0.007 loss is not the darkest red
    big = _build(study_rows({"none": (0.0, 0.0, 0.0), "sst2": (-4.0, -4.0, -4.0)}))
    assert plots.heatmap_figure(big).axes[0].images[0].get_clim() == (-4.0, 4.0)
    assert plots.symmetric_limit([0.2, -0.3, float("nan")]) == 1.0 and plots.symmetric_limit([2.5, -3.0]) == 3.0


def test_a_single_layer_probe_gets_no_layer_curve():
    rows = [r for r in study_rows() if r.layer in (None, 6)]  # tatoeba at layer 6 only
    report = _build(rows)
    assert plots.curve_probes(report) == [] and plots.layer_curves(report) is None
    assert "tatoeba: scored at one layer, so no layer curve" in render_html(report)
    assert plots.curve_probes(_build(study_rows())) == ["tatoeba"]


def _record(phase, cond, task, seed, curve, chance=33.3):
    return LearningRecord(node=f"{phase}-{cond}-{task}-{seed}", phase=phase, condition=cond, seed=seed, task=task,
                          metric="accuracy", chance=chance, final_score=curve[-1][1], final_loss=0.5,
                          chance_loss=1.1, curve=curve)


def test_training_curves_per_node_kind_and_a_rising_curve_is_a_limit():
    learning = [_record("intermediate", "sst2", "sst2", 1, [(50, 60.0), (100, 70.0)], chance=50.0),
                _record("finetune", "none", "xnli", 1, [(50, 40.0), (100, 44.0)]),  # still rising
                _record("finetune", "sst2", "xnli", 1, [(50, 45.0), (100, 45.5)])]
    report = _build(study_rows(), learning=Learning(learning))
    fig = plots.curves_figure(report)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["Phase 2: own-task dev score", "Phase 3: xnli, English dev score"]
    drawn = {ln.get_label(): list(zip(ln.get_xdata(), ln.get_ydata())) for ax in axes for ln in ax.lines
             if not ln.get_label().startswith("_") and ln.get_label() != "chance"}
    assert drawn == {f"{r.condition} {r.task} seed {r.seed}": r.curve for r in learning}
    chance = [ln.get_ydata()[0] for ln in axes[1].lines if ln.get_label() == "chance"]
    assert chance == [33.3]
    assert still_rising([(50, 40.0), (100, 44.0)]) and not still_rising([(50, 45.0), (100, 45.5)])
    assert "xnli: the English dev score was still rising at the end of phase 3 in 1 of 2 runs" in \
        " ".join(limits(report))
    page = render_html(report)
    assert 'alt="training curves"' in page and "Phase 3: did each fine-tuning run learn" in page
    assert plots.curves_figure(_build(study_rows())) is None  # no node recorded a curve: no figure
    assert "No training curves" in render_html(_build(study_rows(), learning=Learning([
        LearningRecord("n", "finetune", "none", 1, "xnli", "accuracy", 33.3, 40.0, 0.5, 1.1)])))


def test_limits_and_language_sets_are_in_the_html():
    rows = [r.model_copy(update={"protocol": {"hparams": {"max_steps": 100, "max_eval_examples": 200}}})
            if r.layer is None else r for r in study_rows(seeds=(1, 2), deltas={k: v[:2] for k, v in DELTAS.items()})]
    report = _build(rows, design=Design(smoke=True, phase2_steps=(2,)))
    page = render_html(report)
    box = page[page.index("Limits of this study"):]
    box = box[:box.index("</div>")]
    items = re.findall(r"<li>(.*?)</li>", box)
    assert items[0].startswith("Smoke run")
    assert any(i.startswith("No significance claim is made with fewer than 3 units") for i in items)
    assert any("xnli 200 examples, mlqa 200 examples" in i for i in items)
    assert page.index("SMOKE RUN") < page.index('class="answer"') < page.index("forest plot") < \
        page.index("Limits of this study") < page.index("<table>")
    # every table names its languages: the zero-shot ones (de, sw; English excluded) where gains are compared,
    # XTREME-R's (English included) in the official table, recomputed from the rows
    zero_shot = sorted({r.language for r in rows if r.task == "xnli" and r.language != "en"})
    assert f"xnli (test, first 200 examples per language): {', '.join(zero_shot)}" in comparison_grid(report).caption
    assert f"xnli (test, first 200 examples per language): {', '.join(zero_shot)}" in pairs_grid(report).caption
    official = sorted({r.language for r in rows if r.task == "xnli"})
    assert f"xnli (test, first 200 examples per language): {', '.join(official)}" in xtreme_grid(report).caption
    assert "differ from the zero-shot tables" in xtreme_grid(report).caption


def test_phase2_budget_comes_from_the_intermediate_nodes():
    nodes = [{"kind": "intermediate", "config": {"train": {"max_steps": 100}}},
             {"kind": "intermediate", "config": {"train": {"max_steps": 50}}},
             {"kind": "finetune", "config": {"train": {"max_steps": 7}}},
             {"kind": "intermediate", "config": {"train": {"max_steps": None, "epochs": 1}}}]
    assert phase2_steps(nodes) == (50, 100)
    assert phase2_steps([]) == ()
    # `until` stopped a 400-step run at its dev evaluation of step 75: the steps it trained count
    until = {"kind": "intermediate", "config": {"train": {"max_steps": 400, "until": 60}},
             "outputs": {"stopped_early": True, "learning": {"nusax:eng": {"curve": [[25, 47.5], [50, 53.9], [75, 74.8]]}}}}
    assert phase2_steps([until, {**until, "outputs": {**until["outputs"], "stopped_early": False}}]) == (75, 400)
