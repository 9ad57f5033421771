import base64
import io
import re
import warnings

import pytest
from matplotlib import image as mpimg
from rich.console import Console

from xstilts.report import plots
from xstilts.report.html import write_html
from xstilts.report.stats import NO_CLAIM, holm
from xstilts.report.conditions import ConditionInfo
from xstilts.report.study import build_report
from xstilts.report.tables import (
    NA_NOTE,
    comparison_grid,
    print_report,
    significance_grid,
    translations_grid,
    xtreme_grid,
)

from .test_report_study import study_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report():
    return build_report(study_rows())


@pytest.fixture(scope="module")
def one_seed_report():
    return build_report(study_rows(deltas={"none": (0.0,), "sst2": (2.0,), "nusax-bug": (1.0,)}, seeds=(7,)))


def test_terminal_table_shows_gains_stars_and_alignment(report):
    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "Gain over no intermediate training" in text
    assert "+2.33 ± 1.53" in text  # sst2 on xnli
    assert "Δ align tatoeba" in text and "+3.00" in text
    assert "low-resource minus English" in text
    assert "Spearman rho" in text
    grid = comparison_grid(report)
    assert grid.columns[:5] == ["condition", "kind", "xnli", "mlqa", "mean"]
    # baseline: absolute zero-shot scores over the gains' languages (xnli de+sw over seeds 1-3; mlqa de)
    assert grid.rows[0][:4] == ["none", "none", "67.00", "60.00"]


def terminal(report) -> str:
    console = Console(record=True, width=250)
    print_report(report, console)
    return console.export_text()


def test_one_seed_says_so(one_seed_report, tmp_path):
    grid = significance_grid(one_seed_report)
    assert grid.rows and all(r[6:8] == ["n/a (1 unit)"] * 2 for r in grid.rows)  # t, Holm
    sst2 = next(r for r in grid.rows if r[0] == "sst2" and r[2] == "xnli")
    assert sst2[3:6] == ["1 (seeds)", "+2.00", "n/a (1 unit)"] and sst2[8].startswith("no claim")
    assert NA_NOTE in grid.caption and "no stars: fewer than 3 units" in comparison_grid(one_seed_report).caption
    # the long notice once, in the limits, however many tables have n/a cells
    assert terminal(one_seed_report).count("No significance claim is made with fewer than 3 units") == 1
    page = write_html(one_seed_report, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count(NO_CLAIM) == 1 and page.count(NA_NOTE) >= 2
    assert "1 fine-tuning seed each" in page and "1 fine-tuning seeds" not in page


def test_two_seeds_make_no_claim_either(tmp_path):
    rep = build_report(study_rows(deltas={"none": (0.0, 0.0), "sst2": (1.0, 3.0)}, seeds=(1, 2)))
    assert all(c.p_holm is None and c.verdict == "no claim" for c in rep.gains)
    assert "n/a (2 units)" in terminal(rep) and NO_CLAIM.split(":")[0] in terminal(rep)
    assert write_html(rep, tmp_path / "r.html").read_text(encoding="utf-8").count(NO_CLAIM) == 1


def test_three_units_state_no_disclaimer_where_tested(report):
    assert NA_NOTE not in significance_grid(report).caption and "no stars" not in comparison_grid(report).caption
    # the probes ran once per encoder (one phase-2 run per condition): no claim there, said so
    assert all(c.verdict == "no claim" for c in report.alignment_gains) and NO_CLAIM in terminal(report)


def test_retrieval_choice_is_named_in_terminal_and_html(report, tmp_path):
    official = "xtreme-r retrieval category: official (mewsli-x + tatoeba, as google-research/xtreme evaluate.py)"
    assert official in terminal(report) and official in xtreme_grid(report).caption
    assert official in write_html(report, tmp_path / "r.html").read_text(encoding="utf-8")
    paper = build_report(study_rows(), retrieval="paper")
    assert "retrieval category: paper (mewsli-x + lareqa + tatoeba" in terminal(paper)
    assert "paper (mewsli-x + lareqa + tatoeba" in write_html(paper, tmp_path / "p.html").read_text(encoding="utf-8")


def test_translated_vs_source_table(tmp_path):
    deltas = {"none": (0.0, 0.0, 0.0), "sst2": (1.0, 2.0, 4.0), "sst2-yor": (3.0, 3.0, 5.0)}
    infos = [ConditionInfo("none", "none"), ConditionInfo("sst2", "english", ("sst2",)),
             ConditionInfo("sst2-yor", "translated", ("sst2_yor",), translation_of="sst2")]
    rep = build_report(study_rows(deltas), infos)
    grid = translations_grid(rep)
    assert [r[:5] for r in grid.rows] == [["sst2-yor", "sst2", "xnli", "3 (seeds)", "+1.33 ± 0.58"],
                                           ["sst2-yor", "sst2", "mlqa", "3 (seeds)", "+1.33 ± 0.58"]]
    assert "Translated vs source" in terminal(rep)
    text = write_html(rep, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Translated vs source task" in text and "sst2-yor" in text
    assert "Translated vs source" not in terminal(build_report(study_rows()))


def test_html_is_self_contained_with_tables_and_pngs(report, tmp_path):
    path = write_html(report, tmp_path / "sub" / "report.html")
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for title in ("Gain over no intermediate training", "Official XTREME-R scores", "gains over the baseline: tests",
                  "low-resource minus English", "Alignment gain vs transfer gain", "English) on its own",
                  "Alignment probes: gains over the baseline"):
        assert title in text
    assert text.count("<table>") == 7
    assert "src=\"http" not in text and "<link" not in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 6  # forest, heatmap, xnli and mlqa per-language bars, scatter, layer curves
    first = re.search(r"<img[^>]*alt=\"([^\"]+)\"", text).group(1)
    assert first == "forest plot of the comparisons" and text.index(first) < text.index("<table>")  # the forest first
    for b64 in images:
        png = base64.b64decode(b64)
        assert png.startswith(PNG_MAGIC)
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300


def test_plots_skip_what_is_missing(one_seed_report):
    empty = build_report([r for r in study_rows() if r.condition == "none" and r.layer is None])
    assert plots.gain_heatmap(empty) is None and plots.alignment_scatter(empty) is None
    assert plots.layer_curves(empty) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = plots.language_gains(one_seed_report, "xnli")  # no std with one seed: bars without error
    assert png.startswith(PNG_MAGIC)


def test_mixed_seed_counts_claim_only_where_tested():
    rows = [r for r in study_rows() if not (r.task == "mlqa" and r.seed == 3)]  # mlqa: 2 seeds, xnli: 3
    rep = build_report(rows)
    by_task = {(c.a, c.task): c for c in rep.gains}
    assert by_task[("sst2", "xnli")].p_holm is not None and by_task[("sst2", "mlqa")].p_holm is None
    xnli = [c for c in rep.gains if c.task == "xnli"]
    assert [c.p_holm for c in xnli] == pytest.approx(holm([c.p for c in xnli]))  # family: the 3 xnli tests
    grid = significance_grid(rep)
    assert [r[6] == "n/a (2 units)" for r in grid.rows] == [c.task == "mlqa" for c in rep.gains]
    assert NA_NOTE in grid.caption
    assert "t-test over 3 units" in comparison_grid(rep).caption
    assert "no stars in cells of tasks with fewer than 3 units" in comparison_grid(rep).caption
