"""Results store: protocol keys, idempotent upserts, filters, export, sharing, node lifecycle."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from xstilts.errors import StoreError
from xstilts.store import ResultRow, ResultsStore, default_url


def row(**overrides) -> ResultRow:
    fields = dict(
        model="me5-small", model_hash="abc", condition="squad", intermediate=["squad"],
        task="tatoeba", task_version="1", dataset="tatoeba", split="test", language="de-en",
        direction="src->tgt", layer=7, pooling="mean", scorer="cosine", prefix="query: ", seed=1,
        metric="accuracy", value=0.5, protocol={"max_length": 128, "batch_size": 64}, data_hash="d0",
    )
    return ResultRow(**(fields | overrides))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> ResultsStore:
    """Every store test runs on SQLite and on a real PostgreSQL server (a cluster's store)."""
    return ResultsStore("sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_url"))


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
    assert store.node("n1") is None
    lease, _ = store.claim("n1", "train", {"task": "squad", "seed": 1}, "me", seen=None, ttl=60)
    assert store.node("n1").status == "running"
    store.mark_failed("n1", "CUDA out of memory", lease)
    [failed] = store.nodes("failed")
    assert failed.error == "CUDA out of memory" and failed.finished_at is not None
    lease, _ = store.claim("n1", "train", {"task": "squad", "seed": 1}, "me", seen=failed, ttl=60)
    [again] = store.nodes()
    assert again.status == "running" and again.error is None and again.finished_at is None
    store.mark_done("n1", {"checkpoint": "ckpt/n1"}, lease)
    [done] = store.nodes("done")
    assert done.outputs == {"checkpoint": "ckpt/n1"} and done.spec == {"task": "squad", "seed": 1}
    assert done.finished_at >= done.started_at
    assert store.nodes("running") == []
    with pytest.raises(KeyError):
        store.mark_done("never-started", {})


def test_claim_is_exclusive_and_leases_guard_outcomes(store):
    spec = {"label": "A"}
    lease, _ = store.claim("n1", "toy", spec, "runner-1", seen=None, ttl=60)
    assert lease is not None and lease.attempt == 1
    none, held = store.claim("n1", "toy", spec, "runner-2", seen=None, ttl=60)
    assert none is None and held.status == "running" and held.owner == "runner-1" and held.live(60)
    assert store.claim("n1", "toy", spec, "runner-2", seen=held, ttl=60)[0] is None  # still held
    assert store.renew(lease)
    # runner-1's failure is recorded; runner-2, which read the node before, does not retry it
    assert store.mark_failed("n1", "boom", lease)
    none, failed = store.claim("n1", "toy", spec, "runner-2", seen=held, ttl=60)
    assert none is None and failed.status == "failed" and failed.error == "boom"
    # a runner that read the failure may retry it: a new attempt
    retry, _ = store.claim("n1", "toy", spec, "runner-2", seen=failed, ttl=60)
    assert retry.attempt == 2 and store.node("n1").owner == "runner-2"
    # the old lease can write nothing any more
    assert not store.renew(lease) and not store.mark_done("n1", {"x": 1}, lease)
    assert store.mark_done("n1", {"x": 2}, retry) and store.node("n1").outputs == {"x": 2}
    # a runner that saw it running or failed before does not take the finished node
    for before in (held, failed):
        none, done = store.claim("n1", "toy", spec, "runner-3", seen=before, ttl=60)
        assert none is None and done.status == "done" and done.outputs == {"x": 2}


def test_expired_or_dead_lease_is_taken_over(store):
    lease, _ = store.claim("n1", "toy", {}, "dead-runner", seen=None, ttl=60)
    held = store.node("n1")
    assert store.claim("n1", "toy", {}, "me", seen=held, ttl=60)[0] is None  # still live
    took, _ = store.claim("n1", "toy", {}, "me", seen=held, ttl=60, take_from="dead-runner")
    assert took.attempt == 2 and not store.mark_failed("n1", "late failure", lease)
    time.sleep(0.05)
    again, _ = store.claim("n1", "toy", {}, "third", seen=None, ttl=0.01)  # `me` fell silent
    assert again.attempt == 3 and store.node("n1").status == "running" and store.node("n1").error is None


