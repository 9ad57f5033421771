"""Mutated real files for fuzzing every reader format (tests/test_data_fuzz.py runs a few per
format in CI; benchmarks/fuzz_readers.py runs thousands and prints the counts).

A seed is a small slice of a real file under the data root, cut at record boundaries. A
mutation changes one file of a seed the way files go wrong: cut short, bytes flipped, the
wrong delimiter, another encoding, emptied, a huge line, lines dropped or repeated, CRLF, a
BOM. `outcome` reads the mutated files and classifies what happened:

- "read": typed examples of the right shape (a BOM reads the same as without; a file cut
  short reads as the first examples of the original, the last one shortened only where the
  cut fell at a line end, as in a CoNLL sentence cut between two token lines);
- "error": an XstiltsError naming the file, and a line inside it where it gives one, in
  one line of under 1,000 characters;
- anything else is "unexpected: <why>", a bug.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from xstilts.data import catalog, formats
from xstilts.data.examples import (BitextExample, ChoiceExample, QAExample, RetrievalQAExample, TaggingExample,
                                   TextExample)
from xstilts.errors import DataFormatError, XstiltsError

KINDS = ("truncate", "flip", "delimiter", "encoding", "empty", "huge", "lines", "crlf", "bom")
ENCODINGS = ("latin-1", "cp1252", "utf-16", "utf-16-be", "utf-32", "shift_jis", "koi8-r", "gb18030", "ascii")
DELIMITERS = (b"\t", b",", b";", b" ", b"|", b"\n", b'"', b":", b"")


@dataclass(frozen=True)
class Seed:
    format: str
    files: tuple[tuple[str, bytes], ...]  # (file name, content), in the reader's path order
    labels: tuple[str, ...]
    lang: str
    options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # a generic reader's field mapping


@dataclass(frozen=True)
class Mutation:
    kind: str
    file: int  # index into Seed.files
    data: bytes


# ---- seeds: slices of real files --------------------------------------------------------


def _head_lines(data: bytes, n: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:n])


def _head_blocks(data: bytes, n: int) -> bytes:
    """The first n blank-line separated blocks (CoNLL sentences), with their blank lines."""
    out, blocks, inside = [], 0, False
    for ln in data.splitlines(keepends=True):
        if not ln.strip() and inside:
            blocks += 1
            if blocks == n:
                return b"".join(out + [ln])
        inside = bool(ln.strip())
        out.append(ln)
    return b"".join(out)


def _head_records(data: bytes, n: int, delimiter: str) -> bytes:
    """The first n records of a quoted CSV (a record may span lines)."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter)
    for _ in zip(range(n), reader):
        pass
    return b"".join(data.splitlines(keepends=True)[:reader.line_num])


def _squad_slice(data: bytes, articles: int = 1, paragraphs: int = 2, questions: int = 3) -> bytes:
    doc = json.loads(data)
    arts = [dict(art, paragraphs=[dict(p, qas=p["qas"][:questions]) for p in art["paragraphs"][:paragraphs]])
            for art in doc["data"][:articles]]
    return json.dumps({"data": arts, "version": doc.get("version", "")}, ensure_ascii=False, indent=1).encode() + b"\n"


def _bucc_slice(zh: bytes, en: bytes, gold: bytes, n: int = 8) -> tuple[bytes, bytes, bytes]:
    pairs = gold.splitlines(keepends=True)[:n]
    wanted = [set(p.split(b"\t")[k].strip() for p in pairs) for k in (0, 1)]
    sides = [b"".join(ln for ln in side.splitlines(keepends=True) if ln.split(b"\t")[0] in ids)
             for side, ids in zip((zh, en), wanted)]
    return sides[0], sides[1], b"".join(pairs)


def _derived_jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def _labels(fmt: str) -> tuple[str, ...]:
    return next((e.labels for e in catalog.all_datasets() if e.format == fmt), ())


