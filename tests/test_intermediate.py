"""Phase 2 on a tiny encoder with real data: single task, multi-task + MLM, resume, prefix carry-over."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.tiny import hparams, tiny_tokenizer
from xstilts.data.examples import example_texts
from xstilts.recipes.intermediate import mlm_features, run_intermediate
from xstilts.models.encoders import load_encoder, weights_hash
from xstilts.provenance import tensor_state_hash
from xstilts.tasks import all_tasks, get_task


@pytest.fixture(scope="module")
def tiny_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model, marked as written by xstilts with e5's "query: " prefix."""
    d = tmp_path_factory.mktemp("tiny-e5")
    shutil.copytree(tiny_model_dir, d, dirs_exist_ok=True)
    (d / "xstilts_source.json").write_text(json.dumps({"default_prefix": "query: "}))
    return d


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


def test_intermediate_catalog_has_english_parallel_and_low_resource_tasks():
    names = {t.name for t in all_tasks("intermediate")}
    assert {"anli", "commonsenseqa", "cosmosqa", "sst2", "squad_v2", "siqa", "mnli", "hellaswag", "qqp"} <= names
    assert {"nusax:eng", "nusax:bug", "sib200:eng_Latn", "sib200:quy_Latn", "americasnli:quy",
            "masakhaner:hau", "afrisenti:swa", "masakhanews:lin"} <= names
    assert get_task("nusax:bug").train[0].lang == "buginese" and get_task("nusax:eng").labels == get_task("nusax:bug").labels


def test_single_task_trains_and_saves_a_loadable_encoder(tiny_dir, data_root, tmp_path):
    before = weights_hash(load_encoder(str(tiny_dir)))
    hp = hparams("nusax:bug", max_steps=6, batch_size=8, max_length=32, max_train_examples=48, phase="intermediate")
    out = run_intermediate(str(tiny_dir), ["nusax:bug"], hp, out_dir=tmp_path / "run", data_root=data_root,
                           progress=False)
    enc = load_encoder(str(out))
    info = json.loads((out / "xstilts_source.json").read_text())
    assert info["tasks"] == ["nusax:bug"] and info["steps"] == 6 and info["base_hash"] == before
    assert weights_hash(enc) == info["weights_sha256"] == tensor_state_hash(enc.model.state_dict()) != before
    assert enc.default_prefix == "query: "  # the base model's protocol carries over
    assert not (tmp_path / "run" / "train" / "last").exists()  # optimizer state dropped once done
    # a finished node is not trained again
    assert run_intermediate(str(tiny_dir), ["nusax:bug"], hp, out_dir=tmp_path / "run", data_root=data_root) == out


def test_multi_task_with_mlm_logs_every_task(tiny_dir, data_root, tmp_path):
    hp = hparams("nusax:eng", max_steps=12, batch_size=4, max_length=32, max_train_examples=24, phase="intermediate")
    out = run_intermediate(str(tiny_dir), ["nusax:eng", "masakhaner:hau"], hp, out_dir=tmp_path / "multi",
                           data_root=data_root, mlm_tasks=["nusax:bug"], mlm_max_examples=24, sampling="temperature",
                           sampling_temperature=2.0, progress=False)
    log = [json.loads(line) for line in (tmp_path / "multi" / "train" / "log.jsonl").read_text().splitlines()]
    seen = {t for entry in log for t in entry.get("task_loss", {})}
    assert {"nusax:eng", "masakhaner:hau", "mlm"} <= seen, seen
    assert json.loads((out / "xstilts_source.json").read_text())["mlm_tasks"] == ["nusax:bug"]


def test_mlm_text_is_the_unlabelled_view(data_root):
    tok = tiny_tokenizer()
    feats = mlm_features(["masakhaner:hau"], tok, data_root, max_length=16, max_examples=5)
    assert len(feats) == 5 and all(2 < len(f["input_ids"]) <= 16 for f in feats)
    ex = get_task("nusax:eng")
    from xstilts.tasks.data import read_sources
    first = read_sources(ex.train, data_root, 1)[0]
    assert list(example_texts(first)) == [first.text_a]
    with pytest.raises(TypeError):
        list(example_texts(object()))


