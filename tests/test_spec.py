"""Study specs: typed, unknown keys refused, every error located at file:line:field."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.experiments.hparams import resolve
from xstilts.tasks import Recipe

from xstilts.experiments.spec import ProbeTarget, SpecError, TaskTarget, load_spec, parse_spec

GOOD = """\
name: toy
model: me5-small
seeds: [1, 2]
conditions:
  - {name: none, kind: none}
  - name: en
    kind: english
    tasks: ["nusax:eng"]
    pair: nusax
  - {name: bug, kind: low-resource, tasks: ["nusax:bug"], pair: nusax}
intermediate: {max_steps: 10, lr: 1.0e-5}
targets:
  - {probe: tatoeba, langs: [jav]}
  - {task: udpos, langs: [yo], train: {max_steps: 5}}
"""


def _error(text: str, tmp_path: Path) -> SpecError:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value


def test_good_spec_is_typed():
    spec = parse_spec(GOOD)
    assert [c.kind for c in spec.conditions] == ["none", "english", "low-resource"]
    assert isinstance(spec.targets[0], ProbeTarget) and isinstance(spec.targets[1], TaskTarget)
    recipe = Recipe(lr=2e-5, epochs=3)
    inter = resolve(recipe, spec.intermediate, spec.conditions[1].train, phase="intermediate")
    assert (inter.max_steps, inter.epochs, inter.lr) == (10, None, 1e-5)  # max_steps replaces the recipe's epochs
    assert resolve(recipe, spec.finetune, spec.targets[1].train).max_steps == 5


def test_typo_key_names_file_line_field_and_suggestion(tmp_path):
    err = _error(GOOD.replace("    kind: english", "    knid: english"), tmp_path)
    line = next(m for m in str(err).splitlines() if ":7:" in m)
    assert line.startswith(f"{tmp_path / 's.yaml'}:7: conditions.1.knid: unknown key 'knid'")
    assert "did you mean 'kind'?" in line
    assert f"{tmp_path / 's.yaml'}:6: conditions.1.kind: Field required" in str(err)  # and what it then lacks


@pytest.mark.parametrize(("old", "new", "line", "field"), [
    ("max_steps: 10", "max_steps: -3", 11, "intermediate.max_steps"),
    ("langs: [jav]}", "langz: [jav]}", 13, "targets.0.langz"),  # inside the probe variant
    ("train: {max_steps: 5}", "train: {max_step: 5}", 14, "targets.1.train.max_step"),
])
def test_errors_are_located(tmp_path, old, new, line, field):
    err = _error(GOOD.replace(old, new), tmp_path)
    assert (line, field) in [(p[0], p[1]) for p in err.problems], err.problems


def test_condition_shape_is_checked(tmp_path):
    err = _error(GOOD.replace('tasks: ["nusax:eng"]', 'tasks: ["nusax:eng", "sst2"]'), tmp_path)
    assert err.problems[0][:2] == (8, "conditions.1.tasks") and "kind 'english' trains exactly one task" in str(err)
    err = _error(GOOD.replace(", pair: nusax}", "}"), tmp_path)
    assert "pair key(s) ['nusax'] link only one condition" in str(err)


def test_yaml_syntax_and_duplicate_keys_are_located(tmp_path):
    assert _error(GOOD.replace("seeds: [1, 2]", "seeds: [1, 2"), tmp_path).problems[0][0] is not None
    err = _error(GOOD.replace("model: me5-small\n", "model: me5-small\nmodel: other\n"), tmp_path)
    assert err.problems == [(3, "model", "key given twice")]


def test_data_root_is_relative_to_the_spec(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.yaml"
    path.write_text(GOOD + "data_root: ../data\n")
    assert load_spec(path).data_root == (tmp_path / "data").resolve()
