"""Is a catalogued file the one the catalog recorded, read whole, with real golds?

Two tables ship with the package, regenerated together by `fetch.record_checksums` when the
catalog or the data snapshot changes: checksums.json ('<folder>/<path>' -> sha256) and
counts.json ('<dataset>/<split>/<lang>' -> the number of examples its reader returns). A file
that differs, a read that returns another count, or golds that are blank placeholders (XTREME
blanks the golds of its test sets) is an error before any example is trained or scored on.
Hashes come from `provenance.file_sha256`: every file is streamed once per process (the whole
222 MB data root in 0.5 s), so an edit that kept the file's size and mtime is refused too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from xstilts.errors import DataFormatError, DataIntegrityError, PlaceholderGoldError
from xstilts.provenance import file_sha256
from xstilts.data.examples import ChoiceExample, QAExample, TaggingExample, TextExample

CHECKSUMS = Path(__file__).with_name("checksums.json")
COUNTS = Path(__file__).with_name("counts.json")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_checksums() -> dict[str, str]:
    return _load(CHECKSUMS)


def load_counts() -> dict[str, int]:
    return _load(COUNTS)


@functools.cache
def _recorded() -> tuple[dict[str, str], dict[str, int]]:
    """Both tables, read once per process."""
    return load_checksums(), load_counts()


def count_key(dataset: str, split: str, lang: str) -> str:
    return f"{dataset}/{split}/{lang}"


def _reason(e: DataFormatError, path: Path) -> str:
    """The parse error without the path when it is about `path` itself."""
    text = str(e)
    if e.path != str(path):
        return text
    rest = text[len(e.path) + 1:].strip()
    return f"line {rest}" if e.line is not None else rest


def check_sha256(files: dict[str, Path], hint: str, because: DataFormatError | None = None) -> None:
    """Each file ('<folder>/<path>' -> local path) against its recorded sha256, if one is recorded.
    `because`: the parse error that made us look, reported with the mismatch it explains."""
    sums = _recorded()[0]
    for rel, path in files.items():
        expected = sums.get(rel)
        if expected and (got := file_sha256(path)) != expected:
            why = f", and it no longer reads ({_reason(because, path)})" if because else ""
            raise DataIntegrityError(path, f"sha256 {got}, but the catalog recorded {expected}: the file changed "
                                           f"since it was recorded{why}; {hint}")


def check_count(key: str, path: Path, n: int, hint: str) -> None:
    """The number of examples read against the recorded count, if one is recorded."""
    expected = _recorded()[1].get(key)
    if expected is not None and n != expected:
        raise DataIntegrityError(path, f"{n:,} examples, but the catalog recorded {expected:,} for {key}: "
                                       f"the file is incomplete or was changed; {hint}")


def check_golds(path: Path, examples: list) -> None:
    """Refuse golds that are blank, or one value for the whole file (a placeholder, not a label)."""
    what = _placeholder(examples)
    if what:
        raise PlaceholderGoldError(path, what)


def _placeholder(examples: list) -> str | None:
    n, first = len(examples), examples[0]
    if isinstance(first, (TextExample, ChoiceExample)):
        golds = {x.label for x in examples}
        if golds <= {None, ""}:
            return f"none of its {n:,} examples has a label"
        if len(golds) == 1 and n > 1:
            return f"all {n:,} examples have the label {golds.pop()!r}"
    elif isinstance(first, TaggingExample):
        tags = {t for x in examples for t in x.tags}
        if tags <= {""}:
            return f"none of its {n:,} sentences has a tag"
        if len(tags) == 1 and sum(len(x.tags) for x in examples) > 1:
            return f"every tag of its {n:,} sentences is {tags.pop()!r}"
    elif isinstance(first, QAExample):
        blank = sum(1 for x in examples if not x.is_impossible and all(not t.strip() for t, _ in x.answers))
        if blank:
            return f"{blank:,} of its {n:,} answerable questions have only empty answers"
    return None
