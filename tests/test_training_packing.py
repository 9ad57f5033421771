"""The loop's throughput options change speed, not the run: packing, the token budget and
torch.compile end with the weights of the plain run (dropout off, so the math is the same)."""

import json
import random

import pytest
import torch
from torch import nn

from tests.tiny import tiny_encoder
from xstilts.models.heads import task_model
from xstilts.errors import XstiltsError
from xstilts.training import Collator, TrainConfig, TrainingInterrupted, train
from xstilts.training.collate import loss_terms, split_by_tokens


def no_dropout(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def tagging_data(n: int = 48) -> list[dict]:
    rng = random.Random(0)
    out = []
    for _ in range(n):
        body = [rng.randrange(5, 300) for _ in range(rng.randrange(2, 30))]
        out.append({"input_ids": [0, *body, 2], "labels": [-100, *(t % 3 for t in body), -100]})
    return out


def run(tmp_path, name: str, *, task="tagging", data=None, forwards: list | None = None, **kw) -> dict:
    model = no_dropout(task_model(tiny_encoder(), task, num_labels=3))
    if forwards is not None:
        model.encoder.register_forward_pre_hook(lambda *_: forwards.append(1))
    cfg = TrainConfig(lr=1e-3, batch_size=16, max_steps=4, warmup_ratio=0.0, progress=False, **kw)
    train(model, data or tagging_data(), config=cfg, collate=Collator(pad_id=1), out_dir=tmp_path / name)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)


def tiny_encoder_head_init() -> torch.Tensor:
    return task_model(tiny_encoder(), "tagging", num_labels=3).heads["tagging"].classifier.weight.detach()


def test_packing_ends_with_the_padded_runs_weights_and_is_recorded(tmp_path):
    plain = run(tmp_path, "plain", packing=False, group_by_length=False)
    packed = run(tmp_path, "packed", packing=True, pack_length=64, bucket=16)  # random order by default
    assert_same_weights(plain, packed)
    assert not torch.equal(plain["heads.tagging.classifier.weight"], tiny_encoder_head_init())  # it trained
    meta = json.loads((tmp_path / "packed" / "last" / "meta.json").read_text())
    assert meta["config"]["packing"] is True and meta["config"]["pack_length"] == 64
    assert meta["config"]["group_by_length"] is False


@pytest.mark.parametrize("task", ["tagging", "classification"])
def test_token_budget_splits_batches_and_keeps_the_gradient(tmp_path, task):
    data = tagging_data() if task == "tagging" else [{"input_ids": f["input_ids"], "labels": i % 3}
                                                     for i, f in enumerate(tagging_data())]
    whole, split = [], []
    a = run(tmp_path, "whole", task=task, data=data, forwards=whole)
    b = run(tmp_path, "split", task=task, data=data, forwards=split, token_budget=100)
    assert len(whole) == 4 and len(split) > 8  # 16 sequences of ~18 tokens: 3+ parts of ≤100
    assert_same_weights(a, b)


def test_split_parts_respect_the_budget_and_loss_terms_count_labels():
    feats = tagging_data(16)
    parts = split_by_tokens(feats, 60, packed=True)
    assert [f for p in parts for f in p] == feats
    assert all(sum(len(f["input_ids"]) for f in p) <= 60 or len(p) == 1 for p in parts)
    padded_parts = split_by_tokens(feats, 60, packed=False)
    assert all(max(len(f["input_ids"]) for f in p) * len(p) <= 60 or len(p) == 1 for p in padded_parts)
    assert split_by_tokens([{"q_input_ids": [0, 2], "p_input_ids": [0, 2]}] * 9, 4, packed=True) == [
        [{"q_input_ids": [0, 2], "p_input_ids": [0, 2]}] * 9]  # retrieval: the batch is the negatives
    batch = Collator(pad_id=1)(feats[:3])
    assert loss_terms(batch) == sum(len(f["input_ids"]) - 2 for f in feats[:3])
    assert loss_terms(Collator(pad_id=1)([{"input_ids": [0, 2], "labels": 1}] * 5)) == 5


@pytest.mark.slow
def test_compiled_run_matches_and_may_resume_uncompiled(tmp_path):
    eager = run(tmp_path, "eager", packing=True, pack_length=64, bucket=16)
    compiled = run(tmp_path, "compiled", packing=True, pack_length=64, bucket=16, compile=True)
    assert_same_weights(eager, compiled)
    model = no_dropout(task_model(tiny_encoder(), "tagging", num_labels=3))
    cfg = TrainConfig(lr=1e-3, batch_size=16, max_steps=4, warmup_ratio=0.0, progress=False, packing=True,
                      pack_length=64, bucket=16, compile=False)
    result = train(model, tagging_data(), config=cfg, collate=Collator(pad_id=1), out_dir=tmp_path / "compiled",
                   resume=True)
    assert result.step == 4


def test_resume_refuses_a_changed_packing_and_accepts_a_checkpoint_from_before_packing(tmp_path):
    def config(**kw):
        return TrainConfig(lr=1e-3, batch_size=16, max_steps=4, save_every=2, warmup_ratio=0.0, progress=False, **kw)

    def model():
        return no_dropout(task_model(tiny_encoder(), "tagging", num_labels=3))

    with pytest.raises(TrainingInterrupted):
        train(model(), tagging_data(), config=config(stop_after_steps=2), collate=Collator(pad_id=1), out_dir=tmp_path)
    with pytest.raises(XstiltsError, match="packing"):
        train(model(), tagging_data(), config=config(packing=True), collate=Collator(pad_id=1), out_dir=tmp_path,
              resume=True)
    meta_path = tmp_path / "last" / "meta.json"
    meta = json.loads(meta_path.read_text())
    for key in ("packing", "pack_length", "bucket", "token_budget", "compile"):
        del meta["config"][key]  # as written before these options existed
    meta_path.write_text(json.dumps(meta))
    assert train(model(), tagging_data(), config=config(), collate=Collator(pad_id=1), out_dir=tmp_path,
                 resume=True).step == 4
