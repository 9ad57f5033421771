"""The built-in datasets as data: one frozen entry per dataset, naming its files, sources and format.

Entries are data, not subclasses: the reader comes from `format` (see formats.py). File
lists come from a loop over each dataset's language table (languages.py), so a language is
added by adding a code. Paths are relative to `<data root>/<folder>/`; URLs are the official
sources at the commit recorded in the folder's SOURCE.md. The catalog registers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from xstilts.data.hf import HFRef
from xstilts.data.languages import (
    AFRISENTI_LANGS,
    AMERICAS_LANGS,
    BUCC_LANGS,
    LANGUAGE_TAGS,
    LAREQA_LANGS,
    MASAKHANER_LANGS,
    MLQA_LANGS,
    NUSAX_LANGS,
    PAWSX_LANGS,
    SIB200_LANGS,
    TAG_RE,
    TATOEBA_LANGS,
    TYDIQA_LANGS,
    WIKIANN_LANGS,
    WIKIANN_TEST_LANGS,
    XCOPA_LANGS,
    XNLI_LANGS,
    XQUAD_LANGS,
)

ROLES = ("target", "intermediate", "english-training", "parallel")


@dataclass(frozen=True)
class DataFile:
    """The file(s) of one split in one language; several paths are line-aligned sides.

    A URL may end in '#member': the official source is an archive holding that member.
    `hf`: the split is read from a Hugging Face dataset (its local files, if any, in `paths`)."""

    split: str
    lang: str
    paths: tuple[str, ...]
    urls: tuple[str, ...]
    hf: HFRef | None = None


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    roles: tuple[str, ...]
    format: str
    languages: tuple[str, ...]  # codes as used in the file names
    files: tuple[DataFile, ...]
    licence: str
    version: str  # the release, with the commit the files were taken from
    labels: tuple[str, ...] = ()  # label or tag set the reader checks; () = not checked
    folder: str = ""  # folder under the data root; defaults to the name
    available: bool = True  # False: not in the offline data snapshot, only fetchable
    notes: str = ""
    unlabelled: tuple[str, ...] = ()  # splits without golds by design (never scored); others are gold-checked
    fields: tuple[tuple[str, Any], ...] = ()  # a user's field mapping (generic formats: csv, tsv, jsonl, hf)

    @property
    def dir(self) -> str:
        return self.folder or self.name

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.split for f in self.files))

    def tag(self, lang: str) -> str:
        """ISO 639-3 + script code (FLORES style, e.g. swh_Latn) of a file-name language code."""
        return lang if TAG_RE.match(lang) else LANGUAGE_TAGS[lang]


# ---- label sets -------------------------------------------------------------------------

NLI = ("entailment", "neutral", "contradiction")
SENTIMENT = ("negative", "neutral", "positive")
BINARY = ("0", "1")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")


def _bio(*types: str) -> tuple[str, ...]:
    return ("O",) + tuple(f"{p}-{t}" for t in types for p in "BI")


# ---- building file lists ----------------------------------------------------------------


def raw_github(repo: str, commit: str, prefix: str = "", rename: dict[str, str] | None = None) -> Callable[[str], str]:
    """Relative path -> raw.githubusercontent.com URL at a fixed commit (non-ASCII quoted)."""

    def url(rel: str) -> str:
        return f"https://raw.githubusercontent.com/{repo}/{commit}/" + quote(prefix + (rename or {}).get(rel, rel))

    return url


def grid(splits: Iterable[str], langs: Iterable[str], rel: Callable[[str, str], str | tuple[str, ...]],
         url: Callable[[str], str]) -> tuple[DataFile, ...]:
    """One DataFile per (split, language) from a path pattern and a URL rule."""
    out = []
    for split in splits:
        for lang in langs:
            paths = rel(split, lang)
            paths = (paths,) if isinstance(paths, str) else paths
            out.append(DataFile(split, lang, paths, tuple(url(p) for p in paths)))
    return tuple(out)


_XTREME_COPY = ("wuhjie/few_shots_that_matters_wu", "6bfe6324e428ec21a777b5543cd8e50ec82dcb3c")
# UD: every treebank the data root has, as (folder, file prefix, commit) (ud/SOURCE.md); the language
# is the prefix's first part. English-EWT also has train and dev. A language with several treebanks
# reads them all, concatenated in this order, as XTREME's UD-POS does.
UD_TREEBANKS = (
    ("UD_English-EWT", "en_ewt", "15d613d8447b3478787d4c278730a1e48a945efb"),
    ("UD_Yoruba-YTB", "yo_ytb", "d07fe63b40512ac904a6519bae1658e9b05109ce"),
    ("UD_Wolof-WTB", "wo_wtb", "575a3ab64619a91de9950f01afb7c9f2d8cd28c4"),
    ("UD_Naija-NSC", "pcm_nsc", "be1b5101e9176a4dd8e1da47053afbccf60ae8ce"),
    ("UD_Amharic-ATT", "am_att", "2a7b52094758edd88ea67690ff86aed6a2f51481"),
    ("UD_Breton-KEB", "br_keb", "639600f9b15a5e2e15f310b12e4dbe81c40fa74b"),
    ("UD_Faroese-OFT", "fo_oft", "70786cfa4e1755cabc17017e2d90c8d1f238f0a0"),
    ("UD_Tagalog-TRG", "tl_trg", "7151bec17280ebbfdb61f82126649f7b95216703"),
    ("UD_Kazakh-KTB", "kk_ktb", "e9f3b87a5faa95cf0b4cd97d62f2de8c90ee8153"),
    ("UD_Welsh-CCG", "cy_ccg", "78e19757e590d92bba26cbd145f56779ce61d2a3"),
    ("UD_Marathi-UFAL", "mr_ufal", "c02a08246fdb6c99257d7c5bc6ef14f736a995bf"),
    ("UD_Telugu-MTG", "te_mtg", "fea14d143ec43ba42b0b82381b55fd509839a1a0"),
    ("UD_Lithuanian-HSE", "lt_hse", "4153e684760985a692917e73e7904cb2ff2d6dd5"),
    ("UD_Tamil-TTB", "ta_ttb", "afe55e0c8ee0e5bfdb2c1cdb287880a22d254b58"),
    ("UD_Vietnamese-VTB", "vi_vtb", "e8fa54835582fb5d0c767f19f0992675726fa084"),
    ("UD_Afrikaans-AfriBooms", "af_afribooms", "a6dd726120c8bf1a0f8fb40f6a9ca15e880a192a"),
    ("UD_Turkish-IMST", "tr_imst", "bcd48daa9957794a9137d85a4e2a115cdcdd4b1a"),
    ("UD_Hebrew-HTB", "he_htb", "a6d496c877d0d07d97bcfdb2de11d245ef94256a"),
    ("UD_Russian-GSD", "ru_gsd", "5400f2fd7264b7699727bb61b09f53841899df26"),
    ("UD_Chinese-GSD", "zh_gsd", "200dbe8acf60ff0d194f2d30bf925c410eee762a"),
    # added for XTREME-R coverage (all 38 UD-POS languages); Arabic and Hindi: PUD in place of
    # PADT/HDTB, whose test files are not in the offline snapshot
    ("UD_Arabic-PUD", "ar_pud", "be733f45d21f42d506c62930f806ed2182a5ee3d"),
    ("UD_Bulgarian-BTB", "bg_btb", "b5cd6324b2015dbf3cd328ddebefc54dceddd202"),
    ("UD_German-GSD", "de_gsd", "297fcf350481058d0737a27f0f8fd03b2eadd67a"),
    ("UD_Greek-GDT", "el_gdt", "1485f849d5ac7fcafa092a75804b41dbb1a3f194"),
    ("UD_Spanish-GSD", "es_gsd", "57c045644664e5c1e169263cc4e3b95e40c078ba"),
    ("UD_Estonian-EDT", "et_edt", "be5459fbb6edc1523a6f2e4a56df134b4fbbc3a6"),
    ("UD_Basque-BDT", "eu_bdt", "b103756e7d3dca0130807308c73eb170fdba5394"),
    ("UD_Persian-Seraji", "fa_seraji", "e53af38f4adc0edcdc056b8a2378cad791dc322a"),
    ("UD_Finnish-TDT", "fi_tdt", "5e3a88a671ea673fa330e10cc59f54da587a95a7"),
    ("UD_French-GSD", "fr_gsd", "830e2782304af08b3cc1c9250475343e04274d81"),
    ("UD_Hindi-PUD", "hi_pud", "8bc630f73e0737ce5ed9eaa97abf11f172ecc9bd"),
    ("UD_Hungarian-Szeged", "hu_szeged", "8f08ba648e6f6345212a721b7cb1ad78c5924f0e"),
    ("UD_Indonesian-GSD", "id_gsd", "89491e4d51c15da157175c303213ae5ff6f05f9d"),
    ("UD_Italian-ISDT", "it_isdt", "689c1bf3c7d132903d2196ac69b76a0933c90997"),
    ("UD_Japanese-GSD", "ja_gsd", "7bc20119f476b552635e0640644e577b6fd3606b"),
    ("UD_Korean-GSD", "ko_gsd", "925eec22693d37a922eb546c6a9500844d271d51"),
    ("UD_Dutch-Alpino", "nl_alpino", "95e374a608d114ec6c6b32f0fbd5f324d29ef286"),
    ("UD_Polish-PDB", "pl_pdb", "27235e131faed50feb291faed1ff2fa5389a06be"),
    ("UD_Portuguese-Bosque", "pt_bosque", "5de7ac34028ff6d1718031a4b0ae895717ed8dbe"),
    ("UD_Romanian-RRT", "ro_rrt", "cc00bf852bc3c19ac345457eef8b3e5665392a72"),
    ("UD_Thai-PUD", "th_pud", "516638d39adfbc03fa3e7f7b33ce59555055a2d9"),
    ("UD_Ukrainian-IU", "uk_iu", "21f641ba6109044ce9aafd4b2cbfa20a4ac6e479"),
    ("UD_Urdu-UDTB", "ur_udtb", "ed8da673c32352fb78036808349a9546e21fc78a"),
)
UD_LANGS = tuple(dict.fromkeys(prefix.split("_")[0] for _, prefix, _ in UD_TREEBANKS))
AMERICASNLP_FOLDERS = dict(
    aym="aymara-spanish", bzd="bribri-spanish", cni="ashaninka-spanish", gn="guarani-spanish",
    hch="wixarika-spanish", nah="nahuatl-spanish", oto="hñähñu-spanish", quy="quechua-spanish",
    shp="shipibo_konibo-spanish", tar="raramuri-spanish")


UD_SPLITS = {"en_ewt": ("train", "dev", "test")}  # the other treebanks here have a test file only


def _ud_files() -> tuple[DataFile, ...]:
    """One DataFile per (split, language) holding every treebank of the language that has the split."""
    out = []
    for lang in UD_LANGS:
        banks = [(folder, prefix, commit) for folder, prefix, commit in UD_TREEBANKS if prefix.split("_")[0] == lang]
        for split in dict.fromkeys(s for _, prefix, _ in banks for s in UD_SPLITS.get(prefix, ("test",))):
            names = [(folder, f"{prefix}-ud-{split}.conllu", commit) for folder, prefix, commit in banks
                     if split in UD_SPLITS.get(prefix, ("test",))]
            out.append(DataFile(split, lang, tuple(f"{folder}/{name}" for folder, name, _ in names),
                                tuple(f"https://raw.githubusercontent.com/UniversalDependencies/{folder}/{commit}/{name}"
                                      for folder, name, commit in names)))
    return tuple(out)


def _americasnlp_files() -> tuple[DataFile, ...]:
    url = raw_github("AmericasNLP/americasnlp2021", "d3f519c6b38299d8149311e65a369047350e6849")
    return grid(["dev"], AMERICAS_LANGS, lambda s, l: (f"data/{AMERICASNLP_FOLDERS[l]}/dev.{l}",
                                                       f"data/{AMERICASNLP_FOLDERS[l]}/dev.es"), url) + \
        grid(["test"], AMERICAS_LANGS, lambda s, l: (f"test_data/test.{l}", "test_data/test.es"), url)


def _pawsx_member(split: str, lang: str) -> str:
    name = {"dev": "dev_2k.tsv", "test": "test_2k.tsv"}.get(split, "train.tsv" if lang == "en" else "translated_train.tsv")
    return f"x-final/{lang}/{name}"


ENTRIES: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        "tatoeba", ("target",), "parallel-text", TATOEBA_LANGS,
        grid(["test"], TATOEBA_LANGS, lambda s, l: (f"tatoeba.{l}-eng.{l}", f"tatoeba.{l}-eng.eng"),
             raw_github("facebookresearch/LASER", "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821", "data/tatoeba/v1/")),
        "CC BY 2.0 FR (Tatoeba)", "LASER v1 (2019) @74bc6ae",
        notes="source = xx sentence, target = English; XTREME36 / XTREME_R_TATOEBA list the evaluated languages"),
    DatasetEntry(
        "sib200", ("intermediate", "parallel"), "sib200-tsv", SIB200_LANGS,
        grid(["train", "dev", "test"], SIB200_LANGS, lambda s, l: f"annotated/{l}/{s}.tsv",
             raw_github("dadelani/sib-200", "593cea88519930f776c1a4a1980b6a35b39dca57", "data/")),
        "CC BY-SA 4.0 (FLORES-200 text)", "SIB-200 @593cea8",
        ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"),
        notes="index_id aligns the same FLORES sentence across languages"),
    DatasetEntry(
        "lareqa", ("target",), "lareqa-json", LAREQA_LANGS,
        grid(["test"], LAREQA_LANGS, lambda s, l: f"xquad-r/{l}.json",
             raw_github("google-research-datasets/lareqa", "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c")),
        "CC BY-SA 4.0", "XQuAD-R @9bc8c7f"),
    DatasetEntry(
        "xquad", ("target",), "squad-json", XQUAD_LANGS,
        grid(["test"], XQUAD_LANGS, lambda s, l: f"xquad.{l}.json",
             raw_github("deepmind/xquad", "60cac411649156efb6aab9dd4c9cde787a2c0345")),
        "CC BY-SA 4.0", "XQuAD @60cac41", notes="ro is not an XTREME-R language"),
    DatasetEntry(
        "mlqa", ("target",), "squad-json", MLQA_LANGS,
        grid(["dev"], MLQA_LANGS, lambda s, l: f"MLQA_V1/dev/dev-context-{l}-question-{l}.json",
             raw_github(*_XTREME_COPY, "data/mlqa/")),
        "CC BY-SA 3.0", "MLQA v1.0 (XTREME copy @6bfe632)"),
    DatasetEntry(
        "tydiqa", ("target",), "squad-json", TYDIQA_LANGS,
        grid(["train"], ["en"], lambda s, l: "tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",
             raw_github(*_XTREME_COPY, "data/tydiqa/"))
        + grid(["dev"], TYDIQA_LANGS, lambda s, l: f"tydiqa-goldp-v1.1-dev/tydiqa.goldp.{l}.dev.json",
               raw_github(*_XTREME_COPY, "data/tydiqa/")),
        "Apache-2.0", "TyDiQA-GoldP v1.1 (XTREME copy @6bfe632)", notes="dev is XTREME's test set"),
    DatasetEntry(
        "xnli", ("target",), "xnli-tsv", XNLI_LANGS,
        grid(["dev"], XNLI_LANGS, lambda s, l: f"dev-{l}.tsv", raw_github(*_XTREME_COPY, "data/xnli/"))
        + grid(["test"], XNLI_LANGS, lambda s, l: f"test/test-{l}.tsv",
               raw_github(*_XTREME_COPY, "data/xnli/", {f"test/test-{l}.tsv": f"test-{l}.tsv" for l in XNLI_LANGS})),
        "CC BY-NC 4.0", "XNLI 1.0 (XTREME copy @6bfe632; test labels joined, xnli/SOURCE.md)", NLI,
        notes="the official source's test files carry no labels (XTREME blanks them): fetch test with --mirror"),
    DatasetEntry(
        "xcopa", ("target",), "copa-jsonl", XCOPA_LANGS,
        grid(["val", "test"], XCOPA_LANGS, lambda s, l: f"data/{l}/{s}.{l}.jsonl",
             raw_github("cambridgeltl/xcopa", "e2e9d7f105a758ee869cd13e0fe251ef93a29840")),
        "CC BY 4.0", "XCOPA @e2e9d7f"),
    DatasetEntry(
        "ud", ("target",), "conllu", UD_LANGS, _ud_files(),
        "CC BY-SA 3.0/4.0 (bg el et eu he hu it pl ta tr uk ur: CC BY-NC-SA)",
        "UD master 2025/2026, every treebank the data root has for a language (ud/SOURCE.md)", UPOS,
        notes="a language's treebanks are read as one test set; Arabic-PADT and Hindi-HDTB test files are not "
              "in the offline snapshot (Arabic-PUD, Hindi-PUD instead)"),
    DatasetEntry(
        "wikiann", ("target",), "conll-tab", WIKIANN_LANGS,
        grid(["train"], ["en"], lambda s, l: "train-en.tsv",
             raw_github("boleima/ToPro", "9300fd37ea92650f528e027da0f427baae3a62a9", "download/panx/"))
        + grid(["dev"], WIKIANN_LANGS, lambda s, l: f"dev-{l}.tsv",
               raw_github("boleima/ToPro", "9300fd37ea92650f528e027da0f427baae3a62a9", "download/panx/"))
        + grid(["test"], WIKIANN_TEST_LANGS, lambda s, l: f"test/test-{l}.tsv",
               raw_github("boleima/ToPro", "9300fd37ea92650f528e027da0f427baae3a62a9", "download/panx/",
                          {f"test/test-{l}.tsv": f"test-{l}.tsv" for l in WIKIANN_TEST_LANGS})),
        "unknown (Wikipedia text, CC BY-SA)", "PAN-X, XTREME copy @9300fd3; tagged test from the Rahimi et al. archives",
        _bio("PER", "ORG", "LOC"),
        notes="26 dev files cut to their first 1,000 sentences (the offline copy); test (36 languages) is tagged "
              "(wikiann/SOURCE.md): the official copy's test files are blanked, fetch test with --mirror"),
    DatasetEntry(
        "copa", ("english-training",), "copa-jsonl", ("en",),
        grid(["train", "val"], ["en"], lambda s, l: f"{s}-en.jsonl", raw_github(*_XTREME_COPY, "data/xcopa/")),
        "BSD-2-Clause (COPA)", "SuperGLUE COPA v2 (XTREME copy @6bfe632)"),
    DatasetEntry(
        "siqa", ("english-training", "intermediate"), "siqa-jsonl", ("en",),
        grid(["dev"], ["en"], lambda s, l: "socialIQa_v1.4_dev.jsonl", raw_github(*_XTREME_COPY, "data/siqa/")),
        "CC BY 4.0", "Social IQa v1.4 (XTREME copy @6bfe632)"),
    DatasetEntry(
        "mnli", ("english-training", "intermediate"), "mnli-std-csv", ("en",),
        grid(["dev_matched"], ["en"], lambda s, l: "multinli_validation_std.csv",
             raw_github("kawine/dataset_difficulty", "740ce808da0e6e94c0bc29c47974265c123bd7d8", "data/")),
        "OANC / CC BY-SA 3.0 (MultiNLI)", "MultiNLI 1.0 dev_matched, derived CSV @740ce80", NLI),
    DatasetEntry(
        "sst2", ("intermediate",), "sst2-tsv", ("en",),
        grid(["train", "dev", "test"], ["en"], lambda s, l: f"{s}.tsv",
             raw_github("eyalbd2/Reproducing-AutoPrompt", "6288fb5bec9c572f2492875ae0111df5b6daed11", "glue_data/SST-2/",
                        {"train.tsv": "train_full.tsv"})),
        "research use (SST / GLUE)", "GLUE SST-2 @6288fb5", BINARY, notes="test has no labels", unlabelled=("test",)),
    DatasetEntry(
        "commonsenseqa", ("intermediate",), "csqa-jsonl", ("en",),
        grid(["train", "dev", "test"], ["en"],
             lambda s, l: {"test": "test_rand_split_no_answers.jsonl"}.get(s, f"{s}_rand_split.jsonl"),
             raw_github("kojima-takeshi188/zero_shot_cot", "5ef330fcdeec0cd26aee27943504f91f8ec1c33c",
                        "dataset/CommonsenseQA/")),
        "MIT (HF card)", "CommonsenseQA 1.11 random split @5ef330f", notes="test has no answerKey",
        unlabelled=("test",)),
    DatasetEntry(
        "cosmosqa", ("intermediate",), "cosmosqa-csv", ("en",),
        grid(["valid"], ["en"], lambda s, l: "valid.csv",
             raw_github("wilburOne/cosmosqa", "b6eb99cca4e2a51dd28a9a6f562534872d851639", "data/")),
        "CC BY 4.0 (HF card)", "Cosmos QA @b6eb99c"),
    DatasetEntry(
        "anli", ("intermediate",), "anli-jsonl", ("en",),
        grid([f"{s}_r{r}" for s in ("dev", "test") for r in (1, 2, 3)], ["en"],
             lambda s, l: f"R{s[-1]}/{s.split('_')[0]}.jsonl",
             raw_github("eric11eca/curriculum-ling", "1c79904f9be35204e1bd8c760fea5c8180d10b39", "data/anli_v1.0/")),
        "CC BY-NC 4.0", "ANLI v1.0 @1c79904", NLI),
    DatasetEntry(
        "squad_v2", ("intermediate",), "squad-json", ("en",),
        grid(["dev"], ["en"], lambda s, l: "cs224n_split/dev-v2.0.json",
             raw_github("chrischute/squad", "85623adeb9e6639f145081fea9cae2d8f3a26379", "data/",
                        {"cs224n_split/dev-v2.0.json": "dev-v2.0.json"})),
        "CC BY-SA 4.0", "SQuAD 2.0 dev, CS224N half (16 articles) @85623ad",
        notes="derived half of dev-v2.0 with CS224N's ids, not the official file"),
    DatasetEntry(
        "americasnli", ("intermediate",), "americasnli-tsv", AMERICAS_LANGS,
        grid(["dev", "test"], AMERICAS_LANGS, lambda s, l: f"{s}/{l}.tsv",
             raw_github("abteen/americasnli", "bebd02ca1e4529016fca2e4554a5c48c285b8fba", "data/anli_final/")),
        "CC BY-SA 4.0", "AmericasNLI @bebd02c", NLI),
    DatasetEntry(
        "americasnlp_mt", ("parallel",), "parallel-text", AMERICAS_LANGS, _americasnlp_files(),
        "none stated (research use)", "AmericasNLP 2021 @d3f519c", notes="source = indigenous language, target = Spanish"),
    DatasetEntry(
        "masakhaner", ("intermediate",), "conll-space", MASAKHANER_LANGS,
        grid(["train", "dev", "test"], MASAKHANER_LANGS, lambda s, l: f"{l}/{s}.txt",
             raw_github("masakhane-io/masakhane-ner", "ba5843cd08aa491d5f96a5e809e71eb9ec461391", "data/")),
        "CC BY-NC 4.0", "MasakhaNER 1.0 @ba5843c", _bio("PER", "ORG", "LOC", "DATE")),
    DatasetEntry(
        "nusax", ("intermediate",), "nusax-csv", NUSAX_LANGS,
        grid(["train", "valid", "test"], NUSAX_LANGS, lambda s, l: f"sentiment/{l}/{s}.csv",
             raw_github("IndoNLP/nusax", "75b0be5d982348332509f296e10d9bf9cb66d60f", "datasets/")),
        "CC BY-SA 4.0", "NusaX-Senti @75b0be5", SENTIMENT, notes="ids align the same sentence across languages"),
    DatasetEntry(
        "nusax_mt", ("parallel",), "nusax-mt-csv", tuple(c for c in NUSAX_LANGS if c != "english"),
        grid(["train", "valid", "test"], [c for c in NUSAX_LANGS if c != "english"], lambda s, l: f"mt/{s}.csv",
             raw_github("IndoNLP/nusax", "75b0be5d982348332509f296e10d9bf9cb66d60f", "datasets/")),
        "CC BY-SA 4.0", "NusaX-MT @75b0be5", folder="nusax", notes="source = language, target = English"),
    DatasetEntry(
        "afrisenti", ("intermediate",), "afrisenti-tsv", AFRISENTI_LANGS,
        grid(["train", "dev", "test"], AFRISENTI_LANGS, lambda s, l: f"{l}/{s}.tsv",
             raw_github("afrisenti-semeval/afrisent-semeval-2023", "5aec3cfcf87b59f885e98641f72e52182776429d", "data/")),
        "CC BY 4.0", "AfriSenti-SemEval 2023 v1.0 @5aec3cf", SENTIMENT),
    DatasetEntry(
        "masakhanews", ("intermediate",), "masakhanews-tsv", ("lin", "lug"),
        grid(["train", "dev", "test"], ("lin", "lug"), lambda s, l: f"{l}/{s}.tsv",
             raw_github("masakhane-io/masakhane-news", "819be052e79e0a600e0ed4a7356594681cb5c4f3", "data/")),
        "AFL-3.0 (HF card)", "MasakhaNEWS @819be05", ("business", "health", "politics", "religion", "sports")),
    # ---- not in the offline snapshot (too large); fetchable from their official sources ----
    DatasetEntry(
        "mnli_train", ("english-training", "intermediate"), "mnli-jsonl", ("en",),
        (DataFile("train", "en", ("multinli_1.0_train.jsonl",),
                  ("https://cims.nyu.edu/~sbowman/multinli/multinli_1.0.zip#multinli_1.0/multinli_1.0_train.jsonl",)),),
        "OANC / CC BY-SA 3.0", "MultiNLI 1.0", NLI, available=False),
    DatasetEntry(
        "squad_v2_train", ("intermediate",), "squad-json", ("en",),
        grid(["train", "dev"], ["en"], lambda s, l: f"{s}-v2.0.json",
             lambda rel: f"https://rajpurkar.github.io/SQuAD-explorer/dataset/{rel}"),
        "CC BY-SA 4.0", "SQuAD 2.0 (official files)", available=False),
    DatasetEntry(
        "hellaswag", ("intermediate",), "hellaswag-jsonl", ("en",),
        grid(["train", "val", "test"], ["en"], lambda s, l: f"hellaswag_{s}.jsonl",
             raw_github("rowanz/hellaswag", "master", "data/")),
        "MIT", "HellaSwag 1.1 (master branch)", available=False, notes="test has no labels", unlabelled=("test",)),
    DatasetEntry(
        "qqp", ("intermediate",), "qqp-tsv", ("en",),
        grid(["train", "dev"], ["en"], lambda s, l: f"{s}.tsv",
             lambda rel: f"https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip#QQP/{rel}"),
        "Quora terms (non-commercial research)", "GLUE QQP (clean)", BINARY, available=False),
    DatasetEntry(
        "pawsx", ("target", "intermediate"), "pawsx-tsv", PAWSX_LANGS,
        grid(["train"], ["en"], lambda s, l: _pawsx_member(s, l).split("/", 1)[1],
             lambda rel: f"https://storage.googleapis.com/paws/pawsx/x-final.tar.gz#x-final/{rel}")
        + grid(["dev", "test"], PAWSX_LANGS, lambda s, l: _pawsx_member(s, l).split("/", 1)[1],
               lambda rel: f"https://storage.googleapis.com/paws/pawsx/x-final.tar.gz#x-final/{rel}"),
        "custom (Google: free use with attribution)", "PAWS-X x-final", BINARY, available=False),
    DatasetEntry(
        "bucc2018", ("target",), "bucc-tsv", BUCC_LANGS,
        grid(["dev"], BUCC_LANGS, lambda s, l: tuple(f"{l}-en.{s}.{ext}" for ext in (l, "en", "gold")),
             raw_github(*_XTREME_COPY, "data/bucc2018/")),
        "BUCC 2018 shared task terms (research)", "BUCC 2018 sample split (XTREME's dev, XTREME copy @6bfe632)",
        notes="zh-en only (bucc2018/SOURCE.md); XTREME renames the official `sample` split `dev`"),
)

