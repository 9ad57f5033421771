"""Readers of the official file formats, registered by format name.

A reader takes the file(s) of one split and language and returns a complete list of
typed examples: it parses everything first, so a malformed line fails before any example
is used, and the error names file, line and field. Each format also has a fast counter
(lines or blocks, no parsing) that `xstilts data list` uses.
"""

from __future__ import annotations

import csv
import difflib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
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
    read: Callable[[Paths, tuple[str, ...], str], list]
    count: Callable[[Paths], int]
    example_type: type


FORMATS: dict[str, Format] = {}


def register(name: str, example_type: type, count: Callable[[Paths], int]):
    """Register a reader under `name`; a second registration of a name is a bug."""

    def wrap(fn):
        if name in FORMATS:
            raise ValueError(f"format '{name}' is registered twice")
        FORMATS[name] = Format(name, fn, count, example_type)
        return fn

    return wrap


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise KeyError(f"unknown format '{name}'{did_you_mean(name, FORMATS)}")
    return FORMATS[name]


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; known: {', '.join(sorted(known))}"


# ---- shared helpers -------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    """Physical lines without their end (LF or CRLF); only '\\n' splits, unlike splitlines()."""
    text = path.read_text(encoding="utf-8-sig")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _table(path: Path, *headers: tuple[str, ...], delimiter: str = "\t", quoted: bool = False,
           names: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], list[tuple[int, dict[str, str]]]]:
    """Rows of a delimited file as (line number, {column: value}).

    The first row must equal one of `headers`; or, with `names`, the file has no header.
    `quoted` selects CSV quoting (a field may span lines); off, every line is one row.
    """
    if quoted:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader, rows, start = csv.reader(f, delimiter=delimiter), [], 1
            for row in reader:
                rows.append((start, row))
                start = reader.line_num + 1
    else:
        rows = [(i, ln.split(delimiter)) for i, ln in enumerate(_lines(path), 1)]
    rows = [(i, r) for i, r in rows if r and r != [""]]
    if names is None:
        if not rows or tuple(rows[0][1]) not in headers:
            got = rows[0][1] if rows else "an empty file"
            raise DataFormatError(path, 1, "header", f"expected {' or '.join(map(repr, headers))}, got {got!r}")
        names, rows = tuple(rows[0][1]), rows[1:]
    out = []
    for i, row in rows:
        if len(row) != len(names):
            field = names[len(row)] if len(row) < len(names) else None
            raise DataFormatError(path, i, field, f"expected {len(names)} fields, got {len(row)}")
        out.append((i, dict(zip(names, row))))
    return names, out


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    out = []
    for i, ln in enumerate(_lines(path), 1):
        if not ln.strip():
            continue
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as e:
            raise DataFormatError(path, i, None, f"bad JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, i, None, "expected a JSON object")
        out.append((i, obj))
    return out


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, None, f"bad JSON: {e.msg} (column {e.colno})") from None


def _get(obj: dict, key: str, path: Path, line: int | None, where: str = "") -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataFormatError(path, line, where + key, "missing")
    return obj[key]


def _label(value: str, labels: tuple[str, ...], path: Path, line: int | None, field: str) -> str:
    if labels and value not in labels:
        raise DataFormatError(path, line, field, f"unknown label {value!r} (expected one of {', '.join(labels)})")
    return value


def _index(value: Any, n: int, path: Path, line: int | None, field: str) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        k = -1
    if not 0 <= k < n:
        raise DataFormatError(path, line, field, f"expected a choice index 0..{n - 1}, got {value!r}")
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
    n, inside = 0, False
    with paths[0].open("rb") as f:
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
    _, rows = _table(paths[0], names=("premise", "hypothesis", "label"))
    return _nli(paths, labels, rows, "premise", "hypothesis", "label")


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
        gold = _get(o, "gold_label", paths[0], i)
        if gold != "-":
            out.append(TextExample(str(_get(o, "pairID", paths[0], i)), _get(o, "sentence1", paths[0], i),
                                   _get(o, "sentence2", paths[0], i), _label(gold, labels, paths[0], i, "gold_label")))
    return out


