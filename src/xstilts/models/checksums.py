"""Checksums of the directories xstilts writes (the converted me5-small, phase-2 encoders,
fine-tuning checkpoints): recorded when a directory is written, checked before it is used, so
a truncated, overwritten or deleted file is found before it produces a number.

A file is re-hashed only when its size or mtime differs from the last successful check,
which a sidecar file in the directory remembers: a check of an unchanged directory is a few
stat calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from xstilts.errors import CorruptArtefactError

SIDECAR = ".xstilts_verified.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(directory: str | Path, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """{relative name: {size, sha256}} of every file under DIRECTORY except SKIP (the metadata
    file that will hold this record) and the sidecar, which is written too (the files are fresh)."""
    directory = Path(directory)
    files, stamps = {}, {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name in skip or name == SIDECAR:
            continue
        st = path.stat()
        files[name] = {"size": st.st_size, "sha256": sha256_file(path)}
        stamps[name] = [st.st_size, st.st_mtime_ns, files[name]["sha256"]]
    _write_sidecar(directory, stamps)
    return files


def verify(directory: str | Path, files: dict[str, dict], rebuild: str | Path | None = None) -> None:
    """Raise CorruptArtefactError naming the first file of FILES (as `record` returned them) that is
    missing or differs; the message tells the user to delete REBUILD (default: DIRECTORY)."""
    directory = Path(directory)
    rebuild = rebuild or directory
    seen = _read_sidecar(directory)
    fresh = {}
    for name, want in files.items():
        path = directory / name
        try:
            st = path.stat()
        except FileNotFoundError:
            raise CorruptArtefactError(path, "missing", rebuild) from None
        if st.st_size != want["size"]:
            raise CorruptArtefactError(path, f"corrupt ({st.st_size:,} bytes, {want['size']:,} bytes were written: "
                                             "truncated or replaced)", rebuild)
        stamp = [st.st_size, st.st_mtime_ns, want["sha256"]]
        if seen.get(name) != stamp and sha256_file(path) != want["sha256"]:
            raise CorruptArtefactError(path, "corrupt (its sha256 differs from the one recorded when it was written)",
                                       rebuild)
        fresh[name] = stamp
    if fresh != seen:
        _write_sidecar(directory, fresh)


def _read_sidecar(directory: Path) -> dict:
    try:
        data = json.loads((directory / SIDECAR).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_sidecar(directory: Path, stamps: dict) -> None:
    """Best effort: a read-only directory is simply re-hashed next time."""
    tmp = directory / f"{SIDECAR}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(stamps))
        os.replace(tmp, directory / SIDECAR)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
