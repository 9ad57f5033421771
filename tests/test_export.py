"""`xstilts export` and `--json` of run, plan, tasks and data list, read back with the csv and json
modules alone and compared with the results store's rows."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.cli_data import data_app
from xstilts.store import ResultsStore

RECORD = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english-pilot"

SPEC = """\
name: tiny-export
model: {model}
seeds: [1, 2]
conditions:
  - {{name: none, kind: none}}
targets:
  - {{probe: flores, langs: [bug_Latn, ban_Latn], layers: [1, 2], max_sentences: 20}}
  - {{task: udpos, langs: [en, yo]}}
finetune: {{max_steps: 2, batch_size: 4, max_length: 32, max_train_examples: 16, max_eval_examples: 10}}
"""

FIELDS = ["key", "model", "model_hash", "condition", "intermediate", "task", "task_version", "dataset", "split",
          "language", "direction", "layer", "pooling", "scorer", "prefix", "seed", "metric", "value", "data_hash",
          "created_at", "git_hash", "package_version", "run_id"]


def read_csv(path: Path) -> dict[str, dict]:
    """key -> the row as the store's JSON would hold it, rebuilt from the CSV's cells."""
    out = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[:len(FIELDS)] == FIELDS
        assert all(c.startswith("protocol.") for c in reader.fieldnames[len(FIELDS):])
        for line in reader:
            # an empty cell is null; an empty text is written as the JSON string ""
            row = {c: (None if line[c] == "" else "" if line[c] == '""' else line[c]) for c in FIELDS}
            row["intermediate"] = json.loads(line["intermediate"])
            row["value"] = float(line["value"])
            for c in ("layer", "seed"):
                row[c] = int(row[c]) if row[c] is not None else None
            row["protocol"] = {c.removeprefix("protocol."): json.loads(v) for c, v in line.items()
                               if c.startswith("protocol.") and v != ""}
            out[row.pop("key")] = row
    return out


def read_task_files(folder: Path) -> dict[tuple, float]:
    """(task, model, model_hash, split, language, condition, seed, layer, direction, metric, protocol) ->
    value, from the per-task JSON files."""
    out = {}
    files = sorted(folder.glob("*/*.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert path.stem == doc["task_name"]
        for split, entries in doc["scores"].items():
            for e in entries:
                protocol = {**doc["protocol"], **e["protocol"]}
                assert e["hf_subset"] == e["language"] and e["languages"] == [e["language"]]
                if doc["main_score"] in e["scores"]:
                    assert e["main_score"] == e["scores"][doc["main_score"]]
                for metric, value in e["scores"].items():
                    k = (doc["task_name"], doc["model_name"], e["model_hash"], split, e["language"], e["condition"],
                         e["seed"], e["layer"], e["direction"], metric, json.dumps(protocol, sort_keys=True))
                    assert k not in out
                    out[k] = value
    return out


def task_key(row: dict) -> tuple:
    return (row["task"], row["model"], row["model_hash"], row["split"], row["language"], row["condition"], row["seed"],
            row["layer"], row["direction"], row["metric"], json.dumps(row["protocol"], sort_keys=True))


def check_export(out: Path, expected: dict[str, dict]) -> None:
    """The CSV and the per-task files hold exactly EXPECTED (key -> row as JSON) and nothing else."""
    got = read_csv(out / "rows.csv")
    assert set(got) == set(expected)
    for key, row in expected.items():
        want = {k: v for k, v in row.items() if k != "key"}
        assert got[key] == want, key
    per_task = read_task_files(out)
    assert per_task == {task_key(r): r["value"] for r in expected.values()}
    index = json.loads((out / "export.json").read_text())
    assert index["rows"] == len(expected) and index["csv"] == "rows.csv"
    assert sorted(index["tasks"]) == sorted(str(p.relative_to(out)) for p in out.glob("*/*.json"))


def test_a_study_runs_plans_and_exports_as_json_and_csv(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    common = ["--data-root", str(data_root), "--store", url]
    runner = CliRunner()

    planned = runner.invoke(app, ["plan", str(spec), "--data-root", str(data_root), "--json", "-"])
    assert planned.exit_code == 0, planned.output
    doc = json.loads(planned.stdout)  # only the JSON on standard output
    kinds = sorted(n["kind"] for n in doc["nodes"])
    assert kinds == ["finetune", "finetune", "probe"] and doc["study"] == "tiny-export"
    assert doc["totals"] == {**doc["totals"], "nodes": 3, "done": 0, "to_run": 3}
    assert all(n["status"] == "pending" for n in doc["nodes"])
    ft = next(n for n in doc["nodes"] if n["kind"] == "finetune")
    assert ft["hparams"]["max_steps"] == 2 and ft["config"]["task"] == "udpos"

    # a fresh run: its nodes' progress goes to standard error, only the JSON to standard output
    ran = runner.invoke(app, ["run", str(spec), *common, "--work-dir", str(tmp_path / "w"),
                              "--html", str(tmp_path / "r.html"), "--json", "-"])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    assert "study run" in ran.stderr
    assert result["ok"] is True and result["counts"]["done"] == 3 and result["store"] == url
    assert {n["key"] for n in result["nodes"]} == {n["key"] for n in doc["nodes"]}

    # a second run does nothing, and says so in its JSON file (the human output printed as ever)
    run_json = tmp_path / "run.json"
    again = runner.invoke(app, ["run", str(spec), *common, "--work-dir", str(tmp_path / "w"),
                                "--html", str(tmp_path / "r.html"), "--json", str(run_json)])
    assert again.exit_code == 0, again.output
    assert "study run" in again.stdout
    assert json.loads(run_json.read_text())["counts"] == {"done": 0, "skipped": 3, "elsewhere": 0, "failed": 0,
                                                          "blocked": 0, "not run": 0}

    replanned = runner.invoke(app, ["plan", str(spec), *common, "--json", str(tmp_path / "plan.json")])
    assert replanned.exit_code == 0, replanned.output
    assert json.loads((tmp_path / "plan.json").read_text())["totals"]["done"] == 3

    out = tmp_path / "export"
    exported = runner.invoke(app, ["export", str(spec), *common, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    store_rows = {r.key(): {**r.model_dump(mode="json")} for r in ResultsStore(url).query()}
    # the study's reported rows: every probe row (the main metric) and every fine-tuning metric
    assert len(store_rows) > 20
    assert {r["task"] for r in store_rows.values()} == {"flores", "udpos"}
    check_export(out, store_rows)
    assert {p.name for p in out.iterdir()} == {"rows.csv", "export.json", tiny_model_dir.as_posix().strip("/")
                                               .replace("/", "__")}


def test_a_published_record_exports_every_row(tmp_path):
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", "--from", str(RECORD), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(gzip.decompress((RECORD / "rows.json.gz").read_bytes()))
    check_export(out, {r["key"]: r for r in rows})
    assert sorted(p.name for p in (out / "me5-small").iterdir()) == ["flores.json", "tatoeba.json", "udpos.json",
                                                                    "xnli.json"]
    xnli = json.loads((out / "me5-small" / "xnli.json").read_text())
    # one entry per language, condition and seed: 7 languages x 7 conditions x 3 seeds
    assert len(xnli["scores"]["test"]) == 7 * 7 * 3 and xnli["main_score"] == "accuracy"
    assert xnli["protocol"]["study"] == "lowres-vs-english"


@pytest.mark.parametrize("args, says", [
    (["export", "--out", "x"], "give a study spec (SPEC) or a published record (--from DIR)"),
    (["export", "--from", "."], "not a published study record (no spec.yaml, no parts/)"),
])
def test_export_refuses_without_a_source(args, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and says in " ".join(result.output.split())
    assert not (tmp_path / "x").exists()


def test_tasks_json_lists_the_catalog(tmp_path):
    from xstilts.tasks import all_tasks

    runner = CliRunner()
    printed = runner.invoke(app, ["tasks", "--role", "probe", "--json", "-"])
    assert printed.exit_code == 0, printed.output
    tasks = json.loads(printed.stdout)["tasks"]
    assert [t["name"] for t in tasks] == [t.name for t in all_tasks("probe")]
    tatoeba = next(t for t in tasks if t["name"] == "tatoeba")
    assert "probe" in tatoeba["roles"] and tatoeba["builtin"] is True and tatoeba["metrics"] == ["tatoeba_accuracy"]
    to_file = runner.invoke(app, ["tasks", "--json", str(tmp_path / "tasks.json")], env={"COLUMNS": "200"})
    assert to_file.exit_code == 0 and "xnli" in to_file.output  # the table, and the file
    udpos = next(t for t in json.loads((tmp_path / "tasks.json").read_text())["tasks"] if t["name"] == "udpos")
    assert udpos["trains_on"] == ["ud/train"] and udpos["type"] == "tagging"
    assert "yo" in udpos["languages"] and udpos["recipe"]["lr"] > 0


def test_data_list_json_to_a_file_and_to_stdout(data_root, tmp_path):
    runner = CliRunner()
    printed = runner.invoke(data_app, ["list", "--json", "-", "--data-root", str(data_root)])
    assert printed.exit_code == 0, printed.output
    as_stdout = json.loads(printed.stdout)
    to_file = runner.invoke(data_app, ["list", "--json", str(tmp_path / "d.json"), "--data-root", str(data_root)],
                            env={"COLUMNS": "200"})
    assert to_file.exit_code == 0 and "datasets under" in to_file.output
    assert json.loads((tmp_path / "d.json").read_text()) == as_stdout
    assert {d["name"] for d in as_stdout["datasets"]} >= {"tatoeba", "xnli", "ud"}
    bad = runner.invoke(data_app, ["list", "--json", str(tmp_path), "--data-root", str(data_root)])
    assert bad.exit_code == 2 and str(tmp_path) in bad.output and "Traceback" not in bad.output
