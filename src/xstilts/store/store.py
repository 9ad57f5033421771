"""The results store: result rows and planner node states in one SQL database.

SQLite by default (one file under the user dir), any SQLAlchemy URL otherwise (Postgres
for a cluster). Every write is its own committed transaction, so killing a study loses
nothing already added; SQLite runs in WAL mode with a busy timeout so several worker
processes can write to one file. A node is run under a lease (owner, heartbeat, attempt):
claimed atomically, renewed while it runs, taken over once its heartbeat is older than the
lease; a runner's outcome is written only while it still holds the lease. A store opened
read-only (`plan`, `report`) creates nothing: a database that is not there has no rows.
"""

from __future__ import annotations

import difflib
import gzip
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Update, inspect, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from xstilts.errors import BadValue, StoreError
from xstilts.paths import user_dir
from xstilts.store.engine import open_engine, shown_url
from xstilts.store.schema import Base, NodeRow, NodeTable, ResultRow, ResultTable, utcnow

# Seconds without a heartbeat after which a running node's runner is presumed dead.
LEASE_SECONDS = float(os.environ.get("XSTILTS_LEASE_SECONDS", 120))
RETRIES = 5  # tries of a write that met a transient database error (a dropped connection, a lock)


def _transient(e: SQLAlchemyError) -> bool:
    """A lost connection or a locked/serialisation failure: worth trying again."""
    return isinstance(e, OperationalError) or (isinstance(e, DBAPIError) and e.connection_invalidated)


def _retrying(write: Callable[[], Any], tries: int = RETRIES) -> Any:
    """WRITE again after a transient error (0.5 s, 1 s, 2 s, ... apart); each try is a whole transaction."""
    for i in range(tries):
        try:
            return write()
        except SQLAlchemyError as e:
            if i == tries - 1 or not _transient(e):
                raise
            time.sleep(0.5 * 2 ** i)


def _open(path: str | Path, mode: str):
    """A JSON file of rows, gzipped when its name ends in .gz (a study's rows are megabytes of text)."""
    path = Path(path)
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else path.open(mode[0], encoding="utf-8")


def write_json(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Rows as `xstilts report --from` reads them back (`orchestration.record`)."""
    with _open(path, "wt") as f:
        json.dump(records, f, indent=None if Path(path).suffix == ".gz" else 1, ensure_ascii=False)


def default_url() -> str:
    return f"sqlite:///{user_dir() / 'results.sqlite'}"


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite drops the time zone; every stored time is UTC."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _upsert(session: Session, table: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite by primary key in one statement where the dialect allows it."""
    inserts: dict[str, Callable[[type[Base]], sqlite.Insert | postgresql.Insert]] = {
        "sqlite": sqlite.insert, "postgresql": postgresql.insert}
    dialect_insert = inserts.get(session.get_bind().dialect.name)
    if dialect_insert is not None:
        stmt = dialect_insert(table)
        cols = [c.name for c in table.__table__.columns if not c.primary_key]
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={c: stmt.excluded[c] for c in cols})
        session.execute(stmt, rows)
    else:
        for row in rows:
            session.merge(table(**row))


