"""`xstilts validate`: a spec checked for everything a run would fail on that can be known before it
starts (each problem at its file, line and field), its plan built, and the overlap guard run
(remembered in the cache under a hash of everything it reads)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from xstilts.data import catalog
from xstilts.errors import UnknownName
from xstilts.orchestration import guard
from xstilts.orchestration.plan import Plan, Throughput, build_plan, data_id, part_of, scaled_throughput
from xstilts.orchestration.spec import ProbeTarget, Spec, SpecError, TaskTarget, load_spec, load_spec_tasks, locate
from xstilts.tasks.registry import known_tasks
from xstilts.provenance import package_version, stable_hash
from xstilts.training.hparams import HParamsError, check_layer


def _spec_problems(path: str | Path, spec: Spec, root: Path) -> list[tuple[int | None, str, str]]:
    """Everything a run would fail on that can be known before it starts, each at its line."""
    from xstilts.tasks import check, get_task
    from xstilts.tasks.data import source_paths

    problems: list[tuple[int | None, str, str]] = []

    def add(loc: tuple, message: str) -> None:
        problems.append((locate(path, loc), ".".join(map(str, loc)), message))

    if not Path(root).is_dir():
        return [(None, "data_root", f"the data root {root} does not exist: pass --data-root DIR or set XSTILTS_DATA")]

    def missing_files(sources) -> str | None:
        gone = [(s.dataset, p) for s in sources for p in source_paths(s, root) if not p.is_file()]
        if gone:
            return (f"{gone[0][1]} is not in the data root" + (f" (and {len(gone) - 1} more)" if len(gone) > 1 else "")
                    + f"; `xstilts data fetch {gone[0][0]}` downloads it")
        return None

    for loc, layer, phase in [(("intermediate",), spec.intermediate, "intermediate"), (("finetune",), spec.finetune, "finetune"),
                              *((("conditions", i, "train"), c.train, "intermediate") for i, c in enumerate(spec.conditions)),
                              *((("targets", i, "train"), t.train, "finetune") for i, t in enumerate(spec.targets)
                                if isinstance(t, TaskTarget))]:
        try:
            check_layer(layer, phase)  # type: ignore[arg-type]
        except HParamsError as e:
            add((*loc, e.field), e.message)
    for i, c in enumerate(spec.conditions):
        for j, name in enumerate(c.tasks):
            try:
                sources = guard.train_sources(name)
            except KeyError as e:
                add(("conditions", i, "tasks", j), e.args[0])
                continue
            if gone := missing_files(sources):
                add(("conditions", i, "tasks", j), f"task '{name}': {gone}")
            elif name in known_tasks():
                for field, msg in check.problems(get_task(name), root):
                    add(("conditions", i, "tasks", j), f"task '{name}': {field}: {msg}")
        if c.mlm:
            for j, lang in enumerate(c.mlm.languages):
                try:
                    guard.mlm_tasks_for([lang])
                except KeyError as e:
                    add(("conditions", i, "mlm", "languages", j), e.args[0])
        if c.translation_of and c.tasks:
            try:
                get_task(c.translation_of)
            except KeyError as e:
                add(("conditions", i, "translation_of"), e.args[0])
                continue
            for j, name in enumerate(c.tasks):
                actual = get_task(name).translation_of if name in known_tasks() else None
                if actual != c.translation_of:
                    what = f"a translation of '{actual}'" if actual else "not a translation of any task"
                    add(("conditions", i, "tasks", j),
                        f"task '{name}' is {what}, not of '{c.translation_of}' (translation_of)")
    for i, t in enumerate(spec.targets):
        try:
            sources = guard.target_sources(t)
        except UnknownName as e:
            add(("targets", i, e.field or ("probe" if isinstance(t, ProbeTarget) else "task")), str(e))
            continue
        if isinstance(t, TaskTarget):
            task = get_task(t.task)
            sources = (*task.train_first, *task.train, *sources)
        where = ("targets", i, "probe" if isinstance(t, ProbeTarget) else "task")
        if gone := missing_files(sources):
            add(where, gone)
            continue
        name = t.probe if isinstance(t, ProbeTarget) else t.task
        for field, msg in check.problems(get_task(name), root):  # the validator every task passes
            add(where, f"task '{name}': {field}: {msg}")
        if isinstance(t, ProbeTarget):
            add_protocol_problems(t, ("targets", i), spec, add)
    return problems


def add_protocol_problems(t: ProbeTarget, where: tuple, spec: Spec, add) -> None:
    """A probe's `protocol: xtreme-r` must be one the task has; `after:` must name a target task."""
    from xstilts.evaluation.alignment import official_protocol
    from xstilts.tasks import get_task

    if t.protocol == "xtreme-r":
        try:
            official_protocol(get_task(t.probe), 12, "")
        except ValueError as e:
            add((*where, "protocol"), str(e))
    targets = [x.task for x in spec.targets if isinstance(x, TaskTarget)]
    if t.after is not None and t.after not in targets:
        add((*where, "after"), f"'{t.after}' is not a target task of this spec"
                               + (f" (its targets: {', '.join(targets)})" if targets else "")
                               + f"; add `- task: {t.after}` to targets")


