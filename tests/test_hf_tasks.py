"""Hugging Face datasets as a task source, without network: a dataset built and saved on disk
(`save_to_disk`) feeds a whole study (train on it, probe with its parallel columns, report),
through the same validation as any task; a hub name must be pinned to a revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.orchestration.spec import SpecError, load_spec, load_spec_tasks
from xstilts.tasks import get_task
from xstilts.tasks.data import read_source

WORDS = "the cat sat on the mat a dog barked at the mailman".split()
SPEC = """\
name: hf-study
model: {model}
tasks:
  - name: hf-senti
    type: classification
    role: intermediate
    source: {{hf: ./hfdata}}          # a local folder written by save_to_disk
    languages: [qaa_Latn]
    fields: {{text: text, label: label}}
    labels: [negative, positive]
    metrics: [accuracy]
    main_score: accuracy
    files:
      train: {{qaa_Latn: {{split: train}}}}
      test: {{qaa_Latn: {{split: test}}}}
  - name: hf-tags
    type: tagging
    role: target
    source: {{hf: ./hfdata}}
    languages: [eng_Latn, qaa_Latn]
    fields: {{tokens: tokens, tags: tags}}
    labels: [DET, NOUN, VERB]
    metrics: [pos_f1]
    main_score: pos_f1
    files:
      train: {{eng_Latn: {{split: tags_en}}}}
      dev: {{eng_Latn: {{split: tags_en}}}}
      test: {{eng_Latn: {{split: tags_en}}, qaa_Latn: {{split: tags_qaa}}}}
  - name: hf-bitext
    type: bitext
    role: probe
    source: {{hf: ./hfdata}}
    languages: [qaa_Latn]
    pivot: eng_Latn
    fields: {{source: qaa, target: eng}}
    metrics: [tatoeba_accuracy]
    main_score: tatoeba_accuracy
    files:
      test: {{qaa_Latn: {{split: bitext}}}}
conditions:
  - {{name: none, kind: none}}
  - {{name: senti, kind: low-resource, tasks: [hf-senti]}}
intermediate: {{max_steps: 2, batch_size: 4, max_length: 16}}
targets:
  - {{probe: hf-bitext, layers: all}}
  - {{task: hf-tags}}
finetune: {{max_steps: 2, batch_size: 4, max_length: 16, eval_every: 2}}
"""


@pytest.fixture
def hf_dir(tmp_path) -> Path:
    import datasets

    tag = datasets.Sequence(datasets.ClassLabel(names=["DET", "NOUN", "VERB"]))
    senti = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["negative", "positive"])})
    tags = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")), "tags": tag})
    sentences = [" ".join(WORDS[i:i + 4]) for i in range(8)]
    data = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": sentences, "label": [i % 2 for i in range(8)]}, features=senti),
        "test": datasets.Dataset.from_dict({"text": sentences[:4][::-1], "label": [0, 1, 1, 0]}, features=senti),
        "tags_en": datasets.Dataset.from_dict({"tokens": [["the", "cat", "sat"], ["a", "dog", "barked"]] * 4,
                                               "tags": [[0, 1, 2]] * 8}, features=tags),
        "tags_qaa": datasets.Dataset.from_dict({"tokens": [["ka", "lumo", "vodi"]] * 4, "tags": [[0, 1, 2]] * 4},
                                               features=tags),
        "bitext": datasets.Dataset.from_dict({"qaa": [f"ka lumo {w}" for w in WORDS],
                                              "eng": [f"the cat {w}" for w in WORDS]}),
    })
    data.save_to_disk(str(tmp_path / "hfdata"))
    return tmp_path / "hfdata"


def test_a_local_hf_dataset_is_validated_and_read_like_files(hf_dir, tmp_path):
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model="me5-small"))
    with load_spec_tasks(load_spec(spec)).scope():
        senti, tags = get_task("hf-senti"), get_task("hf-tags")
        train = read_source(senti.train[0], None)
        assert len(train) == 8 and {x.label for x in train} == {"negative", "positive"}  # class ids -> names
        assert read_source(tags.eval[1], None)[0].tags == ("DET", "NOUN", "VERB")
    bad = spec.read_text().replace("labels: [DET, NOUN, VERB]", "labels: [DET, NOUN]")
    spec.write_text(bad)
    with pytest.raises(SpecError) as info:
        load_spec_tasks(load_spec(spec))
    assert (f"{spec}:28: tasks.1.files.test.qaa_Latn: hf:{hf_dir}[tags_qaa]:1: field 'tags': unknown label 'VERB'"
            in str(info.value))


def test_a_hub_dataset_needs_a_revision(tmp_path):
    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model="me5-small").replace("source: {hf: ./hfdata}          # a local folder written "
                                                           "by save_to_disk", "source: {hf: someone/senti}"))
    with pytest.raises(SpecError) as info:
        load_spec_tasks(load_spec(spec))
    assert (f"{spec}:14: tasks.0.files.train.qaa_Latn: 'someone/senti' is a hub dataset: pin it with 'revision'"
            in str(info.value))


@pytest.mark.integration
def test_a_study_trains_probes_and_reports_on_a_local_hf_dataset(hf_dir, tmp_path, tiny_model_dir, data_root):
    from xstilts.orchestration.study import run_study
    from xstilts.store import ResultsStore

    spec = tmp_path / "study.yaml"
    spec.write_text(SPEC.format(model=tiny_model_dir))
    store = f"sqlite:///{tmp_path / 'r.sqlite'}"
    report, summary = run_study(spec, data_root=data_root, store_url=store, work_dir=tmp_path / "work")
    assert not summary.failed and not summary.blocked, summary.failed
    rows = ResultsStore(store).query()
    probe = [r for r in rows if r.task == "hf-bitext"]
    assert {r.direction for r in probe} == {"qaa_Latn->eng_Latn", "eng_Latn->qaa_Latn"}
    assert {r.layer for r in probe} == {0, 1, 2} and {r.condition for r in probe} == {"none", "senti"}
    tags = [r for r in rows if r.task == "hf-tags" and r.metric == "f1"]
    assert {(r.condition, r.language) for r in tags} == {(c, lang) for c in ("none", "senti")
                                                          for lang in ("eng_Latn", "qaa_Latn")}
    assert "hf-tags" in report.read_text()