def seeds(data_root: Path) -> dict[str, list[Seed]]:
    """Format -> seeds sliced from real files. The four formats with no file in the offline
    snapshot (PAWS-X, QQP, MultiNLI JSON lines, HellaSwag) get seeds in their layout built from
    real rows of other sets (XNLI, MultiNLI dev, SIQA)."""
    r = lambda rel: (data_root / rel).read_bytes()  # noqa: E731
    lines, blocks, records = _head_lines, _head_blocks, _head_records
    xnli_rows = [ln.rstrip("\r").split("\t") for ln in r("xnli/dev-en.tsv").decode().split("\n")[:10]]
    mnli = list(csv.reader(io.StringIO(r("mnli/multinli_validation_std.csv").decode())))[1:9]
    siqa = [json.loads(ln) for ln in r("siqa/socialIQa_v1.4_dev.jsonl").splitlines()[:8]]
    spec: dict[str, list[tuple[tuple[tuple[str, bytes], ...], str]]] = {
        "xnli-tsv": [((("dev-en.tsv", lines(r("xnli/dev-en.tsv"), 10)),), "en"),
                     ((("test-sw.tsv", lines(r("xnli/test/test-sw.tsv"), 10)),), "sw")],
        "americasnli-tsv": [((("aym.tsv", lines(r("americasnli/dev/aym.tsv"), 10)),), "aym")],
        "pawsx-tsv": [((("dev_2k.tsv", ("id\tsentence1\tsentence2\tlabel\n" + "".join(
            f"{i}\t{p}\t{h}\t{int(lab == 'entailment')}\n" for i, (p, h, lab) in enumerate(xnli_rows))).encode()),), "en")],
        "qqp-tsv": [((("dev.tsv", ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n" + "".join(
            f"{i}\t{2 * i}\t{2 * i + 1}\t{p}\t{h}\t{int(lab == 'entailment')}\n" for i, (p, h, lab) in enumerate(xnli_rows)
        )).encode()),), "en")],
        "sst2-tsv": [((("dev.tsv", lines(r("sst2/dev.tsv"), 10)),), "en"), ((("test.tsv", lines(r("sst2/test.tsv"), 10)),), "en")],
        "mnli-std-csv": [((("multinli_validation_std.csv", records(r("mnli/multinli_validation_std.csv"), 9, ",")),), "en")],
        "mnli-jsonl": [((("multinli_1.0_dev_matched.jsonl", _derived_jsonl([
            {"gold_label": ("entailment", "neutral", "contradiction")[int(lab)], "pairID": f"{i}n",
             "sentence1": t.split(" HYPOTHESIS: ")[0].removeprefix("PREMISE: "), "sentence2": t.split(" HYPOTHESIS: ")[1]}
            for i, t, lab in mnli])),), "en")],
        "anli-jsonl": [((("dev.jsonl", lines(r("anli/R1/dev.jsonl"), 6)),), "en")],
        "nusax-csv": [((("train.csv", records(r("nusax/sentiment/buginese/train.csv"), 10, ",")),), "buginese")],
        "afrisenti-tsv": [((("train.tsv", lines(r("afrisenti/swa/train.tsv"), 10)),), "swa")],
        "masakhanews-tsv": [((("train.tsv", records(r("masakhanews/lin/train.tsv"), 3, "\t")),), "lin")],
        "sib200-tsv": [((("train.tsv", records(r("sib200/annotated/zul_Latn/train.tsv"), 8, "\t")),), "zul_Latn")],
        "copa-jsonl": [((("val.it.jsonl", lines(r("xcopa/data/it/val.it.jsonl"), 8)),), "it"),
                       ((("val.et.jsonl", lines(r("xcopa/data/et/val.et.jsonl"), 8)),), "et")],
        "siqa-jsonl": [((("dev.jsonl", lines(r("siqa/socialIQa_v1.4_dev.jsonl"), 8)),), "en"),
                       ((("dev.jsonl", _derived_jsonl([{k: v for k, v in q.items() if k != "correct"} for q in siqa])),
                         ("dev-labels.lst", b"".join(b"%d\n" % ("ABC".index(q["correct"]) + 1) for q in siqa))), "en")],
        "csqa-jsonl": [((("dev.jsonl", lines(r("commonsenseqa/dev_rand_split.jsonl"), 6)),), "en"),
                       ((("test.jsonl", lines(r("commonsenseqa/test_rand_split_no_answers.jsonl"), 6)),), "en")],
        "cosmosqa-csv": [((("valid.csv", records(r("cosmosqa/valid.csv"), 6, ",")),), "en")],
        "hellaswag-jsonl": [((("hellaswag_val.jsonl", _derived_jsonl([
            {"ind": i, "ctx": q["context"], "endings": [q["answerA"], q["answerB"], q["answerC"]],
             "label": "ABC".index(q["correct"])} for i, q in enumerate(siqa)])),), "en")],
        "squad-json": [((("xquad.de.json", _squad_slice(r("xquad/xquad.de.json"))),), "de"),
                       ((("dev-v2.0.json", _squad_slice(r("squad_v2/cs224n_split/dev-v2.0.json"), 1, 1, 6)),), "en"),
                       ((("tydiqa.goldp.te.dev.json", _squad_slice(
                           r("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.te.dev.json"), 4)),), "te")],
        "lareqa-json": [((("el.json", _squad_slice(r("lareqa/xquad-r/el.json"))),), "el")],
        "conllu": [((("yo_ytb-ud-test.conllu", blocks(r("ud/UD_Yoruba-YTB/yo_ytb-ud-test.conllu"), 3)),), "yo"),
                   ((("he_htb-ud-test.conllu", blocks(r("ud/UD_Hebrew-HTB/he_htb-ud-test.conllu"), 2)),), "he")],
        "conll-tab": [((("test-yo.tsv", blocks(r("wikiann/test/test-yo.tsv"), 4)),), "yo")],
        "conll-space": [((("train.txt", blocks(r("masakhaner/luo/train.txt"), 3)),), "luo")],
        "parallel-text": [((("tatoeba.amh-eng.amh", lines(r("tatoeba/tatoeba.amh-eng.amh"), 10)),
                            ("tatoeba.amh-eng.eng", lines(r("tatoeba/tatoeba.amh-eng.eng"), 10))), "amh")],
        "nusax-mt-csv": [((("valid.csv", records(r("nusax/mt/valid.csv"), 5, ",")),), "buginese")],
        "bucc-tsv": [(tuple(zip(("zh-en.dev.zh", "zh-en.dev.en", "zh-en.dev.gold"),
                                _bucc_slice(r("bucc2018/zh-en.dev.zh"), r("bucc2018/zh-en.dev.en"),
                                            r("bucc2018/zh-en.dev.gold")))), "zh")],
    }
    # the generic formats of a user's files, on real rows, with a field mapping
    sib = r("sib200/annotated/zul_Latn/train.tsv")
    sib_rows = list(csv.DictReader(io.StringIO(sib.decode()), delimiter="\t"))[:8]
    topics = catalog.get_dataset("sib200").labels
    mapped = {
        "csv": (("train.csv", records(r("nusax/sentiment/buginese/train.csv"), 10, ",")), {"id": "id", "text": "text",
                                                                                          "label": "label"}, _labels("nusax-csv")),
        "tsv": (("train.tsv", records(sib, 8, "\t")), {"id": "index_id", "text": "text", "label": "category"}, topics),
        "jsonl": (("train.jsonl", _derived_jsonl([{"uid": row["index_id"], "s": row["text"], "topic": row["category"]}
                                                   for row in sib_rows])), {"id": "uid", "text": "s", "label": "topic"},
                  topics),
    }
    assert set(spec) | set(mapped) == set(formats.FORMATS), set(formats.FORMATS) ^ (set(spec) | set(mapped))
    out = {fmt: [Seed(fmt, files, _labels(fmt), lang) for files, lang in items] for fmt, items in spec.items()}
    for fmt, (file, fields, labels) in mapped.items():
        out[fmt] = [Seed(fmt, (file,), labels, "xx", (("fields", tuple(fields.items())),))]
    return out