def test_interrupted_node_is_claimed_again(store):
    lease, _ = store.claim("n1", "toy", {}, "me", seen=None, ttl=60)
    assert store.mark_interrupted("n1", lease) and store.node("n1").status == "interrupted"
    assert store.claim("n1", "toy", {}, "me", seen=store.node("n1"), ttl=60)[0].attempt == 2


def test_read_only_store_creates_nothing(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "r.sqlite"
    ro = ResultsStore(f"sqlite:///{path}", read_only=True)
    assert ro.nodes() == [] and ro.query() == [] and ro.node("x") is None
    assert not (tmp_path / "no").exists()
    with pytest.raises(StoreError, match="read-only"):
        ro.add(row())
    ResultsStore(f"sqlite:///{path}").add(row())
    assert len(ResultsStore(f"sqlite:///{path}", read_only=True).query()) == 1


def test_store_made_before_leases_gets_their_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE nodes (key VARCHAR(64) PRIMARY KEY, kind VARCHAR, spec JSON, status VARCHAR, "
                "error TEXT, started_at DATETIME, finished_at DATETIME, outputs JSON)")
    con.execute("INSERT INTO nodes VALUES ('n1', 'toy', '{}', 'done', NULL, NULL, NULL, '{\"x\": 1}')")
    con.commit()
    con.close()
    [old] = ResultsStore(f"sqlite:///{path}", read_only=True).nodes()  # read as it is, not migrated
    assert old.status == "done" and old.attempt == 0
    store = ResultsStore(f"sqlite:///{path}")
    lease, _ = store.claim("n1", "toy", {}, "me", seen=old, ttl=60)
    assert lease.attempt == 1 and store.node("n1").owner == "me"


@pytest.mark.parametrize("url, said", [
    ("results.sqlite", "is not a database URL; e.g. sqlite:////abs/path/results.sqlite"),
    ("nosuchdb://x/y", "names an unknown database type 'nosuchdb'"),
    ("postgresql+psycopg2://u:secret@localhost/db", "needs the database driver 'psycopg2', which is not installed: "
                                                    "pip install psycopg2-binary"),
])
def test_bad_store_urls_say_what_to_do(url, said):
    driver = said.split("'")[1] if "driver" in said else None
    if driver and importlib.util.find_spec(driver):
        pytest.skip(f"{driver} is installed here")
    with pytest.raises(StoreError) as e:
        ResultsStore(url)
    assert said in str(e.value) and "secret" not in str(e.value)


def test_a_nodes_rows_are_written_with_its_done_state_only_under_its_lease(store):
    lease, _ = store.claim("n1", "toy", {}, "me", seen=None, ttl=60)
    assert store.mark_done("n1", {"rows": 2}, lease, rows=[row(seed=1), row(seed=2)])
    assert store.node("n1").status == "done" and {r.seed for r in store.query()} == {1, 2}
    # a runner whose lease was taken over writes neither its outcome nor its rows
    stale, _ = store.claim("n2", "toy", {}, "slow", seen=None, ttl=60)
    time.sleep(0.05)
    taken, _ = store.claim("n2", "toy", {}, "fast", seen=None, ttl=0.01)
    assert not store.mark_done("n2", {}, stale, rows=[row(seed=3)])
    assert {r.seed for r in store.query()} == {1, 2} and store.node("n2").owner == "fast"
    assert store.mark_done("n2", {}, taken, rows=[row(seed=4)]) and {r.seed for r in store.query()} == {1, 2, 4}


def test_a_dropped_database_connection_is_retried(postgres_url):
    from sqlalchemy import create_engine, text

    store = ResultsStore(postgres_url)
    store.add(row(seed=1))
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:  # the server drops every other connection, the store's pooled one too
        killed = con.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert killed >= 1
    store.add(row(seed=2))  # the first try meets the dead connection; the retry opens a new one
    assert {r.seed for r in store.query()} == {1, 2}
