"""Catalogued files are checked before use: recorded example count and sha256, real golds.

Fixtures are copies of real files under a temporary data root, changed the way files go
wrong in practice: cut mid-line, cut to fewer lines, one byte changed, golds blanked the way
XTREME blanks its test sets.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from xstilts.data import catalog
from xstilts.data.fetch import record_checksums
from xstilts.data.integrity import count_key, load_checksums, load_counts
from xstilts.errors import DataIntegrityError, MissingDataError, PlaceholderGoldError
from xstilts.provenance import file_sha256

RECORDED = load_checksums()


@pytest.fixture
def root(tmp_path, data_root, monkeypatch):
    """copy(rel) puts the real '<folder>/<path>' file under a fresh data root (mtime kept) and
    returns the copy; XSTILTS_CACHE is private to the test, to show that nothing is written there."""
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    new = tmp_path / "data"

    def copy(rel: str) -> Path:
        dest = new / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(data_root / rel, dest)
        return dest

    copy.root = new
    return copy


def test_unchanged_copies_read_and_create_no_hash_cache(root, tmp_path):
    root("xnli/test/test-sw.tsv")
    assert len(catalog.read("xnli", "test", "sw", root.root)) == 5010
    assert not (tmp_path / "cache").exists()


def test_same_size_edit_with_its_mtime_kept_is_refused(root):
    """The change disk rot (or a restored timestamp) makes: one word of a Tatoeba sentence swapped for
    another of the same length, the mtime put back. It once read without complaint and overwrote
    correct rows; the content hash refuses it, in the same process and in the next."""
    from xstilts import provenance

    p = root("tatoeba/tatoeba.swh-eng.swh")
    root("tatoeba/tatoeba.swh-eng.eng")
    assert len(catalog.read("tatoeba", "test", "swh", root.root)) == 390
    text = p.read_bytes()
    i = text.index(b" ", 100)
    edited = text[:i + 1] + bytes(reversed(text[i + 1:i + 5])) + text[i + 5:]
    assert len(edited) == len(text) and edited != text
    st = p.stat()
    p.write_bytes(edited)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    for _ in range(2):
        with pytest.raises(DataIntegrityError, match="the file changed since it was recorded") as e:
            catalog.read("tatoeba", "test", "swh", root.root)
        assert e.value.path == str(p)
        provenance._HASHED.clear()  # the next run


def test_sib200_cut_mid_line_names_both_hashes_and_the_line(root):
    p = root("sib200/annotated/zul_Latn/train.tsv")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    lines = p.read_bytes().count(b"\n") + 1
    with pytest.raises(DataIntegrityError) as e:
        catalog.read("sib200", "train", "zul_Latn", root.root)
    assert str(e.value) == (
        f"{p}: sha256 {file_sha256(p)}, but the catalog recorded {RECORDED['sib200/annotated/zul_Latn/train.tsv']}: "
        f"the file changed since it was recorded, and it no longer reads (line {lines}: ends mid-line "
        "(no line end after the last line): the file was cut short); fetch it again: xstilts data fetch sib200 --force")


def test_tatoeba_cut_to_100_lines_gives_both_counts(root):
    sides = [root(f"tatoeba/tatoeba.swh-eng.{ext}") for ext in ("swh", "eng")]
    for p in sides:
        p.write_text("".join(p.read_text(encoding="utf-8").splitlines(keepends=True)[:100]), encoding="utf-8")
    with pytest.raises(DataIntegrityError, match="100 examples, but the catalog recorded 390 for tatoeba/test/swh") as e:
        catalog.tatoeba_pairs("swh", root.root)
    assert e.value.path == str(sides[0])


def test_one_side_cut_reports_the_changed_file(root):
    root("tatoeba/tatoeba.swh-eng.swh")
    eng = root("tatoeba/tatoeba.swh-eng.eng")
    eng.write_text("".join(eng.read_text(encoding="utf-8").splitlines(keepends=True)[:100]), encoding="utf-8")
    with pytest.raises(DataIntegrityError, match="no longer reads") as e:
        catalog.read("tatoeba", "test", "swh", root.root)
    assert e.value.path == str(eng) and "100 lines, but tatoeba.swh-eng.swh has 390" in str(e.value)


def test_same_size_change_is_caught_by_sha256(root):
    p, _ = root("tatoeba/tatoeba.swh-eng.swh"), root("tatoeba/tatoeba.swh-eng.eng")
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("Hakuna matata.", "Hakuna matatu."), encoding="utf-8")
    assert p.stat().st_size == len(text.encode())
    with pytest.raises(DataIntegrityError, match=f"but the catalog recorded {RECORDED['tatoeba/tatoeba.swh-eng.swh']}"):
        catalog.read("tatoeba", "test", "swh", root.root)


def test_lareqa_probe_reader_is_checked(root):
    p = root("lareqa/xquad-r/de.json")
    doc = json.loads(p.read_text(encoding="utf-8"))
    doc["data"] = doc["data"][:1]
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataIntegrityError, match="examples, but the catalog recorded 1,190 for lareqa/test/de"):
        catalog.lareqa("de", root.root)


# ---- blank and placeholder golds (XTREME blanks the golds of its test sets) -------------


def refused(name: str, split: str, lang: str, root_dir: Path) -> str:
    with pytest.raises(PlaceholderGoldError) as e:
        catalog.read(name, split, lang, root_dir)
    return str(e.value)


def test_tydiqa_with_blanked_answers_is_refused(root):
    p = root("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.bn.dev.json")
    doc = json.loads(p.read_text(encoding="utf-8"))
    for art in doc["data"]:
        for par in art["paragraphs"]:
            for qa in par["qas"]:
                qa["answers"] = [{"text": "", "answer_start": 0}]
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    msg = refused("tydiqa", "dev", "bn", root.root)
    assert msg.startswith(f"{p}: 113 of its 113 answerable questions have only empty answers: placeholder golds")


def test_xnli_test_without_labels_is_refused(root):
    p = root("xnli/test/test-en.tsv")
    rows = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(r.rsplit("\t", 1)[0] + "\r\n" for r in rows), encoding="utf-8")
    msg = refused("xnli", "test", "en", root.root)
    assert msg.startswith(f"{p}: no label in any of its 5,010 rows: placeholder golds")


def test_xnli_test_with_one_constant_label_is_refused(root):
    p = root("xnli/test/test-sw.tsv")
    rows = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(r.rsplit("\t", 1)[0] + "\tcontradiction\r\n" for r in rows), encoding="utf-8")
    msg = refused("xnli", "test", "sw", root.root)
    assert msg.startswith(f"{p}: all 5,010 examples have the label 'contradiction': placeholder golds")


def test_wikiann_test_with_all_tags_o_is_refused(root):
    p = root("wikiann/test/test-yo.tsv")
    lines = p.read_text(encoding="utf-8").split("\n")
    p.write_text("\n".join(ln.split("\t")[0] + "\tO" if ln else ln for ln in lines), encoding="utf-8")
    msg = refused("wikiann", "test", "yo", root.root)
    assert msg.startswith(f"{p}: every tag of its 100 sentences is 'O': placeholder golds")


def test_wikiann_test_tokens_only_is_refused(root):
    p = root("wikiann/test/test-yo.tsv")
    lines = p.read_text(encoding="utf-8").split("\n")
    p.write_text("\n".join(ln.split("\t")[0] for ln in lines), encoding="utf-8")
    assert refused("wikiann", "test", "yo", root.root).startswith(f"{p}: no tag in any of its ")


def test_splits_unlabelled_by_design_still_read(data_root):
    assert {x.label for x in catalog.read("sst2", "test", "en", data_root)} == {None}


# ---- the recorded tables ----------------------------------------------------------------


def test_counts_cover_the_snapshot(data_root):
    counts = load_counts()
    present = [count_key(e.name, f.split, f.lang) for e in catalog.all_datasets() for f in e.files
               if all(p.is_file() for p in catalog.local_paths(e, f, data_root))]
    assert len(present) > 600 and set(present) == set(counts)
    assert counts["xnli/test/en"] == 5010 and counts["tydiqa/dev/bn"] == 113 and counts["lareqa/test/en"] == 1190


def test_record_checksums_writes_both_tables(root, tmp_path):
    root("xcopa/data/it/val.it.jsonl")
    sums, counts = record_checksums(root.root, tmp_path / "sums.json", tmp_path / "counts.json")
    assert sums == {"xcopa/data/it/val.it.jsonl": RECORDED["xcopa/data/it/val.it.jsonl"]}
    assert counts == {"xcopa/val/it": 100}
    assert json.loads((tmp_path / "counts.json").read_text()) == counts


def test_symlink_loop_and_dangling_link_are_not_called_missing(root):
    swh = root("tatoeba/tatoeba.swh-eng.swh")
    root("tatoeba/tatoeba.swh-eng.eng")
    swh.unlink()
    swh.symlink_to(swh)
    with pytest.raises(MissingDataError, match=f"{swh} is a symlink loop .*: replace the link with the file"):
        catalog.read("tatoeba", "test", "swh", root.root)
    swh.unlink()
    swh.symlink_to(swh.parent / "gone")
    with pytest.raises(MissingDataError, match=f"is a symlink to {swh.parent / 'gone'}, which does not exist"):
        catalog.read("tatoeba", "test", "swh", root.root)
