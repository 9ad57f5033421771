"""Did a training run learn its own task? One stated rule, applied to every training node.

A run that ends near chance (or diverges) trained an encoder that is no example of its kind of
training: the report lists it and leaves it out of comparisons, never averaging it in silently.

The rule (RULE below says it in words):
- diverged, so not learned: the final loss is NaN/inf, or above DIVERGED_FACTOR x the first loss
  (each the mean over a tenth of the steps);
- with an own-task dev score (phase 2: the task's own dev set; phase 3: English dev, the selected
  weights): learned when it is at least chance + MIN_ABOVE_CHANCE points;
- without one (no dev set, or a node recorded before nodes kept their dev curve): phase 3 falls
  back to the row of its training language (English test), phase 2 to the loss: not learned
  when the final loss is at least LOSS_NEAR_CHANCE x the chance cross-entropy ln K;
- with neither (QA without a dev score, retrieval): counted, and the reason says it was not judged.
Chance: classification, sentence pairs and tagging 100/K for K labels; multiple choice the mean
of 100/(choices) over the dev examples; QA 0; retrieval none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from xstilts.report.grid import Grid
from xstilts.store import ResultRow
from xstilts.tasks import TaskDef, get_task
from xstilts.tasktypes import MLM, type_of

MIN_ABOVE_CHANCE = 5.0  # points above chance a final own-task score needs
LOSS_NEAR_CHANCE = 0.97  # without a score: a final loss >= this x ln K did not learn
DIVERGED_FACTOR = 1.5  # a final loss above this x the first loss diverged
RULE = (f"learned: final own-task dev score >= chance + {MIN_ABOVE_CHANCE:g} points and a finite loss no "
        f"higher than {DIVERGED_FACTOR:g}x the first; without a dev score, phase 3 uses its English row and "
        f"phase 2 its loss (not learned at >= {LOSS_NEAR_CHANCE:g} x ln K)")


@dataclass
class LearningRecord:
    """One task of one training node: what it reached against chance, and the verdict."""

    node: str
    phase: Literal["intermediate", "finetune"]
    condition: str
    seed: int | None
    task: str
    metric: str | None
    chance: float | None
    final_score: float | None  # phase 3: the selected (best-on-dev) weights' score
    final_loss: float | None
    chance_loss: float | None
    curve: list[tuple[int, float]] = field(default_factory=list)
    learned: bool = True
    why: str = ""


def chance_level(task: TaskDef, examples: Sequence = ()) -> tuple[float | None, float | None]:
    """(chance score in points, chance cross-entropy) of TASK's type; multiple choice counts the
    choices of EXAMPLES (None without them)."""
    return type_of(task.type).chance(task, examples)


def judge(final_score: float | None, chance: float | None, final_loss: float | None,
          chance_loss: float | None, first_loss: float | None = None, *, scored_on: str = "dev"
          ) -> tuple[bool, str]:
    """(learned, why) by the module's rule; SCORED_ON names where the score comes from."""
    if final_loss is not None and not math.isfinite(final_loss):
        return False, f"diverged: final loss {final_loss}"
    if final_loss is not None and first_loss and final_loss > DIVERGED_FACTOR * first_loss:
        return False, f"diverged: final loss {final_loss:.3f} > {DIVERGED_FACTOR:g} x first {first_loss:.3f}"
    if final_score is not None and chance is not None:
        if not math.isfinite(final_score):
            return False, f"{scored_on} score {final_score}"
        bar = chance + MIN_ABOVE_CHANCE
        verb = ">=" if final_score >= bar else "<"
        return final_score >= bar, f"{scored_on} {final_score:.1f} {verb} chance {chance:.1f} + {MIN_ABOVE_CHANCE:g}"
    if final_loss is not None and chance_loss is not None:
        bar = LOSS_NEAR_CHANCE * chance_loss
        if final_loss >= bar:
            return False, f"no {scored_on} score; loss {final_loss:.3f} >= {LOSS_NEAR_CHANCE:g} x ln K = {bar:.3f}"
        return True, f"no {scored_on} score; loss {final_loss:.3f} < {LOSS_NEAR_CHANCE:g} x ln K = {bar:.3f}"
    return True, f"not judged: no {scored_on} score against a chance level, no chance loss"


def learning_entry(metric: str | None, chance: float | None, chance_loss: float | None,
                   curve: Sequence[tuple[int, float]], first_loss: float | None, final_loss: float | None,
                   selected_score: float | None = None) -> dict[str, Any]:
    """What a training node's outputs record for one task (JSON), its verdict included."""
    final_score = curve[-1][1] if curve else None
    learned, why = judge(final_score if selected_score is None else selected_score, chance, final_loss,
                         chance_loss, first_loss)
    entry = {"metric": metric, "chance": chance, "chance_loss": chance_loss,
             "curve": [[int(s), float(v)] for s, v in curve], "final_score": final_score,
             "first_loss": first_loss, "final_loss": final_loss, "learned": learned, "why": why}
    if selected_score is not None:
        entry["selected_score"] = selected_score
    return entry


def _task(name: str) -> TaskDef | None:
    try:
        return get_task(name)
    except KeyError:  # a spec's own task, not registered in this process
        return None


def _record(node: Mapping, phase: Literal["intermediate", "finetune"], condition: str, task: str, entry: Mapping) -> LearningRecord:
    score = entry.get("selected_score", entry.get("final_score"))
    learned, why = judge(score, entry.get("chance"), entry.get("final_loss"), entry.get("chance_loss"),
                         entry.get("first_loss"))
    return LearningRecord(
        node=node["key"], phase=phase, condition=condition, seed=node["config"].get("seed"), task=task,
        metric=entry.get("metric"), chance=entry.get("chance"), final_score=score,
        final_loss=entry.get("final_loss"), chance_loss=entry.get("chance_loss"),
        curve=[(int(s), float(v)) for s, v in entry.get("curve", [])], learned=learned, why=why)