@register("anli-jsonl", TextExample, count_lines())
def read_anli(paths: Paths, labels, lang) -> list[TextExample]:
    out = []
    for i, o in _jsonl(paths[0]):
        raw = _get(o, "label", paths[0], i)
        if raw not in ANLI_LABELS:
            raise DataFormatError(paths[0], i, "label", f"unknown label {raw!r} (expected e, n or c)")
        out.append(TextExample(_get(o, "uid", paths[0], i), _get(o, "context", paths[0], i),
                               _get(o, "hypothesis", paths[0], i), ANLI_LABELS[raw]))
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
        g = lambda k: _get(o, k, paths[0], i)  # noqa: E731
        question = _label(g("question"), ("cause", "effect"), paths[0], i, "question")
        out.append(ChoiceExample(str(g("idx")), g("premise"), question, (g("choice1"), g("choice2")),
                                 _index(g("label"), 2, paths[0], i, "label")))
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
        if gold:
            label = _index(int(gold[n][1]) - 1 if gold[n][1].isdigit() else gold[n][1], 3, paths[1], gold[n][0], "label")
        else:
            label = _index("ABC".find(str(_get(o, "correct", paths[0], i))), 3, paths[0], i, "correct")
        choices = tuple(_get(o, f"answer{c}", paths[0], i) for c in "ABC")
        out.append(ChoiceExample(str(n), _get(o, "context", paths[0], i), _get(o, "question", paths[0], i),
                                 choices, label))
    return out


@register("csqa-jsonl", ChoiceExample, count_lines())
def read_csqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """CommonsenseQA; the test file has no answerKey (label None)."""
    out = []
    for i, o in _jsonl(paths[0]):
        q = _get(o, "question", paths[0], i)
        choices = _get(q, "choices", paths[0], i, "question.")
        keys = [_get(c, "label", paths[0], i, "question.choices[].") for c in choices]
        texts = tuple(_get(c, "text", paths[0], i, "question.choices[].") for c in choices)
        key = o.get("answerKey")
        label = None if key is None else _index(keys.index(key) if key in keys else key, len(keys), paths[0], i, "answerKey")
        out.append(ChoiceExample(_get(o, "id", paths[0], i), "", _get(q, "stem", paths[0], i, "question."), texts, label))
    return out


@register("cosmosqa-csv", ChoiceExample, count_csv(","))
def read_cosmosqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    cols = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    _, rows = _table(paths[0], cols, delimiter=",", quoted=True)
    return [ChoiceExample(r["id"], r["context"], r["question"], tuple(r[f"answer{k}"] for k in range(4)),
                          _index(r["label"], 4, paths[0], i, "label")) for i, r in rows]


