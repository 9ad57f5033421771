"""A user's own tasks, written as YAML: the schema, and how an entry becomes a TaskDef.

A task file holds one task (a mapping) or several (a list); a study spec may hold them inline
in its `tasks:` section. Paths and globs are relative to the file that names them. Each task
becomes a dataset of the catalog (`user:NAME`, read by the format's reader) and a TaskDef, and
then goes through the same validator as the built-in tasks (tasks/check.py), reading every
file: errors name file:line:field of the YAML, or of the data file that is wrong.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xstilts.data import catalog, formats, mapped
from xstilts.data.entries import DataFile, DatasetEntry
from xstilts.data.hf import HFRef
from xstilts.located import SpecError, _line_of, compose, problems as located_problems
from xstilts.tasks import check
from xstilts.tasks.registry import user_tasks
from xstilts.tasks.schema import Recipe, Source, TaskDef
from xstilts.tasktypes import TYPES, type_of
from xstilts.training.hparams import RECIPE_FIELDS, partial_model

LangTag = Annotated[str, Field(pattern=r"^[a-z]{3}_[A-Z][a-z]{3}$")]
TaskName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")]
if TYPE_CHECKING:
    TaskType = str
else:
    TaskType = Literal[tuple(TYPES)]  # one schema for every type xstilts.tasktypes has
Role = Literal["target", "intermediate", "probe"]
Split = Literal["train", "dev", "test"]
# What each type reads: the field-mapping kind (csv, tsv, jsonl, Hugging Face), or a fixed format.
MAPPED = ("csv", "tsv", "jsonl")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HFSource(_Strict):
    """A Hugging Face dataset split; a hub name needs its revision (a commit), a local folder not."""

    hf: str | None = None
    config: str | None = None
    revision: str | None = None
    split: str | None = None


if TYPE_CHECKING:  # generated at run time from HParams' fields: the checker cannot see them
    RecipeFields = Any
else:
    RecipeFields = partial_model("RecipeFields", _Strict, "Training defaults of the task (training/hparams.py layers "
                                 "the spec's over them).", RECIPE_FIELDS)


FileRef = str | Annotated[list[str], Field(min_length=1)] | HFSource


class TaskFile(_Strict):
    """One task as a user writes it (README: "Bring your own tasks")."""

    name: TaskName
    type: TaskType
    role: Role | Annotated[list[Role], Field(min_length=1)]
    version: str = "1"
    source: str | HFSource = ""  # where the data comes from, or the Hugging Face dataset it is read from
    licence: str = ""
    languages: Annotated[list[LangTag], Field(min_length=1)]
    format: str | None = None  # csv, tsv, jsonl (with fields), squad-json, conllu, conll-tab, parallel-text...
    fields: dict[str, str | list[str]] = {}
    labels: list[str] = []
    metrics: Annotated[list[str], Field(min_length=1)]
    main_score: str
    pivot: LangTag | None = None
    files: dict[Split, dict[LangTag, FileRef]]
    recipe: RecipeFields = RecipeFields()
    notes: str = ""

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.role,) if isinstance(self.role, str) else tuple(self.role)


Located = tuple[tuple, str]  # (location in the YAML, message)


def _hf_ref(tf: TaskFile, entry: HFSource, base: Path) -> HFRef | str:
    """The merged Hugging Face reference of one file entry, or why there is none."""
    top = tf.source if isinstance(tf.source, HFSource) else HFSource()
    name = entry.hf or top.hf
    split = entry.split or top.split
    if not name or not split:
        return "a Hugging Face entry needs 'hf' (here or in 'source') and 'split'"
    local = (base / name) if name.startswith((".", "/", "~")) else None
    if local is None and not (entry.revision or top.revision):
        return f"'{name}' is a hub dataset: pin it with 'revision' (a commit), so its rows cannot change"
    return HFRef(str(local.expanduser().resolve()) if local else name, split, entry.config or top.config,
                 None if local else (entry.revision or top.revision))


def _paths(ref: str | list[str], base: Path, fmt: str) -> tuple[str, ...] | str:
    """Absolute paths of a path/glob (or a list of them), or why they do not resolve."""
    out: list[str] = []
    for pattern in [ref] if isinstance(ref, str) else ref:
        full = str(base / pattern)
        found = sorted(glob.glob(full)) if glob.has_magic(pattern) else ([full] if Path(full).is_file() else [])
        if not found:
            return f"{full}: no such file" + (" (the glob matches nothing)" if glob.has_magic(pattern) else "")
        out += [str(Path(p).resolve()) for p in found]
    if fmt == "parallel-text" and len(out) != 2:
        return f"aligned text files are two (one per side), got {len(out)}"
    if fmt not in MAPPED and fmt != "parallel-text" and len(out) != 1:
        return f"format {fmt} reads one file per split and language, got {len(out)} (csv, tsv, jsonl read several)"
    return tuple(out)


def _shape(tf: TaskFile) -> list[Located]:
    """What the schema alone cannot say: the format and mapping fit the type, files cover the languages."""
    out: list[Located] = []
    hf = isinstance(tf.source, HFSource) or any(isinstance(v, HFSource) for f in tf.files.values() for v in f.values())
    fmt = tf.format
    if hf and fmt not in (None, *MAPPED):
        out.append((("format",), "a Hugging Face source is read through the field mapping: leave 'format' out"))
    elif not hf and fmt is None:
        out.append((("format",), f"required: {', '.join(MAPPED)} (with fields) or a registered format"))
    elif fmt is not None and fmt not in formats.FORMATS:
        out.append((("format",), f"unknown format '{fmt}'{formats.did_you_mean(fmt, formats.FORMATS)}"))
    mapped_fmt = hf or fmt in MAPPED
    kind = type_of(tf.type)
    if mapped_fmt:
        if not kind.field_kinds:
            out.append((("format",), kind.mapping_problem(tf.fields, "") or f"{tf.type} reads its own formats"))
        elif problem := mapped.check_fields(tf.fields):
            out.append((("fields",), problem))
        elif mapped.kind_of(tf.fields) not in kind.field_kinds:
            out.append((("fields",), f"a {mapped.kind_of(tf.fields)} mapping does not fit type '{tf.type}'"))
        elif problem := kind.mapping_problem(tf.fields, mapped.kind_of(tf.fields)):
            out.append((("fields",), problem))
    elif fmt in formats.FORMATS:
        if tf.fields:
            out.append((("fields",), f"format {fmt} has fixed fields; a mapping is for {', '.join(MAPPED)}"))
        allowed = kind.file_formats
        if fmt not in allowed:
            out.append((("format",), f"type '{tf.type}' reads {', '.join((*MAPPED, *allowed))}, not {fmt}"))
    langs = set(tf.languages) | ({tf.pivot} if tf.pivot else set())
    for split, by_lang in tf.files.items():
        for lang in by_lang:
            if lang not in langs:
                out.append((("files", split, lang), f"'{lang}' is not in languages ({', '.join(tf.languages)})"))
    if len(tf.files.get("dev", {})) > 1:
        out.append((("files", "dev"), "one dev file (the model is selected in one language)"))
    if "test" in tf.files and (missing := [lang for lang in tf.languages if lang not in tf.files["test"]]):
        out.append((("files", "test"), f"no test file for {', '.join(missing)} (every language is evaluated)"))
    if tf.main_score not in tf.metrics:
        out.append((("main_score",), f"'{tf.main_score}' is not one of the metrics"))
    if kind.pivoted and not tf.pivot:
        out.append((("pivot",), "a bitext task names the language every other is paired with"))
    return out


def build(tf: TaskFile, base: Path) -> tuple[DatasetEntry, TaskDef] | list[Located]:
    """The catalog dataset and the TaskDef of one entry, or where it is wrong."""
    if out := _shape(tf):
        return out
    fmt = tf.format or "jsonl"  # Hugging Face rows go through the jsonl mapping
    files: list[DataFile] = []
    for split, by_lang in tf.files.items():
        for lang, ref in by_lang.items():
            if isinstance(ref, HFSource):
                got: HFRef | tuple[str, ...] | str = _hf_ref(tf, ref, base)
                if isinstance(got, HFRef):
                    files.append(DataFile(split, lang, tuple(map(str, got.files())), (), got))
            else:
                got = _paths(ref, base, fmt)
                if isinstance(got, tuple):
                    files.append(DataFile(split, lang, got, ()))
            if isinstance(got, str):
                out.append((("files", split, lang), got))
    if out:
        return out
    dataset = f"user:{tf.name}"
    origin = str(tf.source) if isinstance(tf.source, str) else f"Hugging Face {tf.source.hf}@{tf.source.revision}"
    entry = DatasetEntry(
        dataset, tf.roles, fmt, tuple(dict.fromkeys(f.lang for f in files)), tuple(files), tf.licence, tf.version,
        tuple(tf.labels), notes=tf.notes, unlabelled=tuple(tf.files) if type_of(tf.type).pivoted else (),
        fields=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in tf.fields.items()))
    src = lambda split: tuple(Source(dataset, split, lang) for lang in tf.files.get(split, {}))  # noqa: E731
    dev = src("dev")
    recipe = Recipe(**{k: v for k, v in tf.recipe.model_dump().items() if v is not None})
    task = TaskDef(name=tf.name, type=tf.type, train=src("train"), dev=dev[0] if dev else None, eval=src("test"),
                   metrics=tuple(tf.metrics), main_score=tf.main_score, version=tf.version, labels=tuple(tf.labels),
                   recipe=recipe, roles=tf.roles, notes=tf.notes, pivot=tf.pivot, origin=origin, licence=tf.licence)
    return entry, task


@dataclass(frozen=True)
class UserTasks:
    """A user's tasks with their datasets, as loaded from YAML: known to get_task and the catalog only
    inside `scope()` (nothing is registered for the process), so a spec's tasks are resolved once
    and two studies in one process never see each other's. Iterates over its tasks."""

    tasks: tuple[TaskDef, ...] = ()
    datasets: tuple[DatasetEntry, ...] = ()

    def __iter__(self) -> Iterator[TaskDef]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i: int) -> TaskDef:
        return self.tasks[i]

    def __add__(self, other: UserTasks) -> UserTasks:
        return UserTasks(self.tasks + other.tasks, self.datasets + other.datasets)

    @contextmanager
    def scope(self) -> Iterator[None]:
        with catalog.user_datasets(self.datasets), user_tasks(self.tasks):
            yield


