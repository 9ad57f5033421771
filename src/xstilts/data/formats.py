"""The format registry and the parsing primitives every reader shares.

A format is registered by name with its example type and a fast counter (lines or blocks, no
parsing) that `xstilts data list` uses. A reader takes the file(s) of one split and language and
returns a complete list of typed examples: it parses everything first, so a malformed line fails
before any example is used, and the error names file, line and field. A file is read whole or not
at all: text must be UTF-8, a file that ends mid-line was cut, and one that gives no examples is
refused. The official formats are in `readers` and `aligned`, the generic csv/tsv/jsonl ones (fields
mapped by a task file) in `mapped`; the catalog imports all three.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import functools
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import BadValue, DataFormatError, PlaceholderGoldError, UnknownName

csv.field_size_limit(sys.maxsize)  # MasakhaNEWS rows hold whole articles

Paths = tuple[Path, ...]


@dataclass(frozen=True)
class Format:
    """A registered file format: how to read it and how to count its examples quickly."""

    name: str
    read: Callable[..., list]  # (paths, labels, lang, **options) -> examples
    count: Callable[[Paths], int]
    example_type: type
    options: tuple[str, ...] = ()  # keyword options the reader takes: "fields" (a field mapping), "hf"


FORMATS: dict[str, Format] = {}


def register(name: str, example_type: type, count: Callable[[Paths], int], options: tuple[str, ...] = ()):
    """Register a reader under `name`; a second registration of a name is a bug. The registered
    reader refuses a file that gives no examples: no official split is empty."""

    def wrap(fn):
        if name in FORMATS:
            raise BadValue(f"format '{name}' is registered twice")

        @functools.wraps(fn)
        def read(paths: Paths, labels: tuple[str, ...], lang: str, **opts) -> list:
            return nonempty(fn(paths, labels, lang, **opts), paths[0] if paths else Path(opts["hf"].name), lang)

        FORMATS[name] = Format(name, read, count, example_type, options)
        return read

    return wrap


def nonempty(examples: list, path: Path, lang: str) -> list:
    if not examples and not path.exists():  # a Hugging Face split: no file to blame
        raise DataFormatError(path, None, None, f"no examples{f' for language {lang!r}' if lang else ''}")
    if not examples:
        what = "the file is empty" if path.stat().st_size == 0 else "the file holds none"
        raise DataFormatError(path, None, None, f"no examples{f' for language {lang!r}' if lang else ''}: {what}")
    return examples


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise UnknownName(f"unknown format '{name}'{did_you_mean(name, FORMATS)}")
    return FORMATS[name]


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; known: {', '.join(sorted(known))}"


# ---- shared helpers -------------------------------------------------------------------


def _text(path: Path) -> str:
    """The whole file as UTF-8 text (a leading BOM dropped); other bytes are an error naming
    the line and column, not the codec's byte offset."""
    data = path.read_bytes()
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = skip + e.start
        column = at - data.rfind(b"\n", 0, at)
        raise DataFormatError(path, data.count(b"\n", 0, at) + 1, None,
                              f"not UTF-8 (byte 0x{data[at]:02x} at column {column}); convert the file to UTF-8") from None


def _cut(path: Path, line: int) -> DataFormatError:
    return DataFormatError(path, line, None, "ends mid-line (no line end after the last line): the file was cut short")


def text_lines(path: Path) -> list[str]:
    """Physical lines without their end (LF or CRLF); only '\\n' splits, unlike splitlines().
    Every official file ends with a line end, so one that does not was cut mid-line."""
    lines = _text(path).split("\n")
    if lines[-1]:
        raise _cut(path, len(lines))
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines[:-1]]


def delimited_rows(path: Path, delimiter: str, quoted: bool, open_end: bool = False) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a delimited file as (line number, fields).

    `quoted` selects strict CSV quoting (a field may span lines; a file cut inside quotes is
    an error); off, every line is one row. `open_end`: the official file has no final line end.
    """
    if not quoted:
        rows = [(i, ln.split(delimiter)) for i, ln in enumerate(text_lines(path), 1)]
    else:
        text = _text(path)
        if text and not text.endswith("\n") and not open_end:
            raise _cut(path, text.count("\n") + 1)
        reader, rows, start = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter, strict=True), [], 1
        try:
            for row in reader:
                rows.append((start, row))
                start = reader.line_num + 1
        except csv.Error as e:
            raise DataFormatError(path, reader.line_num, None, f"bad CSV: {e}") from None
    return [(i, r) for i, r in rows if r and r != [""]]


def named_fields(path: Path, names: tuple[str, ...], rows: list[tuple[int, list[str]]]
                 ) -> list[tuple[int, dict[str, str]]]:
    """Each row as {column: value}; a row with too few or too many fields names the first missing one."""
    out = []
    for i, row in rows:
        if len(row) != len(names):
            field = names[len(row)] if len(row) < len(names) else None
            raise DataFormatError(path, i, field, f"expected {len(names)} fields, got {len(row)}")
        out.append((i, dict(zip(names, row))))
    return out


def read_table(path: Path, *headers: tuple[str, ...], delimiter: str = "\t", quoted: bool = False,
           names: tuple[str, ...] | None = None, open_end: bool = False
           ) -> tuple[tuple[str, ...], list[tuple[int, dict[str, str]]]]:
    """Rows of a delimited file as (line number, {column: value}).

    The first row must equal one of `headers`; or, with `names`, the file has no header.
    An empty file gives no rows (the reader then says it is empty).
    """
    rows = delimited_rows(path, delimiter, quoted, open_end)
    if names is None:
        if not rows:
            return (), []
        if tuple(rows[0][1]) not in headers:
            raise DataFormatError(path, rows[0][0], "header",
                                  f"expected {' or '.join(map(repr, headers))}, got {rows[0][1]!r:.200}")
        names, rows = tuple(rows[0][1]), rows[1:]
    return names, named_fields(path, names, rows)


def refuse_unlabelled(path: Path, rows: list[list[str]], width: int, gold: str) -> None:
    """XTREME's test placeholders: every row lacks its last (gold) column or leaves it blank."""
    if rows and all(len(r) == width - 1 or (len(r) == width and not r[-1].strip()) for r in rows):
        raise PlaceholderGoldError(path, f"no {gold} in any of its {len(rows):,} rows")


