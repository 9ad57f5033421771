"""The XTREME-R retrieval protocol beside the alignment probe: the official layer per depth,
English queries for Tatoeba (checked against a brute-force search on the same embeddings), BUCC's
CLS pooling and oracle-threshold label, LAReQA candidates with their paragraph."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.evaluation import alignment
from xstilts.evaluation.encode import encode
from xstilts.store import ResultsStore
from xstilts.tasks import get_task
from xstilts.tasks.data import read_source

runner = CliRunner()


@pytest.mark.parametrize(("probe", "depth", "layer", "rule"), [
    ("tatoeba", 12, 8, "official"), ("tatoeba", 24, 14, "official"), ("bucc", 12, 8, "official"),
    ("bucc", 24, 8, "official"), ("tatoeba", 6, 5, "extrapolated"), ("tatoeba", 2, 2, "extrapolated"),
    ("bucc", 2, 2, "extrapolated"), ("lareqa", 12, 12, "last"),
])
def test_the_official_layer_is_the_scripts_hidden_state_index(probe, depth, layer, rule):
    """run_tatoeba.sh's 7 (12 layers) and 13 (24) index hidden_states[-L:], our 8 and 14."""
    proto = alignment.official_protocol(get_task(probe), depth, prefix="")
    assert proto.layers == (layer,) and proto.layer_rule.startswith(rule) and proto.name == "xtreme-r"
    assert proto.max_length == (96 if probe == "lareqa" else 512)
    assert proto.pooling == ("cls" if probe == "bucc" else "mean") and proto.scorer == "cosine"


def test_a_model_with_fewer_positions_is_scored_at_its_own_limit_and_says_so():
    proto = alignment.official_protocol(get_task("tatoeba"), 12, prefix="", max_tokens=128)
    assert proto.max_length == 128


def test_flores_has_no_xtreme_r_protocol():
    with pytest.raises(ValueError, match="no XTREME-R"):
        alignment.official_protocol(get_task("flores"), 12, prefix="")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from xstilts.models.encoders import load_encoder

    return load_encoder(str(tiny_model_dir))


def test_xtreme_r_tatoeba_queries_in_english_as_a_brute_force_search(tiny, data_root):
    task = get_task("tatoeba")
    proto = alignment.official_protocol(task, tiny.num_layers, prefix="")
    rows = alignment.probe(tiny, proto, task, langs=["jav"], model_hash="h", data_root=data_root, max_sentences=80)
    (row,) = rows
    assert row.direction == "eng->jav" and row.protocol["name"] == "xtreme-r" and row.protocol["max_length"] == 512
    pairs = [ex for s in task.eval_sources("jav") for ex in read_source(s, data_root)][:80]
    layer = proto.layers[0]
    jav = encode(tiny, [p.source for p in pairs], layers=[layer], pooling="mean", prefix="", max_length=512)[layer]
    eng = encode(tiny, [p.target for p in pairs], layers=[layer], pooling="mean", prefix="", max_length=512)[layer]
    found = (eng @ jav.T).argmax(1)  # each English sentence retrieves among the Javanese ones
    assert row.value == pytest.approx(100 * np.mean(found == np.arange(len(pairs))))


def test_bucc_rows_say_their_threshold_is_an_oracles(tiny, data_root):
    task = get_task("bucc")
    proto = alignment.official_protocol(task, tiny.num_layers, prefix="")
    rows = alignment.probe(tiny, proto, task, langs=["zh"], model_hash="h", data_root=data_root, max_sentences=40)
    assert {r.metric for r in rows} == {"f1", "precision", "recall"}
    assert all(r.pooling == "cls" and r.protocol["threshold_from"] == "oracle-dev" and r.scorer == "margin"
               for r in rows)


@pytest.mark.slow
def test_lareqa_xtreme_r_encodes_candidates_with_their_paragraph(tiny, data_root):
    task = get_task("lareqa")
    official = alignment.official_protocol(task, tiny.num_layers, prefix="", max_tokens=tiny.max_tokens)
    plain = alignment.Protocol(layers=official.layers, pooling="mean", prefix="", scorer="cosine", max_length=96)
    with_context = alignment.probe(tiny, official, task, langs=["de"], model_hash="h", data_root=data_root,
                                   max_sentences=50)
    without = alignment.probe(tiny, plain, task, langs=["de"], model_hash="h", data_root=data_root, max_sentences=50)
    assert with_context[0].protocol["candidate_context"] is True
    assert with_context[0].protocol["candidate_max_length"] == min(256, tiny.max_tokens)
    assert "candidate_context" not in without[0].protocol
    assert with_context[0].value != without[0].value  # the candidates' vectors differ, so their ranking does


def test_align_cli_xtreme_r_protocol_and_its_fixed_settings(tiny_model_dir, data_root, tmp_path):
    store = f"sqlite:///{tmp_path / 'r.sqlite'}"
    args = ["align", "--model", str(tiny_model_dir), "--tasks", "tatoeba", "--tatoeba-langs", "afr,jav",
            "--protocol", "xtreme-r", "--max-sentences", "50", "--data-root", str(data_root), "--store", store]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "xtreme-r protocol" in " ".join(result.output.split())  # however the console wraps the path before it
    rows = ResultsStore(store).query(task="tatoeba")
    assert {(r.language, r.direction, r.layer) for r in rows} == {("afr", "eng->afr", 2), ("jav", "eng->jav", 2)}
    bad = runner.invoke(app, [*args, "--layers", "all"])
    assert bad.exit_code == 2 and "--layers: the xtreme-r protocol fixes" in bad.output
