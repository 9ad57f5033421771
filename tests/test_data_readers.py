"""Readers on real files give the counts stated in each SOURCE.md; malformed fixtures give
errors naming file, line and field."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from xstilts.data import catalog, formats, languages, readers
from xstilts.data.entries import NLI, SENTIMENT, UPOS
from xstilts.errors import DataFormatError


def labels(examples) -> Counter:
    return Counter(x.label for x in examples)


def test_tatoeba_total(data_root):
    assert sum(len(catalog.tatoeba_pairs(l, data_root)) for l in languages.TATOEBA_LANGS) == 88_877


def test_classification_counts(data_root):
    r = lambda *a: catalog.read(*a, data_root=data_root)  # noqa: E731
    assert labels(r("afrisenti", "train", "swa")) == {"negative": 191, "neutral": 1072, "positive": 547}
    assert labels(r("nusax", "train", "english")) == {"negative": 192, "neutral": 119, "positive": 189}
    assert labels(r("americasnli", "dev", "oto")) == {"entailment": 78, "neutral": 69, "contradiction": 75}
    mnli = r("mnli", "dev_matched", "en")
    assert labels(mnli) == {"entailment": 3479, "neutral": 3123, "contradiction": 3213}
    assert (mnli[0].text_a, mnli[0].label) == ("The new rights are nice enough", "neutral")
    assert all(len(r("xnli", "dev", l)) == 2490 for l in ("en", "sw", "zh"))
    assert labels(r("sst2", "train", "en"))["1"] == 37_569
    assert labels(r("sst2", "test", "en")) == {None: 1821}
    news = r("masakhanews", "train", "lin")
    assert len(news) == 608 and labels(news)["politics"] == 350
    sib = r("sib200", "train", "zul_Latn")
    assert len(sib) == 701 and labels(sib)["science/technology"] == 176
    assert labels(r("anli", "dev_r3", "en")).total() == 1200


def test_choice_counts(data_root):
    r = lambda *a: catalog.read(*a, data_root=data_root)  # noqa: E731
    assert len(r("copa", "train", "en")) == 400 and len(r("xcopa", "val", "it")) == 100
    assert labels(r("cosmosqa", "valid", "en")) == {0: 744, 1: 729, 2: 761, 3: 751}
    siqa = r("siqa", "dev", "en")
    assert len(siqa) == 1954 and siqa[0].label == 2 and len(siqa[0].choices) == 3
    assert labels(r("commonsenseqa", "test", "en")) == {None: 1140}
    assert len(r("commonsenseqa", "train", "en")) == 9741


def test_qa_counts(data_root):
    r = lambda *a: catalog.read(*a, data_root=data_root)  # noqa: E731
    assert len(r("xquad", "test", "th")) == 1190
    assert len(r("tydiqa", "train", "en")) == 3696
    squad = r("squad_v2", "dev", "en")
    assert len(squad) == 6078 and sum(q.is_impossible for q in squad) == 3168
    q = r("xquad", "test", "en")[0]
    text, start = q.answers[0]
    assert q.context[start:start + len(text)] == text


def test_tagging_counts(data_root):
    r = lambda *a: catalog.read(*a, data_root=data_root)  # noqa: E731
    dev = r("ud", "dev", "en")
    assert len(dev) == 2001 and sum(len(s.tokens) for s in dev) == 25_147
    he = r("ud", "test", "he")
    assert sum(len(s.tokens) for s in he) == 12_282 and set(t for s in he for t in s.tags) <= set(UPOS)
    gu = r("wikiann", "dev", "gu")
    assert len(gu) == 100 and sum(len(s.tokens) for s in gu) == 1286
    hau = r("masakhaner", "train", "hau")
    assert len(hau) == 1912 and sum(len(s.tokens) for s in hau) == 55_010


def test_parallel_counts(data_root):
    cni = catalog.read("americasnlp_mt", "dev", "cni", data_root)
    assert len(cni) == 883 and cni[0].source and cni[0].target
    assert len(catalog.read("americasnlp_mt", "test", "nah", data_root)) == 1003
    mt = catalog.read("nusax_mt", "valid", "javanese", data_root)
    assert len(mt) == 100 and mt[0].target.startswith("If you have further questions")


def test_counters_agree_with_readers(data_root):
    for name in ("afrisenti", "masakhanews", "ud", "lareqa", "americasnlp_mt"):
        e = catalog.get_dataset(name)
        f = e.files[0]
        paths = catalog.local_paths(e, f, data_root)
        assert formats.get_format(e.format).count(paths) == len(catalog.read(e, f.split, f.lang, data_root))


# ---- malformed fixtures --------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error(fmt: str, *paths: Path, labels=(), lang="en") -> DataFormatError:
    with pytest.raises(DataFormatError) as e:
        formats.get_format(fmt).read(tuple(paths), labels, lang)
    return e.value


def test_missing_column(tmp_path):
    p = write(tmp_path, "dev-xx.tsv", "a\tb\tneutral\nonly premise\n")
    e = error("xnli-tsv", p, labels=NLI)
    assert (e.path, e.line, e.field) == (str(p), 2, "hypothesis")
    assert f"{p}:2:" in str(e)


def test_unknown_label_and_quoting_off(tmp_path):
    p = write(tmp_path, "train.tsv", 'tweet\tlabel\n"quoted" text "\tpositive\nhello\tmixed\n')
    e = error("afrisenti-tsv", p, labels=SENTIMENT)
    assert (e.line, e.field) == (3, "label") and "mixed" in str(e)
    p.write_text('tweet\tlabel\n"quoted" text "\tpositive\n', encoding="utf-8")
    assert readers.read_afrisenti((p,), SENTIMENT, "swa")[0].text_a == '"quoted" text "'


def test_bad_header(tmp_path):
    p = write(tmp_path, "dev.tsv", "text\tlabel\nx\tneutral\n")
    e = error("americasnli-tsv", p)
    assert (e.line, e.field) == (1, "header")


def test_bad_json_line(tmp_path):
    good = json.dumps({"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 0, "idx": 0})
    p = write(tmp_path, "val.jsonl", f"{good}\n{good}\n{{oops\n")
    assert error("copa-jsonl", p).line == 3
    p.write_text(good.replace('"label": 0', '"label": 5') + "\n", encoding="utf-8")
    assert (error("copa-jsonl", p).field) == "label"
    p.write_text(good.replace('"choice2": "b", ', "") + "\n", encoding="utf-8")
    assert (error("copa-jsonl", p).line, error("copa-jsonl", p).field) == (1, "choice2")


def test_conll_missing_tag_and_bad_tag(tmp_path):
    p = write(tmp_path, "dev.txt", "Abuja B-LOC\nna O\n\nKano\n")
    e = error("conll-space", p)
    assert (e.line, e.field) == (4, "tag")
    p = write(tmp_path, "dev-xx.tsv", "Berlin\tB-LOC\nist\tB-VERB\n")
    e = error("conll-tab", p, labels=catalog.get_dataset("wikiann").labels)
    assert (e.line, e.field) == (2, "tag")


def test_conllu_columns_and_skips(tmp_path):
    rows = ["1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_", "1\tde\tde\tADP\t_\t_\t0\troot\t_\t_",
            "2\tle\tle\tDET\t_\t_\t1\tdet\t_\t_", "2.1\tx\tx\tNOUN\t_\t_\t_\t_\t1:dep\t_"]
    p = write(tmp_path, "x.conllu", "# sent_id = s1\n" + "\n".join(rows) + "\n\n")
    [s] = readers.read_conllu((p,), UPOS, "fr")
    assert (s.uid, s.tokens, s.tags) == ("s1", ("de", "le"), ("ADP", "DET"))
    p.write_text("# sent_id = s1\n1\tde\tde\tADP\n", encoding="utf-8")
    e = error("conllu", p, labels=UPOS)
    assert (e.line, e.field) == (2, None) and "10 columns" in str(e)


def test_conllu_treebanks_of_one_language_are_read_as_one_set(tmp_path):
    row = "1\t{w}\t{w}\t{t}\t_\t_\t0\troot\t_\t_"
    gsd = write(tmp_path, "de_gsd-ud-test.conllu", "# sent_id = s1\n" + row.format(w="Haus", t="NOUN") + "\n\n"
                "# sent_id = s2\n" + row.format(w="und", t="CCONJ") + "\n\n")
    pud = write(tmp_path, "de_pud-ud-test.conllu", "# sent_id = s1\n" + row.format(w="gut", t="ADJ") + "\n\n")
    both = formats.get_format("conllu").read((gsd, pud), UPOS, "de")
    assert [(x.uid, x.tokens, x.tags) for x in both] == [
        ("de_gsd:s1", ("Haus",), ("NOUN",)), ("de_gsd:s2", ("und",), ("CCONJ",)), ("de_pud:s1", ("gut",), ("ADJ",))]
    assert formats.count_blocks((gsd, pud)) == 3
    assert [x.uid for x in readers.read_conllu((gsd,), UPOS, "de")] == ["s1", "s2"]  # one file: ids unchanged
    pud.write_text("", encoding="utf-8")
    assert str(error("conllu", gsd, pud, labels=UPOS, lang="de")).startswith(f"{pud}: no examples")


def test_squad_missing_field_and_bad_json(tmp_path):
    doc = {"data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [{"id": "1", "answers": [{"text": "b", "answer_start": 1}]}]}]}]}
    p = write(tmp_path, "x.json", json.dumps(doc))
    e = error("squad-json", p)
    assert e.field == "data[0].paragraphs[0].qas[0].question"
    p.write_text('{"data": [\n  {"title": }\n]}', encoding="utf-8")
    assert error("squad-json", p).line == 2


def test_parallel_line_counts_must_match(tmp_path):
    a = write(tmp_path, "t.xx", "a\nb\nc\n")
    b = write(tmp_path, "t.eng", "A\nB\n")
    e = error("parallel-text", a, b)
    assert (e.path, e.field) == (str(b), "line count")


def test_mnli_marker_and_siqa_labels_file(tmp_path):
    p = write(tmp_path, "m.csv", ',sentence1,label\n0,"PREMISE: a b",1\n')
    assert (error("mnli-std-csv", p).line, error("mnli-std-csv", p).field) == (2, "sentence1")
    q = json.dumps({"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c"})
    qs = write(tmp_path, "dev.jsonl", f"{q}\n{q}\n")
    lab = write(tmp_path, "dev-labels.lst", "3\n1\n")
    assert [x.label for x in readers.read_siqa((qs, lab), (), "en")] == [2, 0]
    lab.write_text("3\n", encoding="utf-8")
    assert error("siqa-jsonl", qs, lab).path == str(lab)


# ---- errors a user can act on: encodings, empty files, files cut mid-line ----------------


def test_non_utf8_names_line_and_column(tmp_path):
    p = tmp_path / "train.tsv"
    p.write_bytes("tweet\tlabel\nok\tpositive\ncafé\tneutral\n".encode("latin-1"))
    assert str(error("afrisenti-tsv", p, labels=SENTIMENT)) == (
        f"{p}:3: not UTF-8 (byte 0xe9 at column 4); convert the file to UTF-8")
    p.write_bytes(b'{"data": [\n\xff]}')
    assert error("squad-json", p).line == 2
    p.write_bytes("\ufeffid,text,label\n1,café,positive\n".encode("utf-8"))  # a BOM is fine
    assert readers.read_nusax((p,), SENTIMENT, "english")[0].text_a == "café"


def test_empty_file_names_file_and_language(tmp_path):
    p = write(tmp_path, "yo_ytb-ud-test.conllu", "")
    assert str(error("conllu", p, labels=UPOS, lang="yo")) == f"{p}: no examples for language 'yo': the file is empty"
    p = write(tmp_path, "aym.tsv", "id\tlanguage\tpremise\thypothesis\tlabel\n")
    assert str(error("americasnli-tsv", p, lang="aym")).endswith("no examples for language 'aym': the file holds none")


def test_a_row_cut_mid_line_is_an_error_not_a_shorter_file(tmp_path, data_root):
    real = (data_root / "sib200/annotated/zul_Latn/train.tsv").read_bytes()
    p = tmp_path / "train.tsv"
    p.write_bytes(real[: real.index(b"\n", 5000) - 7])  # the last sentence loses its last word
    e = error("sib200-tsv", p)
    assert e.line == p.read_bytes().count(b"\n") + 1 and "ends mid-line" in str(e)
    p.write_bytes(b'index_id\tcategory\ttext\n1\thealth\t"a quoted sentence\ncut at a line end\n')
    assert "bad CSV: unexpected end of data" in str(error("sib200-tsv", p))


def test_json_fields_of_the_wrong_type(tmp_path):
    p = write(tmp_path, "x.json", json.dumps({"data": [{"paragraphs": [{"context": 5, "qas": []}]}]}))
    e = error("squad-json", p)
    assert e.field == "data[0].paragraphs[0].context" and "expected a string, got int" in str(e)
    good = {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "correct": ""}
    p = write(tmp_path, "dev.jsonl", json.dumps(good) + "\n")
    assert error("siqa-jsonl", p).field == "correct"  # "" once read as choice A
    q = {"id": "x", "question": {"stem": "s", "choices": []}}
    p = write(tmp_path, "test.jsonl", json.dumps(q) + "\n")
    assert error("csqa-jsonl", p).field == "question.choices"  # not an example without choices
