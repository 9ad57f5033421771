"""A user's own tasks: the YAML schema, located errors, the same validator as the built-ins,
generic readers with a field mapping, Hugging Face datasets on disk, and node keys that follow
the user's files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.data import catalog
from xstilts.data.examples import BitextExample, TextExample
from xstilts.orchestration.plan import build_plan
from xstilts.orchestration.spec import SpecError, load_spec
from xstilts.tasks import all_tasks, get_task
from xstilts.tasks.check import problems
from xstilts.tasks.data import read_source
from xstilts.tasks.user import UserTasks, load_task_file

BYO = Path(__file__).resolve().parents[1] / "experiments" / "byo"
TASK = """\
name: toy-senti
type: classification
role: intermediate
languages: [qaa_Latn]
format: csv
fields: {id: id, text: sentence, label: polarity}
labels: [negative, positive]
metrics: [accuracy]
main_score: accuracy
files:
  train: {qaa_Latn: data/*.csv}
  test: {qaa_Latn: data/test.csv}
"""
ROWS = "id,sentence,polarity\n1,ka lumo esti bela,positive\n2,ka varu esti morz,negative\n"


def _write(tmp_path: Path, task: str = TASK, rows: str = ROWS) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "test.csv").write_text(rows)
    (tmp_path / "task.yaml").write_text(task)
    return tmp_path / "task.yaml"


def _error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_task_file(path)
    return info.value


@pytest.mark.parametrize("task", all_tasks(builtin=True), ids=lambda t: t.name)
def test_every_builtin_entry_passes_the_validator_user_tasks_go_through(task, data_root):
    assert problems(task, data_root) == []


def test_the_example_tasks_load_and_read(tmp_path):
    loaded = [load_task_file(BYO / f"{n}.yaml") for n in ("greet", "tags", "parallel")]
    greet, tags, parallel = (user[0] for user in loaded)
    with loaded[0].scope(), loaded[1].scope(), loaded[2].scope():
        assert (greet.type, greet.roles, greet.languages) == ("classification", ("intermediate",), ("qaa_Latn",))
        train = read_source(greet.train[0], None)
        assert len(train) == 40 and isinstance(train[0], TextExample) and train[0].label in greet.labels
        assert tags.train[0].lang == "eng_Latn" and tags.languages == ("eng_Latn", "qaa_Latn")
        pairs = read_source(parallel.eval[0], None)
        assert isinstance(pairs[0], BitextExample) and len(pairs) == 40 and parallel.pivot == "eng_Latn"
        assert get_task("byo-parallel") is parallel and "probe" in parallel.roles


def test_user_tasks_are_known_only_inside_their_scope():
    """A spec's or a task file's tasks are never added to the process's registries: two studies in one
    process (a test run, a notebook) never see each other's, and nothing depends on load order."""
    user = load_task_file(BYO / "greet.yaml")
    with pytest.raises(KeyError, match="unknown task 'byo-greet'"):
        get_task("byo-greet")
    with user.scope():
        assert get_task("byo-greet") is user[0] and catalog.get_dataset("user:byo-greet")
        with UserTasks().scope():  # an inner scope adds to the outer one
            assert get_task("byo-greet") is user[0]
    with pytest.raises(KeyError, match="unknown dataset 'user:byo-greet'"):
        catalog.get_dataset("user:byo-greet")


def test_a_glob_reads_every_match_in_order(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text(ROWS)
    user = load_task_file(_write(tmp_path))
    with user.scope():
        assert len(read_source(user[0].train[0], None)) == 4  # a.csv + test.csv
        assert len(catalog.get_dataset("user:toy-senti").files[0].paths) == 2


@pytest.mark.parametrize("edit, where", [
    (("format: csv", "formt: csv"), ":5: formt: unknown key 'formt' (did you mean 'format'?)"),
    (("main_score: accuracy", "main_score: f1"), ":9: main_score: 'f1' is not one of the metrics"),
    (("metrics: [accuracy]\nmain_score: accuracy", "metrics: [acuracy]\nmain_score: acuracy"),
     ":8: metrics: unknown metric 'acuracy'; did you mean 'accuracy'"),
    (("languages: [qaa_Latn]", "languages: [qaa]"), ":4: languages.0: String should match pattern"),
    (("test: {qaa_Latn: data/test.csv}", "test: {qaa_Latn: data/missing.csv}"),
     ":12: files.test.qaa_Latn: {d}/data/missing.csv: no such file"),
    (("text: sentence", "txt: sentence"), ":6: fields: needs text (a text mapping)"),
    (("type: classification", "type: tagging"), ":6: fields: a text mapping does not fit type 'tagging'"),
])
def test_schema_errors_are_located_at_file_line_field(tmp_path, edit, where):
    path = _write(tmp_path, TASK.replace(*edit))
    assert f"{path}{where.format(d=tmp_path)}" in str(_error(path))


def test_data_errors_name_the_data_file_line_and_column(tmp_path):
    path = _write(tmp_path, rows=ROWS + "3,ka dopa esti silu,neutral\n")
    err = str(_error(path))
    assert f"{path}:12: files.test.qaa_Latn: {tmp_path}/data/test.csv:4: field 'polarity': unknown label 'neutral'" in err
    path = _write(tmp_path, TASK.replace("text: sentence", "text: sentense"))
    assert f"{tmp_path}/data/test.csv:2: field 'sentense': missing" in str(_error(path))


def test_a_builtin_name_is_refused_and_a_user_task_replaced(tmp_path):
    path = _write(tmp_path, TASK.replace("name: toy-senti", "name: xnli"))
    with pytest.raises(ValueError, match="built in"):
        load_task_file(path)
    first = load_task_file(_write(tmp_path))
    second = load_task_file(_write(tmp_path, TASK.replace('version: "1"', "") + 'version: "2"\n'))
    with first.scope(), second.scope():  # the inner scope's task of the same name wins
        assert get_task("toy-senti") is second[0] and first[0].version == "1" != second[0].version


def test_a_changed_user_file_makes_a_new_node(tmp_path):
    _write(tmp_path)
    spec = tmp_path / "study.yaml"
    spec.write_text("name: own\ntasks: [task.yaml]\nconditions:\n  - {name: none, kind: none}\n"
                    "  - {name: senti, kind: low-resource, tasks: [toy-senti]}\n"
                    "intermediate: {max_steps: 2}\ntargets:\n  - {task: udpos, langs: [yo]}\n")
    keys = lambda: {n.label: n.key for n in build_plan(load_spec(spec), data_root=tmp_path).nodes.values()}  # noqa: E731
    before = keys()
    (tmp_path / "data" / "test.csv").write_text(ROWS + "3,ka dopa esti silu,positive\n")
    after = keys()
    assert before["senti"] != after["senti"]  # it trains on the glob, which matches test.csv
    assert before["udpos after none (seed 1)"] == after["udpos after none (seed 1)"]


def test_inline_tasks_in_a_spec_are_located_in_the_spec(tmp_path):
    _write(tmp_path)
    inline = "\n".join("    " + ln if i else "  - " + ln for i, ln in enumerate(TASK.splitlines()))
    spec = tmp_path / "study.yaml"
    spec.write_text("name: own\ntasks:\n" + inline.replace("main_score: accuracy", "main_score: f1") +
                    "\nconditions:\n  - {name: none, kind: none}\ntargets:\n  - {task: udpos, langs: [yo]}\n")
    with pytest.raises(SpecError) as info:
        build_plan(load_spec(spec), data_root=tmp_path)
    assert f"{spec}:11: tasks.0.main_score: 'f1' is not one of the metrics" in str(info.value)


def test_tasks_cli_lists_and_shows_user_tasks():
    runner = CliRunner()
    listed = runner.invoke(app, ["tasks", "--tasks", str(BYO / "greet.yaml")])
    assert listed.exit_code == 0, listed.output
    assert "byo-greet" in listed.output and "yours" in listed.output and "built in" in listed.output
    shown = runner.invoke(app, ["tasks", "show", "byo-tags", "--tasks", str(BYO / "tags.yaml")])
    assert shown.exit_code == 0, shown.output
    assert "version 1" in shown.output and "invented for the xstilts example" in shown.output
    assert "test.qaa.tsv" in shown.output and "│ eval  │ test  │ qaa_Latn │ 16" in shown.output
