"""A published study record (results/lowres-vs-english-pilot, committed) opens with one command:
`report --from DIR` rebuilds its report with its recommendations, and `recommend --from DIR`
ranks from its rows alone, naming the signals that need the phase-2 encoders."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app

RECORD = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english-pilot"


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A new user's home: no store, no study folder."""
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "home"


def test_report_from_a_record_alone_keeps_every_section(home, data_root, tmp_path):
    before = _listing(RECORD)
    result = CliRunner().invoke(app, ["report", "--from", str(RECORD), "--data-root", str(data_root)],
                                env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    # in the study's folder, beside (never over) the report of the user's own run of it
    html = home / "studies" / "lowres-vs-english" / "report-from-lowres-vs-english-pilot.html"
    assert [p.name for p in html.parent.iterdir()] == [html.name]
    # every row of the record, probes included (their node keys are those of the code that ran them)
    rows = len(json.loads(gzip.decompress((RECORD / "rows.json.gz").read_bytes())))
    said = " ".join(result.output.split())
    assert f"report from {rows:,} rows of 56 of this plan's 56 probe and fine-tuning nodes" in said
    page = html.read_text(encoding="utf-8")
    assert "Which intermediate task would cheap signals have picked?" in page  # the record's recommendation
    assert "Alignment and transfer" in page  # from the probe rows
    assert _listing(RECORD) == before  # the record is read, never written
    assert not (home / "results.sqlite").exists() and not any(home.glob("**/*.sqlite"))


def test_report_from_a_record_refuses_publish_and_a_folder_that_is_not_one(home, tmp_path):
    runner = CliRunner()
    both = runner.invoke(app, ["report", "--from", str(RECORD), "--publish", str(tmp_path / "p")])
    assert both.exit_code == 2 and "is a published record already" in " ".join(both.output.split())
    assert not (tmp_path / "p").exists()
    (tmp_path / "empty").mkdir()
    for cmd in (["report"], ["recommend", "--task", "xnli"], ["export"]):
        bad = runner.invoke(app, [*cmd, "--from", str(tmp_path / "empty")])
        assert bad.exit_code == 2, (cmd, bad.output)
        assert "not a published study record (no spec.yaml, no parts/)" in " ".join(bad.output.split())
    neither = runner.invoke(app, ["report"])
    assert neither.exit_code == 2 and "give a study spec (SPEC) or a published record (--from DIR)" in neither.output


def test_recommend_from_a_record_uses_the_signals_its_rows_hold(home, data_root, tmp_path):
    work = tmp_path / "record"
    shutil.copytree(RECORD, work)
    before = _listing(work)
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(app, ["recommend", "--from", str(work), "--task", "xnli", "--task", "udpos",
                                      "--data-root", str(data_root), "--json", str(out)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "alignment, proximity measured; skipped logme, hscore (needs the phase-2 encoders' features" in said
    rec = json.loads(out.read_text())
    assert set(rec["skipped"]) == {"logme", "hscore"}
    assert set(rec["signals"]) == {"alignment", "proximity", "combined"}
    # the runs that did not learn are left out, as in the report: the mnli and translated encoders
    # (every row built on them) and nusax-jav's seed-1 XNLI run; the record's saved recommendation,
    # computed with the encoders before that rule reached recommend, still ranks them
    assert said.startswith("left out, as in the report: 19 nodes of 3 run(s) that did not learn (mnli seed 1")
    saved = json.loads((RECORD / "recommend-xnli+udpos.json").read_text())
    kept = ["nusax-eng", "nusax-bug", "nusax-jav", "nusax-eng+mlm"]
    assert rec["candidates"] == kept and set(saved["candidates"]) - set(kept) == {"mnli", "xnli-sw"}
    # for those kept: the same alignment, proximity and gains as the published run, but where a run left out
    for target in rec["gains"]:
        for c in kept:
            assert rec["signals"]["alignment"][target][c] == saved["signals"]["alignment"][target][c]
            assert rec["signals"]["proximity"][target][c] == saved["signals"]["proximity"][target][c]
            same = rec["gains"][target][c] == saved["gains"][target][c]
            assert same != (c == "nusax-jav" and target.startswith("xnli:")), (target, c)
    for key in ("phase2_seconds", "grid_seconds", "grid_nodes"):
        assert rec[key] == saved[key], key
    # combined: the mean z-score of the two measured signals only
    assert rec["signals"]["combined"] != saved["signals"]["combined"]
    assert 0 < rec["signal_seconds"] < saved["signal_seconds"]  # probes only, no feature encoding
    assert _listing(work) == before  # the record is left as published
    assert not any(home.glob("**/recommend-*.json"))

    # the ranking alone, as JSON on standard output
    printed = CliRunner().invoke(app, ["recommend", "--from", str(work), "--task", "xnli", "--data-root",
                                       str(data_root), "--json", "-"])
    assert printed.exit_code == 0, printed.output
    only_xnli = json.loads(printed.stdout)
    assert sorted(only_xnli["gains"]) == sorted(t for t in saved["gains"] if t.startswith("xnli:"))
    assert "skipped logme, hscore" in " ".join(printed.stderr.split())


def test_recommend_from_a_record_names_a_target_it_lacks(home, data_root):
    result = CliRunner().invoke(app, ["recommend", "--from", str(RECORD), "--task", "tydiqa",
                                      "--data-root", str(data_root)])
    assert result.exit_code == 2 and "'tydiqa' is not a fine-tuned target" in result.output
