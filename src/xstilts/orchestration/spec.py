"""A study spec: the YAML file a user writes, as pydantic models that forbid unknown keys.

Errors name the file, the line and the field (STYLE rule 9): pydantic's error locations are
walked through the composed YAML node tree to the line the user has to edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, Discriminator, Field, PositiveFloat, PositiveInt, PrivateAttr, Tag,
                      ValidationError, model_validator)

from xstilts.located import SpecError, Strict, compose, locate as _locate, problems
from xstilts.training.hparams import Train
from xstilts.tasks.user import TaskFile, UserTasks
from xstilts.errors import BadValue

__all__ = ["SpecError", "Spec", "load_spec", "parse_spec", "locate", "load_spec_tasks"]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]
ConditionKind = Literal["none", "english", "low-resource", "multi", "mlm", "translated"]


# numpy's seeds are 0 .. 2**32 - 1 (a nested fine-tuning seed adds NESTED_SEED_STRIDE per run)
SEED_MAX = 2**32 - 1
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Langs = Annotated[list[str], Field(min_length=1)]  # an empty list would silently mean "all languages"


class Sampling(Strict):
    """How a multi-task condition picks the task of each batch (Phang et al.: proportional)."""

    rule: Literal["proportional", "temperature"] = "proportional"
    cap: PositiveInt | None = None  # examples counted per task at most, for proportional
    temperature: PositiveFloat = 1.0


class MLM(Strict):
    """The paper's baseline (i): masked language modelling kept on during intermediate training."""

    languages: Annotated[list[str], Field(min_length=1)]
    weight: PositiveFloat = 1.0  # scales the MLM loss against the task losses
    # Share of phase-2 batches that are MLM batches. 'proportional' (default): MLM is one more
    # task of the multi-task sampler, p ∝ min(examples, cap), as jiant's X-STILTs runs did
    # (jiant/proj/main/scripts/configurator.py: ProportionalMultiTaskSampler, capped by
    # train_examples_cap); a number fixes the share, the tasks sharing the rest by the sampling rule.
    fraction: Literal["proportional"] | Annotated[float, Field(gt=0, lt=1)] = "proportional"
    max_examples: PositiveInt | None = None


class Condition(Strict):
    name: Name
    kind: ConditionKind
    tasks: list[str] = []
    sampling: Sampling | None = None
    mlm: MLM | None = None
    pair: Name | None = None  # conditions sharing a pair key are the same content in other languages
    # kind 'translated': the task whose (human or machine) translation this condition trains on
    translation_of: str | None = None
    train: Train = Train()
    # targets (task or probe names) whose data this condition's phase-2 data is known to share:
    # the leakage guard then warns instead of refusing, and the report flags those comparisons
    declared_overlap: list[str] = []

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        n = len(self.tasks)
        if self.kind == "none" and self.declared_overlap:
            raise BadValue("field 'declared_overlap': kind 'none' trains nothing, so it shares no data")
        if self.kind == "none" and (n or self.mlm or self.sampling or self.pair):
            raise BadValue("field 'tasks': kind 'none' trains nothing and takes no tasks, sampling, mlm or pair")
        if self.kind in ("english", "low-resource", "translated") and n != 1:
            raise BadValue(f"field 'tasks': kind '{self.kind}' trains exactly one task, got {n} (use kind 'multi')")
        if self.kind == "multi" and n < 2:
            raise BadValue(f"field 'tasks': kind 'multi' needs at least two tasks, got {n}")
        if self.kind == "mlm" and (n < 1 or self.mlm is None):
            raise BadValue("field 'mlm': kind 'mlm' needs at least one task and an 'mlm' section")
        if self.kind != "mlm" and self.mlm is not None:
            raise BadValue(f"field 'mlm': only kind 'mlm' takes an 'mlm' section, not '{self.kind}'")
        if self.sampling is not None and self.kind not in ("multi", "mlm"):
            raise BadValue(f"field 'sampling': only multi-task kinds sample tasks, not '{self.kind}'")
        if self.kind == "translated" and not self.translation_of:
            raise BadValue("field 'translation_of': kind 'translated' names the task its data is a translation of")
        if self.kind != "translated" and self.translation_of:
            raise BadValue(f"field 'translation_of': only kind 'translated' takes it, not '{self.kind}'")
        return self


