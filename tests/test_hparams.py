"""One resolver for hyper-parameters, and every field changes the run it resolves for."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
import torch

from tests.tiny import hparams
from xstilts.recipes.finetune import run_finetune
from xstilts.training.hparams import HParams, HParamsError, resolve
from xstilts.training.hparams import Train
from xstilts.models.encoders import load_encoder
from xstilts.tasks import Recipe

RECIPE = Recipe(lr=2e-5, batch_size=32, epochs=3, max_length=128, warmup_ratio=0.1, weight_decay=0.01)


def test_layers_override_in_order_and_length_is_one_choice():
    hp = resolve(RECIPE, Train(lr=1e-4, max_steps=50), Train(batch_size=8))
    assert (hp.lr, hp.batch_size, hp.max_steps, hp.epochs, hp.max_length) == (1e-4, 8, 50, None, 128)
    hp = resolve(RECIPE, Train(max_steps=50), Train(epochs=2))  # a later epochs replaces an inherited max_steps
    assert (hp.max_steps, hp.epochs) == (None, 2)
    assert resolve(RECIPE).max_dev_examples == 1000 and resolve(RECIPE, phase="intermediate").max_dev_examples is None


@pytest.mark.parametrize("layer, phase, field", [
    (Train(max_steps=5, epochs=1), "finetune", "epochs"),
    (Train(until=50), "finetune", "until"),
    (Train(max_eval_examples=5), "intermediate", "max_eval_examples"),
])
def test_settings_no_run_can_honour_are_refused(layer, phase, field):
    with pytest.raises(HParamsError) as info:
        resolve(RECIPE, layer, phase=phase)
    assert info.value.field == field


BASE = dict(max_steps=4, lr=1e-3, batch_size=8, max_length=64, max_train_examples=32, eval_every=4,
            max_dev_examples=20, max_eval_examples=10, warmup_ratio=0.0)
CHANGES = {  # field -> a different value
    "max_steps": 6, "epochs": 2, "lr": 5e-4, "warmup_ratio": 0.5, "batch_size": 4, "grad_accum": 2,
    "max_length": 16, "freeze_embeddings": True, "eval_every": 2, "max_train_examples": 16,
    "max_dev_examples": 8, "max_eval_examples": 5, "weight_decay": 0.5,
}


def _observe(model_dir, data_root, tmp_path, name, **hp_fields):
    """Everything a field can change: the effective config, the per-step log, the rows, the encoder."""
    out = tmp_path / name
    fields = {**BASE, **hp_fields}
    if "epochs" in hp_fields:
        fields.pop("max_steps")
    rows = run_finetune(str(model_dir), "xnli", hparams("xnli", **fields), seed=1, out_dir=out, data_root=data_root,
                        store_url=f"sqlite:///{tmp_path}/r.db", eval_langs=["en", "de"], progress=False)
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    config = json.loads((out / "finetune.json").read_text())
    emb = load_encoder(str(model_dir)).model.get_input_embeddings().weight
    return {
        "steps": [r["step"] for r in log if "loss" in r],
        "lr": [round(r["lr"], 12) for r in log if "loss" in r],
        "tokens": [r["tokens"] for r in log if "loss" in r],
        "batches": [r["task_batches"] for r in log if "loss" in r],
        "evals": [r["step"] for r in log if "eval" in r],
        "dev_n": [r["eval"] for r in log if "eval" in r][-1],
        "n_eval": sorted({r.protocol["n_examples"] for r in rows}),
        "train_examples": config["train_examples"],
        "hparams": config["hparams"],
        "rows_hparams": rows[0].protocol["hparams"],
        "emb": emb, "values": [r.value for r in rows],
    }


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_every_field_changes_the_run(field, tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    base = _observe(tiny_model_dir, data_root, tmp_path, "base")
    changed = _observe(tiny_model_dir, data_root, tmp_path, "changed", **{field: CHANGES[field]})
    assert changed["hparams"][field] == CHANGES[field] == changed["rows_hparams"][field]  # recorded everywhere
    observable = {
        "max_steps": "steps", "epochs": "steps", "lr": "lr", "warmup_ratio": "lr", "batch_size": "tokens",
        "grad_accum": "batches", "max_length": "tokens", "eval_every": "evals", "max_train_examples": "train_examples",
        "max_dev_examples": "dev_n", "max_eval_examples": "n_eval", "weight_decay": "values",
    }
    if field == "freeze_embeddings":  # the trained model's embeddings moved in one run and not in the other
        from safetensors.torch import load_file
        base_w = load_file(str(tmp_path / "base" / "train" / "best" / "model.safetensors"))
        frozen_w = load_file(str(tmp_path / "changed" / "train" / "best" / "model.safetensors"))
        key = "encoder.embeddings.word_embeddings.weight"
        assert torch.equal(frozen_w[key], base["emb"]) and not torch.equal(base_w[key], base["emb"])
        return
    if field == "weight_decay":  # decay changes the trained weights, and so the head's scores
        from safetensors.torch import load_file
        a = load_file(str(tmp_path / "base" / "train" / "best" / "model.safetensors"))
        b = load_file(str(tmp_path / "changed" / "train" / "best" / "model.safetensors"))
        assert any(not torch.equal(a[k], b[k]) for k in a)
        return
    key = observable[field]
    assert base[key] != changed[key], (field, base[key], changed[key])


def test_every_form_of_a_hyper_parameter_derives_from_its_one_declaration():
    """HParams declares each hyper-parameter once; the spec's layer, a task file's recipe, the
    `finetune` command's options and the loop's config are derived, bounds and help included."""
    from typer.testing import CliRunner

    from xstilts.cli import app
    from xstilts.tasks.user import RecipeFields
    from xstilts.training.config import TrainConfig, train_config
    from xstilts.cli_tools import hparam_options as cli_options
    from xstilts.training.hparams import (FINETUNE_ONLY, INTERMEDIATE_ONLY, RECIPE_FIELDS, HParams, LoopHParams,
                                          Train)

    assert list(Train.model_fields) == list(HParams.model_fields)
    assert all(Train.model_fields[n].default is None for n in Train.model_fields)
    assert list(RecipeFields.model_fields) == list(RECIPE_FIELDS)
    assert (FINETUNE_ONLY, INTERMEDIATE_ONLY) == (("max_eval_examples",), ("until",))
    for bad in ({"warmup_ratio": 1.0}, {"until": 0}, {"lr": -1}):  # HParams' bounds hold in every layer
        with pytest.raises(ValidationError):
            Train(**bad)
        with pytest.raises(ValidationError):
            HParams(max_length=8, max_steps=1, **bad)
    with pytest.raises(ValidationError):
        RecipeFields(warmup_ratio=2.0)
    assert [p.name for p in cli_options("finetune")] == [n for n in HParams.model_fields if n not in INTERMEDIATE_ONLY]
    shown = CliRunner().invoke(app, ["finetune", "--help"], env={"COLUMNS": "200"}).output
    assert "--weight-decay" in shown and "AdamW weight decay" in shown and "--until" not in shown
    bad = CliRunner().invoke(app, ["finetune", "--task", "udpos", "--warmup-ratio", "1.5"])
    assert bad.exit_code == 2 and "--warmup-ratio: Input should be less than 1" in bad.output  # bad input, one line
    assert set(LoopHParams.model_fields) <= set(TrainConfig.model_fields)
    hp = HParams(lr=3e-4, batch_size=4, grad_accum=2, max_steps=7, warmup_ratio=0.2, weight_decay=0.1, max_length=16,
                 freeze_embeddings=True, gradient_checkpointing=True)
    cfg = train_config(hp, seed=3, progress=False)
    assert {n: getattr(cfg, n) for n in LoopHParams.model_fields} == {n: getattr(hp, n) for n in LoopHParams.model_fields}


def test_a_hyper_parameter_added_later_is_one_field_and_keeps_every_earlier_key(tmp_path, data_root):
    """max_grad_norm was the loop's own setting; declared in LoopHParams (marked ADDED) it is a spec
    field, a CLI option and the loop's value, and a node at its default keeps the key it had."""
    from xstilts.orchestration.plan import build_plan
    from xstilts.orchestration.spec import parse_spec
    from xstilts.training.config import train_config
    from xstilts.cli_tools import hparam_options as cli_options

    assert "max_grad_norm" in {p.name for p in cli_options("finetune")}
    hp = resolve(RECIPE, Train(max_steps=5, max_grad_norm=0.5))
    assert train_config(hp, seed=0, progress=False).max_grad_norm == 0.5
    default = resolve(RECIPE, Train(max_steps=5))
    assert "max_grad_norm" in hp.node_config() and "max_grad_norm" not in default.node_config()
    # rows record it when set too; those of a node at its default keep their keys (gradient_checkpointing
    # and until, added when rows recorded every field, are recorded always)
    assert "max_grad_norm" in hp.recorded() and set(default.recorded()) == set(HParams.model_fields) - {"max_grad_norm"}
    text = "name: g\nconditions:\n  - {name: none, kind: none}\ntargets:\n  - {task: udpos, langs: [yo]%s}\n"
    keys = [{n.key for n in build_plan(parse_spec(text % extra), data_root=data_root).nodes.values()}
            for extra in ("", ", train: {max_grad_norm: 1.0}", ", train: {max_grad_norm: 0.5}")]
    assert keys[0] == keys[1] != keys[2]  # at its default the key is the one it had before the field existed
