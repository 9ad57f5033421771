"""Did it learn? The stated rule and its edges, each training phase recording its own task's dev
curve and chance, `until:` stopping phase 2 at a dev target, and the rule applied to the
committed lowres-vs-english pilot record (whose nodes predate dev curves)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.tiny import hparams
from xstilts.data.examples import ChoiceExample
from xstilts.errors import XstiltsError
from xstilts.training.hparams import HParamsError, resolve
from xstilts.orchestration.record import load_record
from xstilts.recipes.intermediate import run_intermediate
from xstilts.orchestration.spec import Train
from xstilts.models.encoders import load_encoder
from xstilts.report.learning import (LOSS_NEAR_CHANCE, MIN_ABOVE_CHANCE, chance_level, judge, learning_grid,
                                     learning_records, not_learned)
from xstilts.store import ResultsStore
from xstilts.tasks import get_task

STUDY = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english-pilot"
LN3 = math.log(3)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


# ---- the rule ------------------------------------------------------------------------------


def test_chance_per_head():
    assert chance_level(get_task("xnli")) == pytest.approx((100 / 3, LN3))
    assert chance_level(get_task("udpos")) == pytest.approx((100 / 17, math.log(17)))
    assert chance_level(get_task("tydiqa")) == (0.0, None)
    assert chance_level(get_task("xcopa")) == (None, None)  # choices are counted on examples
    two, four = (ChoiceExample(uid=str(n), context="c", question="q", choices=("a",) * n, label=0) for n in (2, 4))
    assert chance_level(get_task("xcopa"), [two, four]) == pytest.approx((37.5, (math.log(2) + math.log(4)) / 2))


def test_score_against_chance_decides_and_the_edge_counts():
    bar = 100 / 3 + MIN_ABOVE_CHANCE
    assert judge(bar, 100 / 3, 0.9, LN3)[0] is True
    learned, why = judge(bar - 0.1, 100 / 3, 0.5, LN3)
    assert learned is False and "chance 33.3 + 5" in why  # a low loss does not rescue a chance-level score


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_a_non_finite_loss_diverged_whatever_the_score(loss):
    learned, why = judge(90.0, 100 / 3, loss, LN3)
    assert learned is False and why.startswith("diverged")


def test_a_loss_far_above_its_start_diverged():
    assert judge(90.0, 33.3, 1.7, LN3, first_loss=1.1) == (False, "diverged: final loss 1.700 > 1.5 x first 1.100")
    assert judge(90.0, 33.3, 1.2, LN3, first_loss=1.1)[0] is True


def test_without_a_dev_set_the_loss_against_ln_k_decides():
    assert judge(None, 100 / 3, LOSS_NEAR_CHANCE * LN3, LN3)[0] is False
    assert judge(None, 100 / 3, LOSS_NEAR_CHANCE * LN3 - 0.001, LN3)[0] is True
    learned, why = judge(None, 0.0, 2.0, None)  # QA without a dev score: nothing to judge by
    assert learned is True and why.startswith("not judged")


# ---- the committed study -----------------------------------------------------------------------


def test_the_committed_record_flags_the_runs_that_did_not_learn(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    store.add(load_record(STUDY).rows)
    nodes = json.loads((STUDY / "nodes.json").read_text())
    records = learning_records(nodes, store.query())
    phase2 = {r.condition: r for r in records if r.phase == "intermediate"}
    assert {c for c, r in phase2.items() if not r.learned} == {"mnli", "xnli-sw"}
    assert {"nusax-eng", "nusax-jav", "nusax-bug"} <= {c for c, r in phase2.items() if r.learned}
    assert (phase2["mnli"].final_loss, phase2["xnli-sw"].final_loss) == (1.0874, 1.0954)
    assert phase2["mnli"].chance_loss == pytest.approx(LN3) and phase2["mnli"].final_score is None

    phase3 = [r for r in records if r.phase == "finetune"]
    assert len(phase3) == 42
    failed = [(r.condition, r.seed, r.task, r.final_score) for r in phase3 if not r.learned]
    assert failed == [("nusax-jav", 1, "xnli", 37.0)]  # 37.0 on English test, chance 33.3

    grid = learning_grid(records)
    assert [row[0] for row in grid.rows] == list(phase2) and len(grid.columns) == len(grid.rows[0])
    assert next(row for row in grid.rows if row[0] == "mnli")[-1].startswith("NO")
    excluded = not_learned(records, nodes)
    by_key = {n["key"]: n for n in nodes}
    # the MNLI encoder's every fine-tuning and probe node goes, with the Javanese XNLI seed-1 run
    assert {by_key[k]["kind"] for k in excluded} == {"intermediate", "finetune", "probe"}
    assert all(k in excluded for n in nodes if n["kind"] == "finetune" and n["config"]["condition"] == "mnli"
               for k in [n["key"]])
    # and what is built on those, however far down: a probe of an encoder fine-tuned from the MNLI encoder
    ft = next(n for n in nodes if n["kind"] == "finetune" and n["config"]["condition"] == "mnli")
    after = {"key": "probe-after", "kind": "probe", "deps": [ft["key"]], "config": {}}
    assert not_learned(records, [*nodes, after])["probe-after"].startswith("phase 2 did not learn (mnli")
    assert not any(by_key[k].get("config", {}).get("condition") == "nusax-eng" for k in excluded)


def test_the_committed_study_keeps_its_node_keys(data_root):
    from xstilts.orchestration.plan import build_plan
    from xstilts.orchestration.spec import load_spec

    plan = build_plan(load_spec(STUDY / "spec.yaml"), data_root=data_root)
    assert {n["key"] for n in json.loads((STUDY / "nodes.json").read_text())} == set(plan.nodes)


# ---- `until:` as a setting ---------------------------------------------------------------------


def test_until_is_a_phase2_setting_outside_node_keys_while_unset():
    recipe = get_task("nusax:eng").recipe
    assert "until" not in resolve(recipe, Train(max_steps=5), phase="intermediate").node_config()
    assert resolve(recipe, Train(max_steps=5, until=60), phase="intermediate").node_config()["until"] == 60
    with pytest.raises(HParamsError) as info:
        resolve(get_task("xnli").recipe, Train(until=60))
    assert info.value.field == "until"
    for bad in (0, 100.5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            Train(until=bad)


# ---- phase 2 records its own dev curve ----------------------------------------------------------


def test_phase2_records_each_tasks_own_dev_curve(tiny_model_dir, data_root, tmp_path):
    hp = hparams("nusax:bug", max_steps=10, batch_size=4, max_length=32, max_train_examples=24, max_dev_examples=20,
                 phase="intermediate")
    out = run_intermediate(str(tiny_model_dir), ["nusax:bug", "xnli:sw"], hp, out_dir=tmp_path / "run",
                           data_root=data_root, progress=False)
    info = json.loads((out / "xstilts_source.json").read_text())
    bug, sw = info["learning"]["nusax:bug"], info["learning"]["xnli:sw"]
    assert [s for s, _ in bug["curve"]] == [2, 4, 6, 8, 10]  # five evaluations a run, the last at the end
    assert bug["metric"] == "macro_f1" and bug["final_score"] == bug["curve"][-1][1]
    assert 0 <= bug["final_score"] <= 100 and bug["chance"] == pytest.approx(100 / 3)
    assert bug["final_loss"] == info["task_shares"]["nusax:bug"]["final_loss"] and bug["why"]
    assert sw["curve"] == [] and sw["metric"] is None and sw["final_loss"] is not None  # no dev set: loss only
    assert sw["why"].startswith("no dev score")
    assert not (tmp_path / "run" / "train" / "best").exists()  # recorded, never selected on
    node = {"key": "k", "kind": "intermediate", "label": "c", "config": {"seed": 0}, "deps": [], "status": "done",
            "outputs": {"learning": info["learning"]}}
    records = learning_records([node])
    assert [(r.task, r.curve[-1] if r.curve else None) for r in records] == [
        ("nusax:bug", tuple(bug["curve"][-1])), ("xnli:sw", None)]


def test_dev_evaluations_leave_phase2_weights_as_they_were(tiny_model_dir, data_root, tmp_path, monkeypatch):
    import xstilts.recipes.intermediate as inter

    hp = hparams("nusax:jav", max_steps=6, batch_size=4, max_length=32, max_train_examples=24, max_dev_examples=12,
                 phase="intermediate")
    kwargs = dict(data_root=data_root, progress=False)
    watched = run_intermediate(str(tiny_model_dir), ["nusax:jav"], hp, out_dir=tmp_path / "a", **kwargs)
    assert len(json.loads((watched / "xstilts_source.json").read_text())["learning"]["nusax:jav"]["curve"]) == 6
    monkeypatch.setattr(inter, "own_dev_eval", lambda *a, **k: None)  # the loop as it ran before dev curves
    blind = run_intermediate(str(tiny_model_dir), ["nusax:jav"], hp, out_dir=tmp_path / "b", **kwargs)
    a, b = load_encoder(str(watched)).model.state_dict(), load_encoder(str(blind)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # so phase-2 node keys and CODE_VERSION stand


# ---- `until:` stops phase 2 ---------------------------------------------------------------------

PETS = """\
name: pets
type: classification
role: intermediate
languages: [qaa_Latn]
format: csv
fields: {id: id, text: sentence, label: label}
labels: [cat, dog]
metrics: [accuracy]
main_score: accuracy
files:
  train: {qaa_Latn: data/train.csv}
  dev: {qaa_Latn: data/dev.csv}
  test: {qaa_Latn: data/test.csv}
