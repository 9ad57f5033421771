"""What a study ran, as the report states it up front: the model, the budgets of each phase, the
evaluation sets (split, metric, any cut), from the rows themselves (phase 3's settings ride on its
rows) and, for phase 2, from the design (its nodes' settings: no row carries them).

Then the study's own limits in words (`limits`): a smoke budget, too few units or one encoder per
condition, evaluation sets cut to their first examples, runs left out, and a dev curve still
rising at the end of phase 3, each derived from the report so it can never drift from the numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from xstilts.store import ResultRow

RISING = 1.0  # points: a dev curve whose last score beats its best earlier score by this much was still rising


@dataclass(frozen=True)
class Setup:
    """The study as its rows describe it; empty fields where the rows do not say."""

    models: tuple[str, ...] = ()
    phase3_steps: dict[str, tuple[int, ...]] = field(default_factory=dict)  # target -> its runs' max_steps
    eval_cut: dict[str, int] = field(default_factory=dict)  # target -> examples per language (when cut)
    probe_cut: dict[str, int] = field(default_factory=dict)  # probe task -> sentences per language (when cut)
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> evaluation splits
    metrics: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task -> metrics of its rows


def setup_of(rows: Iterable[ResultRow], benchmark=None) -> Setup:
    """The model, phase-3 budgets, splits, metrics and evaluation cuts the rows record; a BENCHMARK
    task's metrics are the keys its score averages (UD-POS rows also carry precision and recall)."""
    names = {t.name: t for t in benchmark.tasks} if benchmark is not None else {}
    models: dict[str, None] = {}
    steps: dict[str, set[int]] = defaultdict(set)
    cut: dict[str, set[int]] = defaultdict(set)
    probe_cut: dict[str, set[int]] = defaultdict(set)
    splits: dict[str, set[str]] = defaultdict(set)
    metrics: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        models.setdefault(r.model)
        splits[r.task].add(r.split)
        metrics[r.task].add(r.metric)
        if r.layer is None:
            hp = r.protocol.get("hparams") or {}
            if isinstance(hp.get("max_steps"), int):
                steps[r.task].add(hp["max_steps"])
            if isinstance(hp.get("max_eval_examples"), int):
                cut[r.task].add(hp["max_eval_examples"])
        elif isinstance(r.protocol.get("max_sentences"), int):
            probe_cut[r.task].add(r.protocol["max_sentences"])
    return Setup(models=tuple(models), phase3_steps={t: tuple(sorted(s)) for t, s in steps.items()},
                 eval_cut={t: max(s) for t, s in cut.items()}, probe_cut={t: max(s) for t, s in probe_cut.items()},
                 splits={t: tuple(sorted(s)) for t, s in splits.items()},
                 metrics={t: names[t].score_keys if t in names else tuple(sorted(s)) for t, s in metrics.items()})


def phase2_steps(nodes: Iterable[Mapping]) -> tuple[int, ...]:
    """The distinct numbers of steps a study's phase-2 (intermediate) nodes trained, dicts shaped like
    nodes.json's entries: the step budget, or the last dev evaluation's step where `until` stopped a
    run there; () where none is recorded (no phase 2, or budgets in epochs)."""
    out = set()
    for n in nodes:
        train = (n.get("config") or {}).get("train")
        if n.get("kind") != "intermediate" or not isinstance(train, Mapping):
            continue
        outputs = n.get("outputs") or {}
        curves = [e.get("curve") or [] for e in (outputs.get("learning") or {}).values() if isinstance(e, Mapping)]
        stopped = [c[-1][0] for c in curves if c] if outputs.get("stopped_early") else []
        out.add(max(stopped) if stopped else train.get("max_steps"))
    return tuple(sorted(s for s in out if isinstance(s, int)))


def steps_text(steps: Sequence[int]) -> str:
    """'100 steps', '50–100 steps', or 'steps not recorded'."""
    if not steps:
        return "steps not recorded"
    return f"{steps[0]} step{'s' * (steps[0] != 1)}" if len(steps) == 1 else f"{min(steps)}–{max(steps)} steps"


def metric_text(setup: Setup, task: str) -> str:
    """'accuracy', or '(f1+exact_match)/2' where a task's score averages several: the metric behind its points."""
    keys = setup.metrics.get(task, ())
    return keys[0] if len(keys) == 1 else f"({'+'.join(keys)})/{len(keys)}" if keys else "score"


def still_rising(curve: Sequence[tuple[int, float]]) -> bool:
    """Whether a dev curve's last score beats every earlier one by RISING points or more."""
    return len(curve) >= 2 and curve[-1][1] >= max(v for _s, v in curve[:-1]) + RISING


def limits(report) -> list[str]:
    """The study's own limits in words (a StudyReport): what a reader must weigh before the numbers."""
    from xstilts.report.stats import NO_CLAIM

    out = []
    design, setup = report.design, report.setup
    if design.smoke:
        out.append("Smoke run: every node ran on a tiny budget to test the code paths; the numbers mean nothing.")
    comps = report.comparisons
    if untested := [c for c in comps if not c.tested]:
        where = "" if len(untested) == len(comps) else f" ({len(untested)} of {len(comps)} comparisons, marked n/a)"
        out.append(f"{NO_CLAIM}{where}.")
    if comps and not report.units_are_encoders:
        out.append("One phase-2 run per condition: the units are fine-tuning seeds of one encoder, so comparisons "
                   "are between particular encoders, not kinds of intermediate training; probes ran once per "
                   "encoder, so alignment differences have no interval.")
    cut = [f"{t} {n} examples" for t, n in setup.eval_cut.items()]
    cut += [f"{t} {n} sentences" for t, n in setup.probe_cut.items()]
    if cut:
        out.append(f"Evaluation sets cut to their first examples per language ({', '.join(cut)}): small test "
                   "samples widen every interval.")
    if report.excluded:
        n = len(report.excluded)
        one = n == 1
        kept = (" (kept all the same in a smoke run)" if design.smoke
                else f", so {'it was' if one else 'they were'} left out of every comparison")
        out.append(f"{n} training run{'s' * (not one)} did not learn {'its' if one else 'their'} own task"
                   f"{kept}: {'it is' if one else 'they are'} listed below.")
    rising: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in report.learning:
        if r.phase == "finetune" and len(r.curve) >= 2:
            rising[r.task][1] += 1
            rising[r.task][0] += still_rising(r.curve)
    for task, (up, total) in rising.items():
        if up:
            out.append(f"{task}: the English dev score was still rising at the end of phase 3 in {up} of {total} "
                       f"runs ({steps_text(setup.phase3_steps.get(task, ()))}): not converged.")
    if len(setup.models) == 1:
        out.append(f"One model ({setup.models[0]}): the results say nothing about other encoders.")
    return out
