"""Readers of the official file formats (XNLI, NusaX, UD, SQuAD, Tatoeba, ...), each registered by
format name in `formats`, which says what a reader guarantees."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xstilts.data.examples import (
    BitextExample,
    Candidate,
    ChoiceExample,
    QAExample,
    RetrievalQAExample,
    TaggingExample,
    TextExample,
)
from xstilts.data.formats import (
    Paths,
    check_label,
    choice_index,
    count_blocks,
    count_csv,
    count_lines,
    count_physical_lines,
    count_squad,
    delimited_rows,
    field_getter,
    get_field,
    jsonl_objects,
    line_blocks,
    load_json,
    named_fields,
    nonempty,
    read_table,
    refuse_unlabelled,
    register,
    text_lines,
)
from xstilts.errors import DataFormatError

NLI_IDS = ("entailment", "neutral", "contradiction")  # Hugging Face / MNLI label ids 0, 1, 2
ANLI_LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}

# ---- sentence(-pair) classification ----------------------------------------------------


def _nli(paths: Paths, labels, rows, a: str, b: str, lab: str, uid: str | None = None) -> list[TextExample]:
    return [TextExample(r[uid] if uid else str(n), r[a], r[b], check_label(r[lab], labels, paths[0], i, lab))
            for n, (i, r) in enumerate(rows)]


@register("xnli-tsv", TextExample, count_lines())
def read_xnli(paths: Paths, labels, lang) -> list[TextExample]:
    """XTREME's test files hold premise and hypothesis only: refused as placeholders."""
    rows = delimited_rows(paths[0], "\t", quoted=False)
    refuse_unlabelled(paths[0], [r for _, r in rows], 3, "label")
    return _nli(paths, labels, named_fields(paths[0], ("premise", "hypothesis", "label"), rows), "premise", "hypothesis",
                "label")


