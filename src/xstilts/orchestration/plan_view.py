"""The view `xstilts plan` prints: the plan's tree of nodes with their state, cost and settings,
times calibrated by what finished nodes took on this machine, and the disk it keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from xstilts.orchestration.plan import TIMINGS, Cost, Node, Plan, scaled_throughput
from xstilts.store import LEASE_SECONDS

_STATUS = {"done": "[green]done[/]", "failed": "[red]failed[/]", "running": "[yellow]running[/]",
           "interrupted": "[magenta]interrupted[/]", "abandoned": "[yellow]abandoned[/] (its runner stopped "
           "without a word; a run takes it over)", None: "[dim]pending[/]"}


def _fmt_cost(cost: Cost, factor: float = 1.0) -> str:
    parts = []
    if cost.tokens is not None:
        parts.append(f"{cost.tokens / 1e6:.2f}M tok")
    if cost.encodings is not None:
        parts.append(f"{cost.encodings:,} enc")
    parts.append("? min" if cost.minutes is None else f"~{cost.minutes * factor:.1f} min")
    return ", ".join(parts)


def calibration(plan: Plan, store: Any | None = None, timings: Path | None = None) -> dict[str, tuple[float, int, str]]:
    """Kind -> (measured / estimated time, nodes measured, where): from this plan's own finished
    nodes in STORE (their start and finish times) where there are any of the kind, else from the
    nodes of the same model and budget (smoke or not) this machine finished before (TIMINGS,
    written by the executor). Kinds with no measurement are left out (factor 1)."""
    import json
    import socket
    from datetime import datetime

    out: dict[str, tuple[float, int, str]] = {}
    own: dict[str, list[tuple[float, float]]] = {}
    for row in store.nodes() if store is not None else ():
        node = plan.nodes.get(row.key)
        if (node is None or row.status != "done" or not node.cost.minutes or not isinstance(row.started_at, datetime)
                or not isinstance(row.finished_at, datetime)):
            continue
        own.setdefault(node.kind, []).append(((row.finished_at - row.started_at).total_seconds() / 60, node.cost.minutes))
    for kind, pairs in own.items():
        out[kind] = (sum(a for a, _ in pairs) / sum(e for _, e in pairs), len(pairs), "this study")
    if timings is None:
        from xstilts.paths import cache_dir

        timings = cache_dir() / TIMINGS
    smoke = any(n.config.get("smoke") for n in plan.nodes.values())
    model, host = plan.spec.model if plan.spec else None, socket.gethostname()
    machine: dict[str, list[tuple[float, float]]] = {}
    try:
        lines = timings.read_text().splitlines() if timings.is_file() else []
    except OSError:
        lines = []
    for line in lines[-2000:]:
        try:
            t = json.loads(line)
        except ValueError:
            continue
        if (t.get("host") == host and t.get("model") == model and bool(t.get("smoke")) == smoke
                and t.get("estimated_min") and t.get("seconds")):
            machine.setdefault(t["kind"], []).append((t["seconds"] / 60, t["estimated_min"]))
    for kind, pairs in machine.items():
        if kind not in out:
            pairs = pairs[-50:]
            out[kind] = (sum(a for a, _ in pairs) / sum(e for _, e in pairs), len(pairs), "this machine")
    return out


def _fmt_disk(d: Any) -> str:
    """What a node keeps on disk once done (its peak while running is in the summary's maximum)."""
    from xstilts.orchestration.disk import fmt_bytes

    return f"  [blue]keeps {fmt_bytes(d.kept) if d.kept else 'preds' if d.what == 'predictions' else '0'}[/]"


def render_plan(plan: Plan, store: Any | None = None, *, disk: bool = True) -> Group:
    """A tree: the base encoder and each intermediate checkpoint, with the probes and
    fine-tuning runs that use it; each node with its store status, cost, what it keeps on disk
    (with DISK; orchestration/disk.py) and short key. Below it: totals, and with DISK the bytes
    the plan keeps and the largest peak of one running node."""
    status = {n.key: "abandoned" if n.status == "running" and not n.live(LEASE_SECONDS) else n.status
              for n in store.nodes()} if store is not None else {}
    sizes, disk_lines = None, []
    if disk and plan.spec is not None:
        from xstilts.orchestration.disk import DiskEstimateError, estimate

        try:
            sizes = estimate(plan)
            disk_lines = [Text(sizes.summary(plan)), Text(sizes.provenance(), style="dim")]
        except DiskEstimateError as e:
            disk_lines = [Text(f"disk: unknown ({e})", style="dim")]

    cal = calibration(plan, store)

    def minutes(n: Node) -> float:
        return (n.cost.minutes or 0.0) * cal.get(n.kind, (1.0,))[0]

    def line(n: Node) -> str:
        hp = f"  [magenta]{n.meta['hparams'].describe()}[/]" if n.meta.get("hparams") else ""
        keeps = _fmt_disk(sizes.nodes[n.key]) if sizes else ""
        return (f"{_STATUS.get(status.get(n.key), status.get(n.key))} [bold]{n.kind}[/] {n.label}  "
                f"[cyan]{_fmt_cost(n.cost, cal.get(n.kind, (1.0,))[0])}[/]{hp}{keeps}  [dim]{n.key[:10]}[/]")

    by_dep: dict[str | None, list[Node]] = {}
    for n in plan.nodes.values():
        by_dep.setdefault(n.deps[0] if n.deps else None, []).append(n)
    name = (plan.spec.name if plan.spec else "plan") + (
        f" (the part of seed{'s' * (len(plan.units) > 1)} {', '.join(map(str, plan.units))})" if plan.units else "")
    tree = Tree(f"[bold]{name}[/]: {len(plan.nodes)} nodes, ~{sum(map(minutes, plan.nodes.values())):.0f} min "
                "of known cost")
    base = tree.add("[bold]base encoder[/]" + (f" {plan.spec.model}" if plan.spec else ""))
    for n in by_dep.get(None, []):
        if n.kind == "intermediate":
            branch = tree.add(line(n))
            for child in by_dep.get(n.key, []):
                branch.add(line(child))
        else:
            base.add(line(n))
    pending = [n for n in plan.nodes.values() if status.get(n.key) != "done"]
    unknown = sum(n.cost.minutes is None for n in pending)
    left = sum(map(minutes, pending))
    summary = Text.from_markup(f"{len(plan.nodes) - len(pending)} done, {len(pending)} to run, ~{left:.0f} min"
                               + (f" (+{unknown} of unknown length)" if unknown else ""))
    basis = scaled_throughput(plan.spec.model if plan.spec else None)[1]
    measured = "; ".join(f"{kind} ×{f:.2f} ({n} node{'s' * (n != 1)} of {where})" for kind, (f, n, where) in cal.items())
    times = Text(f"times: {basis}" + (f", calibrated by measured/estimated time: {measured}" if measured else
                                       "; not calibrated yet (no node of this model has finished on this machine): "
                                       "a loaded or slower machine takes longer"), style="dim")
    return Group(tree, summary, times, *disk_lines, *(Text(w, style="yellow") for w in plan.warnings))
