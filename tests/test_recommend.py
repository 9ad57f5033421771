"""`xstilts recommend` on a finished tiny study: a ranking from signals measured without
fine-tuning, checked against the study's own gains."""

from __future__ import annotations

import json
import math

from typer.testing import CliRunner

from xstilts.cli import app

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
finetune: {{max_steps: 8, batch_size: 4, max_length: 32, max_train_examples: 32, max_eval_examples: 30, lr: 0.005}}
"""


def test_recommend_ranks_the_conditions_and_checks_itself(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    common = ["--data-root", str(data_root), "--store", f"sqlite:///{tmp_path / 'r.sqlite'}"]
    runner = CliRunner()
    early = runner.invoke(app, ["recommend", str(spec), "--task", "udpos", *common])
    assert early.exit_code == 2 and "are not done yet: run `xstilts run" in early.output
    ran = runner.invoke(app, ["run", str(spec), *common, "--work-dir", str(tmp_path / "w"),
                              "--html", str(tmp_path / "r.html")])
    assert ran.exit_code == 0, ran.output

    out = tmp_path / "rec.json"
    result = runner.invoke(app, ["recommend", str(spec), "--task", "udpos", *common, "--json", str(out)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rec = json.loads(out.read_text())
    assert rec["candidates"] == ["nusax-eng", "nusax-bug", "nusax-jav"]
    assert set(rec["gains"]) == {"yo", "te", "ta"}  # the target's non-English languages
    for signal in ("alignment", "logme", "hscore", "proximity", "combined"):
        assert all(math.isfinite(v) for lang in rec["signals"][signal].values() for v in lang.values())
    # a tagging target's LogME is over labelled tokens; proximity: Buginese is not Yoruba but shares its script
    assert rec["signals"]["proximity"]["yo"] == {"nusax-eng": 0.5, "nusax-bug": 0.5, "nusax-jav": 0.5}
    for name in ("alignment", "logme", "combined", "fitted (leave-one-out)"):
        v = rec["validation"][name]
        assert -1 <= v["spearman"] <= 1 and 0 <= v["ndcg@3"] <= 1 and v["regret@1"] >= v["regret@3"] == 0
        assert v["languages"] == 3
    assert rec["grid_seconds"] > 0 and rec["signal_seconds"] > 0
    assert "Does the ranking predict the study's gains?" in result.output and "cost: signals" in result.output
    bad = runner.invoke(app, ["recommend", str(spec), "--task", "xnli", *common])
    assert bad.exit_code == 2 and "'xnli' is not a fine-tuned target" in bad.output
