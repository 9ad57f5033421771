"""The overlap guard on the real data: leakage found by content, under any dataset name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xstilts.orchestration.guard import (Overlap, OverlapError, check_spec, declared_overlaps, find_overlaps,
                                       normalise, target_sources, train_sources)
from xstilts.orchestration.plan import build_plan
from xstilts.orchestration.validate import validate
from xstilts.orchestration.spec import ProbeTarget, SpecError, TaskTarget, load_spec, load_spec_tasks, parse_spec
from xstilts.tasks import get_task
from xstilts.tasks.schema import Source


def test_normalise_and_names():
    assert normalise("  Ｈｅｌｌｏ\u00a0 WORLD\n") == "hello world"
    # catalog tasks train on their training sources
    assert train_sources("nusax:bug") == (Source("nusax", "train", "buginese"),)
    assert train_sources("sib200:quy_Latn") == (Source("sib200", "train", "quy_Latn"),)
    assert train_sources("udpos")[0].dataset == "ud"
    # other 'dataset[:lang]' names: the train split (else the first), languages by code or ISO 639-3
    assert train_sources("copa") == (Source("copa", "train", "en"),)
    assert train_sources("tydiqa:bn") == (Source("tydiqa", "dev", "bn"),)
    assert train_sources("nusax_mt:jav") == (Source("nusax_mt", "train", "javanese"),)
    with pytest.raises(KeyError, match="did you mean 'nusax:bug'"):
        train_sources("nusaxx:bug")
    with pytest.raises(KeyError, match="name one as 'nusax:LANG'"):
        train_sources("nusax")


def test_language_codes_in_either_form_and_suggested_as_codes():
    """Task names take ISO 639-3, with the script where the dataset has one; the other form of a
    catalog task's code names the same task, and a typo is matched against codes, not folder names."""
    assert get_task("sib200:bug").name == "sib200:bug_Latn"
    assert get_task("nusax:bug_Latn").name == "nusax:bug"
    assert train_sources("nusax:bug_Latn") == train_sources("nusax:bug")
    with pytest.raises(KeyError, match="did you mean 'bug'"):  # was 'ngaju', the nearest folder name
        train_sources("nusax:bgu")
    with pytest.raises(KeyError, match="did you mean 'swh', 'swa'"):  # the ISO code, the task's
        train_sources("afrisenti:sw")


def test_squad_dev_half_leaks_into_xquad(data_root):
    xquad = target_sources(TaskTarget(task="xquad", langs=["en"]))
    [o] = find_overlaps({"squad": [Source("squad_v2", "dev", "en")]}, {"xquad": xquad}, data_root)
    assert (o.condition, o.target, o.train_datasets, o.eval_datasets) == \
        ("squad", "xquad", ("squad_v2/dev/en",), ("xquad/test/en",))
    assert o.count > 100 and len(o.examples) == 2 and o.fatal
    # the catalog's squad_v2 task (and xquad's own training data) drop those paragraphs and questions
    lareqa = target_sources(ProbeTarget(probe="lareqa", langs=["en"]))
    clean = {"squad_v2": train_sources("squad_v2"), "xquad-train": get_task("xquad").train}
    assert find_overlaps(clean, {"xquad": xquad, "lareqa": lareqa}, data_root) == []


def test_sib200_training_is_the_flores_probe(data_root):
    spec = parse_spec("""
name: leak
conditions:
  - {name: sib-quy, kind: low-resource, tasks: ["sib200:quy_Latn"]}
  - {name: nusax-bug, kind: low-resource, tasks: ["nusax:bug"]}
targets:
  - {probe: flores, langs: [quy_Latn, bug_Latn], max_sentences: 100}
  - {probe: tatoeba, langs: [jav]}
""")
    with pytest.raises(OverlapError) as info:
        check_spec(spec, data_root)
    [o] = info.value.overlaps  # NusaX is not FLORES text: only the SIB-200 condition leaks
    assert (o.condition, o.target, o.train_datasets) == ("sib-quy", "probe:flores", ("sib200/train/quy_Latn",))
    assert o.count == 701
    msg = str(info.value)
    assert "condition 'sib-quy' trains on 701 text(s) that target 'probe:flores' evaluates on" in msg
    assert "sib200/train/quy_Latn vs sib200/train/quy_Latn" in msg and "e.g. '" in msg


