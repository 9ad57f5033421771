"""--log-with: accelerate's trackers get the run's config and every step's metrics; TensorBoard's
event files, read back with TensorBoard's own reader, hold them at the right steps."""

import json
import os

import numpy as np
import pytest

from tests.test_training_loop import cls_model, config, toy
from xstilts.errors import XstiltsError
from xstilts.training import Collator, TrainingInterrupted, predict, train
from xstilts.training import tracking

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_events(folder):
    """Scalars by tag ({tag: [(step, value)]}) over every event file under FOLDER, and the text of
    the hyper-parameter plugin's data (the logged config)."""
    scalars, hparams = {}, ""
    for root, _, files in os.walk(folder):
        if not any(f.startswith("events.out.tfevents") for f in files):
            continue
        acc = event_accumulator.EventAccumulator(root, size_guidance={event_accumulator.SCALARS: 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
        try:
            hparams += "".join(map(repr, acc.PluginTagToContent("hparams").values()))
        except KeyError:  # an event file with no config
            pass
    return scalars, hparams


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(tracking.ENV, raising=False)


def test_tensorboard_events_hold_config_losses_lr_and_dev_scores(tmp_path, no_env):
    held_out = toy(32, seed=1)
    collate = Collator(pad_id=1)

    def accuracy(model):
        logits = predict(model, held_out, collate, batch_size=32)["logits"]
        acc = float((logits.argmax(-1) == np.array([f["labels"] for f in held_out])).mean())
        return acc, {"accuracy": acc, "per_lang": {"en": acc}}

    with tracking.run_context("xnli after none (seed 1)", {"task": "xnli", "seed": 1}):
        train(cls_model(), toy(64), config=config(max_steps=6, eval_every=3, log_with=("tensorboard",)),
              collate=collate, eval_fn=accuracy, out_dir=tmp_path / "train")
    scalars, hparams = read_events(tracking.event_dir(tmp_path / "train"))
    logged = [json.loads(line) for line in (tmp_path / "train" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in logged if "loss" in r]
    evals = [r for r in logged if "score" in r]
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4, 5, 6]
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([r["loss"] for r in steps], rel=1e-5)
    assert [v for _, v in scalars["train/lr"]] == pytest.approx([r["lr"] for r in steps], rel=1e-5)
    assert [s for s, _ in scalars["dev/score"]] == [3, 6]
    assert [v for _, v in scalars["dev/score"]] == pytest.approx([r["score"] for r in evals])
    assert "dev/per_lang/en" in scalars
    # the config: the context's and the effective training settings
    assert "task" in hparams and "xnli" in hparams and "train/lr" in hparams and "train/max_steps" in hparams


def test_environment_turns_tracking_on_and_a_resumed_run_continues_its_steps(tmp_path, monkeypatch):
    monkeypatch.setenv(tracking.ENV, "tensorboard")
    with pytest.raises(TrainingInterrupted):
        train(cls_model(), toy(64), config=config(max_steps=6, save_every=2, stop_after_steps=4),
              out_dir=tmp_path)
    train(cls_model(), toy(64), config=config(max_steps=6, save_every=2), out_dir=tmp_path, resume=True)
    scalars, _ = read_events(tracking.event_dir(tmp_path))
    steps = sorted(s for s, _ in scalars["train/loss"])
    assert steps[-1] == 6 and {1, 2, 3, 4, 5, 6} <= set(steps)  # the killed run's events stayed


def test_off_by_default_writes_no_events(tmp_path, no_env):
    train(cls_model(), toy(32), config=config(max_steps=2), out_dir=tmp_path)
    assert not tracking.event_dir(tmp_path).exists()


def test_unknown_or_missing_tracker_is_one_clear_line(monkeypatch):
    with pytest.raises(XstiltsError, match="unknown tracker 'tensorbord'.*did you mean 'tensorboard'"):
        tracking.parse("tensorbord")
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(XstiltsError, match=r"--log-with wandb: wandb is not installed here \(pip install wandb\)"):
        tracking.parse("wandb")


def test_use_sets_and_clears_the_environment(monkeypatch):
    monkeypatch.delenv(tracking.ENV, raising=False)
    assert tracking.use("tensorboard, tensorboard") == ("tensorboard",)
    assert os.environ[tracking.ENV] == "tensorboard"
    assert tracking.active() == ("tensorboard",) and tracking.active(()) == ()
    tracking.use(None)
    assert tracking.ENV not in os.environ


def test_flat_config_is_scalars_only():
    out = tracking.flat({"a": {"b": 1, "c": None}, "langs": ["en", "de"], "ok": True})
    assert out == {"a/b": 1, "a/c": "none", "langs": '["en", "de"]', "ok": True}
    assert tracking.numbers({"f1": 0.5, "name": "x", "flag": True, "t": {"em": 2}}, "dev") == {
        "dev/f1": 0.5, "dev/t/em": 2.0}
