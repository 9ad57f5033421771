"""A study spec: the YAML file a user writes, as pydantic models that forbid unknown keys.

Errors name the file, the line and the field (STYLE rule 9): pydantic's error locations are
walked through the composed YAML node tree to the line the user has to edit.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, PositiveFloat, PositiveInt, Tag,
                      ValidationError, model_validator)

from xstilts.errors import XstiltsError

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]
ConditionKind = Literal["none", "english", "low-resource", "multi", "mlm", "translated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Train(_Strict):
    """Training hyper-parameters; a field left out falls back to the next layer
    (condition/target override → spec defaults → the task's published recipe), resolved by
    `experiments.hparams.resolve`."""

    max_steps: PositiveInt | None = None  # replaces epochs (set one of the two)
    epochs: PositiveFloat | None = None
    lr: PositiveFloat | None = None
    batch_size: PositiveInt | None = None  # examples per micro-batch
    grad_accum: PositiveInt | None = None  # micro-batches per optimizer step
    max_length: PositiveInt | None = None
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] | None = None
    weight_decay: Annotated[float, Field(ge=0)] | None = None
    freeze_embeddings: bool | None = None
    max_train_examples: PositiveInt | None = None
    # fine-tuning only: model selection and evaluation budget
    eval_every: PositiveInt | None = None  # dev evaluations (and checkpoints) every N steps
    max_dev_examples: PositiveInt | None = None  # English dev examples per model-selection pass
    max_eval_examples: PositiveInt | None = None  # zero-shot examples per language


class Sampling(_Strict):
    """How a multi-task condition picks the task of each batch (Phang et al.: proportional)."""

    rule: Literal["proportional", "temperature"] = "proportional"
    cap: PositiveInt | None = None  # examples counted per task at most, for proportional
    temperature: PositiveFloat = 1.0


class MLM(_Strict):
    """The paper's baseline (i): masked language modelling kept on during intermediate training."""

    languages: Annotated[list[str], Field(min_length=1)]
    weight: PositiveFloat = 1.0  # scales the MLM loss against the task losses
    # Share of phase-2 batches that are MLM batches. 'proportional' (default): MLM is one more
    # task of the multi-task sampler, p ∝ min(examples, cap), as jiant's X-STILTs runs did
    # (jiant/proj/main/scripts/configurator.py: ProportionalMultiTaskSampler, capped by
    # train_examples_cap); a number fixes the share, the tasks sharing the rest by the sampling rule.
    fraction: Literal["proportional"] | Annotated[float, Field(gt=0, lt=1)] = "proportional"
    max_examples: PositiveInt | None = None


class Condition(_Strict):
    name: Name
    kind: ConditionKind
    tasks: list[str] = []
    sampling: Sampling | None = None
    mlm: MLM | None = None
    pair: Name | None = None  # conditions sharing a pair key are the same content in other languages
    # kind 'translated': the task whose (human or machine) translation this condition trains on
    translation_of: str | None = None
    train: Train = Train()

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        n = len(self.tasks)
        if self.kind == "none" and (n or self.mlm or self.sampling or self.pair):
            raise ValueError("field 'tasks': kind 'none' trains nothing and takes no tasks, sampling, mlm or pair")
        if self.kind in ("english", "low-resource", "translated") and n != 1:
            raise ValueError(f"field 'tasks': kind '{self.kind}' trains exactly one task, got {n} (use kind 'multi')")
        if self.kind == "multi" and n < 2:
            raise ValueError(f"field 'tasks': kind 'multi' needs at least two tasks, got {n}")
        if self.kind == "mlm" and (n < 1 or self.mlm is None):
            raise ValueError("field 'mlm': kind 'mlm' needs at least one task and an 'mlm' section")
        if self.kind != "mlm" and self.mlm is not None:
            raise ValueError(f"field 'mlm': only kind 'mlm' takes an 'mlm' section, not '{self.kind}'")
        if self.sampling is not None and self.kind not in ("multi", "mlm"):
            raise ValueError(f"field 'sampling': only multi-task kinds sample tasks, not '{self.kind}'")
        if self.kind == "translated" and not self.translation_of:
            raise ValueError("field 'translation_of': kind 'translated' names the task its data is a translation of")
        if self.kind != "translated" and self.translation_of:
            raise ValueError(f"field 'translation_of': only kind 'translated' takes it, not '{self.kind}'")
        return self


class ProbeTarget(_Strict):
    """A retrieval probe scored on the encoder itself (no fine-tuning); see evaluation.alignment."""

    probe: Literal["tatoeba", "flores", "lareqa"]
    langs: list[str] | None = None  # None: the probe's XTREME-R languages
    layers: str | list[int] = "middle"
    pooling: Literal["mean", "cls"] = "mean"
    prefix: str | None = None  # None: the encoder's default ("query: " for e5)
    scorer: Literal["cosine", "margin"] = "cosine"
    max_sentences: PositiveInt | None = None  # the first N Tatoeba pairs / FLORES sentences / LAReQA questions


class TaskTarget(_Strict):
    """A target task fine-tuned on English and evaluated zero-shot in its other languages."""

    task: str
    langs: list[str] | None = None  # None: every evaluation language of the task
    train: Train = Train()


def _target_tag(v: Any) -> str:
    data = v if isinstance(v, dict) else v.__dict__
    return "probe-target" if "probe" in data else "task-target"


Target = Annotated[Annotated[ProbeTarget, Tag("probe-target")] | Annotated[TaskTarget, Tag("task-target")],
                   Discriminator(_target_tag)]
_TAGS = {"probe-target": ProbeTarget, "task-target": TaskTarget}


class Resources(_Strict):
    """What one node asks of a Ray cluster; num_gpus None: 1 where the cluster has GPUs, else 0."""

    num_gpus: Annotated[float, Field(ge=0)] | None = None
    num_cpus: PositiveFloat = 1.0


class Spec(_Strict):
    name: Name
    model: Annotated[str, Field(min_length=1)] = "me5-small"
    seeds: Annotated[list[int], Field(min_length=1)] = [1]
    # 'first': one intermediate model per condition (trained with seeds[0], as the paper does),
    # reused by every seed of phase 3; 'per-seed': one per condition and seed.
    intermediate_seeds: Literal["first", "per-seed"] = "first"
    data_root: Path | None = None  # relative paths are relative to the spec file
    store: str | None = None  # SQLAlchemy URL; None: the user's SQLite file
    conditions: Annotated[list[Condition], Field(min_length=1)]
    intermediate: Train = Train()
    targets: Annotated[list[Target], Field(min_length=1)]
    finetune: Train = Train()
    resources: Resources = Resources()

    @model_validator(mode="after")
    def _unique(self) -> Spec:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"field 'seeds': a seed is listed twice: {self.seeds}")
        names = [c.name for c in self.conditions]
        if dup := {n for n in names if names.count(n) > 1}:
            raise ValueError(f"field 'conditions': name(s) {sorted(dup)} used twice")
        if sum(c.kind == "none" for c in self.conditions) > 1:
            raise ValueError("field 'conditions': at most one condition of kind 'none'")
        pairs: dict[str, int] = {}
        for c in self.conditions:
            if c.pair:
                pairs[c.pair] = pairs.get(c.pair, 0) + 1
        if lonely := sorted(p for p, n in pairs.items() if n < 2):
            raise ValueError(f"field 'pair': pair key(s) {lonely} link only one condition")
        dumped = [t.model_dump_json() for t in self.targets]
        if len(set(dumped)) != len(dumped):
            raise ValueError("field 'targets': a target is listed twice")
        return self