"""


def _pets(folder: Path):
    """A task the tiny encoder learns in a few dozen steps: the label is which animal is named."""
    import random

    from xstilts.tasks.user import load_task_file

    rng = random.Random(0)
    said = {"cat": ["the cat sat on the mat", "the cat is nice today", "a cat went to the market"],
            "dog": ["a dog barked at the mailman", "the dog is nice today", "a dog went to the market"]}
    (folder / "data").mkdir(parents=True)
    for split, n in (("train", 200), ("dev", 40), ("test", 40)):
        labels = [rng.choice(["cat", "dog"]) for _ in range(n)]
        (folder / "data" / f"{split}.csv").write_text("id,sentence,label\n" + "".join(
            f"{i},{rng.choice(said[y])},{y}\n" for i, y in enumerate(labels)))
    (folder / "task.yaml").write_text(PETS)
    return load_task_file(folder / "task.yaml")


def test_until_stops_phase2_once_the_task_reaches_its_dev_target(tiny_model_dir, tmp_path):
    with _pets(tmp_path / "pets").scope():  # the task is known inside its scope
        hp = hparams("pets", max_steps=100, batch_size=8, max_length=32, lr=3e-3, warmup_ratio=0.0, eval_every=5,
                     until=90, phase="intermediate")
        out = run_intermediate(str(tiny_model_dir), ["pets"], hp, out_dir=tmp_path / "run", data_root=tmp_path / "pets",
                               progress=False)
        info = json.loads((out / "xstilts_source.json").read_text())
        curve = info["learning"]["pets"]["curve"]
        assert info["stopped_early"] and info["steps"] == curve[-1][0] < 100
        assert curve[-1][1] >= 90 and all(score < 90 for _, score in curve[:-1])
        assert info["learning"]["pets"]["learned"]
        log = [json.loads(line) for line in (tmp_path / "run" / "train" / "log.jsonl").read_text().splitlines()]
        assert max(r["step"] for r in log) == info["steps"]  # no step past the target


def test_a_run_killed_before_its_dev_target_resumes_to_the_same_stop(tiny_model_dir, tmp_path, monkeypatch):
    import xstilts.recipes.intermediate as inter
    from xstilts.training import TrainingInterrupted

    with _pets(tmp_path / "pets").scope():  # the task is known inside its scope
        hp = hparams("pets", max_steps=60, batch_size=8, max_length=32, lr=3e-3, warmup_ratio=0.0, eval_every=5,
                     until=90, phase="intermediate")
        kwargs = dict(data_root=tmp_path / "pets", progress=False)
        full = run_intermediate(str(tiny_model_dir), ["pets"], hp, out_dir=tmp_path / "full", **kwargs)
        real = inter.train_config
        monkeypatch.setattr(inter, "train_config", lambda *a, **kw: real(*a, **kw, stop_after_steps=17))  # saved at 15
        with pytest.raises(TrainingInterrupted):
            run_intermediate(str(tiny_model_dir), ["pets"], hp, out_dir=tmp_path / "r", **kwargs)
        monkeypatch.setattr(inter, "train_config", real)
        resumed = run_intermediate(str(tiny_model_dir), ["pets"], hp, out_dir=tmp_path / "r", resume=True, **kwargs)
        a, b = (json.loads((d / "xstilts_source.json").read_text()) for d in (full, resumed))
        assert 17 < a["steps"] == b["steps"] < 60 and a["learning"]["pets"]["curve"] == b["learning"]["pets"]["curve"]
        assert a["weights_sha256"] == b["weights_sha256"]


def test_until_needs_a_dev_set_for_every_task(tiny_model_dir, data_root, tmp_path):
    hp = hparams("xnli:sw", max_steps=4, until=60, phase="intermediate")
    with pytest.raises(XstiltsError, match="xnli:sw has no dev set"):
        run_intermediate(str(tiny_model_dir), ["xnli:sw"], hp, out_dir=tmp_path / "run", data_root=data_root,
                         progress=False)
    assert not (tmp_path / "run").exists()  # refused before any training


# ---- a study's nodes carry their learning into nodes.json ----------------------------------------

SPEC = """\
name: learning-study
model: {model}
seeds: [1]
conditions:
  - {{name: nusax-bug, kind: low-resource, tasks: ["nusax:bug"]}}
