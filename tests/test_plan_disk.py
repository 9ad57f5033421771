"""Disk a plan keeps and a node holds at peak (orchestration/disk.py): parameter counts from models
built on the meta device, offline; the keep_finetuned switch; the totals `xstilts plan` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from xstilts.orchestration import disk
from xstilts.orchestration.plan import build_plan
from xstilts.orchestration.plan_view import render_plan
from xstilts.orchestration.spec import parse_spec

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SPEC = """\
name: toy
model: xlm-roberta-base
seeds: [1, 2]
intermediate_seeds: first  # one encoder serves both seeds
conditions:
  - {name: none, kind: none}
  - {name: en, kind: english, tasks: ["nusax:eng"]}
intermediate: {max_steps: 10}
targets:
  - {probe: tatoeba, langs: [jav]}
  - {task: udpos, langs: [yo]}
  - {task: xnli, langs: [sw]}
  - {task: lareqa, langs: [ar]}
finetune: {max_steps: 20}
"""


def _plan(tmp_path: Path, text: str = SPEC):
    return build_plan(parse_spec(text), data_root=tmp_path)  # no data there: versions stand in


def test_xlmr_parameter_counts_from_the_meta_model():
    """278,043,648 is XLM-R base's published count: it includes the pooler (768x768 + 768), which
    xstilts neither loads nor saves (add_pooling_layer=False), so the disk counts 277,453,056."""
    cfg = disk._xlmr_config(**disk.KNOWN_CONFIGS["xlm-roberta-base"])
    with_pooler = disk.meta_encoder(cfg, pooler=True)
    assert sum(p.numel() for p in with_pooler.parameters()) == 278_043_648
    assert next(with_pooler.parameters()).device.type == "meta"
    base = disk.model_size("xlm-roberta-base")
    assert base.params == 278_043_648 - (768 * 768 + 768) == 277_453_056
    assert base.embedding_params == 250002 * 768
    large = disk.model_size("xlm-roberta-large")
    assert large.params == 559_890_432 - (1024 * 1024 + 1024)  # published 559,890,432 with the pooler
    assert 4 * large.params < large.weights_bytes < 4 * large.params + 100_000  # + the safetensors header
    assert large.tokenizer_bytes == disk.XLMR_TOKENIZER_BYTES


def test_local_directory_and_me5_sizes_match_the_saved_files(tmp_path, tiny_model_dir, monkeypatch):
    """A local directory is sized from its config.json and tokenizer files; the size of
    model.safetensors is byte-exact for what save_pretrained writes."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_model_dir, add_pooling_layer=False)
    model.save_pretrained(tmp_path / "saved")
    size = disk.model_size(str(tiny_model_dir))
    assert size.params == sum(p.numel() for p in model.parameters())
    assert size.weights_bytes == (tmp_path / "saved" / "model.safetensors").stat().st_size
    assert size.tokenizer_bytes == sum(f.stat().st_size for f in tiny_model_dir.glob("tokenizer*"))
    # me5-small without its converted cache: the bundled file's header gives the same shape
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "no-cache"))
    disk._model.cache_clear()
    try:
        me5 = disk.model_size("me5-small")
        assert me5.params == 117_505_920 and "header" in me5.source
        assert not (tmp_path / "no-cache").exists()  # nothing converted
    finally:
        disk._model.cache_clear()


def test_unknown_hub_model_is_unknown_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(disk.DiskEstimateError, match="not in xstilts' table"):
        disk.model_size("nobody/no-such-model-xyz")
    plan = _plan(tmp_path, SPEC.replace("xlm-roberta-base", "nobody/no-such-model-xyz"))
    out = Console(width=200, record=True)
    out.print(render_plan(plan))
    assert "disk: unknown" in out.export_text()


def test_what_each_node_keeps_and_the_keep_finetuned_switch(tmp_path):
    plan = _plan(tmp_path)
    size = disk.model_size("xlm-roberta-base")
    off = disk.estimate(plan)
    on = disk.estimate(_plan(tmp_path, SPEC + "checkpoints: {keep_finetuned: true}\n"))
    assert not off.keep_finetuned and on.keep_finetuned  # read from the spec
    by_kind = lambda est, kind: [est.nodes[k] for k, n in plan.nodes.items() if n.kind == kind]  # noqa: E731
    assert [d.kept for d in by_kind(off, "intermediate")] == [size.encoder_bytes]
    assert all(d.kept == 0 and d.peak == 0 for d in by_kind(off, "probe"))
    assert all(d.kept == 0 and d.peak > 2 * size.weights_bytes for d in by_kind(off, "finetune"))
    assert off.kept == size.encoder_bytes

    # keep_finetuned adds each run's weights: best/ (encoder + its head) where the task has a dev
    # set; lareqa has none, so drop_checkpoints keeps last/ without AdamW's two moments
    finetunes = {k: n for k, n in plan.nodes.items() if n.kind == "finetune"}
    assert len(finetunes) == 3 * 2 * 2
    on = disk.estimate(plan, keep_finetuned=True)
    heads = {"udpos": 768 * 17 + 17, "xnli": 768 * 768 + 768 + 768 * 3 + 3, "lareqa": 0}
    expected = 0
    for k, n in finetunes.items():
        params = size.params + heads[n.config["task"]]
        # best/, or (lareqa: no dev set) last/ without its optimizer state: the weights alone
        assert on.nodes[k].what == "weights"
        assert abs(on.nodes[k].kept - 4 * params) < 100_000  # + the header and small files
        expected += on.nodes[k].kept
    assert on.kept - off.kept == expected
    assert abs(expected - 4 * 4 * size.params * 3) < 4 * 4 * size.params * 0.01  # 4 runs of each of 3 tasks
    assert on.peak == off.peak  # the switch changes what stays, not what a run holds


def test_frozen_embeddings_shrink_the_peak_not_what_is_kept(tmp_path):
    frozen = _plan(tmp_path, SPEC.replace("finetune: {max_steps: 20}",
                                          "finetune: {max_steps: 20, freeze_embeddings: true}"))
    plain, cold = disk.estimate(_plan(tmp_path)), disk.estimate(frozen)
    size = disk.model_size("xlm-roberta-base")
    xnli = lambda p, est: next(est.nodes[k] for k, n in p.nodes.items() if n.config.get("task") == "xnli")  # noqa: E731
    # last/ is written twice at peak: each copy loses the embeddings' two AdamW moments
    assert xnli(_plan(tmp_path), plain).peak - xnli(frozen, cold).peak == 2 * 2 * 4 * size.embedding_params


def test_cli_plan_prints_the_disk_total(data_root, tmp_path, monkeypatch):
    from xstilts.cli import app

    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["plan", str(EXPERIMENTS / "full.yaml"), "--data-root", str(data_root),
                                      "--model", "xlm-roberta-large"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "base encoder xlm-roberta-large" in result.output
    size = disk.model_size("xlm-roberta-large")
    line = next(line for line in result.output.splitlines() if line.startswith("disk: "))
    assert line.startswith(f"disk: 17 encoders × {disk.fmt_bytes(size.encoder_bytes)} = "
                           f"{disk.fmt_bytes(17 * size.encoder_bytes)} kept, phase-3 weights not kept")
    assert "peak per running node" in line
    assert f"keeps {disk.fmt_bytes(size.encoder_bytes)}" in result.output and "keeps preds" in result.output
