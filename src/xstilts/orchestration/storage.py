"""Where a study's rows and files live: the results store a command uses, the study's folder, and
which of a store's rows are the study's own (selected by node key)."""

from __future__ import annotations

from pathlib import Path

from xstilts.orchestration.plan import Plan
from xstilts.orchestration.spec import Spec
from xstilts.paths import user_dir
from xstilts.store import ResultRow, ResultsStore


def study_rows(plan: Plan, store: ResultsStore) -> tuple[list[ResultRow], int]:
    """The rows the nodes of this plan wrote (selected by node key, so other studies and older
    versions of this spec sharing the store never leak in), each task's reported keys only, and
    how many nodes they came from."""
    tasks = sorted({n.config["task"] if n.kind == "finetune" else n.config["probe"] for n in plan.nodes.values()
                    if n.kind in ("probe", "finetune")})
    rows = [r for r in store.query(model=plan.study.model, task=tasks)
            if r.protocol.get("node") in plan.nodes and _reported(r)]
    return rows, len({r.protocol["node"] for r in rows})


def _reported(row: ResultRow) -> bool:
    """A task outside XTREME-R (a user's, BUCC) is reported by its main score alone (the report
    takes one number per language); XTREME-R tasks combine their keys as XTREME-R declares."""
    from xstilts.metrics import get_metric
    from xstilts.metrics.xtreme_r import XTREME_R
    from xstilts.tasks.registry import known_tasks

    task = known_tasks().get(row.task)
    if task is None or (row.layer is None and row.task in {t.name for t in XTREME_R.tasks}):
        return True
    return row.metric == get_metric(task.main_score).main


def smoke_store_url() -> str:
    """Smoke runs keep their rows in a store of their own (their node keys differ as well)."""
    return f"sqlite:///{user_dir() / 'smoke' / 'results.sqlite'}"  # the store makes the folder when it writes


def study_store_url(spec: Spec, store: str | None = None, smoke: bool = False) -> str | None:
    """The results store a command reads or writes: --store, else a smoke run's own store (smoke rows
    never reach the study's store, even one the spec's `store:` names), else the spec's `store:`,
    else None (the default store)."""
    return store or (smoke_store_url() if smoke else spec.store)


def study_dir(spec: Spec, work_dir: Path | None = None, smoke: bool = False) -> Path:
    """The study's folder: WORK_DIR itself, else <spec storage:>/<name>, else one under the user dir."""
    if work_dir:
        return Path(work_dir)
    return Path(spec.storage or user_dir() / "studies") / (spec.name + ("-smoke" if smoke else ""))
