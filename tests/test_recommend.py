"""`xstilts recommend` on a finished tiny study: a ranking from signals measured without
fine-tuning, checked against the study's own gains."""

from __future__ import annotations

import gzip
import json
import math

from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.store import ResultsStore

SPEC = """\
name: tiny-recommend
model: {model}
seeds: [1]
conditions:
  - {{name: none, kind: none}}
  - {{name: nusax-eng, kind: english, tasks: ["nusax:eng"], pair: nusax}}
  - {{name: nusax-bug, kind: low-resource, tasks: ["nusax:bug"], pair: nusax}}
  - {{name: nusax-jav, kind: low-resource, tasks: ["nusax:jav"], pair: nusax}}
intermediate: {{max_steps: 8, batch_size: 4, max_length: 32, max_train_examples: 32, lr: 0.005}}
targets:
  - {{probe: flores, langs: [bug_Latn, ban_Latn], layers: [1, 2], max_sentences: 30}}
  - {{task: udpos, langs: [en, yo, te, ta]}}
  - {{task: xnli, langs: [en, sw, ur]}}
finetune: {{max_steps: 8, batch_size: 4, max_length: 32, max_train_examples: 32, max_eval_examples: 30, lr: 0.005}}
"""


def test_recommend_ranks_the_conditions_and_checks_itself(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    # the smoke budget: nothing learns in it, so its runs are kept (outside smoke, runs that did not
    # learn are left out, as tests/test_study_record.py checks on the committed study)
    common = ["--data-root", str(data_root), "--store", f"sqlite:///{tmp_path / 'r.sqlite'}", "--smoke"]
    runner = CliRunner()
    ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")  # a store that exists, with no phase-2 encoder in it
    early = runner.invoke(app, ["recommend", str(spec), "--task", "udpos", *common])
    assert early.exit_code == 2 and "are not done yet: run `xstilts run" in early.output
    ran = runner.invoke(app, ["run", str(spec), *common, "--work-dir", str(tmp_path / "w"),
                              "--html", str(tmp_path / "r.html")])
    assert ran.exit_code == 0, ran.output

    out = tmp_path / "rec.json"
    result = runner.invoke(app, ["recommend", str(spec), "--task", "udpos", "--task", "xnli", *common,
                                 "--work-dir", str(tmp_path / "w"), "--json", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rec = json.loads(out.read_text())
    assert rec["candidates"] == ["nusax-eng", "nusax-bug", "nusax-jav"]
    # targets are task:language, each task's non-English languages
    assert set(rec["gains"]) == {"udpos:yo", "udpos:te", "udpos:ta", "xnli:sw", "xnli:ur"}
    for signal in ("alignment", "logme", "hscore", "proximity", "combined"):
        assert all(math.isfinite(v) for target in rec["signals"][signal].values() for v in target.values())
    # LogME is per task (a tagging task's over labelled tokens), the same for each of its languages
    assert rec["signals"]["logme"]["udpos:yo"] == rec["signals"]["logme"]["udpos:te"]
    assert rec["signals"]["logme"]["udpos:yo"] != rec["signals"]["logme"]["xnli:sw"]
    # proximity: Buginese is not Yoruba but shares its script
    assert rec["signals"]["proximity"]["udpos:yo"] == {"nusax-eng": 0.5, "nusax-bug": 0.5, "nusax-jav": 0.5}
    # only a whole task left out is held out: a language shares its task's fine-tuning runs
    assert set(rec["validation"]) == {"alignment", "logme", "hscore", "proximity", "combined",
                                      "fitted (leave one task out)"}
    for name, v in rec["validation"].items():
        assert 0 <= v["ndcg@3"] <= 1 and v["regret@1"] >= v["regret@3"] == 0 and v["targets"] == 5
        assert -1 <= v["spearman"] <= 1  # ties score their expectation: a constant signal is 0, not n/a
        assert all(0 < p <= 1 for p in rec["p"][name].values())
    # proximity is constant here (no candidate trains in a target language, all share its script):
    # it scores exactly what a random ranking scores on average
    assert {m: rec["validation"]["proximity"][m] for m in rec["random"]} == rec["random"]
    # and is never significant (3 candidates: a coarse distribution, so p sits near, not at, a half)
    assert min(rec["p"]["proximity"].values()) > 0.3 and rec["draws"] == 10_000
    # one seed: the gains' reproducibility cannot be measured, and the output says so
    assert rec["ceiling"] == {"units": 1}
    assert rec["unit_gains"]["udpos:yo"]["nusax-bug"] == {"1": rec["gains"]["udpos:yo"]["nusax-bug"]}
    assert "cannot be measured: this check is uninformative" in " ".join(result.output.split())
    assert "random ranking (mean)" in result.output and "noise ceiling (seed halves)" in result.output
    # no condition trains on English UD or MNLI: nothing skipped, 500 sentence pairs for XNLI
    assert rec["features"]["xnli"] == {"examples": 500, "skipped": 0}
    assert rec["grid_seconds"] > 0 and rec["signal_seconds"] > 0 and rec["phase2_seconds"] > 0
    assert rec["grid_nodes"] == 8  # 4 conditions x 2 tasks x 1 seed
    assert "Does the ranking predict the study's gains?" in result.output and "cost: phase 2" in result.output
    saved = tmp_path / "w" / "recommend-udpos+xnli.json"
    assert json.loads(saved.read_text()) == rec

    # the report shows it, and --publish writes the study's record
    pub = tmp_path / "pub"
    reported = runner.invoke(app, ["report", str(spec), *common, "--work-dir", str(tmp_path / "w"),
                                   "--publish", str(pub)])
    assert reported.exit_code == 0, reported.output
    page = (tmp_path / "w" / "report.html").read_text(encoding="utf-8")
    assert "Which intermediate task would cheap signals have picked?" in page and "leave one task out" in page
    assert "noise ceiling (seed halves)" in page and "this check is uninformative" in page
    assert sorted(p.name for p in pub.iterdir()) == ["environment.json", "nodes.json", "recommend-udpos+xnli.json",
                                                     "report.html", "rows.json.gz", "spec.effective.yaml", "spec.yaml"]
    rows = json.loads(gzip.decompress((pub / "rows.json.gz").read_bytes()))
    nodes = json.loads((pub / "nodes.json").read_text())
    assert {r["protocol"]["node"] for r in rows} <= {n["key"] for n in nodes}
    assert all(n["status"] == "done" and n["seconds"] > 0 for n in nodes)
    env = json.loads((pub / "environment.json").read_text())
    assert env["packages"]["torch"] and env["cores"] >= 1 and env["rows_from"]["model_hash"]

    bad = runner.invoke(app, ["recommend", str(spec), "--task", "tydiqa", *common])
    assert bad.exit_code == 2 and "'tydiqa' is not a fine-tuned target" in bad.output
