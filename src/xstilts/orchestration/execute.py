"""Executors: run a plan's nodes after their dependencies, every state kept in the results store.

A node the store lists as done (with outputs its runner still finds valid, e.g. the checkpoint
folder exists) is skipped, so killing a study at any point and rerunning repeats no finished
node. A failed node is recorded with its traceback; the nodes that depend on it are blocked,
all others run. An executor is handed the runner of each node kind (`runners.RUNNERS` for a
study); this module knows none of them.

One runner per node: a node is claimed in the store before it runs (a lease that a background
thread renews every LEASE_SECONDS / 4; a node silent for LEASE_SECONDS is taken over), so two
`xstilts run` of one study on one store share the work: each runs what nobody holds and waits
for what another live runner holds. A node works in its own attempt folder
(`<work>/<kind>/.<key16>.attemptN`, resumed from what a dead runner left) that is renamed to
`<work>/<kind>/<key16>` only when the node is done and its lease still held; paths under it in
the node's outputs are rewritten to the final folder. An outcome is written only under the
lease that produced it: a failure one runner recorded is never overwritten by another's attempt.
Ctrl-C marks the node 'interrupted' (a rerun runs it again); a full disk stops the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xstilts.console import make_console
from xstilts.data.formats import did_you_mean
from xstilts.diskfull import free_mb, is_disk_full
from xstilts.errors import DiskFullError, Interrupted, XstiltsError
from xstilts.orchestration.plan import Node, Plan
from xstilts.orchestration.clock import StudyClock, record_timing
from xstilts.orchestration.heartbeat import Heartbeat, is_dead
from xstilts.orchestration.runners import RUNNERS, RunContext, RunFn, Runner
from xstilts.provenance import canonical_json, code_hash
from xstilts.store import LEASE_SECONDS, Lease, NodeRow

POLL_SECONDS = 2.0  # how often a runner looks again at nodes other runners hold


@dataclass(frozen=True)
class Failure:
    """A failed node, as data: one line for the user, the traceback for the store, and what a full
    disk needs said (so nothing parses a traceback's text)."""

    line: str
    traceback: str = ""
    disk_full: bool = False
    path: str | None = None  # the file a full disk refused, where the error names one
    ours: str | None = None  # the message of a DiskFullError of ours (it names the folder and free space)

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        full = is_disk_full(exc)
        return cls(line=f"{type(exc).__name__}: {exc}".splitlines()[0],
                   traceback="".join(traceback.format_exception(exc)), disk_full=full,
                   path=_filename(exc) if full else None, ours=str(exc) if isinstance(exc, DiskFullError) else None)


def _filename(exc: BaseException | None) -> str | None:
    """The file an OSError in EXC's chain names, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if name := getattr(exc, "filename", None):
            return str(name)
        exc = exc.__cause__ or exc.__context__
    return None


@dataclass
class Summary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already done in the store
    elsewhere: list[str] = field(default_factory=list)  # done by another runner during this run
    failed: dict[str, Failure] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)  # a dependency failed

    def table(self, plan: Plan) -> Table:
        t = Table(title="study run", show_lines=False)
        for col in ("status", "node", "detail"):
            t.add_column(col)
        label = {k: escape(f"{n.kind} {n.label}") for k, n in plan.nodes.items()}
        for k in self.done:
            t.add_row("[green]done[/]", label[k], "")
        for k in self.elsewhere:
            t.add_row("[green]done[/]", label[k], "by another runner")
        for k, failure in self.failed.items():
            t.add_row("[red]failed[/]", label[k], escape(failure.line))
        for k in self.blocked:
            t.add_row("[yellow]blocked[/]", label[k], "a dependency failed")
        t.caption = (f"{len(self.done)} done, {len(self.skipped)} already done"
                     + (f", {len(self.elsewhere)} done by another runner" if self.elsewhere else "")
                     + f", {len(self.failed)} failed, {len(self.blocked)} blocked")
        return t


def run_node(runner: RunFn, node: Node, deps: dict[str, dict], ctx: RunContext) -> tuple[str, Any, list]:
    """('done', outputs, rows) or ('failed', Failure, []); never raises, so a Ray task returns
    it too. The rows go back to the driver, which alone writes the store. Training inside logs
    to CTX's trackers under the node's label, with its kind, key and config."""
    from xstilts.training import tracking

    try:
        with tracking.run_context(f"{node.kind} {node.label}", {"node": node.key, "kind": node.kind, **node.config},
                                  project=ctx.spec.name if ctx.spec else None, log_with=ctx.log_with):
            outputs = dict(runner(node, deps, ctx))
        rows = outputs.pop("rows", None)
        if isinstance(rows, list):
            outputs["rows"] = len(rows)
        outputs["code"] = code_hash()  # the code this node ran (a record's parts must share it)
        canonical_json(outputs)  # outputs go to the store as JSON: fail here, not at mark_done
        return "done", outputs, rows if isinstance(rows, list) else []
    except Exception as e:  # noqa: BLE001 - any runner error is recorded on its node
        return "failed", Failure.of(e), []


def _moved(value: Any, src: Path, dst: Path) -> Any:
    """VALUE with every path under SRC (in strings, lists, dicts) rewritten to the same path under DST."""
    if isinstance(value, dict):
        return {k: _moved(v, src, dst) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, src, dst) for v in value]
    if isinstance(value, str) and (value == str(src) or value.startswith(str(src) + os.sep)):
        return str(dst) + value[len(str(src)):]
    return value


class Bookkeeping:
    """What the executors share: skip finished nodes, claim and release nodes, move a finished
    node's folder into place, mark states, collect the summary."""

    def __init__(self, plan: Plan, store: Any, work_dir: Path, data_root: Path | None, console: Console,
                 ttl: float, runners: Mapping[str, Runner]):
        self.plan, self.store, self.summary, self.console, self.ttl = plan, store, Summary(), console, ttl
        self.runners = runners
        from xstilts.training import tracking

        spec = plan.spec
        self.ctx = RunContext(Path(work_dir), data_root or (spec.data_root if spec else None), store.url, spec,
                              tracking.active() or None, plan.user)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.seen: dict[str, NodeRow] = {n.key: n for n in store.nodes()}  # states as this run found them
        self.outputs: dict[str, dict] = {}
        for key, node in plan.nodes.items():
            row = self.seen.get(key)
            if row is not None and row.status == "done" and self._valid(node, row.outputs or {}):
                self.outputs[key] = row.outputs or {}
                self.summary.skipped.append(key)
        self.todo = [n for k, n in plan.nodes.items() if k not in self.outputs]
        for kind in sorted({n.kind for n in self.todo}):
            self.runner(kind)  # a missing runner stops the study before anything runs
        self.beat = Heartbeat(store, ttl)
        self.held_elsewhere: dict[str, NodeRow] = {}
        self.running: dict[str, tuple[Lease, Path]] = {}
        self._announced: set[str] = set()

    def runner(self, kind: str) -> Runner:
        if kind not in self.runners:
            raise XstiltsError(f"no runner for node kind '{kind}'{did_you_mean(kind, self.runners)}")
        return self.runners[kind]

    def _valid(self, node: Node, outputs: dict) -> bool:
        check = self.runners[node.kind].is_valid if node.kind in self.runners else None
        return check is None or check(outputs)

    def settled(self, node: Node) -> bool:
        return node.key in self.outputs or node.key in self.summary.failed or node.key in self.summary.blocked

    def blocked(self, node: Node) -> bool:
        bad = set(self.summary.failed) | set(self.summary.blocked)
        if any(d in bad for d in node.deps):
            self.summary.blocked.append(node.key)
            return True
        return False

    def ready(self, node: Node) -> bool:
        return all(d in self.outputs for d in node.deps)

    def claim_ready(self, pending: list[Node]) -> Iterator[tuple[Node, dict[str, dict], RunContext]]:
        """Claims, in order, the pending nodes whose dependencies are done, yielding each one this
        runner now holds (taken out of PENDING); drops from PENDING the blocked nodes and those
        another runner settled. Both executors start nodes from here."""
        for node in list(pending):
            if self.blocked(node):
                pending.remove(node)
            elif self.ready(node):
                claimed = self.claim(node)
                if claimed is not None:
                    pending.remove(node)
                    yield node, *claimed
                elif self.settled(node):
                    pending.remove(node)

    def claim(self, node: Node) -> tuple[dict[str, dict], RunContext] | None:
        """(deps, context) when this runner now holds NODE; None when another live runner holds
        it (it is waited for) or finished it since this run started (its outcome is taken)."""
        seen, spec = self.seen.get(node.key), {"label": node.label, "config": node.config, "deps": list(node.deps)}
        lease, row = self.store.claim(node.key, node.kind, spec, self.owner, seen=seen, ttl=self.ttl)
        if lease is None and row.status == "running" and is_dead(row.owner):
            lease, row = self.store.claim(node.key, node.kind, spec, self.owner, seen=row, ttl=self.ttl,
                                          take_from=row.owner)
        if lease is None:
            self._take_outcome(node, row)
            return None
        self.held_elsewhere.pop(node.key, None)
        self.beat.hold(lease)
        folder = self._attempt_dir(node, lease)
        self.running[node.key] = (lease, folder)
        return {d: self.outputs[d] for d in node.deps}, replace(self.ctx, node_dir=folder)

    def _take_outcome(self, node: Node, row: NodeRow) -> None:
        if row.status == "running":
            self.held_elsewhere[node.key] = row
        elif row.status == "done" and self._valid(node, row.outputs or {}):
            self.outputs[node.key] = row.outputs or {}
            self.summary.elsewhere.append(node.key)
        elif row.status == "failed":
            self.summary.failed[node.key] = Failure(f"failed in another runner ({row.owner})", row.error or "")
        else:  # interrupted, or done with outputs gone since: this runner's to run at its next try
            self.seen[node.key] = row
        if row.status != "running":
            self.held_elsewhere.pop(node.key, None)

    def _attempt_dir(self, node: Node, lease: Lease) -> Path:
        """This attempt's folder. What an earlier attempt left belongs to a dead runner (this one
        holds the lease now): the latest is renamed to this attempt's name and resumed from, as
        is a final folder from before attempts existed; older ones are removed."""
        base, name = self.ctx.node_dir / node.kind, node.key[:16]
        folder = base / f".{name}.attempt{lease.attempt}"
        earlier = sorted(base.glob(f".{name}.attempt*"), key=lambda p: p.stat().st_mtime) if base.is_dir() else []
        for old in earlier[:-1]:
            shutil.rmtree(old, ignore_errors=True)
        resume = earlier[-1] if earlier else (base / name if (base / name).is_dir() else None)
        if resume is not None and resume != folder:
            os.replace(resume, folder)
        return folder

    def finish(self, node: Node, status: str, result: Any, rows: list | None = None) -> bool:
        """Record the outcome (and a done node's ROWS, in the same transaction) under this run's
        lease; False when the lease was lost meanwhile (another runner took the node over: its
        outcome stands, and the node is waited for)."""
        lease, folder = self.running.pop(node.key)
        if not self.beat.release(node.key) or not self.store.renew(lease):
            return self._lost(node)
        if status == "done":
            final = folder.parent / node.key[:16]
            if folder.exists():
                shutil.rmtree(final, ignore_errors=True)  # a stale folder whose outputs were no longer valid
                os.replace(folder, final)
            result = _moved(result, folder, final)
            if not self.store.mark_done(node.key, result, lease, rows=rows or ()):
                return self._lost(node)
            self.outputs[node.key] = result
            self.summary.done.append(node.key)
            return True
        self.store.mark_failed(node.key, result.traceback, lease)
        self.summary.failed[node.key] = result
        if result.disk_full:
            if result.ours:  # ours already names the folder and its free space (the model cache)
                raise DiskFullError(f"{node.kind} {node.label}: {result.ours}")
            where = result.path or str(folder)
            raise DiskFullError(f"the disk is full: {node.kind} {node.label} could not write {where} "
                                f"({free_mb(where):,} MB free there); free some space, or point --work-dir, "
                                "XSTILTS_HOME or XSTILTS_CACHE at a bigger disk, then run again (finished nodes "
                                "are kept)")
        return True

    def _lost(self, node: Node) -> bool:
        self.console.print(f"[yellow]{escape(node.kind + ' ' + node.label)}: another runner took this node over "
                           f"(no heartbeat for {self.ttl:.0f} s); its outcome stands[/]")
        self.seen.pop(node.key, None)
        return False

    def interrupted(self) -> Interrupted:
        """Mark every node this runner holds 'interrupted' and say where the run stopped."""
        names = []
        for key, (lease, _) in list(self.running.items()):
            self.store.mark_interrupted(key, lease)
            names.append(f"{self.plan.nodes[key].kind} {self.plan.nodes[key].label} ({key[:10]})")
        self.running.clear()
        if names:
            return Interrupted(f"stopped in {', '.join(names)}: marked 'interrupted' in the store; run the same "
                               "command again to continue (finished nodes are kept)")
        return Interrupted("stopped between nodes; run the same command again to continue (finished nodes are kept)")

    def wait(self) -> None:
        """Say once whom this runner waits for, then sleep a poll interval."""
        for key, row in self.held_elsewhere.items():
            if key not in self._announced:
                self._announced.add(key)
                node = self.plan.nodes[key]
                self.console.print(f"[dim]waiting for {escape(node.kind + ' ' + node.label)} ({key[:10]}), "
                                   f"held by another runner: {escape(row.owner or '?')}[/]")
        time.sleep(POLL_SECONDS)


class _PathRewriter:
    """A stdout that prints paths under a node's attempt folder as the node's final folder (the
    attempt folder is renamed to it once the node is done). The console has already folded a
    line too long for it, so a path may be cut by a line break anywhere: it is matched across them."""

    def __init__(self, stream: Any, attempt: Path, final: Path):
        self.stream = stream
        self.pairs = [(re.compile(r"\n?".join(map(re.escape, old))), new)
                      for old, new in ((str(attempt), str(final)), (attempt.name, final.name))]

    def write(self, text: str) -> int:
        for old, new in self.pairs:
            text = old.sub(lambda _: new, text)  # noqa: B023 (used at once, in this iteration)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def _final_paths(attempt: Path, final: Path) -> Iterator[None]:
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _PathRewriter(stdout, attempt, final), _PathRewriter(stderr, attempt, final)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr



class LocalExecutor:
    """Runs nodes one at a time in this process, in the plan's topological order; nodes another
    runner holds are left to it and waited for."""

    def __init__(self, work_dir: str | Path, data_root: str | Path | None = None, console: Console | None = None,
                 lease_seconds: float | None = None, runners: Mapping[str, Runner] = RUNNERS):
        self.work_dir, self.data_root = Path(work_dir), Path(data_root) if data_root else None
        self.console = console or make_console()
        self.ttl, self.runners = lease_seconds or LEASE_SECONDS, runners

    def run(self, plan: Plan, store: Any) -> Summary:
        book = Bookkeeping(plan, store, self.work_dir, self.data_root, self.console, self.ttl, self.runners)
        pending = list(book.todo)
        clock = StudyClock(pending, already=len(book.summary.skipped))
        with book.beat:
            try:
                while pending:
                    started = next(book.claim_ready(pending), None)
                    if started is None:
                        if pending:
                            book.wait()
                        continue
                    node, deps, ctx = started
                    self.console.print(escape(clock.begin(node)) + f"  [bold]{node.kind}[/] {escape(node.label)} "
                                       f"[dim]{node.key[:10]}[/]", soft_wrap=True)
                    final = ctx.node_dir.parent / node.key[:16]
                    with _final_paths(ctx.node_dir, final):  # runners print where things will be, not the attempt
                        outcome = run_node(book.runner(node.kind).run, node, deps, ctx)
                    seconds = clock.end(node, outcome[0])
                    if not book.finish(node, *outcome):
                        pending.append(node)  # another runner took it over: wait for its outcome
                    elif outcome[0] == "done" and plan.spec is not None:  # a study's node, of a named model
                        record_timing(node, seconds, plan.spec.model)
            except KeyboardInterrupt:
                raise book.interrupted() from None
        self.console.print(book.summary.table(plan))
        return book.summary