def load_entries(items: list[tuple[Any, Path, tuple]], path: Path, root, data_root=None) -> UserTasks:
    """Validate raw entries (data, base folder, location prefix) of one YAML file, check each task
    with the shared validator (reading its files), and return them."""
    found: list[tuple[int | None, str, str]] = []
    tasks, entries = [], []

    def report(prefix: tuple, loc: tuple, msg: str) -> None:
        found.append((_line_of(root, (*prefix, *loc)), ".".join(map(str, (*prefix, *loc))), msg))

    for data, base, prefix in items:
        try:
            tf = data if isinstance(data, TaskFile) else TaskFile.model_validate(data)
        except ValidationError as e:
            found += located_problems(root, e, TaskFile, prefix=prefix)
            continue
        built = build(tf, base)
        if isinstance(built, list):
            for loc, msg in built:
                report(prefix, loc, msg)
            continue
        entries.append(built[0])
        tasks.append((built[1], prefix))
    names = [t.name for t, _ in tasks]
    for (t, prefix) in tasks:
        if names.count(t.name) > 1:
            report(prefix, ("name",), f"task '{t.name}' is defined twice")
    if found:
        raise SpecError(path, found)
    loaded = UserTasks(tuple(t for t, _ in tasks), tuple(entries))
    with loaded.scope():
        for t, prefix in tasks:
            for field, msg in check.problems(t, data_root, read=True):
                report(prefix, tuple(field.split(".")), msg)  # "files.train.eng_Latn" -> its YAML node
    if found:
        raise SpecError(path, sorted(found, key=lambda p: p[0] or 0))
    return loaded


def load_task_file(path: str | Path) -> UserTasks:
    """The tasks of one YAML file (a task mapping or a list of them), validated."""
    path = Path(path).resolve()
    if not path.is_file():
        raise SpecError(path, [(None, "", "no such task file")])
    root, data = compose(path.read_text(encoding="utf-8"), path)
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(x, dict) for x in items):
        raise SpecError(path, [(1, "", "a task file holds a task (a mapping) or a list of tasks")])
    return load_entries([(x, path.parent, (i,) if isinstance(data, list) else ()) for i, x in enumerate(items)],
                        path, root)