class ProbeTarget(Strict):
    """A probe scored on the encoder itself (no fine-tuning): a task of role "probe", built in
    (tatoeba, flores, lareqa, bucc) or the spec's own; see evaluation.alignment.

    `protocol: xtreme-r` scores it as the benchmark does (Tatoeba: English queries at the official
    layer, 512 tokens), which fixes layers, pooling and scorer; its Tatoeba rows feed the XTREME-R
    retrieval category. `after: TASK` scores the encoder once fine-tuned on TASK's English data
    (a target of the spec), as XTREME-R scores Tatoeba after SQuAD (`after: xquad`)."""

    probe: Annotated[str, Field(min_length=1)]
    langs: Langs | None = None  # None: the probe's XTREME-R languages
    protocol: Literal["alignment", "xtreme-r"] = "alignment"
    after: str | None = None
    layers: str | Annotated[list[int], Field(min_length=1)] = "middle"
    pooling: Literal["mean", "cls"] = "mean"
    prefix: str | None = None  # None: the encoder's default ("query: " for e5)
    scorer: Literal["cosine", "margin"] = "cosine"
    max_sentences: PositiveInt | None = None  # the first N pairs / sentences / questions per language

    @model_validator(mode="after")
    def _protocol_fixes_its_settings(self) -> ProbeTarget:
        if self.protocol == "xtreme-r":
            for name in ("layers", "pooling", "scorer"):
                if name in self.model_fields_set:
                    raise BadValue(f"field '{name}': the xtreme-r protocol fixes the layer, pooling and scorer; "
                                     "drop it, or use protocol: alignment")
        return self


class TaskTarget(Strict):
    """A target task fine-tuned on English and evaluated zero-shot in its other languages."""

    task: str
    langs: Langs | None = None  # None: every evaluation language of the task
    train: Train = Train()


def _target_tag(v: Any) -> str:
    data = v if isinstance(v, dict) else v.__dict__
    return "probe-target" if "probe" in data else "task-target"


Target = Annotated[Annotated[ProbeTarget, Tag("probe-target")] | Annotated[TaskTarget, Tag("task-target")],
                   Discriminator(_target_tag)]
_TAGS: dict[str, type[BaseModel]] = {"probe-target": ProbeTarget, "task-target": TaskTarget}


class NodeResources(Strict):
    """One node kind's share of a Ray cluster; a field left out takes the spec-wide value."""

    num_gpus: Annotated[float, Field(ge=0)] | None = None
    num_cpus: PositiveFloat | None = None


class Resources(Strict):
    """What a node asks of a Ray cluster. The flat fields hold for every node; a section per node
    kind overrides them: `probe: {num_gpus: 0.25}` lets Ray place four probes on one GPU (a
    recipe batch uses a fraction of a large GPU). num_gpus None: 1 where the cluster has GPUs, else 0."""

    num_gpus: Annotated[float, Field(ge=0)] | None = None
    num_cpus: PositiveFloat = 1.0
    intermediate: NodeResources = NodeResources()
    finetune: NodeResources = NodeResources()
    probe: NodeResources = NodeResources()

    def of(self, kind: str) -> tuple[float | None, float]:
        """(num_gpus, num_cpus) for a node of KIND."""
        own = getattr(self, kind, None) or NodeResources()
        return (self.num_gpus if own.num_gpus is None else own.num_gpus,
                self.num_cpus if own.num_cpus is None else own.num_cpus)


class Checkpoints(Strict):
    """What a study keeps on disk once a node is done. Phase-2 encoders are always kept (later
    nodes load them); optimizer state is always dropped; phase-3 weights only on request."""

    keep_finetuned: bool = False


class PrimaryComparison(Strict):
    """Side A minus side B on TARGETS, declared before the run. A side is a condition name or
    a condition kind (the mean of that kind's conditions); an outcome is a target task or probe name,
    'alignment' (every probe) or 'transfer' (every target task, zero-shot)."""

    a: Annotated[str, Field(min_length=1)]
    b: Annotated[str, Field(min_length=1)]
    targets: Annotated[list[str], Field(min_length=1)]  # (not `on:`: YAML reads that key as true)


class Analysis(Strict):
    """The statistics declared in advance: the primary comparison(s), the smallest difference that
    matters and alpha. Each comparison ends as different / equivalent within ±margin / inconclusive."""

    primary: list[PrimaryComparison] = []
    margin: PositiveFloat = 1.0  # points
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    # sd of one unit's difference (points) to plan with when no pilot study is given (`plan --pilot`)
    planning_sd: PositiveFloat | None = None


