"""Shared fixtures: where the real benchmark data lives for integration-style tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