def test_a_few_short_sentences_are_tolerated():
    chance = Overlap("mnli", "probe:tatoeba", ("mnli/dev_matched/en",), ("tatoeba/test/ita",), 2,
                     ("Where have you been?", "She loves her children."))
    assert not chance.fatal
    assert Overlap("c", "t", (), (), 2, ("x" * 120, "y")).fatal  # a long text does not repeat by chance
    assert Overlap("c", "t", (), (), 10, ("a" * 25, "b" * 25)).fatal


# ---- phase 2 against phase 3: a user's tiny task set ------------------------------------------

TARGET_TASK = """\
name: guard-target
type: classification
role: target
languages: [eng_Latn, qaa_Latn]
format: csv
fields: {id: id, text: sentence, label: label}
labels: [a, b]
metrics: [accuracy]
main_score: accuracy
files:
  train: {eng_Latn: target/train.csv}
  dev: {eng_Latn: target/dev.csv}
  test: {eng_Latn: target/test.eng.csv, qaa_Latn: target/test.qaa.csv}
"""


def _rows(texts) -> str:
    return "id,sentence,label\n" + "".join(f"{i},{t},{'ab'[i % 2]}\n" for i, t in enumerate(texts))


def _sentences(what: str, n: int) -> list[str]:
    return [f"the {what} traveller number {i} crossed the river at dawn" for i in range(n)]


def _study(tmp_path, condition: str) -> Path:
    """A target task fine-tuned on 12 English sentences; intermediate task 'guard-copy' trains on
    them again (as `mnli` trains on XNLI's English training file), 'guard-own' on its own text."""
    for folder in ("target", "copy", "own"):
        (tmp_path / folder).mkdir(parents=True)
    files = {"target/train.csv": _sentences("english", 12), "target/dev.csv": _sentences("dev", 4),
             "target/test.eng.csv": _sentences("test", 4), "target/test.qaa.csv": _sentences("qaa", 4),
             "copy/train.csv": _sentences("english", 12), "own/train.csv": _sentences("other", 12),
             "copy/test.csv": _sentences("copy test", 4), "own/test.csv": _sentences("own test", 4)}
    for name, texts in files.items():
        (tmp_path / name).write_text(_rows(texts))
    (tmp_path / "target.yaml").write_text(TARGET_TASK)
    for name in ("copy", "own"):
        (tmp_path / f"{name}.yaml").write_text(
            TARGET_TASK.replace("guard-target", f"guard-{name}").replace("role: target", "role: intermediate")
            .replace("[eng_Latn, qaa_Latn]", "[eng_Latn]").split("files:")[0]
            + f"files:\n  train: {{eng_Latn: {name}/train.csv}}\n  test: {{eng_Latn: {name}/test.csv}}\n")
    spec = tmp_path / "study.yaml"
    spec.write_text(f"""\
name: phases
tasks: [target.yaml, copy.yaml, own.yaml]
conditions:
  - {{name: none, kind: none}}
  - {condition}
targets:
  - {{task: guard-target}}
""")
    return spec


def _checked(spec_path):
    spec = load_spec(spec_path)
    with load_spec_tasks(spec).scope():
        return spec, check_spec(spec)


def test_phase2_training_on_the_targets_training_file_is_refused(tmp_path):
    with pytest.raises(OverlapError) as info:
        _checked(_study(tmp_path, "{name: copy, kind: english, tasks: [guard-copy]}"))
    [o] = info.value.overlaps
    assert (o.condition, o.target, o.role, o.count) == ("copy", "guard-target", "fine-tunes on", 12)
    assert o.train_datasets == ("user:guard-copy/train/eng_Latn",)
    assert o.eval_datasets == ("user:guard-target/train/eng_Latn",)
    assert ("condition 'copy' trains on 12 text(s) that target 'guard-target' fine-tunes on "
            "(user:guard-copy/train/eng_Latn vs user:guard-target/train/eng_Latn)") in str(info.value)
    assert "declared_overlap" in str(info.value)  # the way out is named