# ---- mutations ----------------------------------------------------------------------------


@st.composite
def mutations(draw, seed: Seed) -> Mutation:
    k = draw(st.integers(0, len(seed.files) - 1))
    data = seed.files[k][1]
    kind = draw(st.sampled_from(KINDS))
    if kind == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif kind == "flip":
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = bytes(data)
    elif kind == "delimiter":
        old = draw(st.sampled_from([d for d in DELIMITERS if d and d in data]))
        new = draw(st.sampled_from([d for d in DELIMITERS if d != old]))
        if draw(st.booleans()):
            data = data.replace(old, new)
        else:
            at = draw(st.sampled_from([i for i in range(len(data)) if data.startswith(old, i)][:500]))
            data = data[:at] + new + data[at + len(old):]
    elif kind == "encoding":
        data = data.decode("utf-8").encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    elif kind == "empty":
        data = draw(st.sampled_from([b"", b"\n", b"\n\n", b"\r\n"]))
    elif kind == "huge":
        at, size = draw(st.integers(0, len(data))), draw(st.integers(1, 64))
        chunk = data[at:at + size] or b"x"
        data = data[:at] + chunk * (draw(st.integers(10_000, 400_000)) // len(chunk)) + data[at:]
    elif kind == "lines":
        rows = data.splitlines(keepends=True)
        i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(rows) - 1))
        op = draw(st.sampled_from(("drop", "repeat", "swap")))
        if op == "drop":
            del rows[i]
        elif op == "repeat":
            rows.insert(i, rows[j])
        else:
            rows[i], rows[j] = rows[j], rows[i]
        data = b"".join(rows)
    elif kind == "crlf":
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif kind == "bom":
        data = codecs.BOM_UTF8 + data
    return Mutation(kind, k, data)


