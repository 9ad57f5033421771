"""Results store: protocol keys, idempotent upserts, filters, export, sharing, node lifecycle."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from xstilts.store import ResultRow, ResultsStore, default_url


def row(**overrides) -> ResultRow:
    fields = dict(
        model="me5-small", model_hash="abc", condition="squad", intermediate=["squad"],
        task="tatoeba", task_version="1", dataset="tatoeba", split="test", language="de-en",
        direction="src->tgt", layer=7, pooling="mean", scorer="cosine", prefix="query: ", seed=1,
        metric="accuracy", value=0.5, protocol={"max_length": 128, "batch_size": 64}, data_hash="d0",
    )
    return ResultRow(**(fields | overrides))


@pytest.fixture
def store() -> ResultsStore:
    return ResultsStore("sqlite://")


def test_key_hashes_the_protocol_only():
    base = row().key()
    assert row().key() == base
    assert row(protocol={"batch_size": 64, "max_length": 128}).key() == base
    assert row(value=0.9, git_hash="other", package_version="9", run_id="r2").key() == base
    for change in [{"layer": 8}, {"pooling": "cls"}, {"seed": 2}, {"prefix": None},
                   {"language": "fr-en"}, {"protocol": {"max_length": 256, "batch_size": 64}}]:
        assert row(**change).key() != base, change


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="pool"):
        row(pool="mean")


def test_add_twice_keeps_one_row_with_the_new_value(store):
    assert store.add([row(value=0.5)]) == 1
    assert store.add([row(value=0.7), row(value=0.8)]) == 1
    [only] = store.query()
    assert only.value == 0.8
    assert only.key() == row().key()


def test_filters_equality_in_and_null(store):
    store.add([row(language=lang, seed=seed) for lang in ("de-en", "fr-en", "sw-en") for seed in (1, 2)])
    store.add(row(task="xnli", language="de", direction=None, seed=None))
    assert len(store.query()) == 7
    assert len(store.query(task="tatoeba", seed=2)) == 3
    assert {r.language for r in store.query(language=["de-en", "sw-en"])} == {"de-en", "sw-en"}
    assert [r.task for r in store.query(direction=None)] == ["xnli"]
    with pytest.raises(ValueError, match="did you mean 'language'"):
        store.query(langauge="de")
    with pytest.raises(ValueError):
        store.delete()
    assert store.delete(language="fr-en") == 2
    assert len(store.query()) == 5


def test_json_export_roundtrip(store, tmp_path):
    rows = [row(language=lang, value=v) for lang, v in (("de-en", 0.25), ("ja-en", 1 / 3))]
    store.add(rows)
    path = tmp_path / "results.json"
    assert store.export_json(path, task="tatoeba") == 2
    other = ResultsStore("sqlite://")
    assert other.import_json(path) == 2
    assert other.to_records() == store.to_records()
    assert {r.key(): r for r in other.query()} == {r.key(): r for r in store.query()}


def test_default_url_is_under_the_user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    assert default_url() == f"sqlite:///{tmp_path / 'home' / 'results.sqlite'}"
    ResultsStore().add(row())
    assert (tmp_path / "home" / "results.sqlite").exists()


def test_two_processes_share_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'results.sqlite'}"
    store = ResultsStore(url)
    store.add(row(language="de-en"))
    with store.engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    writer = textwrap.dedent(f"""
        import sys
        from xstilts.store import ResultRow, ResultsStore
        store = ResultsStore({url!r})
        template = ResultRow.model_validate_json({row().model_dump_json()!r})
        for i in range(20):
            store.add(template.model_copy(update={{"language": sys.argv[1], "seed": i}}))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", writer, lang]) for lang in ("fr-en", "sw-en")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert len(store.query()) == 41
    assert len(ResultsStore(url).query(language="sw-en")) == 20


def test_node_lifecycle(store):
    assert store.node_status("n1") is None
    store.mark_running("n1", "train", {"task": "squad", "seed": 1})
    assert store.node_status("n1") == "running"
    store.mark_failed("n1", "CUDA out of memory")
    [failed] = store.nodes("failed")
    assert failed.error == "CUDA out of memory" and failed.finished_at is not None
    store.mark_running("n1", "train", {"task": "squad", "seed": 1})
    [again] = store.nodes()
    assert again.status == "running" and again.error is None and again.finished_at is None
    store.mark_done("n1", {"checkpoint": "ckpt/n1"})
    [done] = store.nodes("done")
    assert done.outputs == {"checkpoint": "ckpt/n1"} and done.spec == {"task": "squad", "seed": 1}
    assert done.finished_at >= done.started_at
    assert store.nodes("running") == []
    with pytest.raises(KeyError):
        store.mark_done("never-started", {})
