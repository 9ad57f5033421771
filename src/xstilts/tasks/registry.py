"""The task registry, built by discovering every module in `xstilts.tasks.families`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager

from xstilts.data.formats import did_you_mean
from xstilts.tasks import families
from xstilts.tasks.schema import TaskDef
from xstilts.errors import BadValue, UnknownName
from xstilts.scoped import Scoped


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


# the built-in tasks, fixed; the user's tasks in scope (tasks/user.py: UserTasks.scope) are added for a
# block: a spec's tasks are known while its study is validated, planned, run and reported, and nowhere else
_TASKS = Scoped("xstilts_user_tasks", build_registry(discover()),
                lambda name: f"task '{name}' is built in; give yours another name")
REGISTRY = _TASKS.builtin
BUILTIN = frozenset(REGISTRY)


def known_tasks() -> Mapping[str, TaskDef]:
    """Every task known here: the built-in ones and the user's tasks in scope."""
    return _TASKS.known()


def user_tasks(tasks: Iterable[TaskDef]) -> AbstractContextManager[None]:
    """TASKS known inside the block (a user task of the same name is replaced: a task file edited
    and loaded again)."""
    return _TASKS.adding((t.name, t) for t in tasks)


def canonical_name(name: str) -> str:
    """The catalog's name of a task named with another form of its language code: codes are
    ISO 639-3, with the script where the dataset has one ('sib200:bug_Latn'), and either form is
    accepted ('sib200:bug', 'nusax:bug_Latn' is 'nusax:bug'). NAME itself where no one task matches."""
    known = known_tasks()
    if name in known or ":" not in name:
        return name
    dataset, lang = name.split(":", 1)
    iso = lang.split("_")[0]
    matches = [n for n in known if n.startswith(f"{dataset}:") and n.split(":", 1)[1].split("_")[0] == iso]
    return matches[0] if len(matches) == 1 else name


def get_task(name: str) -> TaskDef:
    name, known = canonical_name(name), known_tasks()
    if name not in known:
        raise UnknownName(f"unknown task '{name}'{did_you_mean(name, known)}")
    return known[name]


def all_tasks(role: str | None = None, *, builtin: bool | None = None) -> tuple[TaskDef, ...]:
    """Tasks with ROLE (all by default); BUILTIN True/False keeps only built-in/user tasks."""
    return tuple(t for t in known_tasks().values() if (role is None or role in t.roles)
                 and (builtin is None or (t.name in BUILTIN) == builtin))
