"""Shared fixtures: where the real benchmark data lives for integration-style tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


# the longest test starts first, so that under `pytest -n 2` the other worker takes the rest
FIRST = "test_shipped_spec_runs_every_node_in_smoke_mode[full]"


def pytest_collection_modifyitems(config, items):
    """A test that reads the data root is an integration test, whatever it is marked."""
    for item in items:
        if "data_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.name != FIRST)


def pytest_configure(config):
    """A pytest-xdist worker runs as a plain pytest does: without the terminal size xdist gives it
    ($COLUMNS, $LINES: output is as wide as the console's policy makes it, console.py), and with
    one intra-op thread, as it shares 2 cores with another worker."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        for name in ("COLUMNS", "LINES"):
            os.environ.pop(name, None)

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """$XSTILTS_DATA, else ../shared/data next to the repository; tests skip when absent."""
    root = Path(os.environ.get("XSTILTS_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"benchmark data not found at {root} (set XSTILTS_DATA)")
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random encoder + tokenizer saved as a transformers directory, loadable by path."""
    from tests.tiny import tiny_encoder, tiny_tokenizer

    d = tmp_path_factory.mktemp("tiny-model")
    tok = tiny_tokenizer()
    tok.save_pretrained(d)
    tiny_encoder(len(tok)).save_pretrained(d)
    return d


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by $XSTILTS_TEST_POSTGRES (`.ci/postgres.sh`
    installs and starts one and prints its URL; .ci/run sets it), dropped afterwards."""
    base = os.environ.get("XSTILTS_TEST_POSTGRES")
    if not base:
        pytest.skip("no PostgreSQL server: export XSTILTS_TEST_POSTGRES=$(bash .ci/postgres.sh)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"xstilts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as con:
        con.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
