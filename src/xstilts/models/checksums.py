"""Checksums of the directories xstilts writes (the converted me5-small, phase-2 encoders,
fine-tuning checkpoints): recorded when a directory is written, checked before it is used, so
a truncated, overwritten or deleted file is found before it produces a number.

Every file is checked by content: its bytes are streamed through sha256 once per process
(`provenance.file_sha256`), so a same-size change that kept its mtime is caught too; me5-small's
470 MB of weights cost about 0.3 s a run (1.2 s when they are not in the page cache).
"""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import CorruptArtefactError
from xstilts.provenance import file_sha256


def record(directory: str | Path, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """{relative name: {size, sha256}} of every file under DIRECTORY except SKIP (the metadata
    file that will hold this record)."""
    directory = Path(directory)
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name not in skip:
            files[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return files


def verify(directory: str | Path, files: dict[str, dict], rebuild: str | Path | None = None,
           then: str | None = None) -> None:
    """Raise CorruptArtefactError naming the first file of FILES (as `record` returned them) that is
    missing or differs; the message tells the user to delete REBUILD (default: DIRECTORY), THEN what."""
    directory = Path(directory)
    rebuild = rebuild or directory
    for name, want in files.items():
        path = directory / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise CorruptArtefactError(path, "missing", rebuild, then) from None
        if size != want["size"]:
            raise CorruptArtefactError(path, f"corrupt ({size:,} bytes, {want['size']:,} bytes were written: "
                                             "truncated or replaced)", rebuild, then)
        if file_sha256(path) != want["sha256"]:
            raise CorruptArtefactError(path, "corrupt (its sha256 differs from the one recorded when it was written)",
                                       rebuild, then)
