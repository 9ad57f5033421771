"""The one validator of a task entry, built-in or a user's: type, roles, languages, metrics,
labels, files; with `read`, every file is read (fields present, labels known, golds real).

Problems are (field, message) pairs; a user's task file turns the field into file:line.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.data import catalog, formats, languages, mapped
from xstilts.errors import XstiltsError
from xstilts.metrics import get_metric
from xstilts.tasks.schema import ROLES, Source, TaskDef
from xstilts.tasktypes import TYPES

Problem = tuple[str, str]
PROBE_TYPES = tuple(name for name, t in TYPES.items() if t.probe)


def _field(s: Source) -> str:
    return f"files.{s.split}.{s.lang}"


def language_ok(lang: str) -> bool:
    return bool(languages.TAG_RE.match(lang)) or lang in languages.LANGUAGE_TAGS


def id_aligned(task: TaskDef) -> bool:
    """A bitext task whose sources give texts with ids (joined with the pivot's), not pairs."""
    entry = catalog.get_dataset(task.eval[0].dataset) if task.eval else None
    kind = TYPES.get(task.type)
    if entry is None or kind is None or not kind.pivoted:
        return False
    if entry.fields:
        return mapped.kind_of(dict(entry.fields)) == "text"
    return formats.get_format(entry.format).example_type.__name__ == "TextExample"


def _sources(task: TaskDef) -> list[Source]:
    return [*task.train_first, *task.train, *([task.dev] if task.dev else []), *task.eval]


def problems(task: TaskDef, data_root: str | Path | None = None, *, read: bool = False) -> list[Problem]:
    out: list[Problem] = []
    add = lambda field, msg: out.append((field, msg))  # noqa: E731
    if task.type not in TYPES:
        add("type", f"unknown type '{task.type}'; known: {', '.join(TYPES)}")
    if not task.roles or not set(task.roles) <= set(ROLES):
        add("role", f"roles {list(task.roles)}; known: {', '.join(ROLES)}")
    if not task.version:
        add("version", "a version is required (bump it when a change can move a score)")
    for m in task.metrics:
        try:
            get_metric(m)
        except KeyError as e:
            add("metrics", str(e))
    if task.main_score not in task.metrics:
        add("main_score", f"'{task.main_score}' is not one of the metrics ({', '.join(task.metrics)})")
    kind = TYPES.get(task.type)
    for field, message in kind.task_problems(task) if kind else ():
        add(field, message)
    if "probe" in task.roles and task.type not in PROBE_TYPES:
        add("type", f"a probe is of type {' or '.join(PROBE_TYPES)}, not '{task.type}'")
    if set(task.roles) & {"target", "intermediate"}:
        if kind is not None and kind.head is None:
            add("role", f"a {task.type} task is only probed (role: probe)")
        elif not task.train:
            add("files.train", "a target or intermediate task needs training files")
    if not task.eval:
        add("files.test", "no evaluation files")
    if kind is not None and kind.pivoted:
        if not task.pivot:
            add("pivot", "a bitext task names the language every other is paired with")
        elif id_aligned(task) and task.pivot not in task.languages:
            add("pivot", f"texts aligned by id are joined with the pivot's: give files for '{task.pivot}'")
    for s in _sources(task):
        if not language_ok(s.lang):
            add(_field(s), f"unknown language '{s.lang}' (ISO 639-3 + script, e.g. swh_Latn)")
        try:
            entry = catalog.get_dataset(s.dataset)
            files = catalog.dataset_files(entry, s.split, s.lang)
        except KeyError as e:
            add(_field(s), e.args[0])
            continue
        if not entry.available:
            continue
        gone = [p for f in files for p in catalog.local_paths(entry, f, data_root) if not p.is_file()]
        if gone:
            add(_field(s), f"{gone[0]} is missing" + (f"; `xstilts data fetch {entry.name}`" if not entry.fields else ""))
        elif read:
            try:
                catalog.read(entry, s.split, s.lang, data_root)
            except XstiltsError as e:
                add(_field(s), str(e))
    return out