# ---- loading with located errors ------------------------------------------------------------


class SpecError(XstiltsError):
    """A spec that does not validate; `problems` are (line, field, message) triples."""

    def __init__(self, path: str | Path, problems: list[tuple[int | None, str, str]]):
        self.path, self.problems = str(path), problems
        lines = [f"{self.path}{f':{line}' if line else ''}: {field + ': ' if field else ''}{msg}"
                 for line, field, msg in problems]
        super().__init__("\n".join(lines))


def _check_duplicate_keys(node: yaml.Node, path: Path) -> None:
    """PyYAML keeps the last of two equal keys silently; a spec with one is a mistake."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                raise SpecError(path, [(k.start_mark.line + 1, str(k.value), "key given twice")])
            seen.add(k.value)
            _check_duplicate_keys(v, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path)


def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """Line (1-based) of the deepest YAML node the error location reaches."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                continue  # a union tag, or a missing key: stay on the enclosing mapping
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class whose field set an error location points into."""
    model: type[BaseModel] = Spec
    for part in loc:
        if part in _TAGS:
            model = _TAGS[part]
        elif isinstance(part, str):
            field = model.model_fields.get(part)
            found = _models_in(field.annotation) if field else []
            if not found:
                return None
            model = found[0]
    return model


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _problem(root: yaml.Node | None, err: dict) -> tuple[int | None, str, str]:
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc if p not in _TAGS)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        msg = f"unknown key '{loc[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "") + \
              (f"; allowed: {', '.join(known)}" if known else "")
    elif err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    return _line_of(root, loc), field, msg


def parse_spec(text: str, path: str | Path = "<spec>") -> Spec:
    """Validate YAML text; every problem is reported with its line and field."""
    path = Path(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SpecError(path, [(mark.line + 1 if mark else None, "", f"not valid YAML: {e.problem or e}")]) from None
    if root is not None:
        _check_duplicate_keys(root, path)
    if not isinstance(data, dict):
        raise SpecError(path, [(1, "", "a spec is a YAML mapping (name:, model:, conditions:, targets: ...)")])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        problems = sorted((_problem(root, err) for err in e.errors()), key=lambda p: p[0] or 0)
        raise SpecError(path, problems) from None
    if spec.data_root is not None and not spec.data_root.is_absolute() and path.parent != Path(""):
        spec = spec.model_copy(update={"data_root": (path.parent / spec.data_root).resolve()})
    return spec


def locate(path: str | Path, loc: tuple) -> int | None:
    """The line of a spec file that a validation location (e.g. ('conditions', 1, 'tasks', 0)) points at."""
    return _line_of(yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader), loc)


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, [(None, "", "no such spec file")])
    return parse_spec(path.read_text(encoding="utf-8"), path)
