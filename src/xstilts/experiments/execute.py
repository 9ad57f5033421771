"""Executors: run a plan's nodes after their dependencies, every state kept in the results store.

A node the store lists as done (with outputs its runner still finds valid, e.g. the checkpoint
folder exists) is skipped, so killing a study at any point and rerunning repeats no finished
node; a node killed mid-run is still 'running' in the store and simply runs again. A failed
node is recorded with its traceback; the nodes that depend on it are blocked, all others run.
Runners are registered per node kind by the phase scripts (`register_runner`); this module
knows none of them.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xstilts.data.readers import did_you_mean
from xstilts.errors import XstiltsError
from xstilts.experiments.plan import Node, Plan
from xstilts.experiments.spec import Spec
from xstilts.provenance import canonical_json
from xstilts.console import make_console


@dataclass(frozen=True)
class RunContext:
    node_dir: Path  # this node's own folder for checkpoints and predictions: <work>/<kind>/<key[:16]>
    data_root: Path | None = None
    store_url: str | None = None  # where runners add their result rows
    spec: Spec | None = None


# (node, outputs of its dependencies by key, context) -> JSON-able outputs
Runner = Callable[[Node, dict[str, dict], RunContext], dict]


@dataclass(frozen=True)
class RegisteredRunner:
    run: Runner
    is_valid: Callable[[dict], bool] | None = None  # do a done node's outputs still exist?


_RUNNERS: dict[str, RegisteredRunner] = {}


def register_runner(kind: str, fn: Runner, *, is_valid: Callable[[dict], bool] | None = None) -> None:
    """Register (or replace) the runner of a node kind."""
    _RUNNERS[kind] = RegisteredRunner(fn, is_valid)


def get_runner(kind: str) -> RegisteredRunner:
    if kind not in _RUNNERS:
        hint = did_you_mean(kind, _RUNNERS) if _RUNNERS else ""
        raise XstiltsError(f"no runner registered for node kind '{kind}'{hint}")
    return _RUNNERS[kind]


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done in the store
    failed: dict[str, str] = field(default_factory=dict)  # key -> traceback
    blocked: list[str] = field(default_factory=list)  # a dependency failed

    def table(self, plan: Plan) -> Table:
        t = Table(title="study run", show_lines=False)
        for col in ("status", "node", "detail"):
            t.add_column(col)
        label = {k: f"{n.kind} {n.label}" for k, n in plan.nodes.items()}
        for k in self.done:
            t.add_row("[green]done[/]", label[k], "")
        for k in self.failed:
            lines = self.failed[k].strip().splitlines()
            t.add_row("[red]failed[/]", label[k], lines[-1] if lines else "")
        for k in self.blocked:
            t.add_row("[yellow]blocked[/]", label[k], "a dependency failed")
        t.caption = (f"{len(self.done)} done, {len(self.skipped)} already done, "
                     f"{len(self.failed)} failed, {len(self.blocked)} blocked")
        return t


def run_node(runner: Runner, node: Node, deps: dict[str, dict], ctx: RunContext) -> tuple[str, Any]:
    """('done', outputs) or ('failed', traceback); never raises, so a Ray task returns it too."""
    try:
        outputs = runner(node, deps, ctx)
        canonical_json(outputs)  # outputs go to the store as JSON: fail here, not at mark_done
        return "done", outputs
    except Exception:  # noqa: BLE001 - any runner error is recorded on its node
        return "failed", traceback.format_exc()


class _Bookkeeping:
    """What the executors share: skip finished nodes, mark states, collect the summary."""

    def __init__(self, plan: Plan, store: Any, work_dir: Path, data_root: Path | None):
        self.plan, self.store, self.summary = plan, store, Summary()
        spec = plan.spec
        self.ctx = RunContext(Path(work_dir), data_root or (spec.data_root if spec else None), store.url, spec)
        self.outputs: dict[str, dict] = {}
        done = {n.key: n.outputs or {} for n in store.nodes(status="done")}
        for key, node in plan.nodes.items():
            check = get_runner(node.kind).is_valid if node.kind in _RUNNERS else None
            if key in done and (check is None or check(done[key])):
                self.outputs[key] = done[key]
                self.summary.skipped.append(key)
        self.todo = [n for k, n in plan.nodes.items() if k not in self.outputs]
        for kind in sorted({n.kind for n in self.todo}):
            get_runner(kind)  # a missing runner stops the study before anything runs

    def blocked(self, node: Node) -> bool:
        bad = set(self.summary.failed) | set(self.summary.blocked)
        if any(d in bad for d in node.deps):
            self.summary.blocked.append(node.key)
            return True
        return False

    def ready(self, node: Node) -> bool:
        return all(d in self.outputs for d in node.deps)

    def start(self, node: Node) -> tuple[dict[str, dict], RunContext]:
        self.store.mark_running(node.key, node.kind, {"label": node.label, "config": node.config,
                                                      "deps": list(node.deps)})
        ctx = replace(self.ctx, node_dir=self.ctx.node_dir / node.kind / node.key[:16])
        return {d: self.outputs[d] for d in node.deps}, ctx

    def finish(self, node: Node, status: str, result: Any) -> None:
        if status == "done":
            self.store.mark_done(node.key, result)
            self.outputs[node.key] = result
            self.summary.done.append(node.key)
        else:
            self.store.mark_failed(node.key, result)
            self.summary.failed[node.key] = result


class LocalExecutor:
    """Runs nodes one at a time in this process, in the plan's topological order."""

    def __init__(self, work_dir: str | Path, data_root: str | Path | None = None, console: Console | None = None):
        self.work_dir, self.data_root = Path(work_dir), Path(data_root) if data_root else None
        self.console = console or make_console()

    def run(self, plan: Plan, store: Any) -> Summary:
        book = _Bookkeeping(plan, store, self.work_dir, self.data_root)
        for node in book.todo:
            if book.blocked(node):
                continue
            self.console.print(f"[bold]{node.kind}[/] {node.label} [dim]{node.key[:10]}[/]")
            deps, ctx = book.start(node)
            book.finish(node, *run_node(get_runner(node.kind).run, node, deps, ctx))
        self.console.print(book.summary.table(plan))
        return book.summary


