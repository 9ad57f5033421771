"""The Ray executor: a study's nodes as Ray tasks across a cluster, with the bookkeeping (leases,
store writes, resume) of `execute`, done by the driver alone."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from xstilts.console import make_console
from xstilts.errors import XstiltsError
from xstilts.orchestration.execute import POLL_SECONDS, Failure, Summary, Bookkeeping, run_node
from xstilts.orchestration.runners import RUNNERS, Runner
from xstilts.orchestration.plan import Node, Plan
from xstilts.store import LEASE_SECONDS


class RayExecutor:
    """Runs each node as a Ray task once its dependencies are done, with the resources its kind
    asks for (spec `resources:`; NUM_GPUS / NUM_CPUS override every kind). The store is written,
    and leases held, by the driver only, so any store URL works, SQLite on the driver's disk
    included. Before anything runs, every node of the cluster must read and write WORK_DIR (and
    read the data root): checkpoints and encoders pass between nodes through it. A task whose
    worker dies is retried by Ray (its attempt folder resumed); a node fails after MAX_RETRIES."""

    def __init__(self, work_dir: str | Path, data_root: str | Path | None = None, console: Console | None = None,
                 num_gpus: float | None = None, num_cpus: float | None = None, lease_seconds: float | None = None,
                 address: str | None = None, max_retries: int = 3, runners: Mapping[str, Runner] = RUNNERS,
                 **init_kwargs: Any):
        self.work_dir, self.data_root = Path(work_dir).resolve(), Path(data_root).resolve() if data_root else None
        self.console = console or make_console()
        self.num_gpus, self.num_cpus, self.max_retries = num_gpus, num_cpus, max_retries
        self.address, self.init_kwargs = address, init_kwargs
        self.ttl, self.runners = lease_seconds or LEASE_SECONDS, runners

    def _options(self, plan: Plan, kind: str, has_gpus: bool) -> dict[str, float]:
        gpus, cpus = plan.spec.resources.of(kind) if plan.spec else (None, 1.0)
        gpus = self.num_gpus if self.num_gpus is not None else gpus
        return {"num_gpus": (1 if has_gpus else 0) if gpus is None else gpus,
                "num_cpus": self.num_cpus if self.num_cpus is not None else cpus}

    def run(self, plan: Plan, store: Any) -> Summary:
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
        book = Bookkeeping(plan, store, self.work_dir, self.data_root, self.console, self.ttl, self.runners)
        check_shared_storage(self.work_dir, book.ctx.data_root)
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(max_retries=self.max_retries)(run_node)
        waiting = list(book.todo)
        in_flight: dict[ray.ObjectRef, Node] = {}  # each submitted node by the reference its result comes back by
        with book.beat:
            try:
                while waiting or in_flight:
                    for node, deps, ctx in book.claim_ready(waiting):
                        opts = self._options(plan, node.kind, has_gpus)
                        in_flight[task.options(**opts).remote(book.runner(node.kind).run, node, deps, ctx)] = node
                        self.console.print(f"submitted [bold]{node.kind}[/] {escape(node.label)} "
                                           f"[dim]{node.key[:10]} {opts}[/]")
                    if not in_flight:
                        if waiting:
                            book.wait()
                        continue
                    done, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_SECONDS)
                    for ref in done:
                        node = in_flight.pop(ref)
                        try:
                            outcome = ray.get(ref)
                        except Exception as e:  # noqa: BLE001 - a worker that died past its retries fails its node only
                            outcome = ("failed", Failure.of(e), [])
                        if not book.finish(node, *outcome):
                            waiting.append(node)
            except KeyboardInterrupt:
                raise book.interrupted() from None
        self.console.print(book.summary.table(plan))
        return book.summary


def _storage_probe(folder: str, token: str, data_root: str | None) -> tuple[str, str | None]:
    """Runs on one Ray node: (its host, None) when it reads the driver's token and writes its own
    file beside it, else (its host, what went wrong)."""
    host = socket.gethostname()
    path = Path(folder) / token
    try:
        if path.read_text() != token:
            return host, f"reads other content at {path}"
        (Path(folder) / f"{token}.{host}.{os.getpid()}").write_text(token)
    except OSError as e:
        return host, f"cannot read and write {folder} ({e.strerror})"
    if data_root and not Path(data_root).is_dir():
        return host, f"has no data root {data_root}"
    return host, None


def check_shared_storage(work_dir: Path, data_root: Path | None, timeout: float = 120) -> None:
    """Every live Ray node must read a token the driver wrote under WORK_DIR, write its own file
    there that the driver reads back, and see DATA_ROOT; else the study stops before any node runs."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    folder, token = Path(work_dir) / ".storage-check", uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    (folder / token).write_text(token)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    probe = ray.remote(num_cpus=0)(_storage_probe)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(str(folder), token, str(data_root) if data_root else None) for n in nodes]
    try:
        answers = ray.get(refs, timeout=timeout)
        problems = [f"node {n['NodeManagerAddress']} ({host}) {why}"
                    for n, (host, why) in zip(nodes, answers, strict=True) if why]
        if not problems and len(list(folder.glob(f"{token}.*"))) < len(nodes):
            problems = [f"the driver does not see the files {len(nodes)} nodes wrote under {folder}"]
    finally:
        for path in folder.glob(f"{token}*"):
            path.unlink(missing_ok=True)
    if problems:
        raise XstiltsError(f"the storage root {work_dir} is not shared by every Ray node: {'; '.join(problems)}. "
                           "Put --work-dir (spec `storage:`) and the data root on a filesystem every node mounts "
                           "at the same path (NFS, Lustre, a cloud file store)")
