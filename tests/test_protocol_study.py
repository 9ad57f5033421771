"""XTREME-R's retrieval protocol in a study: the spec's `protocol:` and `after:`, the plan's
fine-tuned encoders that probes score, and the XTREME-R retrieval category the report fills
from those probe rows."""

from __future__ import annotations

import statistics
import warnings

import pytest

from xstilts.orchestration.plan import build_plan

from xstilts.orchestration.validate import validate
from xstilts.orchestration.spec import SpecError, parse_spec
from xstilts.metrics.xtreme_r import XTREME_R, XTREME_R_LANGUAGES
from xstilts.report.study import build_report
from xstilts.store import ResultRow

SPEC = """\
name: toy
seeds: [1, 2]
conditions:
  - {name: none, kind: none}
  - {name: en, kind: english, tasks: ["nusax:eng"]}
intermediate: {max_steps: 10}
targets:
  - {probe: tatoeba, langs: [jav, tel], protocol: xtreme-r, after: xquad}
  - {probe: tatoeba, langs: [jav, tel], protocol: xtreme-r}
  - {task: xquad, langs: [es]}
  - {task: udpos, langs: [yo]}
finetune: {max_steps: 20}
"""


def test_a_probe_after_a_task_scores_each_units_fine_tuned_encoder(tmp_path):
    plan = build_plan(parse_spec(SPEC), data_root=tmp_path)
    nodes = list(plan.nodes.values())
    finetune = {(n.config["task"], n.config["condition"], n.config["seed"]): n for n in nodes if n.kind == "finetune"}
    after = [n for n in nodes if n.kind == "probe" and n.config.get("after") == "xquad"]
    assert sorted((n.config["condition"], n.config["intermediate_seed"]) for n in after) == [
        ("en", 1), ("en", 2), ("none", 1), ("none", 2)]
    for n in after:
        (dep,) = n.deps
        assert dep == finetune["xquad", n.config["condition"], n.config["intermediate_seed"]].key
    # only the fine-tuning runs a probe reads export their encoder
    assert {k for k, n in finetune.items() if n.config.get("export_encoder")} == {
        ("xquad", c, s) for c in ("none", "en") for s in (1, 2)}
    plain = [n for n in nodes if n.kind == "probe" and n.config.get("after") is None]
    assert len(plain) == 3 and all(n.config["protocol"] == "xtreme-r" for n in plain)  # base + 2 encoders


@pytest.mark.parametrize(("edit", "message"), [
    ("{probe: tatoeba, langs: [jav, tel], protocol: xtreme-r}",
     None),
    ("{probe: tatoeba, langs: [jav, tel], protocol: xtreme-r, layers: all}",
     ":9: targets.1.layers: the xtreme-r protocol fixes the layer"),
])
def test_the_xtreme_r_protocol_fixes_its_settings(edit, message):
    text = SPEC.replace("{probe: tatoeba, langs: [jav, tel], protocol: xtreme-r}", edit)
    if message is None:
        parse_spec(text)
        return
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


@pytest.mark.parametrize(("old", "new", "where"), [
    ("after: xquad}", "after: mlqa}", ":8: targets.0.after: 'mlqa' is not a target task of this spec"),
    ("{probe: tatoeba, langs: [jav, tel], protocol: xtreme-r}", "{probe: flores, langs: [jav_Latn], "
     "protocol: xtreme-r}", ":9: targets.1.protocol: probe 'flores' has no XTREME-R"),
])
def test_validate_locates_protocol_problems(tmp_path, data_root, old, new, where):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace(old, new))
    with pytest.raises(SpecError) as info:
        validate(path, data_root=data_root, overlap=False, check_model=False)
    assert f"{path}{where}" in str(info.value)


def _row(condition, task, language, value, *, seed=None, layer=None, direction=None, **protocol):
    return ResultRow(model="m", model_hash="h", condition=condition, task=task, task_version="1", dataset=task,
                     split="test", language=language, direction=direction, layer=layer, seed=seed,
                     metric="accuracy" if task == "tatoeba" else "f1", value=value, data_hash="d", git_hash="g",
                     package_version="0", protocol=protocol)


def test_xtreme_r_tatoeba_rows_fill_the_retrieval_category():
    """Probe rows of the xtreme-r protocol (English queries) join the aggregation in XTREME-R's
    codes; the rows after fine-tuning win over those on the intermediate encoder; the base
    encoder's probe stands for each of its fine-tuning runs; the alignment protocol never counts."""
    rows = []
    for cond, shift in (("none", 0.0), ("en", 2.0)):
        for seed in (1, 2):
            rows += [_row(cond, "udpos", lang, 50.0 + shift + seed, seed=seed) for lang in ("en", "yo")]
            rows += [_row(cond, "tatoeba", lang, 60.0 + shift + seed, seed=seed, layer=8, direction=f"eng->{lang}",
                          name="xtreme-r", fine_tuned_on="xquad") for lang in ("jav", "tel")]  # one per run
        rows += [_row(cond, "tatoeba", lang, 10.0, seed=None if cond == "none" else 1, layer=8,
                      direction=f"eng->{lang}", name="xtreme-r") for lang in ("jav", "tel")]  # not after QA
        rows += [_row(cond, "tatoeba", lang, 99.0, layer=6, direction=d, name="alignment")
                 for lang in ("jav", "tel") for d in (f"eng->{lang}", f"{lang}->eng")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = build_report(rows)
    agg = next(a for a in report.aggregates if a.condition == "en" and a.seed == 2)
    assert agg.tasks["tatoeba"].per_language == {"jv": 64.0, "te": 64.0}
    assert agg.tasks["tatoeba"].missing == tuple(x for x in XTREME_R_LANGUAGES["tatoeba"] if x not in ("jv", "te"))
    # the retrieval category is Tatoeba alone (Mewsli-X not run): partial, and named
    assert agg.categories["retrieval"] == pytest.approx(64.0) and "retrieval" in agg.partial_categories
    assert "mewsli-x" in agg.missing_tasks
    udpos = statistics.mean([54.0, 54.0])
    assert agg.overall == pytest.approx(statistics.mean([udpos, 64.0]))
    assert set(XTREME_R.task("tatoeba").languages) >= {"jv", "te"}
    # without rows after fine-tuning, the intermediate encoder's xtreme-r rows count; base for every run
    plain = [r for r in rows if not r.protocol.get("fine_tuned_on")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = build_report(plain)
    base = [a for a in report.aggregates if a.condition == "none"]
    assert {a.seed for a in base} == {1, 2} and all(a.tasks["tatoeba"].average == 10.0 for a in base)
    en = {a.seed: a for a in report.aggregates if a.condition == "en"}
    assert "tatoeba" in en[1].tasks and "tatoeba" not in en[2].tasks  # a unit's probe, that unit's runs only
