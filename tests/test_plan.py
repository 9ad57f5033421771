"""Plans: stable keys, one intermediate node reused by every target and seed, changes that
invalidate only what depends on them, the rendered view, and validation of shipped specs."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from xstilts.experiments.plan import build_plan, render_plan, validate
from xstilts.experiments.spec import SpecError, parse_spec
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
    plan = _plan(SPEC.replace("seeds: [1, 2]", "seeds: [1, 2]\nintermediate_seeds: per-seed"), tmp_path)
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
    store.mark_running(inter.key, "intermediate", {})
    store.mark_done(inter.key, {"checkpoint": "x"})
    console = Console(width=200, record=True)
    console.print(render_plan(plan, store))
    text = console.export_text()
    assert "done intermediate en" in text and f"{inter.key[:10]}" in text
    assert "1 done, 10 to run" in text and "pending probe tatoeba on none" in text


def test_validate_locates_unknown_names(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace('"nusax:eng"', '"nusax:engl"').replace("task: xnli", "task: xnlj"))
    with pytest.raises(SpecError) as info:
        validate(path, overlap=False, data_root=tmp_path)
    msg = str(info.value)
    assert f"{path}:5: conditions.1.tasks.0: 'nusax' has no language 'engl'" in msg
    assert f"{path}:10: targets.2.task: unknown target task 'xnlj'; did you mean 'xnli'" in msg


def test_shipped_specs_validate(data_root):
    """STYLE rule 9: every example spec parses, resolves every name and plans; the demo's
    overlap guard runs on the real data (full.yaml's reads every target: integration tier)."""
    specs = sorted(EXPERIMENTS.glob("*.yaml"))
    assert {p.name for p in specs} >= {"demo.yaml", "full.yaml"}
    for path in specs:
        plan = validate(path, overlap=path.name == "demo.yaml", data_root=data_root)
        assert plan.nodes
    demo = validate(EXPERIMENTS / "demo.yaml", data_root=data_root)
    assert demo.minutes < 10 and not demo.warnings


@pytest.mark.integration
def test_full_spec_passes_the_overlap_guard(data_root):
    plan = validate(EXPERIMENTS / "full.yaml", data_root=data_root)
    assert all("tolerated overlap" in w for w in plan.warnings)