def jsonl_objects(path: Path) -> list[tuple[int, dict]]:
    out = []
    for i, ln in enumerate(text_lines(path), 1):
        if not ln.strip():
            continue
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as e:
            raise DataFormatError(path, i, None, f"bad JSON: {e.msg} (column {e.colno})") from None
        except (ValueError, RecursionError) as e:  # e.g. an integer of more than 4,300 digits
            raise DataFormatError(path, i, None, f"bad JSON: {e}") from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, i, None, "expected a JSON object")
        out.append((i, obj))
    return out


def load_json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, None, f"bad JSON: {e.msg} (column {e.colno})") from None
    except (ValueError, RecursionError) as e:
        raise DataFormatError(path, None, None, f"bad JSON: {e}") from None


KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def get_field(obj: Any, key: str, path: Path, line: int | None, where: str = "",
              kind: type | tuple[type, ...] = object) -> Any:
    """obj[key], which must exist and be of `kind`; the error names the field's full path."""
    if not isinstance(obj, dict) or key not in obj:
        raise DataFormatError(path, line, where + key, "missing")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not object):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise DataFormatError(path, line, where + key, f"expected {' or '.join(KIND_NAMES[k] for k in kinds)}, "
                                                       f"got {type(value).__name__}")
    return value


def field_getter(obj: Any, path: Path, line: int | None):
    """g(key, kind=str): `get_field` for one JSON record of PATH, by key (a reader's shorthand)."""
    def g(key: str, kind: type | tuple[type, ...] = str) -> Any:
        return get_field(obj, key, path, line, kind=kind)
    return g


def check_label(value: str, labels: tuple[str, ...], path: Path, line: int | None, field: str) -> str:
    if labels and value not in labels:
        raise DataFormatError(path, line, field, f"unknown label {value!r:.50} (expected one of {', '.join(labels)})")
    return value


def choice_index(value: Any, n: int, path: Path, line: int | None, field: str, base: int = 0) -> int:
    """A 0-based choice index from `value`, written `base`-based in the file."""
    try:
        k = int(value) - base
    except (TypeError, ValueError, OverflowError):
        k = -1
    if not 0 <= k < n:
        raise DataFormatError(path, line, field, f"expected a choice index {base}..{n - 1 + base}, got {value!r:.50}")
    return k


def line_blocks(path: Path) -> list[tuple[int, list[tuple[int, str]]]]:
    """Blank-line separated blocks (CoNLL sentences) as (first line number, [(line number, line)])."""
    out: list[tuple[int, list[tuple[int, str]]]] = []
    cur: list[tuple[int, str]] = []
    start = 0
    for i, ln in enumerate(text_lines(path), 1):
        if ln.strip():
            if not cur:
                start = i
            cur.append((i, ln))
        elif cur:
            out.append((start, cur))
            cur = []
    if cur:
        out.append((start, cur))
    return out


# ---- fast counters --------------------------------------------------------------------


def count_lines(header: int = 0) -> Callable[[Paths], int]:
    """Non-blank lines of the first file, less `header` lines."""

    def count(paths: Paths) -> int:
        with paths[0].open("rb") as f:
            return sum(1 for ln in f if ln.strip()) - header

    return count


def count_physical_lines(paths: Paths) -> int:
    """All lines of the first file, blank ones included (a blank line is a sentence pair too)."""
    with paths[0].open("rb") as f:
        return sum(1 for _ in f)


def count_csv(delimiter: str) -> Callable[[Paths], int]:
    """Records of a quoted CSV/TSV (fields may span lines), less the header."""

    def count(paths: Paths) -> int:
        with paths[0].open(encoding="utf-8", newline="") as f:
            return sum(1 for row in csv.reader(f, delimiter=delimiter) if row) - 1

    return count


def count_blocks(paths: Paths) -> int:
    """Blank-line separated blocks over all the files (several UD treebanks of one language)."""
    n = 0
    for path in paths:
        inside = False
        with path.open("rb") as f:
            for ln in f:
                blank = not ln.strip()
                n += (not blank) and not inside
                inside = not blank
    return n


def count_squad(paths: Paths) -> int:
    data = json.loads(paths[0].read_text(encoding="utf-8"))["data"]
    return sum(len(p["qas"]) for a in data for p in a["paragraphs"])