class ResultsStore:
    """Results and node states behind one SQLAlchemy URL (default: the user's SQLite file)."""

    def __init__(self, url: str | None = None, *, read_only: bool = False, must_exist: bool = False):
        """READ_ONLY: create nothing (no folder, no database, no table); a store that is not
        there yet reads as empty, unless MUST_EXIST (`report`, a `plan --store` given by hand),
        which makes it a StoreError."""
        self.url, self.read_only = url or default_url(), read_only
        self.engine = open_engine(self.url, read_only)
        if self.engine is None and must_exist:
            raise StoreError(f"no results store at {shown_url(self.url)}: no such database, or one no `xstilts run` "
                             "wrote; check --store (or the spec's `store:`)")

    def __repr__(self) -> str:
        return f"ResultsStore({shown_url(self.url)!r})"

    # results

    def add(self, rows: ResultRow | Iterable[ResultRow]) -> int:
        """Upsert rows by protocol key in one transaction; returns the number of distinct keys written."""
        self._writable()
        rows = [rows] if isinstance(rows, ResultRow) else list(rows)
        by_key = {row.key(): row for row in rows}  # last wins, as it would row by row
        if not by_key:
            return 0
        records = [
            {**row.model_dump(), "key": key, "created_at": row.created_at.astimezone(UTC)}
            for key, row in by_key.items()
        ]
        def write() -> None:
            with Session(self.engine) as session, session.begin():
                _upsert(session, ResultTable, records)

        _retrying(write)
        return len(by_key)

    def query(self, **filters: Any) -> list[ResultRow]:
        """Rows matching every filter: column=value, column=[values] for IN, column=None for NULL."""
        if self.engine is None:  # read-only and not there yet
            return []
        stmt = select(ResultTable).where(*self._where(filters)).order_by(ResultTable.created_at, ResultTable.key)
        with Session(self.engine) as session:
            return [self._row(r) for r in session.scalars(stmt)]

    def to_records(self, **filters: Any) -> list[dict[str, Any]]:
        """Matching rows as JSON-ready dicts, each with its key."""
        return [{"key": row.key(), **row.model_dump(mode="json")} for row in self.query(**filters)]

    @staticmethod
    def _where(filters: dict[str, Any]) -> list[Any]:
        columns = ResultTable.__table__.columns
        clauses = []
        for name, want in filters.items():
            if name not in columns:
                close = difflib.get_close_matches(name, columns.keys(), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise BadValue(f"unknown result column '{name}'{hint}")
            col = columns[name]
            if want is None:
                clauses.append(col.is_(None))
            elif isinstance(want, (list, tuple, set, frozenset)):
                clauses.append(col.in_(list(want)))
            else:
                clauses.append(col == want)
        return clauses

    @staticmethod
    def _row(r: ResultTable) -> ResultRow:
        data = {c.name: getattr(r, c.name) for c in ResultTable.__table__.columns if c.name != "key"}
        data["created_at"] = _aware(data["created_at"])
        return ResultRow.model_validate(data)

    # planner nodes; a node absent from the table has never started (`node` → None)

    def node(self, key: str) -> NodeRow | None:
        found = self._nodes(NodeTable.key == key)
        return found[0] if found else None

    def claim(self, key: str, kind: str, spec: dict[str, Any], owner: str, *, seen: NodeRow | None,
              ttl: float, take_from: str | None = None) -> tuple[Lease | None, NodeRow | None]:
        """Take node KEY for OWNER, atomically, when no live runner holds it and its state is still
        SEEN, as this runner read it (None: never started): a node another runner finished,
        failed or claimed since is not taken. A node running without a heartbeat for TTL seconds,
        or held by TAKE_FROM (a runner known to be dead), is taken over whatever its state.
        Returns (the lease, None), or (None, the node as it is now)."""
        self._writable()
        if seen is None:
            try:
                with Session(self.engine) as session, session.begin():
                    session.execute(insert(NodeTable).values(key=key, kind=kind, spec=spec, attempt=1,
                                                             **_running(owner)))
                return Lease(key, owner, 1), None
            except IntegrityError:  # another runner inserted it first
                pass
        expired = utcnow() - timedelta(seconds=ttl)
        stmt = (update(NodeTable).where(NodeTable.key == key, or_(
                    (NodeTable.attempt == (seen.attempt if seen else 0)) & (NodeTable.status != "running")
                    & (NodeTable.status == (seen.status if seen else "")),
                    (NodeTable.status == "running") & or_(NodeTable.heartbeat.is_(None), NodeTable.heartbeat < expired,
                                                          NodeTable.owner == (take_from or ""))))
                .values(kind=kind, spec=spec, attempt=NodeTable.attempt + 1, **_running(owner)))
        with Session(self.engine) as session, session.begin():
            won = _rowcount(session, stmt) == 1
            attempt = session.scalar(select(NodeTable.attempt).where(NodeTable.key == key))
        if won and attempt is not None:  # won: the row is there, and so its attempt
            return Lease(key, owner, attempt), None
        return None, self.node(key)

    def renew(self, lease: Lease) -> bool:
        """Refresh the lease's heartbeat; False when it was taken over (or the node finished)."""
        stmt = update(NodeTable).where(*_held(lease)).values(heartbeat=utcnow())

        def write() -> bool:
            with Session(self.engine) as session, session.begin():
                return _rowcount(session, stmt) == 1

        return _retrying(write)

    def mark_done(self, key: str, outputs: dict[str, Any], lease: Lease | None = None,
                  rows: Iterable[ResultRow] = ()) -> bool:
        """Mark KEY done and add the ROWS it produced, in one transaction: a node's rows are in
        the store exactly when it is done (a runner that lost its lease writes neither)."""
        return self._finish(key, lease, rows=rows, status="done", outputs=outputs, error=None)

    def mark_failed(self, key: str, error: str, lease: Lease | None = None) -> bool:
        return self._finish(key, lease, status="failed", error=error)

    def mark_interrupted(self, key: str, lease: Lease | None = None) -> bool:
        return self._finish(key, lease, status="interrupted", error="interrupted by the user (Ctrl-C)")

    def _finish(self, key: str, lease: Lease | None, rows: Iterable[ResultRow] = (), **values: Any) -> bool:
        """Write a node's outcome (and its result ROWS); with a LEASE only while that lease still
        holds it (False if another runner took it over, so one runner never overwrites another's
        outcome). Retried on transient errors; a retry after a commit whose answer was lost finds
        the outcome already written and says True."""
        self._writable()
        records = [{**r.model_dump(), "key": k, "created_at": r.created_at.astimezone(UTC)}
                   for k, r in {r.key(): r for r in rows}.items()]
        # A single UPDATE (no read first) so concurrent SQLite writers never need a lock upgrade.
        where = _held(lease) if lease else (NodeTable.key == key,)
        stmt = update(NodeTable).where(*where).values(finished_at=utcnow(), **values)

        def write() -> bool:
            with Session(self.engine) as session, session.begin():
                if _rowcount(session, stmt) != 1:
                    return False
                if records:
                    _upsert(session, ResultTable, records)
                return True

        if _retrying(write):
            return True
        now = self.node(key)
        if now is None:
            raise KeyError(f"node {key} was never marked running")
        return (lease is not None and now.status == values["status"] and now.owner == lease.owner
                and now.attempt == lease.attempt and now.finished_at is not None)

    def nodes(self, status: str | None = None) -> list[NodeRow]:
        return self._nodes(*(() if status is None else (NodeTable.status == status,)))

    def _nodes(self, *where: Any) -> list[NodeRow]:
        if self.engine is None:  # read-only and not there yet
            return []
        # a read-only store made before leases existed lacks their columns: read what is there
        have = {c["name"] for c in inspect(self.engine).get_columns(NodeTable.__tablename__)}
        cols = [c for c in NodeTable.__table__.columns if c.name in have]
        stmt = select(*cols).where(*where).order_by(NodeTable.started_at, NodeTable.key)
        with Session(self.engine) as session:
            rows = [dict(r._mapping) for r in session.execute(stmt)]
        for r in rows:
            for name in ("started_at", "finished_at", "heartbeat"):
                r[name] = _aware(r.get(name))
        return [NodeRow.model_validate(r) for r in rows]

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the results store {shown_url(self.url)} was opened read-only")


@dataclass(frozen=True)
class Lease:
    """A runner's hold on one node: written outcomes must match owner and attempt."""

    key: str
    owner: str | None
    attempt: int


def _running(owner: str | None) -> dict[str, Any]:
    now = utcnow()
    return dict(status="running", error=None, started_at=now, finished_at=None, outputs=None, owner=owner,
                heartbeat=now)


def _rowcount(session: Session, stmt: Update) -> int:
    """Rows an UPDATE matched. Session.execute returns a CursorResult for it, typed as the Result
    it extends, which has no rowcount."""
    return cast(CursorResult[Any], session.execute(stmt)).rowcount


def _held(lease: Lease) -> tuple:
    return (NodeTable.key == lease.key, NodeTable.attempt == lease.attempt, NodeTable.status == "running",
            NodeTable.owner.is_(None) if lease.owner is None else NodeTable.owner == lease.owner)