def model_problems(path, spec, offline_ok=False):
    """runnable.model_problems, imported on use: it loads transformers (seconds `plan` does not need)."""
    from xstilts.orchestration import runnable

    return runnable.model_problems(path, spec, offline_ok)


def validate(path: str | Path, *, overlap: bool = True, data_root: str | Path | None = None,
             throughput: Throughput | None = None, smoke: bool = False, model: str | None = None,
             check_model: bool = True, offline_ok: bool = False, remember: bool = False,
             units: Sequence[int] | None = None) -> Plan:
    """`xstilts validate`: parse the spec, resolve every task and language name, check what a run
    would fail on (files the data root lacks, MLM languages without text, translations of the
    wrong task, settings no run can honour), build the plan and (with `overlap`, which reads
    the data) run the overlap guard. Runs nothing. MODEL replaces the spec's model; CHECK_MODEL
    (`validate`, `run`) checks first that it loads here and has the probes' layers (OFFLINE_OK,
    `xstilts validate`: a hub model this machine cannot reach is a warning); REMEMBER
    (`run` only: `plan` and `validate` create nothing) keeps the overlap check in the cache;
    UNITS (`--seeds`) keeps the part of the study those units need."""
    spec = load_spec(path)
    if model:
        spec = spec.model_copy(update={"model": model})
    problems, model_warnings = model_problems(path, spec, offline_ok) if check_model else ([], [])
    if problems:
        raise SpecError(path, problems)
    from xstilts.paths import data_root as resolve_data_root

    user = load_spec_tasks(spec, data_root or spec.data_root)  # the spec's own tasks, checked file by file: once
    with user.scope():
        if problems := _spec_problems(path, spec, resolve_data_root(data_root or spec.data_root)):
            raise SpecError(path, problems)
        plan = build_plan(spec, throughput or scaled_throughput(spec.model)[0], data_root, smoke=smoke, user=user)
        if problems := guard.declaration_problems(spec):
            raise SpecError(path, problems)
        plan = replace(plan, warnings=(*plan.warnings, *model_warnings))
        if units:
            plan = part_of(plan, units)
        if overlap:
            plan = replace(plan, warnings=(*plan.warnings, *overlap_warnings(spec, data_root, remember)))
    return plan


@contextmanager
def resolved(path: str | Path, **options: Any) -> Iterator[Plan]:
    """`validate(PATH, **OPTIONS)`'s plan, with the spec's own tasks in scope for the block: what a
    command that goes on to plan, run or report a study works inside."""
    plan = validate(path, **options)
    with plan.user.scope():
        yield plan


def overlap_warnings(spec: Spec, data_root: str | Path | None = None, remember: bool = False) -> list[str]:
    """guard.check_spec, read from disk (and, with REMEMBER, kept there) under a hash of everything
    it reads: the spec's conditions and targets, the content of every file their text comes from,
    the datasets' definitions and the guard's code. It reads and hashes every text of every
    source (most of a `plan` of full.yaml); a spec whose data did not change is not read again. A refused overlap
    (OverlapError) is never remembered: it is found again, and said, every time."""
    import hashlib
    import json
    import os

    from xstilts.paths import cache_dir

    root = data_root or spec.data_root
    try:
        sources = sorted({s for c in spec.conditions if c.tasks
                          for t in [*c.tasks, *(guard.mlm_tasks_for(c.mlm.languages) if c.mlm else [])]
                          for s in guard.train_sources(t)}
                         | {s for t in spec.targets for ss in guard.target_phases(t).values() for s in ss}, key=repr)
        key = stable_hash({"spec": spec.model_dump(include={"conditions", "targets"}, mode="json"),
                           "data": data_id(sources, root),
                           "datasets": sorted({repr(catalog.get_dataset(s.dataset)) for s in sources}),
                           "guard": hashlib.sha256(Path(guard.__file__).read_bytes()).hexdigest(),
                           "version": package_version()})
    except (OSError, KeyError, TypeError, ValueError):
        return guard.check_spec(spec, data_root)
    path = cache_dir() / "overlap" / f"{key[:32]}.json"
    try:
        return list(json.loads(path.read_text())["warnings"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    warnings = guard.check_spec(spec, data_root)
    if not remember:
        return warnings
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"warnings": warnings}))
        os.replace(tmp, path)
    except OSError:
        pass
    return warnings


