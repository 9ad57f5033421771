"""The executors a study runs on, behind one protocol. An executor takes a plan and a results store
and runs every node not yet done, after its dependencies, with the node kinds' runners
(`runners.RUNNERS`); the bookkeeping they share (leases, resume, the store's writes) is
`execute.Bookkeeping`. Adding one is a module with a class that has this constructor and `run`,
and its line in EXECUTORS."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from xstilts.data.formats import did_you_mean
from xstilts.errors import XstiltsError
from xstilts.orchestration.execute import LocalExecutor, Summary
from xstilts.orchestration.executor_ray import RayExecutor
from xstilts.orchestration.plan import Plan
from xstilts.store import ResultsStore


class Executor(Protocol):
    def __init__(self, work_dir: str | Path, data_root: str | Path | None = None, console: Console | None = None,
                 **options: Any) -> None: ...

    def run(self, plan: Plan, store: ResultsStore) -> Summary: ...


EXECUTORS: Mapping[str, type[Executor]] = {"local": LocalExecutor, "ray": RayExecutor}


def executor_class(name: str) -> type[Executor]:
    """The executor NAME (`--executor`), checked before anything is validated or run."""
    if name not in EXECUTORS:
        raise XstiltsError(f"--executor: '{name}' is not an executor{did_you_mean(name, EXECUTORS)}; "
                           f"use one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name]


def make_executor(cls: type[Executor], work_dir: Path, data_root: Path | None, console: Console,
                  **options: Any) -> Executor:
    """CLS with the options given (None: not given; `--ray-address` is Ray's alone)."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(inspect.signature(cls).parameters))
    if unknown:
        raise XstiltsError(f"--executor: {cls.__name__} takes no {', '.join(unknown)}")
    return cls(work_dir, data_root, console=console, **given)
