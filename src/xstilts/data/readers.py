"""Readers of the official file formats, registered by format name.

A reader takes the file(s) of one split and language and returns a complete list of
typed examples: it parses everything first, so a malformed line fails before any example
is used, and the error names file, line and field. A file is read whole or not at all: text
must be UTF-8, a file that ends mid-line was cut, and one that gives no examples is refused.
Each format also has a fast counter (lines or blocks, no parsing) that `xstilts data list` uses.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import functools
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import BadValue, DataFormatError, PlaceholderGoldError, UnknownName
from xstilts.data.examples import (
    BitextExample,
    Candidate,
    ChoiceExample,
    QAExample,
    RetrievalQAExample,
    TaggingExample,
    TextExample,
)

csv.field_size_limit(sys.maxsize)  # MasakhaNEWS rows hold whole articles

Paths = tuple[Path, ...]
NLI_IDS = ("entailment", "neutral", "contradiction")  # Hugging Face / MNLI label ids 0, 1, 2
ANLI_LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}


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
            return _nonempty(fn(paths, labels, lang, **opts), paths[0] if paths else Path(opts["hf"].name), lang)

        FORMATS[name] = Format(name, read, count, example_type, options)
        return read

    return wrap


def _nonempty(examples: list, path: Path, lang: str) -> list:
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


def _lines(path: Path) -> list[str]:
    """Physical lines without their end (LF or CRLF); only '\\n' splits, unlike splitlines().
    Every official file ends with a line end, so one that does not was cut mid-line."""
    lines = _text(path).split("\n")
    if lines[-1]:
        raise _cut(path, len(lines))
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines[:-1]]


def _records(path: Path, delimiter: str, quoted: bool, open_end: bool = False) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a delimited file as (line number, fields).

    `quoted` selects strict CSV quoting (a field may span lines; a file cut inside quotes is
    an error); off, every line is one row. `open_end`: the official file has no final line end.
    """
    if not quoted:
        rows = [(i, ln.split(delimiter)) for i, ln in enumerate(_lines(path), 1)]
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


def _fields(path: Path, names: tuple[str, ...], rows: list[tuple[int, list[str]]]) -> list[tuple[int, dict[str, str]]]:
    """Each row as {column: value}; a row with too few or too many fields names the first missing one."""
    out = []
    for i, row in rows:
        if len(row) != len(names):
            field = names[len(row)] if len(row) < len(names) else None
            raise DataFormatError(path, i, field, f"expected {len(names)} fields, got {len(row)}")
        out.append((i, dict(zip(names, row))))
    return out


def _table(path: Path, *headers: tuple[str, ...], delimiter: str = "\t", quoted: bool = False,
           names: tuple[str, ...] | None = None, open_end: bool = False
           ) -> tuple[tuple[str, ...], list[tuple[int, dict[str, str]]]]:
    """Rows of a delimited file as (line number, {column: value}).

    The first row must equal one of `headers`; or, with `names`, the file has no header.
    An empty file gives no rows (the reader then says it is empty).
    """
    rows = _records(path, delimiter, quoted, open_end)
    if names is None:
        if not rows:
            return (), []
        if tuple(rows[0][1]) not in headers:
            raise DataFormatError(path, rows[0][0], "header",
                                  f"expected {' or '.join(map(repr, headers))}, got {rows[0][1]!r:.200}")
        names, rows = tuple(rows[0][1]), rows[1:]
    return names, _fields(path, names, rows)


def _refuse_unlabelled(path: Path, rows: list[list[str]], width: int, gold: str) -> None:
    """XTREME's test placeholders: every row lacks its last (gold) column or leaves it blank."""
    if rows and all(len(r) == width - 1 or (len(r) == width and not r[-1].strip()) for r in rows):
        raise PlaceholderGoldError(path, f"no {gold} in any of its {len(rows):,} rows")


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    out = []
    for i, ln in enumerate(_lines(path), 1):
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


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, None, f"bad JSON: {e.msg} (column {e.colno})") from None
    except (ValueError, RecursionError) as e:
        raise DataFormatError(path, None, None, f"bad JSON: {e}") from None


KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _get(obj: Any, key: str, path: Path, line: int | None, where: str = "", kind: type | tuple[type, ...] = object) -> Any:
    """obj[key], which must exist and be of `kind`; the error names the field's full path."""
    if not isinstance(obj, dict) or key not in obj:
        raise DataFormatError(path, line, where + key, "missing")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not object):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise DataFormatError(path, line, where + key, f"expected {' or '.join(KIND_NAMES[k] for k in kinds)}, "
                                                       f"got {type(value).__name__}")
    return value


def _getter(obj: Any, path: Path, line: int | None):
    """g(key, kind=str): `_get` for one JSON record of PATH, by key (a reader's shorthand)."""
    def g(key: str, kind: type | tuple[type, ...] = str) -> Any:
        return _get(obj, key, path, line, kind=kind)
    return g


def _label(value: str, labels: tuple[str, ...], path: Path, line: int | None, field: str) -> str:
    if labels and value not in labels:
        raise DataFormatError(path, line, field, f"unknown label {value!r:.50} (expected one of {', '.join(labels)})")
    return value


def _index(value: Any, n: int, path: Path, line: int | None, field: str, base: int = 0) -> int:
    """A 0-based choice index from `value`, written `base`-based in the file."""
    try:
        k = int(value) - base
    except (TypeError, ValueError, OverflowError):
        k = -1
    if not 0 <= k < n:
        raise DataFormatError(path, line, field, f"expected a choice index {base}..{n - 1 + base}, got {value!r:.50}")
    return k


def _blocks(path: Path) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks (CoNLL sentences) as (first line number, lines)."""
    out, cur, start = [], [], 0
    for i, ln in enumerate(_lines(path), 1):
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


# ---- sentence(-pair) classification ----------------------------------------------------


def _nli(paths: Paths, labels, rows, a: str, b: str, lab: str, uid: str | None = None) -> list[TextExample]:
    return [TextExample(r[uid] if uid else str(n), r[a], r[b], _label(r[lab], labels, paths[0], i, lab))
            for n, (i, r) in enumerate(rows)]


@register("xnli-tsv", TextExample, count_lines())
def read_xnli(paths: Paths, labels, lang) -> list[TextExample]:
    """XTREME's test files hold premise and hypothesis only: refused as placeholders."""
    rows = _records(paths[0], "\t", quoted=False)
    _refuse_unlabelled(paths[0], [r for _, r in rows], 3, "label")
    return _nli(paths, labels, _fields(paths[0], ("premise", "hypothesis", "label"), rows), "premise", "hypothesis", "label")


