"""Readers of the official formats whose golds point into other text: answer spans and answer
sentences in a passage (SQuAD, XQuAD-R), translations in a second file or column (Tatoeba,
AmericasNLP, NusaX-MT, BUCC); registered by format name in `formats`, as `readers` are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xstilts.data.examples import BitextExample, Candidate, QAExample, RetrievalQAExample
from xstilts.data.formats import (
    Paths,
    count_csv,
    count_lines,
    count_physical_lines,
    count_squad,
    delimited_rows,
    get_field,
    load_json,
    named_fields,
    nonempty,
    read_table,
    register,
    text_lines,
)
from xstilts.errors import DataFormatError


# ---- extractive QA and QA retrieval ---------------------------------------------------


def _squad_paragraphs(path: Path) -> Iterator[tuple[str, str, dict]]:
    """(title, where, paragraph) for every paragraph; `where` locates it for error messages."""
    doc = load_json(path)
    for a, art in enumerate(get_field(doc, "data", path, None, kind=list)):
        paragraphs = get_field(art, "paragraphs", path, None, f"data[{a}].", kind=list)
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
        context = get_field(par, "context", path, None, where, kind=str)
        for q, qa in enumerate(get_field(par, "qas", path, None, where, kind=list)):
            at = f"{where}qas[{q}]."
            answers = []
            for k, ans in enumerate(get_field(qa, "answers", path, None, at, kind=list)):
                text = get_field(ans, "text", path, None, f"{at}answers[{k}].", kind=str)
                start = get_field(ans, "answer_start", path, None, f"{at}answers[{k}].", kind=int)
                if not 0 <= start <= len(context):
                    raise DataFormatError(path, None, f"{at}answers[{k}].answer_start", f"offset {start!r} outside the context")
                answers.append((text, start))
            impossible = bool(qa.get("is_impossible", False))
            if not answers and not impossible:
                raise DataFormatError(path, None, f"{at}answers", "no answer and not marked is_impossible")
            out.append(QAExample(str(get_field(qa, "id", path, None, at, kind=(str, int))),
                                 get_field(qa, "question", path, None, at, kind=str), context, tuple(answers), impossible,
                                 title))
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
        breaks = _sentence_breaks(get_field(par, "sentence_breaks", path, None, where, kind=list), path, where)
        sentences = get_field(par, "sentences", path, None, where, kind=list)
        context = get_field(par, "context", path, None, where, kind=str)
        if len(breaks) != len(sentences) or not sentences or not all(isinstance(x, str) for x in sentences):
            raise DataFormatError(path, None, f"{where}sentences", f"expected {len(breaks)} strings, one per sentence break")
        ids = [f"{lang}:{n}:{s}" for s in range(len(sentences))]
        candidates += [Candidate(i, s, context) for i, s in zip(ids, sentences)]
        for q, qa in enumerate(get_field(par, "qas", path, None, where, kind=list)):
            at = f"{where}qas[{q}]."
            answers = get_field(qa, "answers", path, None, at, kind=list)
            if not answers:
                raise DataFormatError(path, None, f"{at}answers", "no answer")
            start = get_field(answers[0], "answer_start", path, None, f"{at}answers[0].", kind=int)
            s = max([k for k, (b, _) in enumerate(breaks) if b <= start] or [0])
            questions.append(RetrievalQAExample(str(get_field(qa, "id", path, None, at, kind=(str, int))),
                                                get_field(qa, "question", path, None, at, kind=str), (ids[s],)))
    return nonempty(questions, path, lang), candidates


@register("lareqa-json", RetrievalQAExample, count_squad)
def read_lareqa_questions(paths: Paths, labels, lang) -> list[RetrievalQAExample]:
    """Questions only; `read_lareqa` gives the candidate sentences too."""
    return read_lareqa(paths[0], lang)[0]


# ---- parallel text --------------------------------------------------------------------


@register("parallel-text", BitextExample, count_physical_lines)
def read_parallel(paths: Paths, labels, lang) -> list[BitextExample]:
    """Two line-aligned files (Tatoeba, AmericasNLP): line i of one translates line i of the other."""
    src, tgt = text_lines(paths[0]), text_lines(paths[1])
    if len(src) != len(tgt):
        raise DataFormatError(paths[1], min(len(src), len(tgt)) + 1, "line count",
                              f"{len(tgt)} lines, but {paths[0].name} has {len(src)}")
    return [BitextExample(str(i), s, t) for i, (s, t) in enumerate(zip(src, tgt))]


@register("nusax-mt-csv", BitextExample, count_csv(","))
def read_nusax_mt(paths: Paths, labels, lang) -> list[BitextExample]:
    """NusaX MT: one row per sentence in 12 languages; source is `lang`, target English."""
    records = delimited_rows(paths[0], ",", quoted=True)
    if not records:
        return []
    line, header = records[0]
    for col in ("", lang, "english"):
        if col not in header:
            raise DataFormatError(paths[0], line, col or "id (unnamed first column)", "column missing from the header")
    return [BitextExample(r[""], r[lang], r["english"]) for _, r in named_fields(paths[0], tuple(header), records[1:])]


def read_bucc_sides(paths: Paths) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """BUCC 2018: `id<TAB>sentence` files for both sides and a gold file of id pairs, as
    (source id -> sentence, target id -> sentence, gold pairs); every gold id must exist."""
    sides = []
    for p in paths[:2]:
        _, rows = read_table(p, names=("id", "sentence"))
        sides.append({r["id"]: r["sentence"] for _, r in rows})
    _, gold = read_table(paths[2], names=("source", "target"))
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