@register("hellaswag-jsonl", ChoiceExample, count_lines())
def read_hellaswag(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """HellaSwag; the test file has no label."""
    out = []
    for i, o in _jsonl(paths[0]):
        endings = tuple(_get(o, "endings", paths[0], i))
        label = _index(o["label"], len(endings), paths[0], i, "label") if "label" in o else None
        out.append(ChoiceExample(str(_get(o, "ind", paths[0], i)), _get(o, "ctx", paths[0], i), "", endings, label))
    return out


# ---- extractive QA and QA retrieval ---------------------------------------------------


def _squad_paragraphs(path: Path) -> Iterator[tuple[str, str, dict]]:
    """(title, where, paragraph) for every paragraph; `where` locates it for error messages."""
    doc = _json(path)
    for a, art in enumerate(_get(doc, "data", path, None)):
        for p, par in enumerate(_get(art, "paragraphs", path, None, f"data[{a}].")):
            yield art.get("title", ""), f"data[{a}].paragraphs[{p}].", par


@register("squad-json", QAExample, count_squad)
def read_squad(paths: Paths, labels, lang) -> list[QAExample]:
    """SQuAD 1.1/2.0 JSON (XQuAD, MLQA, TyDiQA-GoldP); SQuAD 2.0 adds is_impossible."""
    out, path = [], paths[0]
    for title, where, par in _squad_paragraphs(path):
        context = _get(par, "context", path, None, where)
        for q, qa in enumerate(_get(par, "qas", path, None, where)):
            at = f"{where}qas[{q}]."
            answers = []
            for k, ans in enumerate(_get(qa, "answers", path, None, at)):
                text, start = _get(ans, "text", path, None, f"{at}answers[{k}]."), _get(ans, "answer_start", path, None, f"{at}answers[{k}].")
                if not isinstance(start, int) or not 0 <= start <= len(context):
                    raise DataFormatError(path, None, f"{at}answers[{k}].answer_start", f"offset {start!r} outside the context")
                answers.append((text, start))
            impossible = bool(qa.get("is_impossible", False))
            if not answers and not impossible:
                raise DataFormatError(path, None, f"{at}answers", "no answer and not marked is_impossible")
            out.append(QAExample(str(_get(qa, "id", path, None, at)), _get(qa, "question", path, None, at),
                                 context, tuple(answers), impossible, title))
    return out


def read_lareqa(path: Path, lang: str) -> tuple[list[RetrievalQAExample], list[Candidate]]:
    """XQuAD-R: every sentence of every paragraph is a candidate ("<lang>:<paragraph>:<sentence>");
    a question's answer is the sentence holding its first answer's start offset."""
    questions, candidates = [], []
    for n, (_, where, par) in enumerate(_squad_paragraphs(path)):
        breaks, sentences = _get(par, "sentence_breaks", path, None, where), _get(par, "sentences", path, None, where)
        context = _get(par, "context", path, None, where)
        if len(breaks) != len(sentences) or not sentences:
            raise DataFormatError(path, None, f"{where}sentences", f"{len(sentences)} sentences for {len(breaks)} breaks")
        ids = [f"{lang}:{n}:{s}" for s in range(len(sentences))]
        candidates += [Candidate(i, s, context) for i, s in zip(ids, sentences)]
        for q, qa in enumerate(_get(par, "qas", path, None, where)):
            answers = _get(qa, "answers", path, None, f"{where}qas[{q}].")
            if not answers:
                raise DataFormatError(path, None, f"{where}qas[{q}].answers", "no answer")
            start = answers[0]["answer_start"]
            s = max([k for k, (b, _) in enumerate(breaks) if b <= start] or [0])
            questions.append(RetrievalQAExample(str(qa["id"]), _get(qa, "question", path, None, f"{where}qas[{q}]."), (ids[s],)))
    return questions, candidates


@register("lareqa-json", RetrievalQAExample, count_squad)
def read_lareqa_questions(paths: Paths, labels, lang) -> list[RetrievalQAExample]:
    """Questions only; `read_lareqa` gives the candidate sentences too."""
    return read_lareqa(paths[0], lang)[0]


# ---- token tagging --------------------------------------------------------------------


@register("conllu", TaggingExample, count_blocks)
def read_conllu(paths: Paths, labels, lang) -> list[TaggingExample]:
    """CoNLL-U words with UPOS; multiword-token ranges (n-m) and empty nodes (n.k) are skipped."""
    out, path = [], paths[0]
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
                raise DataFormatError(path, i, "ID", f"bad word id {cols[0]!r}")
            tokens.append(cols[1])
            tags.append(_label(cols[3], labels, path, i, "UPOS"))
        out.append(TaggingExample(uid, tuple(tokens), tuple(tags)))
    return out


def _conll(paths: Paths, labels, sep: str) -> list[TaggingExample]:
    out, path = [], paths[0]
    for start, block in _blocks(path):
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
    with paths[0].open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    _, rows = _table(paths[0], tuple(header), delimiter=",", quoted=True)
    for col in (lang, "english"):
        if col not in header:
            raise DataFormatError(paths[0], 1, col, "column missing from the header")
    return [BitextExample(r[""], r[lang], r["english"]) for _, r in rows]


@register("bucc-tsv", BitextExample, count_lines())
def read_bucc(paths: Paths, labels, lang) -> list[BitextExample]:
    """BUCC 2018: `id<TAB>sentence` files for both sides plus a gold file of id pairs; one
    example per gold pair, uid 'src_id<TAB>tgt_id'."""
    sides = []
    for p in paths[:2]:
        _, rows = _table(p, names=("id", "sentence"))
        sides.append({r["id"]: r["sentence"] for _, r in rows})
    _, gold = _table(paths[2], names=("source", "target"))
    for i, r in gold:
        for side, key in zip(sides, ("source", "target")):
            if r[key] not in side:
                raise DataFormatError(paths[2], i, key, f"id {r[key]!r} not in its sentence file")
    return [BitextExample(f"{r['source']}\t{r['target']}", sides[0][r["source"]], sides[1][r["target"]]) for _, r in gold]