def test_resume_continues_a_killed_phase2_run(tiny_dir, data_root, tmp_path, monkeypatch):
    import xstilts.recipes.intermediate as inter
    from xstilts.training import TrainingInterrupted

    hp = hparams("nusax:jav", max_steps=8, batch_size=4, max_length=32, max_train_examples=32, phase="intermediate")
    kwargs = dict(out_dir=tmp_path / "r", data_root=data_root, progress=False)
    full = run_intermediate(str(tiny_dir), ["nusax:jav"], hp, **{**kwargs, "out_dir": tmp_path / "full"})
    # kill after step 4 (the loop's test hook), then resume: same final weights as uninterrupted
    real = inter.train_config
    monkeypatch.setattr(inter, "train_config", lambda *a, **kw: real(*a, **kw, stop_after_steps=4))
    with pytest.raises(TrainingInterrupted):
        run_intermediate(str(tiny_dir), ["nusax:jav"], hp, **kwargs)
    monkeypatch.setattr(inter, "train_config", real)
    resumed = run_intermediate(str(tiny_dir), ["nusax:jav"], hp, resume=True, **kwargs)
    a, b = load_encoder(str(full)).model.state_dict(), load_encoder(str(resumed)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mlm_head_is_the_checkpoints_own_where_it_ships_one(tmp_path, tiny_dir):
    from transformers import RobertaConfig, RobertaForMaskedLM

    from xstilts.models.encoders import pretrained_mlm_head

    torch.manual_seed(0)
    tok = tiny_tokenizer()
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=130, pad_token_id=1)
    xlmr_like = RobertaForMaskedLM(cfg)
    xlmr_like.save_pretrained(tmp_path / "xlmr")
    tok.save_pretrained(tmp_path / "xlmr")
    weights, how = pretrained_mlm_head(load_encoder(str(tmp_path / "xlmr")))
    assert how.startswith("pretrained") and "lm_head" in how
    assert torch.equal(weights["dense.weight"], xlmr_like.lm_head.dense.weight)
    assert torch.equal(weights["bias"], xlmr_like.lm_head.bias)
    none, how = pretrained_mlm_head(load_encoder(str(tiny_dir)))  # a bare encoder, like me5-small
    assert none is None and how.startswith("new")


def test_mlm_weight_share_and_head_are_honoured_and_recorded(tmp_path, data_root):
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    tok = tiny_tokenizer()
    RobertaForMaskedLM(RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=130, pad_token_id=1)
                       ).save_pretrained(tmp_path / "xlmr")
    tok.save_pretrained(tmp_path / "xlmr")
    hp = hparams("nusax:eng", max_steps=40, batch_size=4, max_length=32, max_train_examples=40, phase="intermediate")
    out = run_intermediate(str(tmp_path / "xlmr"), ["nusax:eng"], hp, out_dir=tmp_path / "m", data_root=data_root,
                           mlm_tasks=["nusax:bug", "masakhaner:hau"], mlm_max_examples=400, mlm_weight=0.5,
                           mlm_fraction=0.25, progress=False)
    info = json.loads((out / "xstilts_source.json").read_text())
    assert info["mlm"]["weight"] == 0.5 and info["mlm"]["head"].startswith("pretrained")
    assert info["train"]["task_shares"] == {"mlm": 0.25} and info["train"]["task_loss_weights"] == {"mlm": 0.5}
    shares = info["task_shares"]
    assert shares["mlm"]["batches"] + shares["nusax:eng"]["batches"] == 40
    assert 0.05 < shares["mlm"]["share"] < 0.5  # proportional sampling would give MLM ~90% (400 texts vs 40)
    assert shares["mlm"]["final_loss"] > 0 and shares["nusax:eng"]["final_loss"] > 0
