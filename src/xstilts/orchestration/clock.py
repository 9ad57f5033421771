"""A study's progress line (node n of N, elapsed, ETA from what the finished nodes took against
their estimates) and the timings file those estimates are calibrated with on the next plan."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable

from xstilts.orchestration.plan import TIMINGS, Node


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class StudyClock:
    """The study-level line printed before each node: `[node k/N] elapsed h:mm:ss, ETA ~h:mm:ss`.
    N counts the nodes this run has to run (those already done are named once); the ETA is the
    estimated minutes of the nodes left (this one included), scaled by how long this run's
    finished nodes took against their own estimates, per kind where there is one of that kind.
    Plain lines, so it reads the same in a terminal, a file or a CI log."""

    def __init__(self, nodes: list[Node], already: int = 0, now: Callable[[], float] = time.monotonic):
        self.now, self.started = now, now()
        self.left = {n.key: n for n in nodes}
        self.total, self.k, self.already = len(nodes), 0, already
        self.taken: dict[str, list[tuple[float, float | None]]] = {}  # kind -> (seconds, estimated seconds)
        self._began: dict[str, float] = {}

    def ratio(self, kind: str) -> float | None:
        """Actual / estimated time of this run's finished nodes (of KIND where any, else of all)."""
        pairs = self.taken.get(kind) or [p for ps in self.taken.values() for p in ps]
        known = [(s, e) for s, e in pairs if e]
        return sum(s for s, _ in known) / sum(e for _, e in known) if known else None

    def eta(self) -> float | None:
        """Seconds left for the nodes not finished yet; None when nothing can be said yet."""
        total = 0.0
        for n in self.left.values():
            estimate, ratio = (n.cost.minutes or 0) * 60 or None, self.ratio(n.kind)
            if estimate is not None:
                total += estimate * (ratio or 1.0)
            elif self.taken.get(n.kind):  # no estimate: the mean time of this kind's finished nodes
                total += sum(s for s, _ in self.taken[n.kind]) / len(self.taken[n.kind])
            else:
                return None
        if n_running := [k for k in self._began if k in self.left]:
            total -= sum(self.now() - self._began[k] for k in n_running)
        return max(total, 0.0)

    def begin(self, node: Node) -> str:
        self.k += 1
        self._began[node.key] = self.now()
        eta = self.eta()
        done = f" ({self.already} done before)" if self.already and self.k == 1 else ""
        return (f"[node {self.k}/{self.total}{done}] elapsed {_clock(self.now() - self.started)}, "
                f"ETA {'~' + _clock(eta) if eta is not None else 'unknown'}")

    def end(self, node: Node, status: str) -> float:
        seconds = self.now() - self._began.pop(node.key, self.now())
        self.left.pop(node.key, None)
        if status == "done":
            self.taken.setdefault(node.kind, []).append((seconds, (node.cost.minutes or 0) * 60 or None))
        return seconds


def record_timing(node: Node, seconds: float, model: str | None) -> None:
    """One line per finished node: its kind, model, estimated and measured time, and this machine
    (plan_view.calibration turns these into honest estimates). Best effort: a read-only cache is skipped."""
    from xstilts.paths import cache_dir

    line = {"host": socket.gethostname(), "cpus": os.cpu_count(), "kind": node.kind, "model": model,
            "estimated_min": node.cost.minutes, "tokens": node.cost.tokens, "encodings": node.cost.encodings,
            "seconds": round(seconds, 2), "smoke": bool(node.config.get("smoke")), "time": time.time()}
    try:
        path = cache_dir() / TIMINGS
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(json.dumps(line) + "\n")
    except OSError:
        pass
