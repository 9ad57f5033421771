"""Opening a results store's database: a URL becomes an engine (SQLite in WAL mode with a busy
timeout), its tables made and an older store's migrated, one pool per URL; every failure a
StoreError that says what to do."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from xstilts.errors import StoreError
from xstilts.store.schema import Base, NodeTable

_BUSY_MS = 60_000
# pip package of each database driver a URL may name (the module is what the ImportError says)
_DRIVERS = {"psycopg2": "psycopg2-binary", "psycopg": "'psycopg[binary]'", "pg8000": "pg8000",
            "asyncpg": "asyncpg", "pymysql": "pymysql", "MySQLdb": "mysqlclient"}
_EXAMPLES = "e.g. sqlite:////abs/path/results.sqlite or postgresql+psycopg://user:password@host/db"


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.close()


def _sqlite_busy_only(dbapi_con: Any, _record: Any) -> None:
    dbapi_con.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")


def shown_url(url: str) -> str:
    """The URL as messages show it: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _new_engine(url: str, read_only: bool = False) -> Engine | None:
    """The engine for URL with the tables made (and older tables given the lease columns); None
    for a read-only store that does not exist yet. Every failure is a StoreError saying what to do."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"the store URL '{url}' is not a database URL; {_EXAMPLES}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    db_file = parsed.database if is_sqlite and parsed.database not in (None, "", ":memory:") else None
    memory = is_sqlite and db_file is None
    kwargs: dict[str, Any] = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}} if memory else {}
    if db_file is not None:
        path = Path(db_file).expanduser()
        if read_only:
            if path.is_dir():
                raise StoreError(f"the results store {path} is a folder, not a SQLite file; {_EXAMPLES}")
            if not path.is_file():
                return None
            parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder {path.parent} for the results store ({e.strerror}); "
                                 "set XSTILTS_HOME to a writable folder or pass --store") from None
    try:
        engine = create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise StoreError(f"the store URL '{shown_url(url)}' names an unknown database type "
                         f"'{parsed.drivername}'; {_EXAMPLES}") from None
    except ImportError as e:
        raise StoreError(f"the store URL '{shown_url(url)}' needs the database driver '{e.name}', which is not "
                         f"installed: pip install {_DRIVERS.get(e.name or '', e.name)}") from None
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_busy_only if read_only else _sqlite_pragmas)
    try:
        if read_only:
            return engine if inspect(engine).has_table(NodeTable.__tablename__) else None
        _make_tables(engine)
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        hint = ("the folder must be writable (set XSTILTS_HOME or pass --store)" if is_sqlite
                else "check the host, database name and credentials")
        raise StoreError(f"cannot open the results store {shown_url(url)}: {reason}; {hint}") from None
    return engine


def _make_tables(engine: Engine, tries: int = 3) -> None:
    """Create the tables, and give a store made before leases existed the three lease columns.
    Runners starting together race to do it: the loser sees "already exists" and looks again."""
    for i in range(tries):
        try:
            Base.metadata.create_all(engine)
            have = {c["name"] for c in inspect(engine).get_columns(NodeTable.__tablename__)}
            with engine.begin() as con:
                for name, sql in (("owner", "VARCHAR"), ("heartbeat", "TIMESTAMP"),
                                  ("attempt", "INTEGER DEFAULT 0 NOT NULL")):
                    if name not in have:
                        con.execute(text(f"ALTER TABLE {NodeTable.__tablename__} ADD COLUMN {name} {sql}"))
            return
        except SQLAlchemyError as e:
            if i == tries - 1 or not any(m in str(e).lower() for m in ("already exists", "duplicate column")):
                raise


# Cached so many stores (one per worker task) share a pool; in-memory SQLite is not
# cached, so each `ResultsStore("sqlite://")` is a fresh, private database.
_cached_engine = functools.cache(_new_engine)
_engine_lock = threading.Lock()


def open_engine(url: str, read_only: bool) -> Engine | None:
    """The engine of a store URL: shared per URL, except an in-memory or read-only one (its own)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return _new_engine(url)  # raises the StoreError
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return _new_engine(url)
    if read_only:
        return _new_engine(url, True)
    with _engine_lock:
        return _cached_engine(url)
