"""The task registry, built by discovering every module in `xstilts.tasks.families`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from xstilts.data.formats import did_you_mean
from xstilts.tasks import families
from xstilts.tasks.schema import TaskDef
from xstilts.errors import BadValue, UnknownName


def build_registry(tasks: Iterable[TaskDef]) -> dict[str, TaskDef]:
    """Name -> task; a name defined twice is an error at import."""
    registry: dict[str, TaskDef] = {}
    for task in tasks:
        if task.name in registry:
            raise BadValue(f"task '{task.name}' is defined twice")
        registry[task.name] = task
    return registry


def discover() -> list[TaskDef]:
    found = []
    for info in sorted(pkgutil.iter_modules(families.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{families.__name__}.{info.name}")
        found += list(getattr(module, "TASKS", ()))
    return found


REGISTRY = build_registry(discover())
BUILTIN = frozenset(REGISTRY)


def register_user_tasks(tasks: Iterable[TaskDef]) -> None:
    """Add a user's tasks (loaded from YAML, see tasks/user.py). A built-in name is refused; a
    user task of the same name is replaced (a task file edited and loaded again)."""
    for task in tasks:
        if task.name in BUILTIN:
            raise BadValue(f"task '{task.name}' is built in; give yours another name")
        REGISTRY[task.name] = task


def canonical_name(name: str) -> str:
    """The catalog's name of a task named with another form of its language code: codes are
    ISO 639-3, with the script where the dataset has one ('sib200:bug_Latn'), and either form is
    accepted ('sib200:bug', 'nusax:bug_Latn' is 'nusax:bug'). NAME itself where no one task matches."""
    if name in REGISTRY or ":" not in name:
        return name
    dataset, lang = name.split(":", 1)
    iso = lang.split("_")[0]
    matches = [n for n in REGISTRY if n.startswith(f"{dataset}:") and n.split(":", 1)[1].split("_")[0] == iso]
    return matches[0] if len(matches) == 1 else name


def get_task(name: str) -> TaskDef:
    name = canonical_name(name)
    if name not in REGISTRY:
        raise UnknownName(f"unknown task '{name}'{did_you_mean(name, REGISTRY)}")
    return REGISTRY[name]


def all_tasks(role: str | None = None, *, builtin: bool | None = None) -> tuple[TaskDef, ...]:
    """Tasks with ROLE (all by default); BUILTIN True/False keeps only built-in/user tasks."""
    return tuple(t for t in REGISTRY.values() if (role is None or role in t.roles)
                 and (builtin is None or (t.name in BUILTIN) == builtin))
