"""End-to-end fine-tuning on real English slices with a tiny random encoder; exact resume."""

import json

import pytest

from tests.tiny import hparams, tiny_encoder, tiny_tokenizer
from xstilts.recipes.finetune import drop_checkpoints, run_evaluate, run_finetune
from xstilts.store import ResultsStore
from xstilts.training import TrainingInterrupted

LANGS = ("en", "de", "sw")


@pytest.fixture
def tiny_dir(tmp_path, monkeypatch):
    """A tiny encoder + tokenizer saved as a transformers directory (like a phase-2 checkpoint)."""
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny-model"
    tiny_encoder().save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return str(path)


HP = hparams("xnli", max_steps=6, eval_every=2, lr=1e-3, batch_size=16, max_train_examples=64, max_dev_examples=40,
              max_eval_examples=50)


def finetune(model, data_root, tmp_path, out, **kw):
    return run_finetune(
        model, "xnli", HP, seed=3, out_dir=tmp_path / out, data_root=data_root, store_url=f"sqlite:///{tmp_path}/r.db",
        eval_langs=LANGS, progress=False, **kw)


def test_finetune_end_to_end_and_resume(tiny_dir, data_root, tmp_path):
    rows = finetune(tiny_dir, data_root, tmp_path, "a")
    assert {(r.language, r.metric) for r in rows} == {(lang, "accuracy") for lang in LANGS}
    assert all(0 <= r.value <= 100 and r.protocol["n_examples"] == 50 for r in rows)
    stored = ResultsStore(f"sqlite:///{tmp_path}/r.db").query(task="xnli")
    assert len(stored) == 3 and {r.model_hash for r in stored} == {rows[0].model_hash}
    config = json.loads((tmp_path / "a" / "finetune.json").read_text())
    assert config["train"]["max_steps"] == 6 and config["train_examples"] == 64 and config["result"]["step"] == 6
    learning = config["learning"]["xnli"]  # the English dev curve, against chance, and the selected score
    assert [s for s, _ in learning["curve"]] == [2, 4, 6] and learning["chance"] == pytest.approx(100 / 3)
    assert learning["selected_score"] == config["result"]["best_score"] == max(v for _, v in learning["curve"])
    assert (tmp_path / "a" / "predictions" / "xnli.sw.jsonl").is_file()
    # done: the selected weights stay, the optimizer state goes
    assert (tmp_path / "a" / "train" / "best" / "model.safetensors").is_file()
    assert not list((tmp_path / "a" / "train").glob("*last*"))

    # killed after step 3 (last checkpoint at step 2), then resumed: the same final numbers
    with pytest.raises(TrainingInterrupted):
        finetune(tiny_dir, data_root, tmp_path, "b", train_options={"stop_after_steps": 3})
    resumed = finetune(tiny_dir, data_root, tmp_path, "b", resume=True)
    assert [(r.language, r.value, r.model_hash) for r in resumed] == [(r.language, r.value, r.model_hash) for r in rows]

    # evaluating the saved checkpoint again gives the same rows (same keys: idempotent)
    again = run_evaluate(tmp_path / "a", data_root=data_root, store_url=f"sqlite:///{tmp_path}/r.db",
                         eval_langs=LANGS, max_eval_examples=50)
    assert [r.key() for r in again] == [r.key() for r in rows] and [r.value for r in again] == [r.value for r in rows]


def test_xcopa_trains_siqa_then_copa_and_scores_every_language(tiny_dir, data_root, tmp_path):
    hp = hparams("xcopa", max_steps=2, batch_size=4, max_train_examples=16, max_dev_examples=8, max_eval_examples=8)
    assert hp.grad_accum == 4 and hp.warmup_ratio == 0.0  # the rest of XTREME's train_xcopa.sh recipe
    rows = run_finetune(tiny_dir, "xcopa", hp, seed=1, out_dir=tmp_path / "x", data_root=data_root,
                        store_url=f"sqlite:///{tmp_path}/r.db", eval_langs=("et", "qu", "zh"), progress=False)
    assert {(r.language, r.metric, r.split) for r in rows} == {(lang, "accuracy", "test") for lang in ("et", "qu", "zh")}
    config = json.loads((tmp_path / "x" / "finetune.json").read_text())
    [siqa] = config["train_first"]
    assert siqa["sources"][0]["dataset"] == "siqa" and siqa["examples"] == 16
    first = [json.loads(line) for line in (tmp_path / "x" / "train-first-siqa" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in first if "loss" in r] == [1, 2]  # SIQA's stage ran, 4 micro-batches a step
    assert all(r["task_batches"] == {"train": 4} for r in first if "loss" in r)
    assert config["train_sources"][0]["dataset"] == "copa" and config["result"]["step"] == 2
    assert not list((tmp_path / "x" / "train-first-siqa").glob("*/model.safetensors"))  # its weights went on


@pytest.mark.parametrize("has_dev", [True, False])
def test_a_finished_run_keeps_its_selected_weights_and_no_optimizer_state(tmp_path, has_dev):
    import torch

    from xstilts.training.checkpoint import is_resumable, load_weights, save_checkpoint, save_weights

    model = torch.nn.Linear(3, 2)
    train_dir = tmp_path / "run" / "train"
    save_checkpoint(train_dir / "last", model, {"optimizer": {"big": torch.zeros(100)}}, {"step": 4})
    save_checkpoint(tmp_path / "run" / "train-first-siqa" / "last", model, {}, {"step": 2})
    if has_dev:
        (train_dir / "best").mkdir()
        save_weights(model, train_dir / "best")
        (train_dir / "best" / "meta.json").write_text("{}")
    drop_checkpoints(tmp_path / "run", keep_weights=True)
    assert not (tmp_path / "run" / "train-first-siqa" / "last").exists()
    kept = train_dir / ("best" if has_dev else "last")
    assert not list(tmp_path.glob("**/state.pt")) and (kept / "model.safetensors").is_file()
    assert (train_dir / "last").exists() != has_dev and not is_resumable(kept)
    load_weights(torch.nn.Linear(3, 2), kept)  # its checksums were written anew: still loads
    drop_checkpoints(tmp_path / "run", keep_weights=False)
    assert not list(tmp_path.glob("**/*.safetensors"))
