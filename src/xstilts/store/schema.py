"""Tables of the results store and the row model users construct.

`results`: one score per row, carrying its full protocol (STYLE rule 7).
    key             sha256 hex of the protocol (`ResultRow.key()`), primary key
    created_at      when the row was last written (UTC)
    model           model id: hub id, local dir or "me5-small"
    model_hash      `tensor_state_hash` of the weights evaluated
    condition       intermediate condition name; "none" for the base encoder
    intermediate    JSON list of the intermediate tasks trained on, in order
    task            task scored (a target task or a retrieval/probe task)
    task_version    the task's catalog version; rows of different versions never compare
    dataset, split  where the evaluation examples came from
    language        lang code; "xx-yy" for pairs
    direction       retrieval direction ("src->tgt", "both", ...), null if none
    layer           hidden layer read (null: the head's output)
    pooling         "mean", "cls", ... (null when not pooled)
    scorer          "cosine", "margin", "head", ... (null when not applicable)
    prefix          text prefix ("query: ") or null
    seed            training seed, null for untrained encoders
    metric, value   metric name and its value
    protocol        JSON of every other knob: hyper-parameters, batch size, max length, margin k
    data_hash       `files_sha256` of the evaluation files
    git_hash, package_version   code that produced the row (not part of the key)
    run_id          free label of the producing run (not part of the key)

`nodes`: state of the experiment planner's DAG nodes, keyed by `stable_hash` of their inputs.
    key, kind, spec (JSON), status (running/done/failed/interrupted; absent = pending), error,
    started_at, finished_at, outputs (JSON)
    owner, heartbeat, attempt   the lease: which runner holds the node, when it last said it is
                                alive, and how many times the node was claimed (so a runner can
                                tell a state it read from one another runner wrote since)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from xstilts.provenance import git_hash, package_version, stable_hash

# Provenance and outcome: a rerun of the same protocol under newer code or with another
# run label overwrites the old row instead of adding a second one.
NOT_KEYED = frozenset({"value", "created_at", "git_hash", "package_version", "run_id"})

NodeStatus = Literal["pending", "running", "done", "failed", "interrupted"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ResultTable(Base):
    __tablename__ = "results"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String, index=True)
    model_hash: Mapped[str] = mapped_column(String)
    condition: Mapped[str] = mapped_column(String, index=True)
    intermediate: Mapped[list] = mapped_column(JSON)
    task: Mapped[str] = mapped_column(String, index=True)
    task_version: Mapped[str] = mapped_column(String)
    dataset: Mapped[str] = mapped_column(String)
    split: Mapped[str] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    direction: Mapped[str | None] = mapped_column(String)
    layer: Mapped[int | None] = mapped_column(Integer)
    pooling: Mapped[str | None] = mapped_column(String)
    scorer: Mapped[str | None] = mapped_column(String)
    prefix: Mapped[str | None] = mapped_column(String)
    seed: Mapped[int | None] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String)
    value: Mapped[float] = mapped_column(Float)
    protocol: Mapped[dict] = mapped_column(JSON)
    data_hash: Mapped[str] = mapped_column(String)
    git_hash: Mapped[str] = mapped_column(String)
    package_version: Mapped[str] = mapped_column(String)
    run_id: Mapped[str | None] = mapped_column(String)


class NodeTable(Base):
    __tablename__ = "nodes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    spec: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outputs: Mapped[dict | None] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ResultRow(BaseModel):
    """One score with its protocol. Optional protocol fields must still be stated when they apply."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str
    model_hash: str
    condition: str
    intermediate: list[str] = Field(default_factory=list)
    task: str
    task_version: str
    dataset: str
    split: str
    language: str
    direction: str | None = None
    layer: int | None = None
    pooling: str | None = None
    scorer: str | None = None
    prefix: str | None = None
    seed: int | None = None
    metric: str
    value: float
    protocol: dict[str, Any] = Field(default_factory=dict)
    data_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    git_hash: str = Field(default_factory=git_hash)
    package_version: str = Field(default_factory=package_version)
    run_id: str | None = None

    def key(self) -> str:
        """sha256 of every protocol field: equal protocols get equal keys."""
        return stable_hash(self.model_dump(mode="json", exclude=set(NOT_KEYED)))


class NodeRow(BaseModel):
    """State of one planner node as read back from the store."""

    key: str
    kind: str
    spec: dict[str, Any]
    status: NodeStatus
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    outputs: dict[str, Any] | None
    owner: str | None = None
    heartbeat: datetime | None = None
    attempt: int = 0

    def live(self, ttl: float, now: datetime | None = None) -> bool:
        """Running and heard from within TTL seconds (a dead runner's node is not live)."""
        now = now or utcnow()
        return (self.status == "running" and self.heartbeat is not None
                and (now - self.heartbeat).total_seconds() < ttl)