@register("americasnli-tsv", TextExample, count_lines(1))
def read_americasnli(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = _table(paths[0], ("id", "language", "premise", "hypothesis", "label"))
    return _nli(paths, labels, rows, "premise", "hypothesis", "label", uid="id")


@register("pawsx-tsv", TextExample, count_lines(1))
def read_pawsx(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = _table(paths[0], ("id", "sentence1", "sentence2", "label"))
    return _nli(paths, labels, rows, "sentence1", "sentence2", "label", uid="id")


@register("qqp-tsv", TextExample, count_lines(1))
def read_qqp(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = _table(paths[0], ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"))
    return _nli(paths, labels, rows, "question1", "question2", "is_duplicate", uid="id")


@register("sst2-tsv", TextExample, count_lines(1))
def read_sst2(paths: Paths, labels, lang) -> list[TextExample]:
    """GLUE SST-2: train/dev carry `label`, the test file an `index` and no label."""
    names, rows = _table(paths[0], ("sentence", "label"), ("index", "sentence"))
    if "label" not in names:
        return [TextExample(r["index"], r["sentence"], None, None) for _, r in rows]
    return [TextExample(str(n), r["sentence"], None, _label(r["label"], labels, paths[0], i, "label"))
            for n, (i, r) in enumerate(rows)]


@register("mnli-std-csv", TextExample, count_csv(","))
def read_mnli_std(paths: Paths, labels, lang) -> list[TextExample]:
    """The derived one-column MNLI dev: `PREMISE: p HYPOTHESIS: h`, label ids 0/1/2."""
    _, rows = _table(paths[0], ("", "sentence1", "label"), delimiter=",", quoted=True)
    out = []
    for i, r in rows:
        text = r["sentence1"]
        if not text.startswith("PREMISE: ") or text.count(" HYPOTHESIS: ") != 1:
            raise DataFormatError(paths[0], i, "sentence1", "expected 'PREMISE: ... HYPOTHESIS: ...'")
        premise, hypothesis = text[len("PREMISE: "):].split(" HYPOTHESIS: ")
        label = NLI_IDS[_index(r["label"], 3, paths[0], i, "label")]
        out.append(TextExample(r[""], premise, hypothesis, _label(label, labels, paths[0], i, "label")))
    return out


@register("mnli-jsonl", TextExample, count_lines())
def read_mnli_jsonl(paths: Paths, labels, lang) -> list[TextExample]:
    """Official MultiNLI 1.0 JSON lines; pairs without a gold label ('-') are dropped as in GLUE."""
    out = []
    for i, o in _jsonl(paths[0]):
        g = _getter(o, paths[0], i)
        gold = g("gold_label")
        if gold != "-":
            out.append(TextExample(str(g("pairID", (str, int))), g("sentence1"), g("sentence2"),
                                   _label(gold, labels, paths[0], i, "gold_label")))
    return out


@register("anli-jsonl", TextExample, count_lines())
def read_anli(paths: Paths, labels, lang) -> list[TextExample]:
    out = []
    for i, o in _jsonl(paths[0]):
        g = _getter(o, paths[0], i)
        raw = g("label")
        if raw not in ANLI_LABELS:
            raise DataFormatError(paths[0], i, "label", f"unknown label {raw!r:.50} (expected e, n or c)")
        out.append(TextExample(g("uid"), g("context"), g("hypothesis"), ANLI_LABELS[raw]))
    return out


def _single(paths: Paths, labels, rows, text: str, lab: str, uid: str | None = None,
            text_b: str | None = None) -> list[TextExample]:
    return [TextExample(r[uid] if uid else str(n), r[text], r[text_b] if text_b else None,
                        _label(r[lab], labels, paths[0], i, lab)) for n, (i, r) in enumerate(rows)]


@register("nusax-csv", TextExample, count_csv(","))
def read_nusax(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = _table(paths[0], ("id", "text", "label"), delimiter=",", quoted=True)
    return _single(paths, labels, rows, "text", "label", uid="id")


@register("afrisenti-tsv", TextExample, count_lines(1))
def read_afrisenti(paths: Paths, labels, lang) -> list[TextExample]:
    """Quoting off: tweets hold stray '"' characters that are text, not CSV quotes."""
    _, rows = _table(paths[0], ("tweet", "label"))
    return _single(paths, labels, rows, "tweet", "label")


@register("masakhanews-tsv", TextExample, count_csv("\t"))
def read_masakhanews(paths: Paths, labels, lang) -> list[TextExample]:
    """text_a is the headline, text_b the article body."""
    _, rows = _table(paths[0], ("category", "headline", "text", "url"), quoted=True)
    return _single(paths, labels, rows, "headline", "category", text_b="text")


@register("sib200-tsv", TextExample, count_csv("\t"))
def read_sib200(paths: Paths, labels, lang) -> list[TextExample]:
    """uid is SIB-200's index_id, the same sentence in every language."""
    _, rows = _table(paths[0], ("index_id", "category", "text"), quoted=True)
    return _single(paths, labels, rows, "text", "category", uid="index_id")


# ---- multiple choice ------------------------------------------------------------------


@register("copa-jsonl", ChoiceExample, count_lines())
def read_copa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """COPA / XCOPA; `question` is 'cause' or 'effect'."""
    out = []
    for i, o in _jsonl(paths[0]):
        g = _getter(o, paths[0], i)
        question = _label(g("question"), ("cause", "effect"), paths[0], i, "question")
        out.append(ChoiceExample(str(g("idx", (str, int))), g("premise"), question, (g("choice1"), g("choice2")),
                                 _index(g("label", object), 2, paths[0], i, "label")))
    return out


@register("siqa-jsonl", ChoiceExample, count_lines())
def read_siqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """Labels come from the `correct` key (A/B/C) or, as in the official release, a second
    file of 1-based labels, one per line."""
    rows = _jsonl(paths[0])
    gold = None
    if len(paths) > 1:
        gold = [(i, ln.strip()) for i, ln in enumerate(_lines(paths[1]), 1) if ln.strip()]
        if len(gold) != len(rows):
            raise DataFormatError(paths[1], None, "label", f"{len(gold)} labels for {len(rows)} questions")
    out = []
    for n, (i, o) in enumerate(rows):
        g = _getter(o, paths[0], i)
        if gold:
            line, value = gold[n]
            label = _index(value, 3, paths[1], line, "label", base=1)
        else:
            correct = g("correct")
            label = _index("ABC".index(correct) if correct in ("A", "B", "C") else correct, 3, paths[0], i, "correct")
        out.append(ChoiceExample(str(n), g("context"), g("question"), tuple(g(f"answer{c}") for c in "ABC"), label))
    return out


@register("csqa-jsonl", ChoiceExample, count_lines())
def read_csqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """CommonsenseQA; the test file has no answerKey (label None)."""
    out = []
    for i, o in _jsonl(paths[0]):
        q = _get(o, "question", paths[0], i, kind=dict)
        choices = _get(q, "choices", paths[0], i, "question.", kind=list)
        if not choices:
            raise DataFormatError(paths[0], i, "question.choices", "no choices")
        keys = [_get(c, "label", paths[0], i, "question.choices[].", kind=str) for c in choices]
        texts = tuple(_get(c, "text", paths[0], i, "question.choices[].", kind=str) for c in choices)
        key = o.get("answerKey")
        label = None if key is None else _index(keys.index(key) if key in keys else key, len(keys), paths[0], i, "answerKey")
        out.append(ChoiceExample(_get(o, "id", paths[0], i, kind=str), "", _get(q, "stem", paths[0], i, "question.", kind=str),
                                 texts, label))
    return out


@register("cosmosqa-csv", ChoiceExample, count_csv(","))
def read_cosmosqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    cols = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    _, rows = _table(paths[0], cols, delimiter=",", quoted=True, open_end=True)  # label last: a cut row fails
    return [ChoiceExample(r["id"], r["context"], r["question"], tuple(r[f"answer{k}"] for k in range(4)),
                          _index(r["label"], 4, paths[0], i, "label")) for i, r in rows]


@register("hellaswag-jsonl", ChoiceExample, count_lines())
def read_hellaswag(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """HellaSwag; the test file has no label."""
    out = []
    for i, o in _jsonl(paths[0]):
        endings = tuple(_get(o, "endings", paths[0], i, kind=list))
        if not endings or not all(isinstance(e, str) for e in endings):
            raise DataFormatError(paths[0], i, "endings", "expected a non-empty list of strings")
        label = _index(o["label"], len(endings), paths[0], i, "label") if "label" in o else None
        out.append(ChoiceExample(str(_get(o, "ind", paths[0], i, kind=(str, int))), _get(o, "ctx", paths[0], i, kind=str),
                                 "", endings, label))
    return out


# ---- extractive QA and QA retrieval ---------------------------------------------------


def _squad_paragraphs(path: Path) -> Iterator[tuple[str, str, dict]]:
    """(title, where, paragraph) for every paragraph; `where` locates it for error messages."""
    doc = _json(path)
    for a, art in enumerate(_get(doc, "data", path, None, kind=list)):
        paragraphs = _get(art, "paragraphs", path, None, f"data[{a}].", kind=list)
        title = art.get("title", "")
        if not isinstance(title, str):
            raise DataFormatError(path, None, f"data[{a}].title", f"expected a string, got {type(title).__name__}")
        for p, par in enumerate(paragraphs):
            yield title, f"data[{a}].paragraphs[{p}].", par


@register("squad-json", QAExample, count_squad)
def read_squad(paths: Paths, labels, lang) -> list[QAExample]:
    """SQuAD 1.1/2.0 JSON (XQuAD, MLQA, TyDiQA-GoldP); SQuAD 2.0 adds is_impossible."""
    out, path = [], paths[0]
    for title, where, par in _squad_paragraphs(path):
        context = _get(par, "context", path, None, where, kind=str)
        for q, qa in enumerate(_get(par, "qas", path, None, where, kind=list)):
            at = f"{where}qas[{q}]."
            answers = []
            for k, ans in enumerate(_get(qa, "answers", path, None, at, kind=list)):
                text = _get(ans, "text", path, None, f"{at}answers[{k}].", kind=str)
                start = _get(ans, "answer_start", path, None, f"{at}answers[{k}].", kind=int)
                if not 0 <= start <= len(context):
                    raise DataFormatError(path, None, f"{at}answers[{k}].answer_start", f"offset {start!r} outside the context")
                answers.append((text, start))
            impossible = bool(qa.get("is_impossible", False))
            if not answers and not impossible:
                raise DataFormatError(path, None, f"{at}answers", "no answer and not marked is_impossible")
            out.append(QAExample(str(_get(qa, "id", path, None, at, kind=(str, int))),
                                 _get(qa, "question", path, None, at, kind=str), context, tuple(answers), impossible, title))
    return out


def _sentence_breaks(breaks: list, path: Path, where: str) -> list[tuple[int, int]]:
    if not all(isinstance(b, list) and len(b) == 2 and all(type(v) is int for v in b) for b in breaks):
        raise DataFormatError(path, None, f"{where}sentence_breaks", "expected [start, end] integer pairs")
    return [tuple(b) for b in breaks]


def read_lareqa(path: Path, lang: str) -> tuple[list[RetrievalQAExample], list[Candidate]]:
    """XQuAD-R: every sentence of every paragraph is a candidate ("<lang>:<paragraph>:<sentence>");
    a question's answer is the sentence holding its first answer's start offset."""
    questions, candidates = [], []
    for n, (_, where, par) in enumerate(_squad_paragraphs(path)):
        breaks = _sentence_breaks(_get(par, "sentence_breaks", path, None, where, kind=list), path, where)
        sentences = _get(par, "sentences", path, None, where, kind=list)
        context = _get(par, "context", path, None, where, kind=str)
        if len(breaks) != len(sentences) or not sentences or not all(isinstance(x, str) for x in sentences):
            raise DataFormatError(path, None, f"{where}sentences", f"expected {len(breaks)} strings, one per sentence break")
        ids = [f"{lang}:{n}:{s}" for s in range(len(sentences))]
        candidates += [Candidate(i, s, context) for i, s in zip(ids, sentences)]
        for q, qa in enumerate(_get(par, "qas", path, None, where, kind=list)):
            at = f"{where}qas[{q}]."
            answers = _get(qa, "answers", path, None, at, kind=list)
            if not answers:
                raise DataFormatError(path, None, f"{at}answers", "no answer")
            start = _get(answers[0], "answer_start", path, None, f"{at}answers[0].", kind=int)
            s = max([k for k, (b, _) in enumerate(breaks) if b <= start] or [0])
            questions.append(RetrievalQAExample(str(_get(qa, "id", path, None, at, kind=(str, int))),
                                                _get(qa, "question", path, None, at, kind=str), (ids[s],)))
    return _nonempty(questions, path, lang), candidates


@register("lareqa-json", RetrievalQAExample, count_squad)
def read_lareqa_questions(paths: Paths, labels, lang) -> list[RetrievalQAExample]:
    """Questions only; `read_lareqa` gives the candidate sentences too."""
    return read_lareqa(paths[0], lang)[0]


# ---- token tagging --------------------------------------------------------------------


@register("conllu", TaggingExample, count_blocks)
def read_conllu(paths: Paths, labels, lang) -> list[TaggingExample]:
    """CoNLL-U words with UPOS; multiword-token ranges (n-m) and empty nodes (n.k) are skipped.
    Several files (a language's treebanks) are read in order as one set, as XTREME's UD-POS
    concatenates them; their sentence ids then carry the file's treebank prefix ("de_gsd:...")."""
    return [ex for path in paths for ex in _conllu_file(path, labels, lang, prefix=len(paths) > 1)]


def _conllu_file(path: Path, labels, lang: str, prefix: bool) -> list[TaggingExample]:
    out, stem = [], path.name.split("-ud-")[0] + ":" if prefix else ""
    for start, block in _blocks(path):
        uid, tokens, tags = f"{path.name}:{start}", [], []
        for i, ln in block:
            if ln.startswith("#"):
                if ln.startswith("# sent_id = "):
                    uid = ln[len("# sent_id = "):].strip()
                continue
            cols = ln.split("\t")
            if len(cols) != 10:
                raise DataFormatError(path, i, "UPOS" if len(cols) < 4 else None, f"expected 10 columns, got {len(cols)}")
            if "-" in cols[0] or "." in cols[0]:
                continue
            if not cols[0].isdigit():
                raise DataFormatError(path, i, "ID", f"bad word id {cols[0]!r:.50}")
            tokens.append(cols[1])
            tags.append(_label(cols[3], labels, path, i, "UPOS"))
        if not tokens:
            raise DataFormatError(path, start, None, "a sentence without words")
        out.append(TaggingExample(stem + uid, tuple(tokens), tuple(tags)))
    return _nonempty(out, path, lang)


def _conll(paths: Paths, labels, sep: str) -> list[TaggingExample]:
    """XTREME's test placeholders (tokens without tags) are refused before any line is checked."""
    out, path, blocks = [], paths[0], _blocks(paths[0])
    _refuse_unlabelled(path, [ln.split(sep) for _, block in blocks for _, ln in block], 2, "tag")
    for start, block in blocks:
        tokens, tags = [], []
        for i, ln in block:
            cols = ln.split(sep)
            if len(cols) != 2:
                raise DataFormatError(path, i, "tag" if len(cols) < 2 else None,
                                      f"expected 'token{sep!r}tag', got {len(cols)} field(s)")
            tokens.append(cols[0])
            tags.append(_label(cols[1], labels, path, i, "tag"))
        out.append(TaggingExample(f"{path.name}:{start}", tuple(tokens), tuple(tags)))
    return out


@register("conll-tab", TaggingExample, count_blocks)
def read_conll_tab(paths: Paths, labels, lang) -> list[TaggingExample]:
    """XTREME's PAN-X/WikiANN files: token<TAB>tag, blank line between sentences."""
    return _conll(paths, labels, "\t")


@register("conll-space", TaggingExample, count_blocks)
def read_conll_space(paths: Paths, labels, lang) -> list[TaggingExample]:
    """MasakhaNER: token<space>tag."""
    return _conll(paths, labels, " ")


# ---- parallel text --------------------------------------------------------------------


@register("parallel-text", BitextExample, count_physical_lines)
def read_parallel(paths: Paths, labels, lang) -> list[BitextExample]:
    """Two line-aligned files (Tatoeba, AmericasNLP): line i of one translates line i of the other."""
    src, tgt = _lines(paths[0]), _lines(paths[1])
    if len(src) != len(tgt):
        raise DataFormatError(paths[1], min(len(src), len(tgt)) + 1, "line count",
                              f"{len(tgt)} lines, but {paths[0].name} has {len(src)}")
    return [BitextExample(str(i), s, t) for i, (s, t) in enumerate(zip(src, tgt))]


@register("nusax-mt-csv", BitextExample, count_csv(","))
def read_nusax_mt(paths: Paths, labels, lang) -> list[BitextExample]:
    """NusaX MT: one row per sentence in 12 languages; source is `lang`, target English."""
    records = _records(paths[0], ",", quoted=True)
    if not records:
        return []
    line, header = records[0]
    for col in ("", lang, "english"):
        if col not in header:
            raise DataFormatError(paths[0], line, col or "id (unnamed first column)", "column missing from the header")
    return [BitextExample(r[""], r[lang], r["english"]) for _, r in _fields(paths[0], tuple(header), records[1:])]


def read_bucc_sides(paths: Paths) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """BUCC 2018: `id<TAB>sentence` files for both sides and a gold file of id pairs, as
    (source id -> sentence, target id -> sentence, gold pairs); every gold id must exist."""
    sides = []
    for p in paths[:2]:
        _, rows = _table(p, names=("id", "sentence"))
        sides.append({r["id"]: r["sentence"] for _, r in rows})
    _, gold = _table(paths[2], names=("source", "target"))
    for i, r in gold:
        for side, key in zip(sides, ("source", "target")):
            if r[key] not in side:
                raise DataFormatError(paths[2], i, key, f"id {r[key]!r:.50} not in its sentence file")
    return sides[0], sides[1], [(r["source"], r["target"]) for _, r in gold]


@register("bucc-tsv", BitextExample, count_lines())
def read_bucc(paths: Paths, labels, lang) -> list[BitextExample]:
    """One example per gold pair, uid 'src_id<TAB>tgt_id' (`read_bucc_sides` gives every sentence)."""
    src, tgt, gold = read_bucc_sides(paths)
    return [BitextExample(f"{a}\t{b}", src[a], tgt[b]) for a, b in gold]

from xstilts.data import mapped  # noqa: E402,F401 - registers the generic csv, tsv and jsonl formats