intermediate: {{max_steps: 4, batch_size: 4, max_length: 32, max_train_examples: 16, max_dev_examples: 12}}
targets:
  - {{task: xnli, langs: [en, sw]}}
finetune: {{max_steps: 4, eval_every: 2, batch_size: 4, max_length: 32, max_train_examples: 16,
           max_dev_examples: 12, max_eval_examples: 12}}
"""


def test_study_nodes_publish_their_learning(tiny_model_dir, data_root, tmp_path):
    from xstilts.orchestration.execute import LocalExecutor
    from xstilts.orchestration.validate import validate
    from xstilts.orchestration.publish import node_records

    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    plan = validate(spec, data_root=data_root)
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    summary = LocalExecutor(tmp_path / "work", data_root).run(plan, store)
    assert not summary.failed
    nodes = json.loads(json.dumps(node_records(plan, store), default=str))  # as nodes.json holds them
    phase2 = next(n for n in nodes if n["kind"] == "intermediate")["outputs"]["learning"]["nusax:bug"]
    phase3 = next(n for n in nodes if n["kind"] == "finetune")["outputs"]["learning"]["xnli"]
    assert [s for s, _ in phase2["curve"]] == [1, 2, 3, 4] and [s for s, _ in phase3["curve"]] == [2, 4]
    assert phase3["selected_score"] == max(v for _, v in phase3["curve"])
    records = learning_records(nodes, store.query())
    assert [(r.phase, r.task) for r in records] == [("intermediate", "nusax:bug"), ("finetune", "xnli")]
    assert records[1].final_score == phase3["selected_score"] and records[1].chance == pytest.approx(100 / 3)
