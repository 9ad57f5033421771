"""Probes are tasks: BUCC mining (ratio margin, threshold on gold, F1), a user's parallel text
aligned by line or by id, and `xstilts align` running built-in probes and a user's task file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.evaluation import alignment
from xstilts.evaluation.retrieval import mine
from xstilts.store import ResultsStore
from xstilts.tasks import get_task
from xstilts.tasks.user import load_task_file

BYO = Path(__file__).resolve().parents[1] / "experiments" / "byo"


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_mining_finds_translations_among_distractors_each_sentence_once():
    rng = np.random.default_rng(0)
    src = _unit(rng.normal(size=(40, 16)))
    order = rng.permutation(40)
    tgt = _unit(np.concatenate([src[order] + 0.05 * rng.normal(size=(40, 16)), rng.normal(size=(60, 16))]))
    mined = mine(src, tgt, margin_k=4)
    assert [m[2] for m in mined] == sorted((m[2] for m in mined), reverse=True)
    assert len({s for s, _, _ in mined}) == len(mined) == len({t for _, t, _ in mined})
    found = {(s, t) for s, t, _ in mined[:40]}
    assert found == {(int(order[j]), j) for j in range(40)}  # the 40 best are exactly the translations


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from xstilts.models.encoders import load_encoder

    return load_encoder(str(tiny_model_dir))


def test_bucc_probe_mines_on_the_gold_first_sentences(tiny, data_root):
    proto = alignment.Protocol(layers=(1, 2), pooling="mean", prefix="", scorer="cosine")
    rows = alignment.probe(tiny, proto, get_task("bucc"), langs=["zh"], model_hash="h", data_root=data_root,
                           max_sentences=60)
    assert {(r.layer, r.metric) for r in rows} == {(layer, m) for layer in (1, 2) for m in ("f1", "precision", "recall")}
    assert all(r.scorer == "margin" and r.protocol["gold_pairs"] == 60 and r.direction == "zh<->en" for r in rows)
    assert all(r.dataset == "bucc2018" and r.split == "dev" and r.protocol["max_sentences"] == 60 for r in rows)
    assert all(0 <= r.value <= 100 for r in rows)


def test_a_parallel_text_probe_is_scored_per_layer_in_both_directions(tiny):
    user = load_task_file(BYO / "parallel.yaml")
    proto = alignment.Protocol(layers=(0, 1, 2), pooling="mean", prefix="", scorer="cosine")
    with user.scope():
        rows = alignment.probe(tiny, proto, user[0], langs=["qaa_Latn"], model_hash="h")
    assert {(r.layer, r.direction) for r in rows} == {
        (layer, d) for layer in (0, 1, 2) for d in ("qaa_Latn->eng_Latn", "eng_Latn->qaa_Latn")}
    assert all(r.task == "byo-parallel" and r.dataset == "user:byo-parallel" and r.metric == "accuracy" for r in rows)


def test_texts_aligned_by_id_are_joined_with_the_pivot(tiny, tmp_path):
    sentences = {"eng_Latn": ["the cat sat", "a dog barked", "the weather is nice"],
                 "qaa_Latn": ["ka lumo sati", "mi varu barki", "ka vetar esti bela"],
                 "qab_Latn": ["lo mao zuo", "yi gou jiao", "tian hen hao"]}
    for lang, texts in sentences.items():  # ids in a shuffled order: rows are joined by id, not by line
        rows = "".join(f"{i},{t}\n" for i, t in reversed(list(enumerate(texts))))
        (tmp_path / f"{lang}.csv").write_text("sid,sentence\n" + rows)
    (tmp_path / "ids.yaml").write_text(
        "name: toy-ids\ntype: bitext\nrole: probe\nlanguages: [qaa_Latn, qab_Latn, eng_Latn]\npivot: eng_Latn\n"
        "format: csv\nfields: {id: sid, text: sentence}\nmetrics: [tatoeba_accuracy]\nmain_score: tatoeba_accuracy\n"
        "files:\n  test: {qaa_Latn: qaa_Latn.csv, qab_Latn: qab_Latn.csv, eng_Latn: eng_Latn.csv}\n")
    user = load_task_file(tmp_path / "ids.yaml")
    proto = alignment.Protocol(layers=(2,), pooling="mean", prefix="", scorer="cosine")
    with user.scope():
        rows = alignment.probe(tiny, proto, user[0], langs=["qaa_Latn", "qab_Latn"], model_hash="h",
                               pairs=[("qaa_Latn", "qab_Latn")])
    assert {(r.language, r.direction) for r in rows} == {
        ("qaa_Latn", "qaa_Latn->eng_Latn"), ("qaa_Latn", "eng_Latn->qaa_Latn"),
        ("qab_Latn", "qab_Latn->eng_Latn"), ("qab_Latn", "eng_Latn->qab_Latn"),
        ("qaa_Latn-qab_Latn", "qaa_Latn->qab_Latn"), ("qaa_Latn-qab_Latn", "qab_Latn->qaa_Latn")}
    # identical texts on both sides retrieve each other: the join pairs id with id
    (tmp_path / "qab_Latn.csv").write_text((tmp_path / "qaa_Latn.csv").read_text())
    again = load_task_file(tmp_path / "ids.yaml")
    with again.scope():
        same = alignment.probe(tiny, proto, again[0], langs=["qab_Latn"], model_hash="h", pairs=[("qaa_Latn", "qab_Latn")])
    assert all(r.value == 100.0 for r in same if r.language == "qaa_Latn-qab_Latn")


def test_align_runs_bucc_and_a_users_task_file(tiny_model_dir, data_root, tmp_path):
    store = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(app, ["align", "--model", str(tiny_model_dir), "--tasks",
                                      f"bucc,{BYO / 'parallel.yaml'}", "--max-sentences", "40", "--layers", "last",
                                      "--data-root", str(data_root), "--store", store])
    assert result.exit_code == 0, result.output
    assert "bucc:" in result.output and "5 rows stored" in result.output  # 3 BUCC keys + 2 directions
    rows = ResultsStore(store).query()
    assert {r.task for r in rows} == {"bucc", "byo-parallel"}
    assert {r.metric for r in rows if r.task == "bucc"} == {"f1", "precision", "recall"}
