"""A study published in parts merges into one record only when its parts are one study: the same
spec, code and data, and no row two parts disagree on. The parts here are the committed pilot
record cut by fine-tuning seed (what `report --seeds S --publish` would have written), each node
given the code hash a node records as it finishes."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from xstilts.errors import XstiltsError
from xstilts.orchestration.record import load_record, parts_grid, spec_file

PILOT = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english-pilot"
CODE = "c0de" * 16


def _rows(folder: Path) -> list[dict]:
    return json.loads(gzip.decompress((folder / "rows.json.gz").read_bytes()))


def _write_part(folder: Path, nodes: list[dict], rows: list[dict], seeds: list[int]) -> None:
    folder.mkdir(parents=True)
    shutil.copyfile(PILOT / "spec.yaml", folder / "spec.yaml")
    (folder / "nodes.json").write_text(json.dumps(nodes))
    (folder / "rows.json.gz").write_bytes(gzip.compress(json.dumps(rows).encode()))
    env = json.loads((PILOT / "environment.json").read_text())
    (folder / "environment.json").write_text(json.dumps({**env, "part": {"seeds": seeds}}))


@pytest.fixture
def parted(tmp_path) -> Path:
    """The pilot as two parts: phase 2, probes and seed-1 fine-tuning; then seeds 2 and 3."""
    nodes = [{**n, "outputs": {**(n["outputs"] or {}), "code": CODE}} for n in json.loads((PILOT / "nodes.json").read_text())]
    rows = _rows(PILOT)
    first = [n for n in nodes if n["kind"] != "finetune" or n["config"]["seed"] == 1]
    rest = [n for n in nodes if n["kind"] == "finetune" and n["config"]["seed"] != 1]
    for name, part, seeds in (("seed-1", first, [1]), ("seed-2-3", rest, [2, 3])):
        keys = {n["key"] for n in part}
        _write_part(tmp_path / "study" / "parts" / name, part, [r for r in rows if r["protocol"]["node"] in keys], seeds)
    return tmp_path / "study"


def test_parts_merge_into_the_record_they_were_cut_from(parted):
    merged, whole = load_record(parted), load_record(PILOT)
    assert {r.key(): r.value for r in merged.rows} == {r.key(): r.value for r in whole.rows}
    assert sorted(n["key"] for n in merged.nodes) == sorted(n["key"] for n in whole.nodes)
    assert merged.spec.model_dump() == whole.spec.model_dump() and spec_file(parted) == parted / "parts" / "seed-1" / "spec.yaml"
    assert [(p.name, p.seeds, p.code) for p in merged.parts] == [("seed-1", (1,), CODE), ("seed-2-3", (2, 3), CODE)]
    grid = parts_grid(merged)
    assert [row[:2] for row in grid.rows] == [["seed-1", "1"], ["seed-2-3", "2, 3"]]
    assert sum(int(row[3].replace(",", "")) for row in grid.rows) == len(whole.rows)
    assert parts_grid(whole) is None  # a record published whole lists no parts


def _edit_part(folder: Path, nodes=None, rows=None) -> None:
    if nodes is not None:
        (folder / "nodes.json").write_text(json.dumps(nodes(json.loads((folder / "nodes.json").read_text()))))
    if rows is not None:
        (folder / "rows.json.gz").write_bytes(gzip.compress(json.dumps(rows(_rows(folder))).encode()))


def _refused(folder: Path) -> str:
    with pytest.raises(XstiltsError) as e:
        load_record(folder)
    return str(e.value)


def test_parts_from_other_code_are_refused(parted):
    part = parted / "parts" / "seed-2-3"
    _edit_part(part, nodes=lambda ns: [{**n, "outputs": {**n["outputs"], "code": "beef" * 16}} for n in ns])
    said = _refused(parted)
    assert "its parts ran different code" in said and "c0dec0dec0de in seed-1" in said and "beefbeefbeef in seed-2-3" in said


def test_a_node_without_a_code_hash_is_refused(parted):
    part = parted / "parts" / "seed-2-3"
    _edit_part(part, nodes=lambda ns: [{**n, "outputs": {k: v for k, v in n["outputs"].items() if k != "code"}}
                                       if i == 0 else n for i, n in enumerate(ns)])
    assert "records no code hash" in _refused(parted)


def test_parts_that_read_other_data_are_refused(parted):
    part = parted / "parts" / "seed-2-3"
    evaluated = next(r for r in _rows(part) if r["task"] == "udpos")
    _edit_part(part, rows=lambda rs: [{**r, "data_hash": "0" * 64} if r["task"] == evaluated["task"]
                                      and r["language"] == evaluated["language"] else r for r in rs])
    said = _refused(parted)
    assert f"udpos test {evaluated['language']} was read from other data than in seed-1" in said

    shutil.rmtree(parted / "parts" / "seed-2-3")
    first = parted / "parts" / "seed-1"
    twin = parted / "parts" / "seed-1-again"
    shutil.copytree(first, twin)
    _edit_part(twin, nodes=lambda ns: [{**n, "config": {**n["config"], "data": "f" * 64}}
                                       if n["kind"] == "intermediate" else n for n in ns])
    assert "read other data than its like in seed-1" in _refused(parted)


def test_parts_of_other_specs_or_disagreeing_rows_are_refused(parted, tmp_path):
    part = parted / "parts" / "seed-2-3"
    spec = (part / "spec.yaml").read_text()
    (part / "spec.yaml").write_text(spec.replace("seeds: [1, 2, 3]", "seeds: [1, 2, 3, 4]"))
    assert "published from another spec than" in _refused(parted) and "fields: seeds" in _refused(parted)
    (part / "spec.yaml").write_text(spec)

    # one row published by both parts, with two values: a part is not deterministic or not the same run
    shared = _rows(parted / "parts" / "seed-1")[0]
    _edit_part(part, rows=lambda rs: [*rs, {**shared, "value": shared["value"] + 1}])
    assert "a node published by two parts must be the same result" in _refused(parted)
    _edit_part(part, rows=lambda rs: [*rs[:-1], shared])  # the same row twice is the same result: kept once
    assert len(load_record(parted).rows) == len(_rows(PILOT))


def test_a_folder_with_neither_rows_nor_parts_is_not_a_record(tmp_path):
    (tmp_path / "parts").mkdir()
    with pytest.raises(XstiltsError, match="not a published study record"):
        load_record(tmp_path)
