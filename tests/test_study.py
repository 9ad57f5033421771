"""The whole study on a tiny encoder and real data: plan → run → store → report; a rerun
repeats no finished node and keeps the numbers; a failing node does not stop the others."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.orchestration.guard import mlm_tasks_for
from xstilts.store import ResultsStore

SPEC = """\
name: tiny-study
model: {model}
seeds: [1]
conditions:
  - {{name: none, kind: none}}
  - {{name: nusax-eng, kind: english, tasks: ["nusax:eng"], pair: nusax}}
  - {{name: nusax-bug, kind: low-resource, tasks: ["nusax:bug"], pair: nusax}}
intermediate: {{max_steps: 3, batch_size: 4, max_length: 32, max_train_examples: 16}}
targets:
  - {{probe: tatoeba, langs: [jav], layers: last}}
  - {{probe: flores, langs: [bug_Latn], layers: [1, 2], max_sentences: 30}}
  - {{task: {task}, langs: [en, yo]}}
finetune: {{max_steps: 3, batch_size: 4, max_length: 32, max_train_examples: 16}}
"""


def _run(spec, data_root, tmp_path, *extra):
    return CliRunner().invoke(app, ["run", str(spec), "--data-root", str(data_root), "--store",
                                    f"sqlite:///{tmp_path / 'r.sqlite'}", "--work-dir", str(tmp_path / "work"),
                                    "--html", str(tmp_path / "report.html"), *extra])


@pytest.mark.slow
def test_study_runs_end_to_end_and_a_rerun_repeats_nothing(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, task="udpos"))
    first = _run(spec, data_root, tmp_path)
    assert first.exit_code == 0, first.output
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert {n.status for n in store.nodes()} == {"done"} and len(store.nodes()) == 2 + 3 * 3
    rows = store.query(task="udpos")
    assert {(r.condition, r.language) for r in rows if r.metric == "accuracy"} == {
        (c, lang) for c in ("none", "nusax-eng", "nusax-bug") for lang in ("en", "yo")}
    assert all(r.model == str(tiny_model_dir) for r in rows)  # conditions, not checkpoint paths, tell them apart
    assert {tuple(r.intermediate) for r in store.query(task="flores")} == {(), ("nusax:eng",), ("nusax:bug",)}
    html = (tmp_path / "report.html").read_text()
    assert "nusax-bug" in html and "data:image/png;base64" in html
    before = {r.key(): r.value for r in store.query()}
    work = tmp_path / "work"
    assert len(list(work.glob("intermediate/*/encoder/model.safetensors"))) == 2  # later nodes load these
    assert not list(work.glob("**/state.pt"))  # optimizer state is dropped once a node is done
    assert not list(work.glob("finetune/**/*.safetensors"))  # phase-3 weights only with keep_finetuned
    assert len(list(work.glob("finetune/*/predictions/*.jsonl"))) == 3 * 2

    again = _run(spec, data_root, tmp_path)
    assert again.exit_code == 0, again.output
    assert "0 done, 11 already done" in again.output
    assert {r.key(): r.value for r in store.query()} == before


def test_a_failed_node_is_recorded_and_the_rest_finish(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir, task="udpos").replace("max_sentences: 30", "max_sentences: 30")
                    .replace("layers: last}", "layers: '7'}"))  # layer 7 does not exist in a 2-layer model
    from xstilts.orchestration import validate as validate_module

    refused = _run(spec, data_root, tmp_path)  # validate sees it before any node runs
    assert refused.exit_code == 2 and "targets.0.layers: layer 7 is outside 0..2" in refused.output
    # a fault only a node meets (as a layer of a model that cannot be inspected up front): recorded, others finish
    monkeypatch.setattr(validate_module, "model_problems", lambda path, spec, offline_ok=False: ([], []))
    result = _run(spec, data_root, tmp_path)
    assert result.exit_code == 1, result.output  # a failed node fails the run
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    failed = store.nodes(status="failed")
    assert len(failed) == 3 and all("outside 0..2" in n.error for n in failed)
    assert len(store.nodes(status="done")) == 8 and "3 failed" in result.output


def test_mlm_languages_map_to_text_sources():
    assert mlm_tasks_for(["nusax:bug"]) == ["nusax:bug"]
    hau = mlm_tasks_for(["hau"])
    assert "masakhaner:hau" in hau and not any(t.startswith("sib200") for t in hau)
    with pytest.raises(KeyError, match="no intermediate task"):
        mlm_tasks_for(["xx"])


@pytest.mark.slow
def test_two_studies_with_the_same_condition_names_share_a_store_apart(tiny_model_dir, data_root, tmp_path,
                                                                     monkeypatch):
    from xstilts.orchestration.validate import validate
    from xstilts.orchestration.storage import study_rows

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(SPEC.format(model=tiny_model_dir, task="udpos"))
    b.write_text(SPEC.format(model=tiny_model_dir, task="udpos").replace("name: tiny-study", "name: other")
                 .replace("max_steps: 3, batch_size: 4, max_length: 32, max_train_examples: 16}\ntargets",
                          "max_steps: 2, batch_size: 4, max_length: 32, max_train_examples: 16}\ntargets"))
    for spec in (a, b):
        assert _run(spec, data_root, tmp_path).exit_code == 0
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    mine = {}
    for spec, name in ((a, "tiny-study"), (b, "other")):
        rows, nodes = study_rows(validate(spec, data_root=data_root, overlap=False), store)
        assert rows and {r.protocol["study"] for r in rows} == {name}
        assert nodes == 9  # its own 6 probe + 3 fine-tuning nodes, none of the other study's
        mine[name] = {r.key() for r in rows}
    assert not mine["tiny-study"] & mine["other"]
    # the other study's udpos rows share model, conditions and task, yet never enter this report
    assert len(store.query(task="udpos", condition="nusax-bug")) == 2 * len(
        [r for r in store.query(task="udpos", condition="nusax-bug") if r.protocol["study"] == "other"])


def test_the_spec_storage_root_holds_the_work(tiny_model_dir, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    spec = tmp_path / "specs" / "study.yaml"
    spec.parent.mkdir()
    spec.write_text(f"name: stored\nmodel: {tiny_model_dir}\nstorage: ../shared-disk\n"
                    "conditions: [{name: none, kind: none}]\n"
                    "targets: [{probe: tatoeba, langs: [jav], layers: last, max_sentences: 20}]\n")
    result = CliRunner().invoke(app, ["run", str(spec), "--data-root", str(data_root)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "shared-disk" / "stored" / "report.html").is_file()  # <storage>/<name>, relative to the spec
    assert not (tmp_path / "home" / "studies").exists()


def test_a_smoke_run_never_writes_into_the_store_the_spec_names(tiny_model_dir, data_root, tmp_path, monkeypatch):
    """A spec's `store:` is the study's real store; --smoke rows (tiny budgets) go to the smoke store."""
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    real = tmp_path / "real.sqlite"
    spec = tmp_path / "study.yaml"
    spec.write_text(f"name: tiny-store\nmodel: {tiny_model_dir}\nseeds: [1]\nstore: sqlite:///{real}\n"
                    "conditions:\n  - {name: none, kind: none}\n"
                    "targets:\n  - {probe: flores, langs: [bug_Latn], layers: [1], max_sentences: 20}\n")
    ran = CliRunner().invoke(app, ["run", str(spec), "--smoke", "--data-root", str(data_root),
                                   "--work-dir", str(tmp_path / "work"), "--html", str(tmp_path / "r.html")])
    assert ran.exit_code == 0, ran.output
    assert not real.exists()  # the study's own store is untouched
    smoke = ResultsStore(f"sqlite:///{tmp_path / 'home' / 'smoke' / 'results.sqlite'}", read_only=True)
    assert {r.task for r in smoke.query()} == {"flores"}
    reported = CliRunner().invoke(app, ["report", str(spec), "--smoke", "--data-root", str(data_root),
                                        "--html", str(tmp_path / "r2.html")])
    assert reported.exit_code == 0, reported.output  # and the smoke report reads them back from there
    assert not real.exists()
