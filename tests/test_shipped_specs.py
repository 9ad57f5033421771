"""Every shipped spec runs end to end in smoke mode on the real data root, and together the
shipped specs exercise every condition kind, every target task and every probe.

A tiny random encoder with me5-small's (XLM-R's) real tokenizer keeps this fast while every
node goes through the code a real run uses: the real readers, features, heads, training
loop, zero-shot evaluation, probes, store and report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from xstilts.orchestration.spec import ConditionKind, ProbeTarget, TaskTarget, load_spec, load_spec_tasks
from xstilts.tasks import all_tasks

SPECS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.yaml"))


def test_shipped_specs_cover_every_kind_target_and_probe():
    """Every built-in target and probe is in a shipped spec; any other name is a spec's own task."""
    specs = [load_spec(p) for p in SPECS]
    kinds = {c.kind for s in specs for c in s.conditions}
    assert kinds == set(get_args(ConditionKind))
    own = {t.name for s in specs for t in load_spec_tasks(s)}
    assert own >= {"byo-greet", "byo-tags", "byo-parallel"}
    tasks = {t.task for s in specs for t in s.targets if isinstance(t, TaskTarget)}
    assert tasks - own == {t.name for t in all_tasks("target", builtin=True)}
    probes = {t.probe for s in specs for t in s.targets if isinstance(t, ProbeTarget)}
    assert probes - own == {t.name for t in all_tasks("probe", builtin=True)} == {"tatoeba", "flores", "lareqa", "bucc"}
    # every probe XTREME-R scores runs with its protocol somewhere, Tatoeba after QA fine-tuning too
    official = {(t.probe, t.after) for s in specs for t in s.targets
                if isinstance(t, ProbeTarget) and t.protocol == "xtreme-r"}
    assert {p for p, _ in official} == {"tatoeba", "lareqa", "bucc"} and ("tatoeba", "xquad") in official


@pytest.fixture(scope="module")
def xlmr_tiny(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT on the real 250k-piece XLM-R tokenizer of me5-small."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from xstilts.models import me5

    out = tmp_path_factory.mktemp("xlmr-tiny")
    tok = AutoTokenizer.from_pretrained(me5.ensure_me5())
    tok.save_pretrained(out)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=514, pad_token_id=tok.pad_token_id),
              add_pooling_layer=False).save_pretrained(out)
    return out