class RayExecutor:
    """Runs each node as a Ray task once its dependencies are done; the store is written by the
    driver only, so any store URL works. num_gpus None: 1 per node where the cluster has GPUs."""

    def __init__(self, work_dir: str | Path, data_root: str | Path | None = None, console: Console | None = None,
                 num_gpus: float | None = None, num_cpus: float = 1.0, **init_kwargs: Any):
        self.work_dir, self.data_root = Path(work_dir), Path(data_root) if data_root else None
        self.console = console or make_console()
        self.num_gpus, self.num_cpus, self.init_kwargs = num_gpus, num_cpus, init_kwargs

    def run(self, plan: Plan, store: Any) -> Summary:
        import ray

        if not ray.is_initialized():
            ray.init(**self.init_kwargs)
        res = plan.spec.resources if plan.spec else None
        gpus = self.num_gpus if self.num_gpus is not None else (res.num_gpus if res else None)
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
        cpus = res.num_cpus if res else self.num_cpus
        task = ray.remote(run_node).options(num_gpus=gpus, num_cpus=cpus)
        book = _Bookkeeping(plan, store, self.work_dir, self.data_root)
        waiting, in_flight = list(book.todo), {}
        while waiting or in_flight:
            for node in list(waiting):
                if book.blocked(node):
                    waiting.remove(node)
                elif book.ready(node):
                    waiting.remove(node)
                    deps, ctx = book.start(node)
                    in_flight[task.remote(get_runner(node.kind).run, node, deps, ctx)] = node
                    self.console.print(f"submitted [bold]{node.kind}[/] {node.label} [dim]{node.key[:10]}[/]")
            if not in_flight:
                break
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            node = in_flight.pop(ref)
            try:
                status, result = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a worker that died fails its node only
                status, result = "failed", f"{type(e).__name__}: {e}"
            book.finish(node, status, result)
        self.console.print(book.summary.table(plan))
        return book.summary
