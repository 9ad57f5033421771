"""Errors a user can act on, through the CLI as a user meets them: one line (plus a hint), exit
status 2, no traceback unless --debug; `plan` creates nothing; Ctrl-C during `run` marks the node
'interrupted', exits 130, and a rerun finishes the study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.test_execute import interruptible
from tests.test_study import SPEC
from xstilts.cli import app
from xstilts.store import ResultsStore

XSTILTS = str(Path(sys.executable).parent / "xstilts")


@pytest.fixture
def spec(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    path = tmp_path / "study.yaml"
    path.write_text(SPEC.format(model=tiny_model_dir, task="udpos"))
    return path


def _one_line(result, code=2):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.output.startswith("error: ")
    return result.output


@pytest.mark.parametrize("url, said", [
    ("results.sqlite", "error: the store URL 'results.sqlite' is not a database URL; e.g. sqlite:////"),
    ("mysqll://u@h/db", "names an unknown database type 'mysqll'"),
])
def test_bad_store_url_is_one_line(spec, data_root, url, said):
    for command in ("run", "plan"):
        out = _one_line(CliRunner().invoke(app, [command, str(spec), "--data-root", str(data_root), "--store", url]))
        assert said in out and len(out.strip().splitlines()) == 1


def test_missing_postgres_driver_says_what_to_install(spec, data_root):
    import importlib.util

    if importlib.util.find_spec("psycopg2"):
        pytest.skip("psycopg2 is installed here")
    out = _one_line(CliRunner().invoke(app, ["run", str(spec), "--data-root", str(data_root), "--store",
                                             "postgresql+psycopg2://me:secret@db.example.org/x"]))
    assert "needs the database driver 'psycopg2', which is not installed: pip install psycopg2-binary" in out
    assert "secret" not in out


def test_unusable_home_is_one_line(spec, data_root, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "a-file" / "xstilts"))
    out = _one_line(CliRunner().invoke(app, ["run", str(spec), "--data-root", str(data_root)]))
    assert f"cannot create the folder {tmp_path / 'a-file' / 'xstilts'} for the results store (Not a directory); " \
           "set XSTILTS_HOME to a writable folder" in out


def test_debug_shows_the_traceback(spec, data_root):
    result = CliRunner().invoke(app, ["--debug", "run", str(spec), "--data-root", str(data_root), "--store", "x"])
    assert result.exit_code != 0 and type(result.exception).__name__ == "StoreError"


def test_plan_of_a_study_never_run_creates_nothing(spec, data_root, tmp_path):
    """No --store: the user's store may not exist yet, which only means every node is to run."""
    result = CliRunner().invoke(app, ["plan", str(spec), "--data-root", str(data_root)])
    assert result.exit_code == 0, result.output
    assert "0 done, 11 to run" in result.output
    assert not (tmp_path / "home").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("command", ["plan", "report", "recommend"])
@pytest.mark.parametrize("where, said", [
    ("no/such/x.sqlite", "error: no results store at sqlite:///{store}: no such database"),
    ("a-folder", "error: the results store {store} is a folder, not a SQLite file"),
])
def test_read_only_command_on_a_missing_or_wrong_store_says_so(spec, data_root, tmp_path, command, where, said):
    """A store named by hand that is not there, or is a folder: one line, exit 2, nothing created."""
    (tmp_path / "a-folder").mkdir()
    store = tmp_path / where
    before = sorted(tmp_path.rglob("*"))
    extra = ["--task", "udpos"] if command == "recommend" else []
    out = _one_line(CliRunner().invoke(app, [command, str(spec), "--data-root", str(data_root),
                                             "--store", f"sqlite:///{store}", *extra]))
    assert out.startswith(said.format(store=store)) and len(out.strip().splitlines()) == 1
    assert "kind 'none'" not in out
    assert sorted(tmp_path.rglob("*")) == before  # no store, hash cache, study folder or report.html


def test_report_with_no_rows_says_why_and_writes_nothing(spec, data_root, tmp_path):
    """A store that exists but holds none of this study's rows: no empty report with a warning about
    something else; one line pointing at `run`, and no report.html."""
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    ResultsStore(url)  # an empty store, as another study's run would leave it
    before = sorted(tmp_path.rglob("*"))
    out = _one_line(CliRunner().invoke(app, ["report", str(spec), "--data-root", str(data_root), "--store", url]))
    assert "none of the 9 probe and fine-tuning nodes of" in out and f"run `xstilts run {spec}` first" in out
    assert "kind 'none'" not in out and len(out.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_ctrl_c_during_run_marks_the_node_interrupted(spec, data_root, tmp_path):
    env = {**os.environ, "COLUMNS": "300"}
    cmd = [XSTILTS, "run", str(spec), "--data-root", str(data_root), "--store", f"sqlite:///{tmp_path / 'r.sqlite'}",
           "--work-dir", str(tmp_path / "work"), "--html", str(tmp_path / "r.html")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=interruptible)
    for line in proc.stdout:
        if "] elapsed " in line and "intermediate nusax-eng" in line:  # the executor announces the node it starts
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130, rest
    assert "interrupted: stopped in intermediate nusax-eng (" in rest and "Traceback" not in rest
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert [n.spec["label"] for n in store.nodes("interrupted")] == ["nusax-eng"]
    shown = CliRunner().invoke(app, ["plan", str(spec), "--data-root", str(data_root), "--store",
                                     f"sqlite:///{tmp_path / 'r.sqlite'}"])
    assert "interrupted intermediate nusax-eng" in shown.output
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout
    assert {n.status for n in store.nodes()} == {"done"}
    assert [n.attempt for n in store.nodes() if n.spec["label"] == "nusax-eng"] == [2]


def test_only_xstilts_errors_are_bad_input():
    """A user's mistake is an XstiltsError (exit 2, one line); a ValueError or KeyError from anywhere
    else is a bug of ours or a library's, said as an internal error (exit 1) with the way to report it."""
    from xstilts.cli_common import _explain
    from xstilts.errors import BadValue, UnknownName
    from xstilts.training.hparams import HParamsError

    assert _explain(UnknownName("unknown task 'xnlii'; did you mean 'xnli'?")) == (
        "unknown task 'xnlii'; did you mean 'xnli'?", None, 2)  # no KeyError quotes
    assert _explain(BadValue("field 'seeds': a seed is listed twice"))[2] == 2
    error = HParamsError("lr", "must be positive")
    assert _explain(error)[2] == 2 and (error.field, error.message) == ("lr", "must be positive")
    for bug in (ValueError("operands could not be broadcast"), KeyError("input_ids")):
        line, hint, code = _explain(bug)
        assert code == 1 and line.startswith("internal error: ") and "--debug" in hint
    # both still are what library code catches
    assert isinstance(UnknownName("x"), KeyError) and isinstance(BadValue("x"), ValueError)


def test_an_unknown_target_language_is_located_at_its_langs_field(tmp_path, data_root):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nconditions: [{name: none, kind: none}]\ntargets:\n  - {task: udpos, langs: [en, xx]}\n")
    result = CliRunner().invoke(app, ["plan", str(spec), "--data-root", str(data_root)])
    assert result.exit_code == 2
    assert "targets.0.langs" in result.output and "no evaluation language 'xx'" in result.output
