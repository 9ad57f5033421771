"""Several processes train like one: two CPU processes (DDP over gloo) log the losses and end
with the weights of a one-process run with the same global batch, single- and multi-task, and
resume exactly; gradient checkpointing changes memory, not weights.

The two processes run this module as a script (`python -m tests.test_training_ddp OUT`), as
`accelerate launch` or `torchrun` would start them, and do all their runs in one launch.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.test_training_packing import assert_same_weights, no_dropout, tagging_data
from tests.tiny import tiny_encoder
from xstilts.models.heads import HeadSpec, TaskModel, task_model
from xstilts.training import TrainConfig, TrainingInterrupted, train

WORLD = 2
ROOT = Path(__file__).resolve().parents[1]


def setup(name: str) -> tuple:
    """(model, features, config) of a run, built alike in every process. Global batches of 5
    split 3/2 between two processes, and 21 features end each epoch with a batch of one (the
    second process has none of it); "single" also splits shards by a token budget, and
    retrieval batches go whole to both. Dropout is off where one process is compared with two
    (their dropout masks differ)."""
    base = dict(lr=1e-3, batch_size=5, warmup_ratio=0.0, progress=False)
    if name == "single":
        model = no_dropout(task_model(tiny_encoder(), "tagging", num_labels=3))
        return model, tagging_data(21), TrainConfig(**base, max_steps=6, token_budget=40)
    torch.manual_seed(0)
    model = TaskModel(tiny_encoder(), {"cls": HeadSpec("classification", 3), "tag": HeadSpec("tagging", 3),
                                       "ret": HeadSpec("retrieval")})
    data = tagging_data(21)
    feats = {"cls": [{"input_ids": f["input_ids"], "labels": i % 3} for i, f in enumerate(data)],
             "tag": data[:12], "ret": [{"q_input_ids": a["input_ids"], "p_input_ids": b["input_ids"]}
                                       for a, b in zip(data[:11], data[1:])]}
    config = TrainConfig(**base, max_steps=4, grad_accum=2, save_every=2)
    return (no_dropout(model) if name == "multi" else model), feats, config


def run(name: str, out_dir: Path, forwards: list | None = None, **kw) -> dict:
    model, feats, config = setup(name)
    if forwards is not None:  # inside the first layer: a checkpointed layer runs it again in the backward pass
        model.encoder.encoder.layer[0].attention.register_forward_pre_hook(lambda *_: forwards.append(1))
    train(model, feats, config=config.model_copy(update=kw), out_dir=out_dir, resume=True)  # an empty folder: afresh
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def interrupted(name: str, out_dir: Path) -> None:
    with pytest.raises(TrainingInterrupted):
        run(name, out_dir, stop_after_steps=3)  # the last checkpoint is step 2's: step 3 is redone


def worker(out: Path) -> None:
    """One of the processes: every run of the tests, each process's final weights saved."""
    rank = os.environ["RANK"]
    for name in ("single", "multi", "dropout"):
        torch.save(run(name, out / name), out / f"{name}.{rank}.pt")
    interrupted("multi", out / "handoff")  # resumed by one process in the test
    interrupted("dropout", out / "resumed")
    torch.save(run("dropout", out / "resumed"), out / f"resumed.{rank}.pt")


def log(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    """The two-process runs' folder, with the one-process reference runs under one/."""
    out = tmp_path_factory.mktemp("ddp")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(WORLD),
           "LOCAL_WORLD_SIZE": str(WORLD), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.test_training_ddp", str(out)], cwd=ROOT,
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=(out / f"out.{r}").open("w"), stderr=subprocess.STDOUT)
             for r in range(WORLD)]
    for name in ("single", "multi"):  # meanwhile
        torch.save(run(name, out / "one" / name), out / "one" / f"{name}.pt")
    try:
        codes = [p.wait(timeout=180) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert codes == [0] * WORLD, "\n".join((out / f"out.{r}").read_text()[-3000:] for r in range(WORLD))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["single", "multi"])
def test_two_processes_train_like_one(two, name):
    one = torch.load(two / "one" / f"{name}.pt")
    ranks = [torch.load(two / f"{name}.{r}.pt") for r in range(WORLD)]
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in one)  # the processes stay in step
    assert_same_weights(one, ranks[0])
    assert [r["loss"] for r in log(two / name)] == pytest.approx([r["loss"] for r in log(two / "one" / name)], rel=1e-4)
    meta = json.loads((two / name / "last" / "meta.json").read_text())
    assert meta["config"]["world_size"] == 2 and meta["config"]["batch_size"] == 5


def test_two_processes_resume_exactly_and_one_may_take_over(two):
    full, resumed = torch.load(two / "dropout.0.pt"), torch.load(two / "resumed.0.pt")
    assert all(torch.equal(full[k], resumed[k]) for k in full), "dropout masks restored per process"
    assert [r["step"] for r in log(two / "resumed")] == [1, 2, 3, 4]
    taken_over = run("multi", two / "handoff")  # another world size, the same global batch
    assert_same_weights(torch.load(two / "one" / "multi.pt"), taken_over)


def test_gradient_checkpointing_keeps_the_weights_and_is_recorded(tmp_path):
    once, twice = [], []
    plain = run("dropout", tmp_path / "plain", once)  # with dropout: recomputation replays the same masks
    checkpointed = run("dropout", tmp_path / "checkpointed", twice, gradient_checkpointing=True)
    assert len(twice) == 2 * len(once) > 0
    assert_same_weights(plain, checkpointed)
    meta = json.loads((tmp_path / "checkpointed" / "last" / "meta.json").read_text())
    assert meta["config"]["gradient_checkpointing"] is True


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
