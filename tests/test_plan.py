"""Plans: stable keys, one intermediate node reused by every target and seed, changes that
invalidate only what depends on them, the rendered view, and validation of shipped specs."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from xstilts.orchestration.plan import build_plan

from xstilts.orchestration.validate import validate

from xstilts.orchestration.plan_view import render_plan
from xstilts.orchestration.spec import SpecError, load_spec, parse_spec
from xstilts.store import ResultsStore

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SPEC = """\
name: toy
seeds: [1, 2]
conditions:
  - {name: none, kind: none}
  - {name: en, kind: english, tasks: ["nusax:eng"]}
intermediate: {max_steps: 10, lr: 1.0e-5}
targets:
  - {probe: tatoeba, langs: [jav, tel]}
  - {task: udpos, langs: [yo]}
  - {task: xnli, langs: [sw]}
finetune: {max_steps: 20}
intermediate_seeds: first  # one encoder serves both seeds
"""


def _plan(text: str = SPEC, tmp_path: Path | None = None):
    return build_plan(parse_spec(text), data_root=tmp_path)  # no data there: versions stand in


def _by(plan, kind):
    return [n for n in plan.nodes.values() if n.kind == kind]


def test_one_intermediate_node_serves_every_target_and_seed(tmp_path):
    plan = _plan(tmp_path=tmp_path)
    [inter] = _by(plan, "intermediate")
    finetunes = _by(plan, "finetune")
    assert len(finetunes) == 2 * 2 * 2  # targets x conditions x seeds
    assert {n.deps for n in finetunes if n.config["condition"] == "en"} == {(inter.key,)}
    assert {n.deps for n in finetunes if n.config["condition"] == "none"} == {()}
    assert sorted(n.deps for n in _by(plan, "probe")) == [(), (inter.key,)]  # base + checkpoint
    keys = list(plan.nodes)
    assert keys.index(inter.key) < min(keys.index(n.key) for n in finetunes if n.deps)
    assert list(_plan(tmp_path=tmp_path).nodes) == keys  # stable


def test_per_seed_intermediate_training(tmp_path):
    plan = _plan(SPEC.replace("intermediate_seeds: first", "intermediate_seeds: per-seed"), tmp_path)
    inters = {n.config["seed"]: n.key for n in _by(plan, "intermediate")}
    assert sorted(inters) == [1, 2]
    for n in _by(plan, "finetune"):
        if n.config["condition"] == "en":
            assert n.deps == (inters[n.config["seed"]],)


def test_changing_a_hyper_parameter_changes_only_dependent_keys(tmp_path):
    before = _plan(tmp_path=tmp_path)
    after = _plan(SPEC.replace("lr: 1.0e-5", "lr: 2.0e-5"), tmp_path)
    changed = set(before.nodes) ^ set(after.nodes)
    moved = {n.key for n in before.nodes.values() if n.key in changed}
    expected = {n.key for n in before.nodes.values() if n.kind == "intermediate" or n.config.get("condition") == "en"}
    assert moved == expected

    ft = _plan(SPEC.replace("{task: udpos, langs: [yo]}", "{task: udpos, langs: [yo], train: {lr: 1.0e-4}}"),
               tmp_path)
    moved = {before.nodes[k].label for k in set(before.nodes) - set(ft.nodes)}
    assert moved == {f"udpos after {c} (seed {s})" for c in ("none", "en") for s in (1, 2)}


def test_cost_and_rendered_status(tmp_path):
    plan = _plan(tmp_path=tmp_path)
    [inter] = _by(plan, "intermediate")
    assert inter.cost.tokens == 10 * 32 * 128 and inter.cost.minutes > 0  # fallback batch and length
    store = ResultsStore("sqlite://")
    lease, _ = store.claim(inter.key, "intermediate", {}, "me", seen=None, ttl=60)
    store.mark_done(inter.key, {"checkpoint": "x"}, lease)
    console = Console(width=200, record=True)
    console.print(render_plan(plan, store))
    text = console.export_text()
    assert "done intermediate en" in text and f"{inter.key[:10]}" in text
    assert "1 done, 10 to run" in text and "pending probe tatoeba on none" in text


def test_validate_locates_unknown_names(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace('"nusax:eng"', '"nusax:engl"').replace("task: xnli", "task: xnlj")
                    .replace("probe: tatoeba", "probe: tatoba"))
    with pytest.raises(SpecError) as info:
        validate(path, overlap=False, data_root=tmp_path)
    msg = str(info.value)
    assert f"{path}:5: conditions.1.tasks.0: 'nusax' has no language 'engl'" in msg
    assert f"{path}:8: targets.0.probe: unknown probe 'tatoba'; did you mean 'tatoeba'" in msg
    assert f"{path}:10: targets.2.task: unknown target task 'xnlj'; did you mean 'xnli'" in msg


def test_shipped_specs_validate(data_root):
    """STYLE rule 9: every example spec parses, resolves every name and plans; the demo's
    overlap guard runs on the real data (full.yaml's reads every target: integration tier)."""
    specs = sorted(EXPERIMENTS.glob("*.yaml"))
    assert {p.name for p in specs} >= {"demo.yaml", "full.yaml"}
    for path in specs:  # a hub model is checked where the hub can be reached (test_runnable.py: where not)
        plan = validate(path, overlap=path.name == "demo.yaml", data_root=data_root,
                        check_model=load_spec(path).model == "me5-small")
        assert plan.nodes
    demo = validate(EXPERIMENTS / "demo.yaml", data_root=data_root)
    assert demo.minutes < 10 and not demo.warnings


@pytest.mark.integration
def test_full_spec_passes_the_overlap_guard(data_root):
    plan = validate(EXPERIMENTS / "full.yaml", data_root=data_root, check_model=False)
    assert all(w.startswith(("tolerated overlap", "declared overlap")) for w in plan.warnings)


def _validate_error(tmp_path, text, data_root):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        validate(path, data_root=data_root, overlap=False)
    return str(info.value)


@pytest.mark.parametrize("edit, where", [
    ('  - {name: en, kind: english, tasks: ["nusax:eng"]}',
     ':6: conditions.2.mlm.languages.1: MLM language \'xx\': no intermediate task has text in it'),
    ('  - {name: sw, kind: translated, tasks: ["nusax:bug"], translation_of: "xnli:en"}',
     ":6: conditions.2.tasks.0: task 'nusax:bug' is a translation of 'nusax:ind', not of 'xnli:en'"),
    ('  - {name: en, kind: english, tasks: ["nusax:eng"], train: {max_steps: 5, epochs: 2}}',
     ":5: conditions.1.train.epochs: set max_steps or epochs, not both"),
    ('  - {name: en, kind: english, tasks: ["nusax:eng"], train: {max_eval_examples: 5}}',
     ":5: conditions.1.train.max_eval_examples: phase 2 has no zero-shot evaluation"),
])
def test_validate_reports_what_a_run_would_fail_on(tmp_path, data_root, edit, where):
    text = SPEC.replace('  - {name: en, kind: english, tasks: ["nusax:eng"]}\n',
                        '  - {name: en, kind: english, tasks: ["nusax:eng"]}\n' + (
                            '  - {name: m, kind: mlm, tasks: ["nusax:eng"], mlm: {languages: [hau, xx]}}\n'
                            if "mlm" in where else "")
                        + (edit + "\n" if "translation" in where else ""))
    if "train." in where:
        text = SPEC.replace('  - {name: en, kind: english, tasks: ["nusax:eng"]}', edit)
    assert f"{tmp_path / 's.yaml'}{where}" in _validate_error(tmp_path, text, data_root)


def test_validate_names_files_the_data_root_lacks(tmp_path):
    (tmp_path / "data").mkdir()
    message = _validate_error(tmp_path, SPEC, tmp_path / "data")
    assert f":5: conditions.1.tasks.0: task 'nusax:eng': {tmp_path / 'data' / 'nusax'}" in message
    assert "`xstilts data fetch nusax` downloads it" in message
    assert "is not in the data root" in message.splitlines()[-1]  # the targets' files too
    assert "does not exist" in _validate_error(tmp_path, SPEC, tmp_path / "nowhere")


def test_plan_shows_and_keys_effective_hparams(tmp_path):
    plan = _plan(tmp_path=tmp_path)
    [inter] = _by(plan, "intermediate")
    assert inter.config["train"]["max_steps"] == 10 and inter.config["train"]["epochs"] is None
    assert inter.config["train"]["batch_size"] == 32  # from the NusaX entry's recipe, not a hidden default
    text = SPEC.replace("intermediate: {max_steps: 10, lr: 1.0e-5}", "intermediate: {max_steps: 10, lr: 1.0e-5, grad_accum: 2}")
    [inter2] = _by(_plan(text, tmp_path), "intermediate")
    assert inter2.key != inter.key and inter2.config["train"]["grad_accum"] == 2
    out = Console(width=300, record=True)
    out.print(render_plan(plan))
    assert "10 steps, lr 1e-05, batch 32" in out.export_text()


def test_smoke_plan_is_the_spec_on_a_tiny_budget_with_other_keys(tmp_path):
    real, smoke = _plan(tmp_path=tmp_path), build_plan(parse_spec(SPEC), data_root=tmp_path, smoke=True)
    assert not set(real.nodes) & set(smoke.nodes)
    assert {n.config["seed"] for n in _by(smoke, "finetune")} == {1}  # the first seed only
    assert all(n.config["train"]["max_steps"] == 2 for n in smoke.nodes.values() if "train" in n.config)
    assert {n.config["max_sentences"] for n in _by(smoke, "probe")} == {100}
    assert {(n.kind, n.config.get("task") or n.config.get("probe")) for n in smoke.nodes.values()} == \
        {(n.kind, n.config.get("task") or n.config.get("probe")) for n in real.nodes.values()}


def test_the_overlap_check_is_remembered_only_by_run(data_root, tmp_path, monkeypatch):
    """`plan` reads the data's text for the overlap guard and writes nothing; `run` (remember)
    keeps the warnings under a hash of what was read, so the next plan does not read it again."""
    from xstilts.orchestration import guard
    from xstilts.orchestration.validate import overlap_warnings

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    spec = load_spec(EXPERIMENTS / "demo.yaml")
    first = overlap_warnings(spec, data_root)
    assert not (tmp_path / "cache").exists()
    assert overlap_warnings(spec, data_root, remember=True) == first
    assert len(list((tmp_path / "cache" / "overlap").glob("*.json"))) == 1

    def unread(*args, **kwargs):
        raise AssertionError("the guard read the data again")

    monkeypatch.setattr(guard, "check_spec", unread)
    assert overlap_warnings(spec, data_root) == first
    changed = spec.model_copy(update={"targets": spec.targets[:1]})
    with pytest.raises(AssertionError, match="read the data again"):
        overlap_warnings(changed, data_root)
