"""The training loop: learns a toy problem, resumes exactly, stops on NaN, samples tasks, predicts."""

import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.tiny import tiny_encoder
from xstilts.models.heads import HeadSpec, TaskModel, task_model
from xstilts.training import (
    Collator,
    MLMCollator,
    NonFiniteLossError,
    TrainConfig,
    TrainingInterrupted,
    predict,
    task_probabilities,
    train,
)
from xstilts.training.sampling import TaskSampler


def toy(n: int, seed: int = 0) -> list[dict]:
    """Label 1 iff token 7 occurs: learnable by a 2-layer encoder in a few dozen steps."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = [rng.randrange(8, 40) for _ in range(rng.randrange(3, 12))]
        if i % 2:
            body[rng.randrange(len(body))] = 7
        out.append({"input_ids": [0, *body, 2], "labels": i % 2})
    return out


def cls_model(seed: int = 0) -> TaskModel:
    model = task_model(tiny_encoder(seed=seed), "classification", num_labels=2)
    return model


def config(**kw) -> TrainConfig:
    base = dict(lr=1e-3, batch_size=8, max_steps=8, warmup_ratio=0.1, progress=False)
    return TrainConfig(**{**base, **kw})


def log_lines(out_dir):
    return [json.loads(l) for l in (out_dir / "log.jsonl").read_text().splitlines()]


def test_config_rejects_unknown_and_ambiguous_length():
    with pytest.raises(ValueError):
        TrainConfig(max_steps=3, learning_rate=1e-3)
    with pytest.raises(ValueError):
        TrainConfig(max_steps=3, epochs=1)


def test_learns_toy_problem_and_keeps_best(tmp_path):
    data, held_out = toy(256), toy(64, seed=1)
    collate = Collator(pad_id=1)

    def accuracy(model):
        logits = predict(model, held_out, collate, batch_size=32)["logits"]
        acc = float((logits.argmax(-1) == np.array([f["labels"] for f in held_out])).mean())
        return acc, {"accuracy": acc}

    model = cls_model()
    result = train(model, data, config=config(lr=3e-3, max_steps=60, eval_every=20, save_every=30),
                   collate=collate, eval_fn=accuracy, out_dir=tmp_path)
    steps = [r for r in log_lines(tmp_path) if "loss" in r]
    assert len(steps) == 60 and all(r["tokens"] > 0 for r in steps)
    first, last = np.mean([r["loss"] for r in steps[:10]]), np.mean([r["loss"] for r in steps[-10:]])
    assert last < first * 0.6, (first, last)
    assert result.best_score >= 0.8
    best = json.loads((tmp_path / "best" / "meta.json").read_text())
    assert best["score"] == result.best_score
    saved = load_file(tmp_path / "best" / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())  # ended on the best weights
    meta = json.loads((tmp_path / "last" / "meta.json").read_text())
    assert meta["step"] == 60 and meta["config"]["lr"] == 3e-3 and meta["config"]["total_steps"] == 60


def _multi_setup():
    torch.manual_seed(0)
    model = TaskModel(tiny_encoder(), {"cls": HeadSpec("classification", 2), "mlm": HeadSpec("mlm")})
    feats = {"cls": toy(40), "mlm": [{"input_ids": f["input_ids"]} for f in toy(24, seed=2)]}
    collate = {"cls": Collator(pad_id=1, pad_to_multiple_of=8),
               "mlm": MLMCollator(Collator(pad_id=1), mask_token_id=4, vocab_size=300, special_ids=[0, 1, 2])}
    return model, feats, collate


@pytest.mark.parametrize("multi", [False, True])
def test_resume_is_exact(tmp_path, multi):
    """Killed after step 5 with the last checkpoint at step 3, then resumed: same weights as
    an uninterrupted run (dropout, MLM masking, both samplers and AdamW all restored)."""
    kw = dict(max_steps=8, save_every=3, grad_accum=2, batch_size=4)

    def setup():
        if multi:
            return _multi_setup()
        return cls_model(), toy(40), None

    model, feats, collate = setup()
    train(model, feats, config=config(**kw), collate=collate, out_dir=tmp_path / "a")
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    model, feats, collate = setup()
    with pytest.raises(TrainingInterrupted):
        train(model, feats, config=config(**kw, stop_after_steps=5), collate=collate, out_dir=tmp_path / "b")
    model, feats, collate = setup()  # a fresh process: new model, new RNG
    torch.manual_seed(12345)
    result = train(model, feats, config=config(**kw), collate=collate, out_dir=tmp_path / "b", resume=True)
    assert result.step == 8
    for k, v in model.state_dict().items():
        assert torch.equal(v, expected[k]), k
    steps = [r["step"] for r in log_lines(tmp_path / "b")]
    assert steps == list(range(1, 9))  # steps redone after the kill are logged once
    if multi:
        assert all(set(r["task_loss"]) <= {"cls", "mlm"} for r in log_lines(tmp_path / "b"))


def test_resume_refuses_a_changed_config(tmp_path):
    train(cls_model(), toy(16), config=config(max_steps=2), out_dir=tmp_path)
    with pytest.raises(Exception, match="lr"):
        train(cls_model(), toy(16), config=config(max_steps=2, lr=1e-2), out_dir=tmp_path, resume=True)


class NaNAfter(torch.nn.Module):
    """Wraps a model; its loss turns NaN from the n-th forward on."""

    def __init__(self, inner, n):
        super().__init__()
        self.inner, self.n, self.calls = inner, n, 0

    def forward(self, **batch):
        self.calls += 1
        out = self.inner(**batch)
        return {**out, "loss": out["loss"] * (float("nan") if self.calls >= self.n else 1.0)}


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = NaNAfter(cls_model(), n=5)
    with pytest.raises(NonFiniteLossError, match="step 5") as err:
        train(model, toy(40), config=config(max_steps=8, save_every=2, batch_size=4), collate=Collator(pad_id=1),
              out_dir=tmp_path)
    assert "last" in str(err.value)
    meta = json.loads((tmp_path / "last" / "meta.json").read_text())
    assert meta["step"] == 4
    weights = load_file(tmp_path / "last" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no update with NaN grads


def test_task_sampling_proportions():
    sizes = {"a": 9000, "b": 1000, "c": 100}
    assert task_probabilities(sizes)["a"] == pytest.approx(0.9 * 10000 / 10100)
    capped = task_probabilities(sizes, cap=1000)
    assert capped["a"] == capped["b"] == pytest.approx(1000 / 2100)
    flat = task_probabilities(sizes, "temperature", temperature=2.0)
    assert flat["a"] / flat["b"] == pytest.approx(3.0)
    sampler = TaskSampler(capped, seed=0)
    draws = [sampler.pick() for _ in range(4000)]
    assert abs(draws.count("c") / 4000 - 100 / 2100) < 0.015
    again = TaskSampler(capped, seed=0)
    assert [again.pick() for _ in range(50)] == draws[:50]


def test_fixed_task_shares_leave_the_rest_to_the_rule():
    sizes = {"mlm": 9000, "a": 300, "b": 100}
    p = task_probabilities(sizes, fixed={"mlm": 0.5})
    assert p["mlm"] == 0.5 and p["a"] == pytest.approx(0.375) and p["b"] == pytest.approx(0.125)
    with pytest.raises(ValueError, match="leave"):
        task_probabilities({"mlm": 10}, fixed={"mlm": 0.5})  # nothing to take the other half


def test_multitask_logs_per_task_loss_and_freezes_embeddings(tmp_path):
    model, feats, collate = _multi_setup()
    before = model.encoder.get_input_embeddings().weight.clone()
    train(model, feats, config=config(max_steps=6, freeze_embeddings=True), collate=collate, out_dir=tmp_path)
    assert torch.equal(model.encoder.get_input_embeddings().weight, before)
    records = log_lines(tmp_path)
    assert {t for r in records for t in r["task_loss"]} == {"cls", "mlm"}
    meta = json.loads((tmp_path / "last" / "meta.json").read_text())
    assert meta["config"]["freeze_embeddings"] is True
    assert meta["config"]["trainable_parameters"] < sum(p.numel() for p in model.parameters())


def test_predict_restores_order_and_pads_token_outputs():
    model = task_model(tiny_encoder(), "tagging", num_labels=3).eval()
    feats = [{"input_ids": [0, *range(8, 8 + n), 2], "labels": [-100] * (n + 2), "example_index": i}
             for i, n in enumerate([3, 9, 1, 5, 7])]
    collate = Collator(pad_id=1)
    out = predict(model, feats, collate, batch_size=2)["logits"]
    assert out.shape == (5, 11, 3)
    for i, f in enumerate(feats):
        alone = predict(model, [f], collate, batch_size=1)["logits"][0]
        n = len(f["input_ids"])
        np.testing.assert_allclose(out[i, :n], alone, atol=1e-5)
        assert np.isneginf(out[i, n:]).all()