@pytest.fixture
def one_thread():
    """A 32-wide model gains nothing from a second thread, and OpenMP's spinning costs a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_spec_runs_every_node_in_smoke_mode(spec, xlmr_tiny, data_root, tmp_path, one_thread):
    from xstilts.orchestration.study import run_study
    from xstilts.store import ResultsStore

    store = f"sqlite:///{tmp_path / 'r.sqlite'}"
    report, summary = run_study(spec, data_root=data_root, store_url=store, work_dir=tmp_path / "work",
                                smoke=True, model=str(xlmr_tiny))
    failed = {k: v.line for k, v in summary.failed.items()}
    assert not failed and not summary.blocked, failed
    nodes = ResultsStore(store).nodes()
    assert nodes and all(n.status == "done" for n in nodes)
    assert len(nodes) == len(summary.done)
    assert report.is_file()
    loaded = load_spec(spec)
    if loaded.intermediate_seeds == "per-seed" and len(loaded.seeds) > 1:  # units: phase-2 encoders
        from xstilts.orchestration.validate import validate
        from xstilts.orchestration.storage import study_rows
        from xstilts.orchestration.study import study_report
        from xstilts.orchestration.publish import node_records

        plan = validate(spec, data_root=data_root, overlap=False, smoke=True, model=str(xlmr_tiny))
        rep = study_report(plan, study_rows(plan, ResultsStore(store))[0], node_records(plan, ResultsStore(store)),
                           smoke=True)
        assert rep.units_are_encoders and rep.alignment_gains
        assert all(c.units == (1, 2, 3) and c.ci is not None for c in rep.alignment_gains + rep.alignment_pairs)
        assert len(rep.primary) == len(loaded.analysis.primary) and all(c.verdict != "" for c in rep.primary)
        nested = {r.seed for r in study_rows(plan, ResultsStore(store))[0] if r.layer is None and r.condition == "none"}
        assert nested == {s + 1000 * k for s in (1, 2, 3) for k in range(min(loaded.finetune_seeds, 2))}
    if any(isinstance(t, ProbeTarget) and t.probe == "tatoeba" and t.protocol == "xtreme-r" for t in loaded.targets):
        from xstilts.orchestration.validate import validate
        from xstilts.orchestration.publish import node_records
        from xstilts.orchestration.storage import study_rows
        from xstilts.orchestration.study import study_report

        plan = validate(spec, data_root=data_root, overlap=False, smoke=True, model=str(xlmr_tiny))
        rows = study_rows(plan, ResultsStore(store))[0]
        rep = study_report(plan, rows, node_records(plan, ResultsStore(store)), smoke=True)
        assert rep.aggregates and all("tatoeba" in a.tasks and "retrieval" in a.categories for a in rep.aggregates)
        after = [r for r in rows if r.protocol.get("fine_tuned_on")]
        assert bool(after) == any(getattr(t, "after", None) for t in loaded.targets)
        assert all(r.direction.startswith("eng->") for r in after)
    # the checkpoint policy: no optimizer state left; phase-3 weights only where the spec keeps them
    work, loaded = tmp_path / "work", load_spec(spec)
    assert not list(work.glob("**/state.pt"))
    assert bool(list(work.glob("finetune/*/train/*/model.safetensors"))) == loaded.checkpoints.keep_finetuned
    ran = [json.loads(p.read_text())["train"] for p in work.glob("finetune/*/finetune.json")]
    wanted = any(isinstance(t, TaskTarget) and t.train.gradient_checkpointing for t in loaded.targets)
    assert any(r["gradient_checkpointing"] for r in ran) == wanted
    # a setting the loop reads, set in the spec, is the loop's value (byo clips at 0.5)
    clip = {t.train.max_grad_norm for t in loaded.targets if isinstance(t, TaskTarget)} - {None}
    assert {r["max_grad_norm"] for r in ran} == ((clip or {1.0}) if ran else set())
    # `xstilts recommend` ranks the finished study's conditions for its labelled targets
    from xstilts.recommend.run import run_recommend
    from xstilts.tasks import get_task
    from xstilts.tasktypes import type_of

    with load_spec_tasks(loaded, data_root).scope():  # the spec's own tasks are known in its scope only
        targets = [t.task for t in loaded.targets if isinstance(t, TaskTarget)
                   and type_of(get_task(t.task).type).labelled]
    if not targets:  # a phase-2 pilot: no fine-tuned target to recommend for
        assert not any(isinstance(t, TaskTarget) for t in loaded.targets)
        return
    rec = run_recommend(spec, targets, None, data_root=data_root, store_url=store, smoke=True, model=str(xlmr_tiny),
                        work_dir=work)
    assert (work / f"recommend-{'+'.join(targets)}.json").is_file()
    assert rec.candidates == [c.name for c in loaded.conditions if c.kind != "none"]
    assert set(rec.signals) == {"alignment", "logme", "hscore", "proximity", "combined"} and rec.grid_seconds > 0


@pytest.mark.slow
@pytest.mark.integration
def test_the_study_run_in_parts_merges_into_the_whole(xlmr_tiny, data_root, tmp_path, one_thread, monkeypatch):
    """experiments/lowres-vs-english.yaml as its record was made: part by part (`run --seeds`), each
    part published (`report --seeds --publish`), merged by `report --from`: the rows of the study
    published whole; and a part run again in another store gives the same rows."""
    from typer.testing import CliRunner

    from xstilts.cli import app
    from xstilts.orchestration.record import load_record

    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    spec = str(SPECS[0].parent / "lowres-vs-english.yaml")
    common = ["--smoke", "--model", str(xlmr_tiny), "--data-root", str(data_root)]

    def cli(*args: str, store: str) -> str:
        result = CliRunner().invoke(app, [*args, *common, "--store", f"sqlite:///{tmp_path / store}"],
                                    env={"COLUMNS": "160"})
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    record = tmp_path / "record"
    for seeds in ("1", "2,3"):
        said = cli("run", spec, "--seeds", seeds, "--work-dir", str(tmp_path / "a"), store="a.sqlite")
        assert f"(the part of seed{'s' * (',' in seeds)} {seeds.replace(',', ', ')})" in said
        cli("report", spec, "--seeds", seeds, "--work-dir", str(tmp_path / "a"),
            "--publish", str(record / "parts" / f"seed-{seeds.replace(',', '-')}"), store="a.sqlite")
    cli("report", spec, "--work-dir", str(tmp_path / "a"), "--publish", str(tmp_path / "whole"), store="a.sqlite")
    merged, whole = load_record(record), load_record(tmp_path / "whole")
    assert {r.key(): r.value for r in merged.rows} == {r.key(): r.value for r in whole.rows}
    assert [p.seeds for p in merged.parts] == [(1,), (2, 3)] and len({p.code for p in merged.parts}) == 1
    env = json.loads((record / "parts" / "seed-1" / "environment.json").read_text())
    assert env["part"] == {"seeds": [1]} and env["rows_from"]["code"] == [merged.parts[0].code]
    said = cli("report", "--from", str(record), "--html", str(tmp_path / "merged.html"), store="a.sqlite")
    assert f"{record}: 2 parts, merged" in said and "Where the rows come from" in (tmp_path / "merged.html").read_text()

    # each part is deterministic: part 2 again, from scratch in another store, gives the same rows
    cli("run", spec, "--seeds", "2", "--work-dir", str(tmp_path / "b"), store="b.sqlite")
    cli("report", spec, "--seeds", "2", "--work-dir", str(tmp_path / "b"), "--publish", str(tmp_path / "again"),
        store="b.sqlite")
    again = {r.key(): r.value for r in load_record(tmp_path / "again").rows}
    first = {r.key(): r.value for r in merged.rows}
    assert again and all(first[k] == v for k, v in again.items())
