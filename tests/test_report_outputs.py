import base64
import io
import re
import warnings

import pytest
from matplotlib import image as mpimg
from rich.console import Console

from xstilts.report import plots
from xstilts.report.html import write_html
from xstilts.report.study import build_report
from xstilts.report.tables import comparison_grid, print_report, significance_grid

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
    assert grid.rows[0][:4] == ["none", "none", "72.00", "65.00"]  # baseline: absolute scores


def test_one_seed_says_so(one_seed_report):
    rows = significance_grid(one_seed_report).rows
    assert rows and all(r[5] == "n/a (1 seed)" for r in rows)
    assert all(r[6] != "n/a" for r in rows)  # the sign-flip test over languages still runs
    assert "1 seed: no t-test possible" in comparison_grid(one_seed_report).caption


def test_html_is_self_contained_with_tables_and_pngs(report, tmp_path):
    path = write_html(report, tmp_path / "sub" / "report.html")
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for title in ("Gain over no intermediate training", "XTREME-R aggregation", "Gains over the baseline: tests",
                  "low-resource minus English", "Alignment gain vs transfer gain"):
        assert title in text
    assert text.count("<table>") == 5
    assert "src=\"http" not in text and "<link" not in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 5  # heatmap, xnli and mlqa per-language bars, scatter, layer curves
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
