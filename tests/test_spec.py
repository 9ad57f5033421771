"""Study specs: typed, unknown keys refused, every error located at file:line:field."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.training.hparams import resolve
from xstilts.tasks import Recipe

from xstilts.orchestration.spec import ProbeTarget, SpecError, TaskTarget, load_spec, parse_spec

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


@pytest.mark.parametrize(("old", "new", "line", "field", "said"), [
    # each of these once validated and then meant something else or failed at run time
    ("max_steps: 10", "max_steps: true", 11, "intermediate.max_steps", "true is a boolean, not a number"),
    ("lr: 1.0e-5", "lr: .inf", 11, "intermediate.lr", "finite number"),
    ("lr: 1.0e-5", "lr: .nan", 11, "intermediate.lr", "finite number"),
    ("seeds: [1, 2]", "seeds: [-1, 2]", 3, "seeds.0", "greater than or equal to 0"),
    ("seeds: [1, 2]", "seeds: [1, 4294967296]", 3, "seeds.1", "less than or equal to 4294967295"),
    ("seeds: [1, 2]", "seeds: [1, false]", 3, "seeds", "false is a boolean"),
    ("langs: [jav]}", "langs: []}", 13, "targets.0.langs", "an empty list; leave the key out"),
    ("langs: [yo]", "langs: []", 14, "targets.1.langs", "an empty list; leave the key out"),
    ("probe: tatoeba,", "probe: tatoeba, layers: [],", 13, "targets.0.layers.list[int]", "an empty list"),
])
def test_values_that_would_mean_something_else_are_refused(tmp_path, old, new, line, field, said):
    err = _error(GOOD.replace(old, new), tmp_path)
    assert any(p[:2] == (line, field) and said in p[2] for p in err.problems), err.problems


def test_numbers_stay_numbers():
    """YAML 1.1 reads 2e-5 as text; it stays a learning rate, and true stays a boolean where one is asked."""
    spec = parse_spec(GOOD.replace("lr: 1.0e-5", "lr: 2e-5, freeze_embeddings: true"))
    assert spec.intermediate.lr == 2e-5 and spec.intermediate.freeze_embeddings is True


def test_nested_seeds_must_stay_in_numpy_range(tmp_path):
    err = _error(GOOD.replace("seeds: [1, 2]", "seeds: [1, 4294967000]\nfinetune_seeds: 2"), tmp_path)
    assert err.problems[0][:2] == (3, "seeds") and "passes numpy's largest seed" in err.problems[0][2]


def test_duplicate_condition_names_point_at_the_conditions(tmp_path):
    err = _error(GOOD.replace("name: bug", "name: en"), tmp_path)
    assert err.problems == [(4, "conditions", "name(s) ['en'] used twice")]


def test_non_utf8_spec_names_file_line_and_byte(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(GOOD.replace("name: toy", "name: toy\n# caf\xe9").encode("latin-1"))
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert str(e.value) == f"{path}:2: not UTF-8: byte 0xe9 at column 6; save the spec as UTF-8"
