"""Generic readers for a user's own files: CSV, TSV and JSON lines with a field mapping, and
Hugging Face dataset rows through the same mapping.

The mapping's keys are the typed example's fields, its values the file's columns:
`{text: sentence, label: polarity}`. Which example a row becomes follows from the keys:
`tokens`+`tags` tagging, `answers` extractive QA, `choices` multiple choice, `source`+`target`
bitext, else text (classification, sentence pairs, and id-aligned bitext sides).
Several files of one split and language are read in order, as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from xstilts.data.examples import BitextExample, ChoiceExample, QAExample, TaggingExample, TextExample
from xstilts.data.formats import (Paths, check_label, choice_index, count_csv, count_lines, delimited_rows, get_field,
                                  jsonl_objects, named_fields, register)
from xstilts.errors import DataFormatError

Fields = Mapping[str, Any]  # example field -> column (a list of columns for `choices`)
Row = tuple[Path, int | None, Mapping[str, Any]]  # where it was read, and its values by column
KINDS = {  # example kind -> the mapping keys it needs and may have
    "tagging": ({"tokens", "tags"}, {"id"}),
    "qa": ({"question", "context", "answers"}, {"id", "title"}),
    "choice": ({"choices", "label"}, {"id", "context", "question"}),
    "bitext": ({"source", "target"}, {"id"}),
    "text": ({"text"}, {"id", "text_b", "label"}),
}


def kind_of(fields: Fields) -> str:
    """The example kind a field mapping describes (see the module doc)."""
    for kind, key in (("tagging", "tokens"), ("qa", "answers"), ("choice", "choices"), ("bitext", "source")):
        if key in fields:
            return kind
    return "text"


def check_fields(fields: Fields) -> str | None:
    """Why a mapping cannot be read (a missing or unknown key), or None."""
    need, may = KINDS[kind_of(fields)]
    if missing := sorted(need - set(fields)):
        return f"needs {', '.join(missing)} (a {kind_of(fields)} mapping)"
    if extra := sorted(set(fields) - need - may):
        return f"unknown key(s) {', '.join(extra)} for a {kind_of(fields)} mapping; allowed: {', '.join(sorted(need | may))}"
    return None


def _value(row: Row, key: str, column: str, kind: type | tuple[type, ...] = object) -> Any:
    path, line, values = row
    if column not in values:
        raise DataFormatError(path, line, column, f"missing (the mapping's '{key}')")
    value = values[column]
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return get_field({column: value}, column, path, line, kind=kind) if kind is not object else value


def _strings(row: Row, key: str, column: str) -> tuple[str, ...]:
    value = _value(row, key, column, list)
    if not all(isinstance(v, (str, int)) for v in value):
        raise DataFormatError(row[0], row[1], column, "expected a list of strings")
    return tuple(str(v) for v in value)


def example(row: Row, n: int, fields: Fields, labels: tuple[str, ...]) -> Any:
    """One typed example from one row, by the mapping; errors name file:line:column."""
    path, line, _ = row
    get = lambda key, kind=str: _value(row, key, fields[key], kind)  # noqa: E731
    uid = str(get("id", (str, int))) if "id" in fields else str(n)
    kind = kind_of(fields)
    if kind == "tagging":
        tokens, tags = _strings(row, "tokens", fields["tokens"]), _strings(row, "tags", fields["tags"])
        if len(tokens) != len(tags) or not tokens:
            raise DataFormatError(path, line, fields["tags"], f"{len(tags)} tags for {len(tokens)} tokens")
        return TaggingExample(uid, tokens, tuple(check_label(t, labels, path, line, fields["tags"]) for t in tags))
    if kind == "qa":
        answers = get("answers", dict)
        texts, starts = answers.get("text"), answers.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise DataFormatError(path, line, fields["answers"], "expected {text: [...], answer_start: [...]}")
        return QAExample(uid, get("question"), get("context"), tuple(zip(map(str, texts), map(int, starts))),
                         not texts, get("title") if "title" in fields else "")
    if kind == "choice":
        cols = fields["choices"]
        choices = (tuple(_value(row, "choices", c, str) for c in cols) if isinstance(cols, list)
                   else _strings(row, "choices", cols))
        return ChoiceExample(uid, get("context") if "context" in fields else "",
                             get("question") if "question" in fields else "", choices,
                             choice_index(get("label", object), len(choices), path, line, fields["label"]))
    if kind == "bitext":
        return BitextExample(uid, get("source"), get("target"))
    label = check_label(get("label"), labels, path, line, fields["label"]) if "label" in fields else None
    return TextExample(uid, get("text"), get("text_b") if "text_b" in fields else None, label)


def examples(rows: Iterable[Row], fields: Fields, labels: tuple[str, ...]) -> list:
    return [example(row, n, fields, labels) for n, row in enumerate(rows)]


def _table_rows(paths: Paths, delimiter: str) -> list[Row]:
    """Rows of delimited files; any first row is the header (the mapping checks its columns)."""
    out: list[Row] = []
    for p in paths:
        records = delimited_rows(p, delimiter, quoted=True)
        if records:
            out += [(p, i, r) for i, r in named_fields(p, tuple(records[0][1]), records[1:])]
    return out


@register("csv", TextExample, count_csv(","), options=("fields",))
def read_csv(paths: Paths, labels, lang, *, fields: Fields) -> list:
    """Comma-separated values with a header row, CSV quoting."""
    return examples(_table_rows(paths, ","), fields, labels)


@register("tsv", TextExample, count_csv("\t"), options=("fields",))
def read_tsv(paths: Paths, labels, lang, *, fields: Fields) -> list:
    """Tab-separated values with a header row, CSV quoting."""
    return examples(_table_rows(paths, "\t"), fields, labels)


@register("jsonl", TextExample, count_lines(), options=("fields",))
def read_jsonl(paths: Paths, labels, lang, *, fields: Fields) -> list:
    """One JSON object per line; a field may hold a list (tokens, tags, choices) or an object (answers)."""
    return examples([(p, i, o) for p in paths for i, o in jsonl_objects(p)], fields, labels)
