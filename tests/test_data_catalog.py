"""The catalog: every entry is well formed, its files exist, and the registry refuses
duplicates and suggests names for typos."""

from __future__ import annotations

import pytest

from xstilts.data import catalog, entries, formats, languages
from xstilts.data.entries import DataFile, DatasetEntry
from xstilts.data.formats import FORMATS
from xstilts.errors import MissingDataError

ENTRIES = catalog.all_datasets()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_entry_is_well_formed(entry: DatasetEntry):
    assert entry.format in FORMATS
    assert entry.roles and set(entry.roles) <= set(entries.ROLES)
    assert entry.licence and entry.version and entry.files
    for lang in entry.languages:
        assert languages.TAG_RE.match(entry.tag(lang)), (lang, entry.tag(lang))
    for f in entry.files:
        assert f.lang in entry.languages
        assert len(f.paths) == len(f.urls) and all(u.startswith("https://") for u in f.urls)
    assert len({(f.split, f.lang) for f in entry.files}) == len(entry.files)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.available], ids=lambda e: e.name)
def test_available_files_exist(entry: DatasetEntry, data_root):
    missing = [p for f in entry.files for p in catalog.local_paths(entry, f, data_root) if not p.is_file()]
    assert not missing


def test_offline_absent_datasets_are_declared(data_root):
    absent = {e.name for e in ENTRIES if not e.available}
    assert absent == {"mnli_train", "squad_v2_train", "hellaswag", "qqp", "pawsx"}
    for name in absent:
        e = catalog.get_dataset(name)
        assert not any(p.exists() for f in e.files for p in catalog.local_paths(e, f, data_root))


def test_registry_rejects_duplicates_and_unknown_formats():
    one = catalog.get_dataset("copa")
    with pytest.raises(ValueError, match="defined twice"):
        catalog.build_registry([one, one])
    bad = DatasetEntry("x", ("target",), "no-such-format", ("en",), (), "l", "v")
    with pytest.raises(KeyError, match="unknown format"):
        catalog.build_registry([bad])


def test_unknown_names_suggest():
    with pytest.raises(KeyError, match="did you mean 'tatoeba'"):
        catalog.get_dataset("tatoba")
    with pytest.raises(KeyError, match="did you mean 'test'"):
        catalog.dataset_files("xcopa", split="tset")
    with pytest.raises(KeyError, match="no language 'xx'"):
        catalog.dataset_files("xnli", lang="xx")


def test_files_filter_and_urls():
    files = catalog.dataset_files("tatoeba", lang="swh")
    assert files == (DataFile("test", "swh", ("tatoeba.swh-eng.swh", "tatoeba.swh-eng.eng"), files[0].urls),)
    assert files[0].urls[0] == ("https://raw.githubusercontent.com/facebookresearch/LASER/"
                                "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821/data/tatoeba/v1/tatoeba.swh-eng.swh")
    oto = catalog.dataset_files("americasnlp_mt", "dev", "oto")[0]
    assert "h%C3%B1%C3%A4h%C3%B1u-spanish/dev.oto" in oto.urls[0]
    assert catalog.dataset_files("sst2", "train")[0].urls[0].endswith("glue_data/SST-2/train_full.tsv")
    assert len(catalog.dataset_files("ud")) == 45  # 43 treebanks' test files + English-EWT train and dev


def test_udpos_reads_every_xtreme_r_language_the_data_root_has_with_all_its_treebanks(data_root):
    from xstilts.metrics.xtreme_r import XTREME_R_LANGUAGES
    from xstilts.tasks import get_task

    on_disk: dict[str, set[str]] = {}
    for path in (data_root / "ud").glob("UD_*/*-ud-test.conllu"):
        on_disk.setdefault(path.name.split("_")[0], set()).add(f"{path.parent.name}/{path.name}")
    udpos = get_task("udpos")
    assert set(XTREME_R_LANGUAGES["udpos"]) <= set(on_disk) <= set(udpos.languages)  # all 38 are here
    for lang, files in on_disk.items():
        [f] = catalog.dataset_files("ud", udpos.eval_source(lang).split, lang)
        assert set(f.paths) == files and len(f.urls) == len(f.paths)
        examples = catalog.read("ud", "test", lang, data_root)  # counts and sha256 recorded for each
        assert len(examples) == sum(formats.count_blocks((data_root / "ud" / p,)) for p in files)


def test_tatoeba_language_lists():
    assert len(languages.TATOEBA_LANGS) == 112 and len(languages.XTREME36) == 36
    assert set(languages.XTREME36) <= set(languages.TATOEBA_LANGS)
    assert languages.XTREME36_ISO1["cmn"] == "zh" and languages.XTREME36_ISO1["pes"] == "fa"
    assert catalog.get_dataset("tatoeba").tag("cmn") == "cmn_Hans"


def test_missing_file_names_the_fetch_command(tmp_path):
    with pytest.raises(MissingDataError, match="xstilts data fetch copa"):
        catalog.read("copa", "train", "en", tmp_path)


def test_alignment_helpers(data_root):
    pairs = catalog.tatoeba_pairs("swh", data_root)
    assert len(pairs) == 390 and pairs[0].source and pairs[0].target
    flores = catalog.flores_sentences(data_root)
    assert len(flores) == 47 and all(len(v) == 1004 for v in flores.values())
    assert flores["eng_Latn"].keys() == flores["zul_Latn"].keys()


def test_lareqa(data_root):
    questions, candidates = catalog.lareqa("en", data_root)
    assert len(questions) == 1190 and len(candidates) == 1180
    by_id = {c.uid: c for c in candidates}
    q = questions[0]
    assert q.question == "How many points did the Panthers defense surrender?"
    assert "308" in by_id[q.answer_ids[0]].sentence
    pool_q, pool_c = catalog.lareqa_pool(data_root, ["en", "de"])
    assert len(pool_c) == 1180 + 1276
    assert all(len(x.answer_ids) == 2 for x in pool_q["de"])
