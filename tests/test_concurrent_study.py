"""Two `xstilts run` of one study on one SQLite store, started together, on the tiny encoder and
real data: every node is trained once (claimed once: attempt 1) and the rows equal a single run's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_study import SPEC
from xstilts.store import ResultsStore

pytestmark = pytest.mark.integration


def _cli(spec, data_root, store, work, env):
    return [str(Path(sys.executable).parent / "xstilts"), "run", str(spec), "--data-root", str(data_root), "--store",
            f"sqlite:///{store}", "--work-dir", str(work), "--html", str(work / "report.html")]


@pytest.mark.slow
def test_two_concurrent_runs_train_each_node_once_with_the_rows_of_one(tiny_model_dir, data_root, tmp_path):
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, task="udpos"))
    env = {**os.environ, "XSTILTS_CACHE": str(tmp_path / "cache"), "XSTILTS_HOME": str(tmp_path / "home"),
           "COLUMNS": "200"}
    single = subprocess.run(_cli(spec, data_root, tmp_path / "one.sqlite", tmp_path / "one", env), env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stdout + single.stderr

    procs = [subprocess.Popen(_cli(spec, data_root, tmp_path / "two.sqlite", tmp_path / "two", env), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    captions = [re.search(r"(\d+) done, (\d+) already done(?:, (\d+) done by another runner)?", o) for o in outs]
    assert sum(int(c[1]) for c in captions) == 11  # the 11 nodes ran once in all
    # each run saw every node finish: by itself, by the other, or before it looked (a run that
    # starts a few seconds later finds the other's first nodes already done)
    assert all(int(c[1]) + int(c[2]) + int(c[3] or 0) == 11 for c in captions)
    store = ResultsStore(f"sqlite:///{tmp_path / 'two.sqlite'}")
    assert {(n.status, n.attempt) for n in store.nodes()} == {("done", 1)} and len(store.nodes()) == 11
    assert not list((tmp_path / "two").glob("*/.*.attempt*"))  # every node folder renamed into place

    one = ResultsStore(f"sqlite:///{tmp_path / 'one.sqlite'}")
    assert {r.key(): r.value for r in store.query()} == {r.key(): r.value for r in one.query()}