def test_a_declared_overlap_passes_with_a_warning_and_is_listed(tmp_path):
    spec, warnings = _checked(_study(tmp_path, "{name: copy, kind: english, tasks: [guard-copy], "
                                               "declared_overlap: [guard-target]}"))
    [w] = warnings
    assert w.startswith("declared overlap: condition 'copy' trains on 12 text(s) that target 'guard-target'")
    assert declared_overlaps(spec) == {"copy": ("guard-target",)}
    # the declaration stays out of the intermediate node's config, so node keys do not move
    [inter] = [n for n in build_plan(spec, data_root=tmp_path).nodes.values() if n.kind == "intermediate"]
    assert "declared_overlap" not in json.dumps(inter.config)


def test_no_overlap_passes_and_a_needless_declaration_is_a_warning(tmp_path):
    assert _checked(_study(tmp_path, "{name: own, kind: english, tasks: [guard-own]}"))[1] == []
    spec, [w] = _checked(_study(tmp_path / "d", "{name: own, kind: english, tasks: [guard-own], "
                                                "declared_overlap: [guard-target]}"))
    assert w == ("condition 'own' declares overlap with target 'guard-target', but shares no more than chance "
                 "text with it: the declaration is not needed")


def test_a_declaration_must_name_a_target(tmp_path):
    path = _study(tmp_path, "{name: copy, kind: english, tasks: [guard-copy], declared_overlap: [guard-targt]}")
    with pytest.raises(SpecError) as info:
        validate(path, data_root=tmp_path, check_model=False)  # no encoder needed to find the line
    assert (f"{path}:5: conditions.1.declared_overlap.0: 'guard-targt' is not a target of this spec "
            "(guard-target); did you mean 'guard-target'?") in str(info.value)
    with pytest.raises(SpecError, match="kind 'none' trains nothing"):
        parse_spec("name: x\nconditions:\n  - {name: none, kind: none, declared_overlap: [xnli]}\n"
                   "targets:\n  - {task: xnli}\n")


def test_a_task_file_loaded_again_is_read_again(tmp_path):
    with pytest.raises(OverlapError):
        _checked(_study(tmp_path / "a", "{name: copy, kind: english, tasks: [guard-copy]}"))
    path = _study(tmp_path / "b", "{name: copy, kind: english, tasks: [guard-copy]}")
    (tmp_path / "b" / "copy" / "train.csv").write_text(_rows(_sentences("fresh", 12)))
    assert _checked(path)[1] == []  # the same task name, other files: not the first file's hashes


@pytest.mark.parametrize("name, declared", [
    ("lowres-vs-english-pilot", {("mnli", "xnli")}),
    ("full", {("mnli", "xnli"), ("squad_v2", "xquad"), ("squad_v2", "mlqa"), ("squad_v2", "lareqa")}),
])
@pytest.mark.slow
def test_shipped_specs_declare_exactly_the_overlap_they_have(data_root, name, declared):
    """MNLI dev_matched is XNLI's English training file in this data root, and the SQuAD 2.0 dev
    half XQuAD's, MLQA's and LAReQA's; every other overlap of a shipped spec is chance."""
    spec = load_spec(Path(__file__).resolve().parents[1] / "experiments" / f"{name}.yaml")
    warnings = check_spec(spec, data_root)
    found = {re.match(r"declared overlap: condition '(.+?)' trains on [\d,]+ text\(s\) that target '(.+?)' "
                      "fine-tunes on", w).groups() for w in warnings if w.startswith("declared")}
    assert found == declared == {(c, t) for c, ts in declared_overlaps(spec).items() for t in ts}
    assert all(w.startswith("tolerated overlap") for w in warnings if not w.startswith("declared"))
