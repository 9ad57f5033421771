"""Hashes and versions that make a result reproducible and its key stable.

Every result row and every planner node is keyed by `stable_hash` of its inputs, so the
same protocol always maps to the same key and a rerun overwrites instead of duplicating.
Data and weights are identified by content (`files_sha256`, `tensor_state_hash`), code by
`git_hash`, `code_hash` and `package_version`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def _jsonable(obj: Any) -> Any:
    """Fallback for json.dumps: the few non-JSON types protocols contain."""
    if hasattr(obj, "model_dump"):  # pydantic models
        return obj.model_dump(mode="json")
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=canonical_json)
    if isinstance(obj, (Path, datetime, date)):
        return str(obj)
    raise TypeError(f"cannot hash a value of type {type(obj).__name__}: {obj!r}")


def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no whitespace, floats by repr, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def stable_hash(obj: Any) -> str:
    """sha256 hex of `canonical_json(obj)`: the key of result rows and plan nodes."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


@functools.cache
def git_hash() -> str:
    """Commit of the xstilts source tree (suffixed "-dirty" with uncommitted changes), or "unknown".

    Only a source checkout counts: an installed copy under site-packages may sit inside
    some other project's repository, whose commit would say nothing about xstilts.
    """
    here = Path(__file__).resolve().parent
    if "site-packages" in here.parts:
        return "unknown"
    try:
        head = _git(["rev-parse", "HEAD"], here)
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], here)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


@functools.cache
def code_hash() -> str:
    """`source_hash` of this xstilts package: the code a result came from."""
    return source_hash(Path(__file__).resolve().parent)


def source_hash(package: Path) -> str:
    """sha256 of the files of PACKAGE (an xstilts source folder) that can change a result: its .py
    sources and the data files it ships, less caches and the `report` modules, which only read rows
    (`report/learning.py` counts: training nodes call it to record what they learnt). The same
    whether or not it runs from a git checkout, and unchanged by commits that touch only docs,
    specs, tests, published records or how a report is drawn."""
    def counts(f: Path) -> bool:
        rel = f.relative_to(package).parts
        return (f.suffix in (".py", ".json") and "__pycache__" not in rel
                and (rel[0] != "report" or rel == ("report", "learning.py")))

    return files_sha256(f for f in package.rglob("*") if f.is_file() and counts(f))


@functools.cache
def package_version() -> str:
    """Installed version of xstilts, or "unknown" when running from an uninstalled tree."""
    try:
        return version("xstilts")
    except PackageNotFoundError:
        return "unknown"


# (path, size, mtime_ns, ctime_ns, inode) -> sha256 of the bytes read under that stat, for this
# process only: every file is streamed at least once per process (me5-small's 470 MB weights take
# 0.3 s warm, the whole 222 MB data root 0.5 s), so a same-size change that kept its mtime (disk
# rot, a restored timestamp) is caught by the next run, and an edit within a run changes ctime.
_HASHED: dict[tuple, str] = {}


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def file_sha256(path: str | Path) -> str:
    """sha256 hex of a file's bytes, streamed once per process and remembered while its stat
    (size, mtime, ctime, inode) is unchanged; a file that changes while it is read is not remembered."""
    path = Path(path).resolve()
    before = _stat_key(path)
    if before in _HASHED:
        return _HASHED[before]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    if _stat_key(path) == before:
        _HASHED[before] = digest
    return digest


def files_sha256(paths: Iterable[str | Path]) -> str:
    """One hash for several files or folders (folders count every file below them).

    Files are named by their path relative to the inputs' common folder and sorted, so the
    hash depends neither on argument order nor on where the data root lives.
    """
    inputs = [Path(p).resolve() for p in paths]
    if not inputs:
        raise ValueError("files_sha256 needs at least one path")
    root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in inputs]))
    files: set[Path] = set()
    for p in inputs:
        if p.is_dir():
            files.update(f for f in p.rglob("*") if f.is_file())
        else:
            files.add(p)  # a missing file fails in file_sha256 with its name
    return stable_hash(sorted((f.relative_to(root).as_posix(), file_sha256(f)) for f in files))


def tensor_state_hash(state_dict: Mapping[str, Any]) -> str:
    """sha256 over each tensor's name, dtype, shape and raw bytes, in name order.

    Bytes are read through a uint8 view of the contiguous CPU tensor, which works for
    every dtype (bf16 has no numpy equivalent) and copies nothing on CPU.
    """
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(canonical_json([name, str(t.dtype), list(tensor.shape)]).encode("utf-8"))
        h.update(memoryview(t.view(torch.uint8).numpy()))
    return h.hexdigest()