class Spec(Strict):
    name: Name
    model: Annotated[str, Field(min_length=1)] = "me5-small"
    seeds: Annotated[list[Seed], Field(min_length=1)] = [1]
    # 'per-seed' (default): one phase-2 encoder per condition and seed, the unit of replication
    # (a claim about a kind of training needs several encoders); 'first': one encoder per
    # condition (trained with seeds[0], as the paper does) reused by every seed of phase 3, so a
    # comparison is between two particular encoders.
    intermediate_seeds: Literal["first", "per-seed"] = "per-seed"
    # fine-tuning runs per unit (nested in each phase-2 encoder): seeds s, s+1000, s+2000, ...
    finetune_seeds: PositiveInt = 1
    analysis: Analysis = Analysis()
    data_root: Annotated[Path | None, Field(strict=False)] = None  # relative paths are relative to the spec file
    store: str | None = None  # SQLAlchemy URL; None: the user's SQLite file
    # where encoders, checkpoints and predictions go (<storage>/<name>); on a cluster a path every
    # node mounts. None: the user dir. Relative paths are relative to the spec file.
    storage: Path | None = None
    tasks: list[str | TaskFile] = []  # the study's own tasks: YAML files (relative to the spec) or inline entries
    conditions: Annotated[list[Condition], Field(min_length=1)]
    intermediate: Train = Train()
    targets: Annotated[list[Target], Field(min_length=1)]
    finetune: Train = Train()
    resources: Resources = Resources()
    checkpoints: Checkpoints = Checkpoints()
    _path: Path | None = PrivateAttr(default=None)  # the spec file, which task paths are relative to

    @model_validator(mode="after")
    def _unique(self) -> Spec:
        if len(set(self.seeds)) != len(self.seeds):
            raise BadValue(f"field 'seeds': a seed is listed twice: {self.seeds}")
        names = [c.name for c in self.conditions]
        if dup := {n for n in names if names.count(n) > 1}:
            raise BadValue(f"field 'conditions': name(s) {sorted(dup)} used twice")
        if sum(c.kind == "none" for c in self.conditions) > 1:
            raise BadValue("field 'conditions': at most one condition of kind 'none'")
        pairs: dict[str, int] = {}
        for c in self.conditions:
            if c.pair:
                pairs[c.pair] = pairs.get(c.pair, 0) + 1
        if lonely := sorted(p for p, n in pairs.items() if n < 2):
            raise BadValue(f"field 'pair': pair key(s) {lonely} link only one condition")
        dumped = [t.model_dump_json() for t in self.targets]
        if len(set(dumped)) != len(dumped):
            raise BadValue("field 'targets': a target is listed twice")
        if self.finetune_seeds > 1 and self.intermediate_seeds != "per-seed":
            raise BadValue("field 'finetune_seeds': nested fine-tuning seeds need intermediate_seeds: per-seed")
        if max(self.seeds) + 1000 * (self.finetune_seeds - 1) > SEED_MAX:  # plan.NESTED_SEED_STRIDE
            raise BadValue(f"field 'seeds': seed {max(self.seeds)} + 1000 x {self.finetune_seeds - 1} nested "
                             f"fine-tuning runs passes numpy's largest seed, {SEED_MAX}")
        sides = {*names, *(c.kind for c in self.conditions)}
        outcomes = {"alignment", "transfer", *(t.probe if isinstance(t, ProbeTarget) else t.task for t in self.targets)}
        for p in self.analysis.primary:
            for side in (p.a, p.b):
                if side not in sides:
                    raise BadValue(f"field 'analysis': '{side}' is neither a condition nor a condition kind "
                                     f"of this spec ({', '.join(sorted(sides))})")
            for name in p.targets:
                if name not in outcomes:
                    raise BadValue(f"field 'analysis': '{name}' is not a target of this spec "
                                     f"({', '.join(sorted(outcomes))})")
        return self


# ---- loading with located errors ------------------------------------------------------------


def parse_spec(text: str, path: str | Path = "<spec>") -> Spec:
    """Validate YAML text; every problem is reported with its line and field. Relative paths
    (data_root, task files) are made relative to the spec's folder."""
    path = Path(path)
    root, data = compose(text, path)
    if not isinstance(data, dict):
        raise SpecError(path, [(1, "", "a spec is a YAML mapping (name:, model:, conditions:, targets: ...)")])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        raise SpecError(path, problems(root, e, Spec, _TAGS)) from None
    for name in ("data_root", "storage"):
        value = getattr(spec, name)
        if value is not None and not value.is_absolute() and path.parent != Path(""):
            spec = spec.model_copy(update={name: (path.parent / value).resolve()})
    spec._path = path.resolve() if path.name != "<spec>" else None
    return spec


def locate(path: str | Path, loc: tuple) -> int | None:
    """The line of a spec file that a validation location (e.g. ('conditions', 1, 'tasks', 0)) points at."""
    return _locate(path, loc)


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, [(None, "", "no such spec file")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SpecError(path, [(line, "", f"not UTF-8: byte 0x{raw[e.start]:02x} at column {column}; save the "
                                          "spec as UTF-8")]) from None
    return parse_spec(text, path)


def load_spec_tasks(spec: Spec, data_root: str | Path | None = None) -> UserTasks:
    """Validate the tasks of a spec's `tasks:` section (task files relative to the spec, or entries
    written inline); errors name the file, line and field. Known only inside the result's `scope()`."""
    from xstilts.tasks.user import load_entries, load_task_file

    if not spec.tasks:
        return UserTasks()
    path = spec._path or Path("<spec>")
    base = path.parent
    tasks, inline = UserTasks(), []
    for i, item in enumerate(spec.tasks):
        if isinstance(item, str):
            file = base / item
            if not file.is_file():
                raise SpecError(path, [(_locate(path, ("tasks", i)) if spec._path else None, f"tasks.{i}",
                                        f"{file}: no such task file")])
            tasks += load_task_file(file)
        else:
            inline.append((item, base, ("tasks", i)))
    if inline:
        root = compose(path.read_text(encoding="utf-8"), path)[0] if spec._path else None
        with tasks.scope():  # an inline task may name a file task's dataset
            tasks += load_entries(inline, path, root, data_root)
    return tasks
