"""On-disk cache of built features, keyed by everything that determines them.

The key is the sha256 of the canonical JSON of ``key_parts`` (the caller names the data
hash, tokenizer fingerprint, max length, builder name and VERSION, ...); values must be
JSON types, so a key never depends on an object's repr. Writes go to a temporary file then
``os.replace``, so a killed run never leaves a half-written cache. A file starts with the sha256
of the pickle that follows it, checked on every load: a damaged or altered file (even one of the
same size and mtime) is rebuilt rather than trusted.
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
    """The features in PATH, or None when it is missing, damaged or not what was written."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    digest, _, payload = raw.partition(b"\n")
    if digest != hashlib.sha256(payload).hexdigest().encode():
        return None
    try:
        features = pickle.loads(payload)
    except Exception:  # intact, but pickled by a version whose types this one lacks
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
        payload = pickle.dumps(features, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as f:
            f.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return features