def _phase2_from_loss(node: Mapping, condition: str, task: str, share: Mapping) -> LearningRecord:
    """A phase-2 node recorded before nodes kept a dev curve: its loss against ln K."""
    t = _task(task)
    chance, chance_loss = chance_level(t) if t else (None, None)
    return _record(node, "intermediate", condition, task,
                   {"metric": t.main_score if t else None, "chance": chance, "chance_loss": chance_loss,
                    "final_loss": share.get("final_loss"), "first_loss": share.get("first_loss")})


def _phase3_from_rows(node: Mapping, rows: Sequence[ResultRow]) -> LearningRecord:
    """A phase-3 node recorded before nodes kept a dev curve: its training language's row."""
    from xstilts.metrics import get_metric

    c = node["config"]
    t = _task(c["task"])
    chance, chance_loss = chance_level(t) if t else (None, None)
    metric = get_metric(t.main_score).main if t else None
    lang = t.train[0].lang if t and t.train else "en"
    own = [r for r in rows if r.protocol.get("node") == node["key"] and r.task == c["task"]
           and r.language == lang and r.metric == metric and r.layer is None]
    score = own[0].value if own else None
    learned, why = judge(score, chance, None, chance_loss, scored_on=f"{lang} {own[0].split}" if own else "dev")
    return LearningRecord(node=node["key"], phase="finetune", condition=c["condition"], seed=c.get("seed"),
                          task=c["task"], metric=metric, chance=chance, final_score=score, final_loss=None,
                          chance_loss=chance_loss, learned=learned, why=why + ("; no dev curve recorded" if own else ""))


def learning_records(nodes: Iterable[Mapping], rows: Sequence[ResultRow] = ()) -> list[LearningRecord]:
    """One record per task of every finished training node (phase-2 tasks, MLM aside; phase 3's
    target); nodes are dicts shaped like the entries of a published nodes.json, ROWS the study's
    rows (phase 3's fallback for nodes that kept no dev curve)."""
    out: list[LearningRecord] = []
    for node in nodes:
        if node.get("status", "done") != "done" or node.get("kind") not in ("intermediate", "finetune"):
            continue
        outputs = node.get("outputs") or {}
        learning = outputs.get("learning") or {}
        if node["kind"] == "intermediate":
            condition = (node.get("meta") or {}).get("condition") or node.get("label", "")
            if learning:
                out += [_record(node, "intermediate", condition, task, e) for task, e in learning.items()]
            else:
                out += [_phase2_from_loss(node, condition, task, share)
                        for task, share in (outputs.get("task_shares") or {}).items() if task != MLM.name]
        elif node["config"]["task"] in learning:
            out.append(_record(node, "finetune", node["config"]["condition"], node["config"]["task"],
                               learning[node["config"]["task"]]))
        else:
            out.append(_phase3_from_rows(node, rows))
    return out


def not_learned(records: Sequence[LearningRecord], nodes: Iterable[Mapping]) -> dict[str, str]:
    """Node key -> why, for every node a comparison must leave out: a training node that did not
    learn, and every node built on one, however far down (a probe of an encoder fine-tuned from a
    phase-2 encoder that did not learn goes with it)."""
    failed = [r for r in records if not r.learned]
    out = {r.node: f"{r.condition}{'' if r.seed is None else f' seed {r.seed}'} {r.task}: {r.why}" for r in failed}
    built_on = {r.node: f"{'phase 2' if r.phase == 'intermediate' else 'fine-tuning'} did not learn ({out[r.node]})"
                for r in failed}  # what a node built on that run says
    for node in nodes:  # in topological order (a plan's and a record's are): a node after its dependencies
        for dep in node.get("deps", ()):
            if dep in out and node["key"] not in out:
                out[node["key"]] = built_on.get(dep) or out[dep]
    return out


@dataclass(frozen=True)
class Learning:
    """A study's learning records, and what its comparisons leave out (`not_learned`)."""

    records: Sequence[LearningRecord] = ()
    left_out: Mapping[str, str] = field(default_factory=dict)


def assess(nodes: Iterable[Mapping], rows: Sequence[ResultRow] = ()) -> Learning:
    """The learning records of NODES (shaped like a published nodes.json's entries, in topological
    order) and the one rule for what did not learn, which the report and `recommend` both apply."""
    nodes = list(nodes)
    records = learning_records(nodes, rows)
    return Learning(records, not_learned(records, nodes))


def _num(x: float | None, digits: int) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def learning_grid(records: Sequence[LearningRecord], phase: Literal["intermediate", "finetune"] = "intermediate"):
    """The table that lets "equal learning" be checked: for phase 2 each condition's own-task dev
    score and final loss against chance; for phase 3 each run's English score."""
    own = "own-task dev" if phase == "intermediate" else "English"
    grid = Grid(
        title=("Phase 2: did each intermediate run learn its own task?" if phase == "intermediate"
               else "Phase 3: did each fine-tuning run learn its task (English)?"),
        columns=["condition", "seed", "task", f"{own} score", "chance", "final loss", "chance loss", "learned"],
        caption=f"{RULE}. A run that did not learn is listed here and left out of every comparison.",
        signed=False)
    for r in records:
        if r.phase != phase:
            continue
        score = "" if r.final_score is None else f"{r.final_score:.1f}" + (f" {r.metric}" if r.metric else "")
        grid.rows.append([r.condition, "" if r.seed is None else str(r.seed), r.task, score, _num(r.chance, 1),
                          _num(r.final_loss, 3), _num(r.chance_loss, 3),
                          ("yes" if r.learned else "NO") + f" ({r.why})"])
    return grid