@register("americasnli-tsv", TextExample, count_lines(1))
def read_americasnli(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = read_table(paths[0], ("id", "language", "premise", "hypothesis", "label"))
    return _nli(paths, labels, rows, "premise", "hypothesis", "label", uid="id")


@register("pawsx-tsv", TextExample, count_lines(1))
def read_pawsx(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = read_table(paths[0], ("id", "sentence1", "sentence2", "label"))
    return _nli(paths, labels, rows, "sentence1", "sentence2", "label", uid="id")


@register("qqp-tsv", TextExample, count_lines(1))
def read_qqp(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = read_table(paths[0], ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"))
    return _nli(paths, labels, rows, "question1", "question2", "is_duplicate", uid="id")


@register("sst2-tsv", TextExample, count_lines(1))
def read_sst2(paths: Paths, labels, lang) -> list[TextExample]:
    """GLUE SST-2: train/dev carry `label`, the test file an `index` and no label."""
    names, rows = read_table(paths[0], ("sentence", "label"), ("index", "sentence"))
    if "label" not in names:
        return [TextExample(r["index"], r["sentence"], None, None) for _, r in rows]
    return [TextExample(str(n), r["sentence"], None, check_label(r["label"], labels, paths[0], i, "label"))
            for n, (i, r) in enumerate(rows)]


@register("mnli-std-csv", TextExample, count_csv(","))
def read_mnli_std(paths: Paths, labels, lang) -> list[TextExample]:
    """The derived one-column MNLI dev: `PREMISE: p HYPOTHESIS: h`, label ids 0/1/2."""
    _, rows = read_table(paths[0], ("", "sentence1", "label"), delimiter=",", quoted=True)
    out = []
    for i, r in rows:
        text = r["sentence1"]
        if not text.startswith("PREMISE: ") or text.count(" HYPOTHESIS: ") != 1:
            raise DataFormatError(paths[0], i, "sentence1", "expected 'PREMISE: ... HYPOTHESIS: ...'")
        premise, hypothesis = text[len("PREMISE: "):].split(" HYPOTHESIS: ")
        label = NLI_IDS[choice_index(r["label"], 3, paths[0], i, "label")]
        out.append(TextExample(r[""], premise, hypothesis, check_label(label, labels, paths[0], i, "label")))
    return out


@register("mnli-jsonl", TextExample, count_lines())
def read_mnli_jsonl(paths: Paths, labels, lang) -> list[TextExample]:
    """Official MultiNLI 1.0 JSON lines; pairs without a gold label ('-') are dropped as in GLUE."""
    out = []
    for i, o in jsonl_objects(paths[0]):
        g = field_getter(o, paths[0], i)
        gold = g("gold_label")
        if gold != "-":
            out.append(TextExample(str(g("pairID", (str, int))), g("sentence1"), g("sentence2"),
                                   check_label(gold, labels, paths[0], i, "gold_label")))
    return out


@register("anli-jsonl", TextExample, count_lines())
def read_anli(paths: Paths, labels, lang) -> list[TextExample]:
    out = []
    for i, o in jsonl_objects(paths[0]):
        g = field_getter(o, paths[0], i)
        raw = g("label")
        if raw not in ANLI_LABELS:
            raise DataFormatError(paths[0], i, "label", f"unknown label {raw!r:.50} (expected e, n or c)")
        out.append(TextExample(g("uid"), g("context"), g("hypothesis"), ANLI_LABELS[raw]))
    return out


def _single(paths: Paths, labels, rows, text: str, lab: str, uid: str | None = None,
            text_b: str | None = None) -> list[TextExample]:
    return [TextExample(r[uid] if uid else str(n), r[text], r[text_b] if text_b else None,
                        check_label(r[lab], labels, paths[0], i, lab)) for n, (i, r) in enumerate(rows)]


@register("nusax-csv", TextExample, count_csv(","))
def read_nusax(paths: Paths, labels, lang) -> list[TextExample]:
    _, rows = read_table(paths[0], ("id", "text", "label"), delimiter=",", quoted=True)
    return _single(paths, labels, rows, "text", "label", uid="id")


@register("afrisenti-tsv", TextExample, count_lines(1))
def read_afrisenti(paths: Paths, labels, lang) -> list[TextExample]:
    """Quoting off: tweets hold stray '"' characters that are text, not CSV quotes."""
    _, rows = read_table(paths[0], ("tweet", "label"))
    return _single(paths, labels, rows, "tweet", "label")


@register("masakhanews-tsv", TextExample, count_csv("\t"))
def read_masakhanews(paths: Paths, labels, lang) -> list[TextExample]:
    """text_a is the headline, text_b the article body."""
    _, rows = read_table(paths[0], ("category", "headline", "text", "url"), quoted=True)
    return _single(paths, labels, rows, "headline", "category", text_b="text")


@register("sib200-tsv", TextExample, count_csv("\t"))
def read_sib200(paths: Paths, labels, lang) -> list[TextExample]:
    """uid is SIB-200's index_id, the same sentence in every language."""
    _, rows = read_table(paths[0], ("index_id", "category", "text"), quoted=True)
    return _single(paths, labels, rows, "text", "category", uid="index_id")


# ---- multiple choice ------------------------------------------------------------------


@register("copa-jsonl", ChoiceExample, count_lines())
def read_copa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """COPA / XCOPA; `question` is 'cause' or 'effect'."""
    out = []
    for i, o in jsonl_objects(paths[0]):
        g = field_getter(o, paths[0], i)
        question = check_label(g("question"), ("cause", "effect"), paths[0], i, "question")
        out.append(ChoiceExample(str(g("idx", (str, int))), g("premise"), question, (g("choice1"), g("choice2")),
                                 choice_index(g("label", object), 2, paths[0], i, "label")))
    return out


@register("siqa-jsonl", ChoiceExample, count_lines())
def read_siqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """Labels come from the `correct` key (A/B/C) or, as in the official release, a second
    file of 1-based labels, one per line."""
    rows = jsonl_objects(paths[0])
    gold = None
    if len(paths) > 1:
        gold = [(i, ln.strip()) for i, ln in enumerate(text_lines(paths[1]), 1) if ln.strip()]
        if len(gold) != len(rows):
            raise DataFormatError(paths[1], None, "label", f"{len(gold)} labels for {len(rows)} questions")
    out = []
    for n, (i, o) in enumerate(rows):
        g = field_getter(o, paths[0], i)
        if gold:
            line, value = gold[n]
            label = choice_index(value, 3, paths[1], line, "label", base=1)
        else:
            correct = g("correct")
            label = choice_index("ABC".index(correct) if correct in ("A", "B", "C") else correct, 3, paths[0], i,
                                 "correct")
        out.append(ChoiceExample(str(n), g("context"), g("question"), tuple(g(f"answer{c}") for c in "ABC"), label))
    return out


@register("csqa-jsonl", ChoiceExample, count_lines())
def read_csqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """CommonsenseQA; the test file has no answerKey (label None)."""
    out = []
    for i, o in jsonl_objects(paths[0]):
        q = get_field(o, "question", paths[0], i, kind=dict)
        choices = get_field(q, "choices", paths[0], i, "question.", kind=list)
        if not choices:
            raise DataFormatError(paths[0], i, "question.choices", "no choices")
        keys = [get_field(c, "label", paths[0], i, "question.choices[].", kind=str) for c in choices]
        texts = tuple(get_field(c, "text", paths[0], i, "question.choices[].", kind=str) for c in choices)
        key = o.get("answerKey")
        label = None if key is None else choice_index(keys.index(key) if key in keys else key, len(keys), paths[0], i,
                                                      "answerKey")
        out.append(ChoiceExample(get_field(o, "id", paths[0], i, kind=str), "",
                                 get_field(q, "stem", paths[0], i, "question.", kind=str), texts, label))
    return out


@register("cosmosqa-csv", ChoiceExample, count_csv(","))
def read_cosmosqa(paths: Paths, labels, lang) -> list[ChoiceExample]:
    cols = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    _, rows = read_table(paths[0], cols, delimiter=",", quoted=True, open_end=True)  # label last: a cut row fails
    return [ChoiceExample(r["id"], r["context"], r["question"], tuple(r[f"answer{k}"] for k in range(4)),
                          choice_index(r["label"], 4, paths[0], i, "label")) for i, r in rows]


@register("hellaswag-jsonl", ChoiceExample, count_lines())
def read_hellaswag(paths: Paths, labels, lang) -> list[ChoiceExample]:
    """HellaSwag; the test file has no label."""
    out = []
    for i, o in jsonl_objects(paths[0]):
        endings = tuple(get_field(o, "endings", paths[0], i, kind=list))
        if not endings or not all(isinstance(e, str) for e in endings):
            raise DataFormatError(paths[0], i, "endings", "expected a non-empty list of strings")
        label = choice_index(o["label"], len(endings), paths[0], i, "label") if "label" in o else None
        out.append(ChoiceExample(str(get_field(o, "ind", paths[0], i, kind=(str, int))),
                                 get_field(o, "ctx", paths[0], i, kind=str), "", endings, label))
    return out


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


# ---- token tagging --------------------------------------------------------------------


@register("conllu", TaggingExample, count_blocks)
def read_conllu(paths: Paths, labels, lang) -> list[TaggingExample]:
    """CoNLL-U words with UPOS; multiword-token ranges (n-m) and empty nodes (n.k) are skipped.
    Several files (a language's treebanks) are read in order as one set, as XTREME's UD-POS
    concatenates them; their sentence ids then carry the file's treebank prefix ("de_gsd:...")."""
    return [ex for path in paths for ex in _conllu_file(path, labels, lang, prefix=len(paths) > 1)]


def _conllu_file(path: Path, labels, lang: str, prefix: bool) -> list[TaggingExample]:
    out, stem = [], path.name.split("-ud-")[0] + ":" if prefix else ""
    for start, block in line_blocks(path):
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
            tags.append(check_label(cols[3], labels, path, i, "UPOS"))
        if not tokens:
            raise DataFormatError(path, start, None, "a sentence without words")
        out.append(TaggingExample(stem + uid, tuple(tokens), tuple(tags)))
    return nonempty(out, path, lang)


def _conll(paths: Paths, labels, sep: str) -> list[TaggingExample]:
    """XTREME's test placeholders (tokens without tags) are refused before any line is checked."""
    out, path, blocks = [], paths[0], line_blocks(paths[0])
    refuse_unlabelled(path, [ln.split(sep) for _, block in blocks for _, ln in block], 2, "tag")
    for start, block in blocks:
        tokens, tags = [], []
        for i, ln in block:
            cols = ln.split(sep)
            if len(cols) != 2:
                raise DataFormatError(path, i, "tag" if len(cols) < 2 else None,
                                      f"expected 'token{sep!r}tag', got {len(cols)} field(s)")
            tokens.append(cols[0])
            tags.append(check_label(cols[1], labels, path, i, "tag"))
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
