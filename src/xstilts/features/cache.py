"""On-disk cache of built features, keyed by everything that determines them.

The key is the sha256 of the canonical JSON of ``key_parts`` (the caller names the data
hash, tokenizer fingerprint, max length, builder name and VERSION, ...); values must be
JSON types, so a key never depends on an object's repr. Writes go to a temporary file then
``os.replace``, so a killed run never leaves a half-written cache; an unreadable file is
rebuilt rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_key(key_parts: dict) -> str:
    canonical = json.dumps(key_parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of the fast tokenizer's full serialisation (vocab, normaliser, templates)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode("utf-8")).hexdigest()


def _load(path: Path) -> list[dict] | None:
    try:
        with path.open("rb") as f:
            features = pickle.load(f)
    except Exception:  # truncated or corrupt file of any kind: rebuild it
        return None
    return features if isinstance(features, list) else None


def cached_features(key_parts: dict, build: Callable[[], list[dict]], cache_dir: Path) -> list[dict]:
    """Load the features for ``key_parts`` from ``cache_dir``, or build and store them."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"features-{cache_key(key_parts)}.pkl"
    features = _load(path)
    if features is not None:
        return features
    features = build()
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(features, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return features
