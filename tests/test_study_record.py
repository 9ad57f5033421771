"""The committed record of the powered study (results/lowres-vs-english, five parts) says what
README's Findings say: its primary comparison is recomputed here from the raw rows and nodes with
code that shares nothing with the engine (json, numpy, scipy), and `report --from` must print
the same verdict, interval and power. If the engine's arithmetic drifted, or the record were
edited, these fail."""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from xstilts.cli import app

RECORD = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english"
LOW, ENGLISH, MARGIN, ALPHA = ("nusax-bug", "nusax-mad", "nusax-bjn"), "nusax-eng", 1.0, 0.05


def _parts() -> list[Path]:
    return sorted((RECORD / "parts").iterdir())


def _nodes() -> list[dict]:
    return [n for part in _parts() for n in json.loads((part / "nodes.json").read_text())]


def _not_learned() -> set[tuple[str, int]]:
    """(condition, phase-2 seed) of every phase-2 run whose own-task record says it did not learn."""
    return {(n["meta"]["condition"], n["config"]["seed"]) for n in _nodes() if n["kind"] == "intermediate"
            and not all(v["learned"] for v in n["outputs"]["learning"].values())}


def _probe_scores() -> dict[tuple[str, int], float]:
    """(condition, seed) -> mean of Tatoeba (mean over its rows: 41 languages, English queries, one
    layer) and FLORES (mean over languages, both directions and every layer)."""
    values: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for part in _parts():
        with gzip.open(part / "rows.json.gz", "rt") as f:
            for r in json.load(f):
                if r["task"] in ("tatoeba", "flores") and r["condition"] != "none":
                    values[(r["condition"], r["seed"], r["task"])].append(r["value"])
    out = {}
    for (cond, seed, _task), vals in values.items():
        out.setdefault((cond, seed), []).append(float(np.mean(vals)))
    return {k: float(np.mean(v)) for k, v in out.items() if len(v) == 2}


def _primary() -> dict:
    scores, dropped = _probe_scores(), _not_learned()
    diffs = {}
    for seed in range(1, 6):
        if any((c, seed) in dropped for c in (*LOW, ENGLISH)):
            continue  # a side's mean is over all its conditions, so a unit missing one is left out
        diffs[seed] = np.mean([scores[(c, seed)] for c in LOW]) - scores[(ENGLISH, seed)]
    d = np.array(list(diffs.values()))
    n, mean, sd = len(d), float(d.mean()), float(d.std(ddof=1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    crit, nc = stats.t.ppf(1 - ALPHA / 2, n - 1), MARGIN / sd * math.sqrt(n)
    power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    return {"units": sorted(diffs), "mean": mean, "sd": sd, "ci": (mean - half, mean + half),
            "p": float(stats.ttest_1samp(d, 0.0).pvalue), "power": float(power)}


def test_the_record_holds_five_phase2_seeds_per_condition_and_their_learning_table():
    runs = [n for n in _nodes() if n["kind"] == "intermediate"]
    per = defaultdict(set)
    for n in runs:
        per[n["meta"]["condition"]].add(n["config"]["seed"])
        assert n["status"] == "done" and n["outputs"]["learning"], n["label"]
    assert per == {c: {1, 2, 3, 4, 5} for c in (ENGLISH, *LOW)}
    assert _not_learned() == {("nusax-bug", 4)}  # the one run README names as not learning
    codes = {n["outputs"]["code"] for n in _nodes()}
    assert len(codes) == 1  # every node of every part ran one version of the code


def test_report_from_the_record_prints_the_recomputed_primary_verdict_and_power(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    expected = _primary()
    assert expected["units"] == [1, 2, 3, 5]
    assert expected["p"] < ALPHA and expected["ci"][0] > MARGIN  # README: different, low-resource higher
    result = CliRunner().invoke(app, ["report", "--from", str(RECORD), "--data-root", str(data_root),
                                      "--html", str(tmp_path / "r.html")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    answer = " ".join(result.output.split("\n")[0:3])
    lo, hi = expected["ci"]
    assert (f"low-resource − nusax-eng on tatoeba+flores (score): {expected['mean']:+.2f} points "
            f"[{lo:+.2f}, {hi:+.2f}], different: low-resource higher") in answer, answer
    assert f"4 units, power {expected['power']:.0%} for ±1)" in answer, answer
    assert "unit 4 left out" in result.output
    assert "5 parts, merged" in result.output


def test_a_new_user_reporting_the_spec_is_sent_to_the_record(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))  # no store: nothing was run here
    monkeypatch.chdir(tmp_path)
    spec = RECORD.parents[1] / "experiments" / "lowres-vs-english.yaml"
    result = CliRunner().invoke(app, ["report", str(spec), "--data-root", str(data_root)], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    assert "no results store" in result.output
    shown = result.output.split("`xstilts report --from ")[1].split("`")[0]
    assert (tmp_path / shown).resolve() == RECORD


def _udpos_gain(condition: str, seeds: set[int]) -> float:
    """Zero-shot UD-POS F1 gain over the untrained encoder, mean over languages (English out) of
    the mean over SEEDS, from the raw rows."""
    f1: dict[tuple[str, int, str], float] = {}
    for part in _parts():
        with gzip.open(part / "rows.json.gz", "rt") as f:
            for r in json.load(f):
                if r["task"] == "udpos" and r["metric"] == "f1" and r["language"] != "en":
                    f1[(r["condition"], r["seed"], r["language"])] = r["value"]
    langs = sorted({lang for (_c, _s, lang) in f1})
    return float(np.mean([np.mean([f1[(condition, s, lang)] - f1[("none", s, lang)] for s in seeds])
                          for lang in langs]))


def test_recommend_from_the_record_leaves_out_the_run_that_did_not_learn(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    out = tmp_path / "rec.json"
    result = CliRunner().invoke(app, ["recommend", "--from", str(RECORD), "--task", "udpos", "--json", str(out),
                                      "--data-root", str(data_root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "nusax-bug seed 4" in result.output.split("\n")[0]
    rec = json.loads(out.read_text())
    gain = float(np.mean([g["nusax-bug"] for g in rec["gains"].values()]))
    assert gain == pytest.approx(_udpos_gain("nusax-bug", {1, 2, 3, 5}), abs=1e-6)
    assert abs(gain - _udpos_gain("nusax-bug", {1, 2, 3, 4, 5})) > 0.1  # the collapsed encoder would move it
    assert all("4" not in g["nusax-bug"] for g in rec["unit_gains"].values())
    assert rec["ceiling"]["units"] == 4  # the noise ceiling splits only the units every candidate has
    # UD's ar and zh are Tatoeba's ara and cmn (macrolanguage and individual codes matched): their
    # alignment signal is that language's Tatoeba gain, not the all-languages fallback
    for ud, tatoeba in (("ar", "ara"), ("zh", "cmn")):
        assert rec["signals"]["alignment"][f"udpos:{ud}"]["nusax-eng"] == pytest.approx(_tatoeba_gain(tatoeba))


def _tatoeba_gain(lang: str) -> float:
    """nusax-eng's Tatoeba accuracy on LANG minus the untrained encoder's, mean over its seeds."""
    values: dict[str, list[float]] = defaultdict(list)
    for part in _parts():
        with gzip.open(part / "rows.json.gz", "rt") as f:
            for r in json.load(f):
                if r["task"] == "tatoeba" and r["language"] == lang and r["condition"] in ("none", ENGLISH):
                    values[r["condition"]].append(r["value"])
    assert len(values["none"]) == 1 and len(values[ENGLISH]) == 5
    return float(np.mean(values[ENGLISH]) - values["none"][0])
