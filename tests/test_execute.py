"""Executors: resume after SIGKILL repeats no finished node; failures stay on their node; two
runners on one store run each node once (leases); Ctrl-C and a full disk stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from xstilts.errors import DiskFullError, XstiltsError
from xstilts.orchestration.execute import LocalExecutor
from xstilts.orchestration.runners import Runner
from xstilts.orchestration.executor_ray import RayExecutor
from xstilts.store import ResultsStore
from xstilts.orchestration.plan import Plan
from xstilts.provenance import code_hash
from tests.toy import toy_plan

# the child processes below import the same toy plan (the repository root on their path)
TOY_PLAN = f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\nfrom tests.toy import toy_plan\n"
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
        from xstilts.orchestration.execute import LocalExecutor
        from xstilts.orchestration.runners import Runner
        from xstilts.store import ResultsStore

        tmp = Path(sys.argv[1])

        def toy(node, deps, ctx):
            if node.label == "C" and (tmp / "slow").exists():
                (tmp / "C-started").touch()
                time.sleep(120)  # killed here
            with open(tmp / "counter", "a") as f:
                f.write(node.label + "\\n")
            return {"value": "".join(d["value"] for d in deps.values()) + node.label}

        runners = {"toy": Runner(toy)}
        plan = toy_plan({"A": [], "B": ["A"], "C": ["A"], "D": ["C"], "E": []})
        LocalExecutor(tmp / "work", console=Console(quiet=True), runners=runners).run(plan, ResultsStore(f"sqlite:///{tmp}/s.sqlite"))
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
    assert store.node(by_label["C"]).status == "running"

    (tmp_path / "slow").unlink()
    subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, check=True)
    counts = (tmp_path / "counter").read_text().split()
    assert sorted(counts) == ["A", "B", "C", "D", "E"]  # each finished node ran exactly once
    done = {n.key: n.outputs for n in store.nodes("done")}
    assert done[by_label["D"]] == {"value": "ACD", "code": code_hash()}  # the code the node ran
    assert len(done) == 5


def test_failure_is_recorded_and_blocks_only_dependents(tmp_path):
    def flaky(node, deps, ctx):
        if node.label == "C":
            raise RuntimeError("C broke")
        return _concat(node, deps, ctx)

    runners = {"toy": Runner(flaky)}
    store = ResultsStore("sqlite://")
    plan = toy_plan(EDGES)
    key = {n.label: n.key for n in plan.nodes.values()}
    summary = LocalExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    assert sorted(summary.done) == sorted(key[x] for x in "ABE")
    assert list(summary.failed) == [key["C"]] and summary.blocked == [key["D"]]
    failed = store.nodes("failed")[0]
    assert failed.key == key["C"] and "RuntimeError: C broke" in failed.error and "Traceback" in failed.error
    assert store.node(key["D"]) is None

    runners = {"toy": Runner(_concat)}  # fixed: only C and D run now
    summary = LocalExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    assert sorted(summary.done) == sorted([key["C"], key["D"]]) and len(summary.skipped) == 3


def test_invalid_outputs_rerun_and_context(tmp_path):
    seen = []

    def writes_dir(node, deps, ctx):
        seen.append(node.label)
        ctx.node_dir.mkdir(parents=True)
        return {"checkpoint": str(ctx.node_dir)}

    runners = {"ckpt": Runner(writes_dir, is_valid=lambda out: Path(out["checkpoint"]).is_dir())}
    store = ResultsStore("sqlite://")
    plan = toy_plan({"A": [], "B": []}, kind="ckpt")
    LocalExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    a = next(n for n in store.nodes("done") if n.spec["label"] == "A")
    assert Path(a.outputs["checkpoint"]).parent == tmp_path / "ckpt"
    os.rmdir(a.outputs["checkpoint"])  # the checkpoint vanished: A must run again, B not
    summary = LocalExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    assert seen == ["A", "B", "A"] and len(summary.skipped) == 1


def test_missing_runner_stops_before_running(tmp_path):
    with pytest.raises(XstiltsError, match="no runner for node kind 'nope'"):
        LocalExecutor(tmp_path, console=QUIET, runners={"toy": Runner(_concat)}).run(toy_plan({"A": []}, kind="nope"), ResultsStore("sqlite://"))


@pytest.mark.xdist_group("ray")  # one Ray at a time on the machine under `pytest -n 2`
def test_ray_executor_runs_the_dag(tmp_path):
    ray = pytest.importorskip("ray")

    def flaky(node, deps, ctx):  # defined here so Ray pickles it by value
        if node.label == "C":
            raise ValueError("C broke")
        return {"value": "".join(d["value"] for d in deps.values()) + node.label}

    runners = {"toy": Runner(flaky)}
    store = ResultsStore("sqlite://")
    plan = toy_plan({**EDGES, "F": ["B", "E"]})
    key = {n.label: n.key for n in plan.nodes.values()}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = RayExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    finally:
        ray.shutdown()
    assert sorted(summary.done) == sorted(key[x] for x in "ABEF")
    assert list(summary.failed) == [key["C"]] and summary.blocked == [key["D"]]
    assert {n.key: n.outputs for n in store.nodes("done")}[key["F"]] == {"value": "ABEF", "code": code_hash()}
    assert "ValueError: C broke" in store.nodes("failed")[0].error


def _counting(tmp_path, delay=0.0, fail=()):
    """A toy runner that writes into its node folder, logs each run and can fail named nodes."""
    lock = threading.Lock()

    def run(node, deps, ctx):
        with lock, open(tmp_path / "runs", "a") as f:
            f.write(node.label + "\n")
        time.sleep(delay)
        ctx.node_dir.mkdir(parents=True, exist_ok=True)
        (ctx.node_dir / "out.txt").write_text(node.label)
        if node.label in fail:
            raise RuntimeError(f"{node.label} broke")
        return {**_concat(node, deps, ctx), "file": str(ctx.node_dir / "out.txt")}

    return run


def _two_runners(tmp_path, plan, runner, stagger=0.0):
    """Two executors in two threads, each with its own ResultsStore on one SQLite file."""
    runners = {"toy": Runner(runner)}
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    summaries = [None, None]

    def go(i):
        time.sleep(stagger * i)
        summaries[i] = LocalExecutor(tmp_path / "work", console=QUIET, runners=runners).run(plan, ResultsStore(url))

    threads = [threading.Thread(target=go, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return summaries, ResultsStore(url)


def test_two_concurrent_runners_run_every_node_once(tmp_path):
    plan = toy_plan(EDGES)  # the second starts once the first holds A: it must not run A when A is done
    summaries, store = _two_runners(tmp_path, plan, _counting(tmp_path, delay=0.3), stagger=0.15)
    assert sorted((tmp_path / "runs").read_text().split()) == ["A", "B", "C", "D", "E"]
    ran = [k for s in summaries for k in s.done]
    assert sorted(ran) == sorted(plan.nodes) and all(not s.failed for s in summaries)
    assert all(len(s.done) + len(s.elsewhere) == 5 for s in summaries)  # each saw the whole study finish
    nodes = {n.key: n for n in store.nodes()}
    assert {n.status for n in nodes.values()} == {"done"} and {n.attempt for n in nodes.values()} == {1}
    key = {n.label: n.key for n in plan.nodes.values()}
    assert nodes[key["D"]].outputs["value"] == "ACD"
    for n in nodes.values():  # outputs point into final folders, complete; no attempt folder is left
        assert Path(n.outputs["file"]).read_text() == n.spec["label"]
        assert Path(n.outputs["file"]).parent.name == n.key[:16]
    assert not list((tmp_path / "work" / "toy").glob(".*"))


def test_a_failure_recorded_by_one_runner_is_not_retried_by_the_other(tmp_path):
    plan = toy_plan(EDGES)
    summaries, store = _two_runners(tmp_path, plan, _counting(tmp_path, delay=0.3, fail=("C",)), stagger=0.1)
    assert (tmp_path / "runs").read_text().split().count("C") == 1
    key = {n.label: n.key for n in plan.nodes.values()}
    [failed] = store.nodes("failed")
    assert failed.key == key["C"] and "RuntimeError: C broke" in failed.error and failed.attempt == 1
    assert all(key["C"] in s.failed and key["D"] in s.blocked for s in summaries)
    lines = sorted(s.failed[key["C"]].line for s in summaries)
    assert lines[0] == "RuntimeError: C broke" and lines[1].startswith("failed in another runner")
    assert all("RuntimeError: C broke" in s.failed[key["C"]].traceback for s in summaries)


def test_dead_runners_node_is_taken_over_and_resumed(tmp_path):
    """A node left 'running' by a runner that stopped heartbeating is taken over once its lease
    expires, resuming from the folder that runner left; a live holder is waited for instead."""
    plan = toy_plan({"A": []})
    [node] = plan.nodes.values()
    store = ResultsStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.claim(node.key, "toy", {}, "elsewhere:1:abc", seen=None, ttl=1)
    left = tmp_path / "work" / "toy" / f".{node.key[:16]}.attempt1"
    left.mkdir(parents=True)
    (left / "partial.txt").write_text("step 3")
    seen = []

    def resumes(node, deps, ctx):
        seen.append((ctx.node_dir.name, (ctx.node_dir / "partial.txt").read_text()))
        return {"dir": str(ctx.node_dir)}

    runners = {"toy": Runner(resumes)}
    started = time.monotonic()
    summary = LocalExecutor(tmp_path / "work", console=QUIET, lease_seconds=1.5, runners=runners).run(plan, store)
    assert time.monotonic() - started >= 1.0  # waited for the lease to expire
    assert seen == [(f".{node.key[:16]}.attempt2", "step 3")] and summary.done == [node.key]
    done = store.node(node.key)
    assert done.attempt == 2 and Path(done.outputs["dir"]) == tmp_path / "work" / "toy" / node.key[:16]
    assert (Path(done.outputs["dir"]) / "partial.txt").is_file()


def test_a_runner_that_lost_its_lease_does_not_overwrite_the_new_holder(tmp_path):
    plan = toy_plan({"A": [], "B": ["A"]})
    key = {n.label: n.key for n in plan.nodes.values()}
    store = ResultsStore(f"sqlite:///{tmp_path / 's.sqlite'}")

    def overtaken(node, deps, ctx):
        if node.label == "A":  # meanwhile another runner takes A over and finishes it
            held = store.node(node.key)
            lease, _ = store.claim(node.key, "toy", {}, "other", seen=held, ttl=60,
                                   take_from=held.owner)
            store.mark_done(node.key, {"value": "theirs"}, lease)
        return _concat(node, deps, ctx)

    runners = {"toy": Runner(overtaken)}
    summary = LocalExecutor(tmp_path / "work", console=QUIET, runners=runners).run(plan, store)
    assert store.node(key["A"]).outputs == {"value": "theirs"} and store.node(key["A"]).owner == "other"
    assert summary.elsewhere == [key["A"]] and summary.done == [key["B"]]
    assert store.node(key["B"]).outputs == {"value": "theirsB", "code": code_hash()}


def interruptible() -> None:
    """In the child: SIGINT back to its default, so Python turns it into KeyboardInterrupt even
    when the tests run as a background job (which starts with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_marks_the_node_interrupted_and_a_rerun_runs_it(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(TOY_PLAN + textwrap.dedent('''
        import sys, time
        from pathlib import Path
        from rich.console import Console
        from xstilts.errors import Interrupted
        from xstilts.orchestration.execute import LocalExecutor
        from xstilts.orchestration.runners import Runner
        from xstilts.store import ResultsStore

        tmp = Path(sys.argv[1])

        def toy(node, deps, ctx):
            if node.label == "B" and not (tmp / "B-started").exists():
                (tmp / "B-started").touch()
                time.sleep(120)  # Ctrl-C here
            return {"value": node.label}

        runners = {"toy": Runner(toy)}
        try:
            LocalExecutor(tmp / "work", console=Console(quiet=True), runners=runners).run(
                toy_plan({"A": [], "B": ["A"]}), ResultsStore(f"sqlite:///{tmp}/s.sqlite"))
        except Interrupted as e:
            print(e)
            sys.exit(130)
    '''))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while not (tmp_path / "B-started").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    key = {n.label: n.key for n in toy_plan({"A": [], "B": ["A"]}).nodes.values()}
    assert out.startswith(f"stopped in toy B ({key['B'][:10]}): marked 'interrupted' in the store")
    store = ResultsStore(f"sqlite:///{tmp_path}/s.sqlite")
    assert store.node(key["B"]).status == "interrupted" and store.node(key["A"]).status == "done"
    rerun = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0 and store.node(key["B"]).status == "done"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_stops_the_run_with_one_line(tmp_path):
    def fills_disk(node, deps, ctx):
        with open("/dev/full", "wb") as f:
            f.write(b"x" * 4096)
            f.flush()
        return {}

    runners = {"toy": Runner(fills_disk)}
    store = ResultsStore("sqlite://")
    plan = toy_plan({"A": [], "B": []})
    with pytest.raises(DiskFullError, match=r"^the disk is full: toy A could not write .*MB free there\); free"):
        LocalExecutor(tmp_path, console=QUIET, runners=runners).run(plan, store)
    assert [n.status for n in store.nodes()] == ["failed"]  # B never started


def test_ray_resources_follow_the_spec_per_node_kind():
    from xstilts.orchestration.spec import parse_spec

    spec = parse_spec("name: s\nconditions: [{name: none, kind: none}]\ntargets: [{task: xnli}]\n"
                      "resources: {num_cpus: 2, intermediate: {num_gpus: 1}, finetune: {num_gpus: 0.5},"
                      " probe: {num_gpus: 0.25, num_cpus: 1}}\n")
    plan = Plan({}, spec)
    ex = RayExecutor("w")
    assert ex._options(plan, "intermediate", True) == {"num_gpus": 1, "num_cpus": 2}
    assert ex._options(plan, "finetune", True) == {"num_gpus": 0.5, "num_cpus": 2}
    assert ex._options(plan, "probe", True) == {"num_gpus": 0.25, "num_cpus": 1}
    bare = parse_spec("name: s\nconditions: [{name: none, kind: none}]\ntargets: [{task: xnli}]\n")
    plan = Plan({}, bare)
    assert ex._options(plan, "probe", True) == {"num_gpus": 1, "num_cpus": 1.0}  # a GPU each where there are GPUs
    assert ex._options(plan, "probe", False) == {"num_gpus": 0, "num_cpus": 1.0}
    assert RayExecutor("w", num_gpus=0.5)._options(plan, "finetune", True)["num_gpus"] == 0.5


def test_a_full_disk_in_the_model_cache_names_the_cache_not_the_study(tmp_path):
    """me5-small's conversion says where it needed room; the run's line keeps that, not the work folder."""
    from xstilts.errors import DiskFullError as Full

    said = "the disk is full: converting me5-small needs about 500 MB in /cache/models (3 MB free there); free some"

    def converts(node, deps, ctx):  # as me5.ensure_me5 raises it
        raise Full(said) from OSError(28, "No space left on device")

    runners = {"toy": Runner(converts)}
    with pytest.raises(DiskFullError) as e:
        LocalExecutor(tmp_path, console=QUIET, runners=runners).run(toy_plan({"A": []}), ResultsStore("sqlite://"))
    assert str(e.value) == f"toy A: {said}" and str(tmp_path) not in str(e.value)


def test_a_failure_is_data_the_full_disk_names_the_file_it_refused(tmp_path):
    """The file comes from the exception itself (OSError.filename), not from a traceback's text."""
    import errno

    refused = tmp_path / "work" / "toy" / "weights.safetensors"

    def writes(node, deps, ctx):
        raise OSError(errno.ENOSPC, "No space left on device", str(refused))

    runners = {"toy": Runner(writes)}
    with pytest.raises(DiskFullError, match=f"could not write {refused} \\("):
        LocalExecutor(tmp_path / "work", console=QUIET, runners=runners).run(toy_plan({"A": []}), ResultsStore("sqlite://"))

    def breaks(node, deps, ctx):
        raise RuntimeError("first line\nsecond line")

    runners = {"toy": Runner(breaks)}
    summary = LocalExecutor(tmp_path / "w2", console=QUIET, runners=runners).run(toy_plan({"A": []}), ResultsStore("sqlite://"))
    [failure] = summary.failed.values()
    assert failure.line == "RuntimeError: first line" and not failure.disk_full
    assert failure.traceback.startswith("Traceback") and "second line" in failure.traceback


class _LastFirst:
    """A new executor in one class, as `orchestration/executors.py` says one is added: the Executor
    constructor and `run`, on the bookkeeping every executor shares. It starts the ready node that
    comes last in the plan first (an order no shipped executor uses)."""

    def __init__(self, work_dir, data_root=None, console=None, runners=None):
        self.work_dir, self.data_root, self.console, self.runners = Path(work_dir), data_root, console or QUIET, runners
        self.order: list[str] = []

    def run(self, plan, store):
        from xstilts.orchestration.execute import Bookkeeping, run_node
        from xstilts.store import LEASE_SECONDS

        book = Bookkeeping(plan, store, self.work_dir, self.data_root, self.console, LEASE_SECONDS, self.runners)
        pending = list(reversed(book.todo))
        with book.beat:
            while pending:
                for node, deps, ctx in list(book.claim_ready(pending)):
                    self.order.append(node.label)
                    book.finish(node, *run_node(book.runner(node.kind).run, node, deps, ctx))
        return book.summary


def test_a_new_executor_is_one_class_behind_the_protocol(tmp_path):
    from xstilts.orchestration.executors import make_executor

    store = ResultsStore(f"sqlite:///{tmp_path / 's.sqlite'}")
    ex = make_executor(_LastFirst, tmp_path / "work", None, QUIET, runners={"toy": Runner(_concat)})
    summary = ex.run(toy_plan(EDGES), store)
    assert sorted(summary.done) == sorted(toy_plan(EDGES).nodes) and not summary.failed
    assert ex.order[0] == "E"  # its own order, last ready node first
    values = {n.spec["label"]: n.outputs["value"] for n in store.nodes("done")}
    assert values["D"] == "ACD" and values["B"] == "AB"  # every node after its dependencies, as the others
    with pytest.raises(XstiltsError, match="--executor: _LastFirst takes no address"):
        make_executor(_LastFirst, tmp_path / "w2", None, QUIET, address="ray://x")
