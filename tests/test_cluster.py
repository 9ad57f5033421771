"""The study on a real multi-node Ray cluster (two local nodes, each with its own resources)
against a real PostgreSQL store: the same rows as the local executor, and a worker killed
mid-node costs nothing. Needs `ray` (test extras) and $XSTILTS_TEST_POSTGRES (.ci/run)."""

from __future__ import annotations

import threading
import time

import pytest

from xstilts.errors import XstiltsError
from xstilts.orchestration.executor_ray import check_shared_storage
from xstilts.orchestration.study import run_study
from xstilts.store import ResultsStore
from tests.test_study import SPEC

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")  # one Ray at a time on the machine under `pytest -n 2`
psutil = pytest.importorskip("psutil")


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, one CPU each, with a custom resource naming each."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1}})
    c.add_node(num_cpus=1, resources={"worker": 1})
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def local_rows(tiny_model_dir, data_root, tmp_path_factory):
    """The spec's smoke study on the local executor, one thread (as each Ray worker runs)."""
    import torch

    tmp = tmp_path_factory.mktemp("local")
    spec = tmp / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, task="udpos")  # two probes share a node's CPU
                    + "resources: {num_cpus: 1, probe: {num_cpus: 0.5}}\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, summary = run_study(spec, data_root=data_root, store_url=f"sqlite:///{tmp / 'r.sqlite'}", smoke=True,
                               work_dir=tmp / "work", html=tmp / "r.html")
    finally:
        torch.set_num_threads(threads)
    assert not summary.failed
    return spec, {r.key(): r.value for r in ResultsStore(f"sqlite:///{tmp / 'r.sqlite'}").query()}


def _ray_run(spec, data_root, url, tmp_path):
    return run_study(spec, data_root=data_root, store_url=url, smoke=True, executor="ray",
                     work_dir=tmp_path / "work", html=tmp_path / "r.html")


def test_a_two_node_cluster_with_postgres_gets_the_local_executors_rows(cluster, local_rows, data_root,
                                                                         postgres_url, tmp_path):
    spec, expected = local_rows
    _, summary = _ray_run(spec, data_root, postgres_url, tmp_path)
    assert not summary.failed and not summary.blocked and len(summary.done) == 11
    store = ResultsStore(postgres_url)
    assert {r.key(): r.value for r in store.query()} == pytest.approx(expected, abs=1e-6)
    assert all(n.status == "done" and n.attempt == 1 for n in store.nodes())
    assert {n.outputs.get("rows") for n in store.nodes() if n.kind != "intermediate"} >= {2}  # counts, not rows


def _kill_first_running_node(killed: list[int], stop: threading.Event) -> None:
    """Kills (SIGKILL) the first Ray worker seen running a node, a moment after it started."""
    while not stop.is_set():
        for p in psutil.process_iter(["cmdline"]):
            if (p.info["cmdline"] or [""])[0].startswith("ray::run_node"):
                time.sleep(1.0)  # mid-node: it has loaded its model and started working
                try:
                    p.kill()
                    killed.append(p.pid)
                    return
                except psutil.NoSuchProcess:
                    break
        time.sleep(0.1)


def test_a_worker_killed_mid_node_costs_nothing(cluster, local_rows, data_root, postgres_url, tmp_path):
    spec, expected = local_rows
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_first_running_node, args=(killed, stop), daemon=True)
    killer.start()
    try:
        _, summary = _ray_run(spec, data_root, postgres_url, tmp_path)
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1  # a worker died mid-node; Ray ran that node again
    assert not summary.failed and not summary.blocked and len(summary.done) == 11
    store = ResultsStore(postgres_url)
    assert {r.key(): r.value for r in store.query()} == pytest.approx(expected, abs=1e-6)  # nothing lost
    assert all(n.status == "done" and n.attempt == 1 for n in store.nodes())  # none claimed twice


def test_a_storage_root_some_node_cannot_see_stops_the_study(cluster, tmp_path):
    check_shared_storage(tmp_path / "work", tmp_path)  # every node reads and writes it
    assert not list((tmp_path / "work" / ".storage-check").iterdir())  # and it leaves nothing behind
    with pytest.raises(XstiltsError, match=r"not shared by every Ray node: node \S+ \(\S+\) has no data root"):
        check_shared_storage(tmp_path / "work", tmp_path / "nowhere")
