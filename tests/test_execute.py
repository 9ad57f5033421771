"""Executors: resume after SIGKILL repeats no finished node; failures stay on their node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from xstilts.errors import XstiltsError
from xstilts.experiments.execute import LocalExecutor, RayExecutor, register_runner
from xstilts.store import ResultsStore

TOY_PLAN = textwrap.dedent('''
    from xstilts.experiments.plan import Node, Plan
    from xstilts.provenance import stable_hash

    def toy_plan(edges, kind="toy"):
        """label -> labels it depends on, in topological order."""
        keys = {label: stable_hash(["toy", label]) for label in edges}
        return Plan({keys[l]: Node(keys[l], kind, l, {"label": l}, tuple(keys[d] for d in deps))
                     for l, deps in edges.items()})
''')
exec(TOY_PLAN)  # the same helper the subprocess below uses
EDGES = {"A": [], "B": ["A"], "C": ["A"], "D": ["C"], "E": []}
QUIET = Console(file=open(os.devnull, "w"))  # noqa: SIM115


def _concat(node, deps, ctx):
    return {"value": "".join(d["value"] for d in deps.values()) + node.label}


def test_resume_after_sigkill_repeats_no_finished_node(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(TOY_PLAN + textwrap.dedent('''
        import sys, time
        from pathlib import Path
        from rich.console import Console
        from xstilts.experiments.execute import LocalExecutor, register_runner
        from xstilts.store import ResultsStore

        tmp = Path(sys.argv[1])

        def toy(node, deps, ctx):
            if node.label == "C" and (tmp / "slow").exists():
                (tmp / "C-started").touch()
                time.sleep(120)  # killed here
            with open(tmp / "counter", "a") as f:
                f.write(node.label + "\\n")
            return {"value": "".join(d["value"] for d in deps.values()) + node.label}

        register_runner("toy", toy)
        plan = toy_plan({"A": [], "B": ["A"], "C": ["A"], "D": ["C"], "E": []})
        LocalExecutor(tmp / "work", console=Console(quiet=True)).run(plan, ResultsStore(f"sqlite:///{tmp}/s.sqlite"))
    '''))
    (tmp_path / "slow").touch()
    env = {**os.environ, "XSTILTS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "C-started").exists():
        assert proc.poll() is None, "the study exited before reaching node C"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    store = ResultsStore(f"sqlite:///{tmp_path}/s.sqlite")
    plan = toy_plan(EDGES)
    by_label = {n.label: n.key for n in plan.nodes.values()}
    assert {n.key for n in store.nodes("done")} == {by_label["A"], by_label["B"]}
    assert store.node_status(by_label["C"]) == "running"

    (tmp_path / "slow").unlink()
    subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, check=True)
    counts = (tmp_path / "counter").read_text().split()
    assert sorted(counts) == ["A", "B", "C", "D", "E"]  # each finished node ran exactly once
    done = {n.key: n.outputs for n in store.nodes("done")}
    assert done[by_label["D"]] == {"value": "ACD"}
    assert len(done) == 5


def test_failure_is_recorded_and_blocks_only_dependents(tmp_path):
    def flaky(node, deps, ctx):
        if node.label == "C":
            raise RuntimeError("C broke")
        return _concat(node, deps, ctx)

    register_runner("toy", flaky)
    store = ResultsStore("sqlite://")
    plan = toy_plan(EDGES)
    key = {n.label: n.key for n in plan.nodes.values()}
    summary = LocalExecutor(tmp_path, console=QUIET).run(plan, store)
    assert sorted(summary.done) == sorted(key[x] for x in "ABE")
    assert list(summary.failed) == [key["C"]] and summary.blocked == [key["D"]]
    failed = store.nodes("failed")[0]
    assert failed.key == key["C"] and "RuntimeError: C broke" in failed.error and "Traceback" in failed.error
    assert store.node_status(key["D"]) is None

    register_runner("toy", _concat)  # fixed: only C and D run now
    summary = LocalExecutor(tmp_path, console=QUIET).run(plan, store)
    assert sorted(summary.done) == sorted([key["C"], key["D"]]) and len(summary.skipped) == 3


def test_invalid_outputs_rerun_and_context(tmp_path):
    seen = []

    def writes_dir(node, deps, ctx):
        seen.append(node.label)
        ctx.node_dir.mkdir(parents=True)
        return {"checkpoint": str(ctx.node_dir)}

    register_runner("ckpt", writes_dir, is_valid=lambda out: Path(out["checkpoint"]).is_dir())
    store = ResultsStore("sqlite://")
    plan = toy_plan({"A": [], "B": []}, kind="ckpt")
    LocalExecutor(tmp_path, console=QUIET).run(plan, store)
    a = next(n for n in store.nodes("done") if n.spec["label"] == "A")
    assert Path(a.outputs["checkpoint"]).parent == tmp_path / "ckpt"
    os.rmdir(a.outputs["checkpoint"])  # the checkpoint vanished: A must run again, B not
    summary = LocalExecutor(tmp_path, console=QUIET).run(plan, store)
    assert seen == ["A", "B", "A"] and len(summary.skipped) == 1


def test_missing_runner_stops_before_running(tmp_path):
    with pytest.raises(XstiltsError, match="no runner registered for node kind 'nope'"):
        LocalExecutor(tmp_path, console=QUIET).run(toy_plan({"A": []}, kind="nope"), ResultsStore("sqlite://"))


def test_ray_executor_runs_the_dag(tmp_path):
    ray = pytest.importorskip("ray")

    def flaky(node, deps, ctx):  # defined here so Ray pickles it by value
        if node.label == "C":
            raise ValueError("C broke")
        return {"value": "".join(d["value"] for d in deps.values()) + node.label}

    register_runner("toy", flaky)
    store = ResultsStore("sqlite://")
    plan = toy_plan({**EDGES, "F": ["B", "E"]})
    key = {n.label: n.key for n in plan.nodes.values()}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = RayExecutor(tmp_path, console=QUIET).run(plan, store)
    finally:
        ray.shutdown()
    assert sorted(summary.done) == sorted(key[x] for x in "ABEF")
    assert list(summary.failed) == [key["C"]] and summary.blocked == [key["D"]]
    assert {n.key: n.outputs for n in store.nodes("done")}[key["F"]] == {"value": "ABEF"}
    assert "ValueError: C broke" in store.nodes("failed")[0].error
