"""Where xstilts reads data and keeps its cache and results.

The data root holds the official benchmark files (never the repo); the cache holds
converted models and prepared features; the user data directory holds the results store.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "XSTILTS_DATA"
CACHE_ENV = "XSTILTS_CACHE"
HOME_ENV = "XSTILTS_HOME"


def data_root(explicit: str | Path | None = None) -> Path:
    """The data root: an explicit path, else $XSTILTS_DATA, else ~/.local/share/xstilts/data."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return user_dir() / "data"


def cache_dir() -> Path:
    """Converted models and prepared features: $XSTILTS_CACHE, else ~/.cache/xstilts."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "xstilts"
    )
    return Path(base).expanduser()


def user_dir() -> Path:
    """Results store and runs: $XSTILTS_HOME, else ~/.local/share/xstilts."""
    base = os.environ.get(HOME_ENV) or os.path.join(
        os.environ.get("XDG_DATA_HOME", str(Path.home() / ".local" / "share")), "xstilts"
    )
    return Path(base).expanduser()
