"""Readers of the official formats with a gold label per text, choice set or token (XNLI, NusaX,
COPA, UD, PAN-X, ...), each registered by format name in `formats`, which says what a reader
guarantees; `aligned` has the QA, retrieval and parallel-text formats."""

from __future__ import annotations

from pathlib import Path

from xstilts.data.examples import ChoiceExample, TaggingExample, TextExample
from xstilts.data.formats import (
    Paths,
    check_label,
    choice_index,
    count_blocks,
    count_csv,
    count_lines,
    delimited_rows,
    field_getter,
    get_field,
    jsonl_objects,
    line_blocks,
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
