"""The results store: result rows and planner node states in one SQL database.

SQLite by default (one file under the user dir), any SQLAlchemy URL otherwise (Postgres
for a cluster). Every write is its own committed transaction, so killing a study loses
nothing already added; SQLite runs in WAL mode with a busy timeout so several worker
processes can write to one file.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from xstilts.paths import user_dir
from xstilts.store.schema import Base, NodeRow, NodeTable, ResultRow, ResultTable, utcnow

_BUSY_MS = 60_000


def default_url() -> str:
    return f"sqlite:///{user_dir() / 'results.sqlite'}"


def _sqlite_pragmas(dbapi_con: Any, _record: Any) -> None:
    cur = dbapi_con.cursor()
    cur.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.close()


def _new_engine(url: str) -> Engine:
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    return engine


# Cached so many stores (one per worker task) share a pool; in-memory SQLite is not
# cached, so each `ResultsStore("sqlite://")` is a fresh, private database.
_cached_engine = functools.cache(_new_engine)


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return _new_engine(url)
    return _cached_engine(url)


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite drops the time zone; every stored time is UTC."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _upsert(session: Session, table: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite by primary key in one statement where the dialect allows it."""
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(session.get_bind().dialect.name)
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

    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        self.engine = _engine(self.url)

    def __repr__(self) -> str:
        return f"ResultsStore({self.engine.url.render_as_string(hide_password=True)!r})"

    # results

    def add(self, rows: ResultRow | Iterable[ResultRow]) -> int:
        """Upsert rows by protocol key in one transaction; returns the number of distinct keys written."""
        rows = [rows] if isinstance(rows, ResultRow) else list(rows)
        by_key = {row.key(): row for row in rows}  # last wins, as it would row by row
        if not by_key:
            return 0
        records = [
            {**row.model_dump(), "key": key, "created_at": row.created_at.astimezone(UTC)}
            for key, row in by_key.items()
        ]
        with Session(self.engine) as session, session.begin():
            _upsert(session, ResultTable, records)
        return len(by_key)

    def query(self, **filters: Any) -> list[ResultRow]:
        """Rows matching every filter: column=value, column=[values] for IN, column=None for NULL."""
        stmt = select(ResultTable).where(*self._where(filters)).order_by(ResultTable.created_at, ResultTable.key)
        with Session(self.engine) as session:
            return [self._row(r) for r in session.scalars(stmt)]

    def delete(self, **filters: Any) -> int:
        """Delete rows matching the filters (at least one, so nothing is wiped by accident)."""
        if not filters:
            raise ValueError("delete() needs at least one filter")
        with Session(self.engine) as session, session.begin():
            return session.execute(delete(ResultTable).where(*self._where(filters))).rowcount

    def to_records(self, **filters: Any) -> list[dict[str, Any]]:
        """Matching rows as JSON-ready dicts, each with its key."""
        return [{"key": row.key(), **row.model_dump(mode="json")} for row in self.query(**filters)]

    def export_json(self, path: str | Path, **filters: Any) -> int:
        """Write matching rows to a JSON file; returns how many."""
        records = self.to_records(**filters)
        Path(path).write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
        return len(records)

    def import_json(self, path: str | Path) -> int:
        """Upsert the rows of a file written by `export_json` (keys are recomputed, not trusted)."""
        records = json.loads(Path(path).read_text(encoding="utf-8"))
        return self.add(ResultRow.model_validate({k: v for k, v in r.items() if k != "key"}) for r in records)

    @staticmethod
    def _where(filters: dict[str, Any]) -> list[Any]:
        columns = ResultTable.__table__.columns
        clauses = []
        for name, want in filters.items():
            if name not in columns:
                close = difflib.get_close_matches(name, columns.keys(), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(f"unknown result column '{name}'{hint}")
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

    # planner nodes; a node absent from the table has never started (node_status → None)

    def node_status(self, key: str) -> str | None:
        with Session(self.engine) as session:
            return session.scalar(select(NodeTable.status).where(NodeTable.key == key))

    def mark_running(self, key: str, kind: str, spec: dict[str, Any]) -> None:
        """Record a node as started, clearing any earlier failure or outputs."""
        record = dict(key=key, kind=kind, spec=spec, status="running", error=None,
                      started_at=utcnow(), finished_at=None, outputs=None)
        with Session(self.engine) as session, session.begin():
            _upsert(session, NodeTable, [record])

    def mark_done(self, key: str, outputs: dict[str, Any]) -> None:
        self._finish(key, status="done", outputs=outputs, error=None)

    def mark_failed(self, key: str, error: str) -> None:
        self._finish(key, status="failed", error=error)

    def _finish(self, key: str, **values: Any) -> None:
        # A single UPDATE (no read first) so concurrent SQLite writers never need a lock upgrade.
        stmt = update(NodeTable).where(NodeTable.key == key).values(finished_at=utcnow(), **values)
        with Session(self.engine) as session, session.begin():
            if session.execute(stmt).rowcount == 0:
                raise KeyError(f"node {key} was never marked running")

    def nodes(self, status: str | None = None) -> list[NodeRow]:
        stmt = select(NodeTable).order_by(NodeTable.started_at, NodeTable.key)
        if status is not None:
            stmt = stmt.where(NodeTable.status == status)
        with Session(self.engine) as session:
            return [
                NodeRow(key=n.key, kind=n.kind, spec=n.spec, status=n.status, error=n.error,
                        started_at=_aware(n.started_at), finished_at=_aware(n.finished_at), outputs=n.outputs)
                for n in session.scalars(stmt)
            ]
