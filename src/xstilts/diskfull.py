"""Recognising a full disk, whichever library hit it: OSError ENOSPC from Python, a
SafetensorError or a Rust I/O error carrying "os error 28", SQLite's "database or disk is full".
A full disk is the user's to fix, so it is reported as one line, not as a failed node."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

_MESSAGES = ("no space left on device", "os error 28", "database or disk is full", "[errno 28]")


def is_disk_full(exc: BaseException) -> bool:
    """True when EXC, or an exception it was raised from, says the disk is full."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if getattr(cur, "errno", None) == errno.ENOSPC or any(m in str(cur).lower() for m in _MESSAGES):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def free_mb(path: str | Path) -> int:
    """Free megabytes on the disk holding PATH (or its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free >> 20