# ---- the oracle ---------------------------------------------------------------------------


def _shape_error(x, seed: Seed, example_type: type) -> str | None:
    """Why a read example is not well formed, or None."""
    s = lambda *v: all(isinstance(y, str) for y in v)  # noqa: E731
    if type(x) is not example_type:
        return f"a {type(x).__name__}, not a {example_type.__name__}"
    ok = {
        TextExample: lambda: s(x.uid, x.text_a) and (x.text_b is None or s(x.text_b))
        and (x.label is None if x.label is None else s(x.label) and (not seed.labels or x.label in seed.labels)),
        ChoiceExample: lambda: s(x.uid, x.context, x.question, *x.choices) and x.choices
        and (x.label is None or type(x.label) is int and 0 <= x.label < len(x.choices)),
        QAExample: lambda: s(x.uid, x.question, x.context, x.title) and isinstance(x.is_impossible, bool)
        and all(s(t) and type(a) is int and 0 <= a <= len(x.context) for t, a in x.answers),
        TaggingExample: lambda: s(x.uid, *x.tokens, *x.tags) and 0 < len(x.tokens) == len(x.tags)
        and (not seed.labels or set(x.tags) <= set(seed.labels)),
        BitextExample: lambda: s(x.uid, x.source, x.target),
        RetrievalQAExample: lambda: s(x.uid, x.question, *x.answer_ids) and len(x.answer_ids) > 0,
    }[example_type]
    return None if ok() else f"malformed example {x!r:.200}"


def write(seed: Seed, folder: Path, mutation: Mutation | None = None) -> tuple[Path, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (name, data) in enumerate(seed.files):
        p = folder / name
        p.write_bytes(mutation.data if mutation and mutation.file == k else data)
        paths.append(p)
    return tuple(paths)


def read(seed: Seed, paths: tuple[Path, ...]) -> list:
    return formats.get_format(seed.format).read(paths, seed.labels, seed.lang, **{k: dict(v) for k, v in seed.options})


def outcome(seed: Seed, mutation: Mutation, folder: Path) -> str:
    """'read', 'error' or 'unexpected: <why>' for one mutated seed (see the module doc)."""
    original = read(seed, write(seed, folder / "original"))
    paths = write(seed, folder / "mutated", mutation)
    fmt = formats.get_format(seed.format)
    try:
        got = read(seed, paths)
    except XstiltsError as e:
        if not any(str(p) in str(e) for p in paths):
            return f"unexpected: the error names no file: {e}"
        if "\n" in str(e) or len(str(e)) > 1000:
            return f"unexpected: the error is not one short line: {str(e)[:300]!r}"
        line = getattr(e, "line", None)
        if isinstance(e, DataFormatError) and line is not None:
            lines = Path(e.path).read_bytes().count(b"\n") + 1
            if not 1 <= line <= lines:
                return f"unexpected: line {line} outside the file's {lines} lines: {e}"
        return "error"
    except Exception as e:  # noqa: BLE001 - anything else is what the fuzzing looks for
        return f"unexpected: {type(e).__name__}: {e}"[:300]
    bad = next((b for x in got for b in [_shape_error(x, seed, fmt.example_type)] if b), None)
    if bad:
        return f"unexpected: {bad}"
    if mutation.kind == "empty":
        return f"unexpected: an emptied file read as {len(got)} examples"
    if mutation.kind == "bom" and got != original and not seed.files[mutation.file][1].startswith(codecs.BOM_UTF8):
        return "unexpected: a BOM changed what was read"
    if mutation.kind == "truncate" and got != original[:len(got)]:  # the last example was cut
        if not mutation.data.endswith(b"\n") or got[:-1] != original[:len(got) - 1]:
            return f"unexpected: a file cut short read as {len(got)} examples, the last one cut (silent partial read)"
    return "read"


def fuzz(seed_list: list[Seed], examples: int, folder: Path, record, derandomize: bool = False) -> None:
    """Run `examples` generated mutations of the seeds through `outcome`, passing each result to
    `record` (which may raise to fail a test: hypothesis then shrinks to the smallest input)."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink))
    @given(st.data())
    def run(data):
        seed = data.draw(st.sampled_from(seed_list))
        mutation = data.draw(mutations(seed))
        record(seed, mutation, outcome(seed, mutation, folder))

    run()
