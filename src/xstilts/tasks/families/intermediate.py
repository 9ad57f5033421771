"""Intermediate tasks (phase 2): the English tasks of Phang et al. (2020) and tasks in
low-resource languages, one entry per (dataset, language) named "dataset:lang".

Where a dataset has no train split offline, the entry says which split trains and which
evaluates (in `notes`). Parallel datasets (NusaX, SIB-200, AmericasNLI) give the cleanest
English vs low-resource comparison: the same content and labels in another language.
"""

from dataclasses import replace

from xstilts.data import catalog, entries, languages
from xstilts.tasks.schema import Recipe, Source, TaskDef

ROLE = ("intermediate",)
# Phase 2 follows the paper's recipe shape (lr 1e-5..3e-5, batch 32); steps come from the spec.
CLS = Recipe(lr=2e-5, batch_size=32, epochs=3, max_length=128)
MC = Recipe(lr=2e-5, batch_size=16, epochs=3, max_length=128)
QA = Recipe(lr=3e-5, batch_size=32, epochs=2, max_length=384)


def _short(tag: str) -> str:
    """bug_Latn -> bug; the NusaX/SIB-200 names use ISO 639-3 codes."""
    return tag.split("_")[0]


ENGLISH = (
    TaskDef(name="anli", type="sentence-pair", roles=ROLE, recipe=CLS, version="1",
            train=tuple(Source("anli", f"dev_r{r}") for r in (1, 2, 3)), dev=Source("anli", "test_r3"),
            eval=(Source("anli", "test_r1"),), labels=entries.NLI, metrics=("accuracy",), main_score="accuracy",
            notes="ANLI train is not available offline: dev R1-R3 train, test R1/R3 evaluate"),
    TaskDef(name="commonsenseqa", type="multiple_choice", roles=ROLE, recipe=MC, version="1",
            train=(Source("commonsenseqa", "train"),), dev=Source("commonsenseqa", "dev"),
            eval=(Source("commonsenseqa", "dev"),), metrics=("accuracy",), main_score="accuracy"),
    TaskDef(name="cosmosqa", type="multiple_choice", roles=ROLE, recipe=MC, version="1",
            train=(Source("cosmosqa", "valid"),), dev=None, eval=(Source("cosmosqa", "valid"),),
            metrics=("accuracy",), main_score="accuracy",
            notes="only the valid split is available offline: it trains (and its score is training fit)"),
    TaskDef(name="siqa", type="multiple_choice", roles=ROLE, recipe=MC, version="1",
            train=(Source("siqa", "dev"),), dev=None, eval=(Source("siqa", "dev"),),
            metrics=("accuracy",), main_score="accuracy", notes="only dev is available offline: it trains"),
    TaskDef(name="sst2", type="classification", roles=ROLE, recipe=CLS, version="1",
            train=(Source("sst2", "train"),), dev=Source("sst2", "dev"), eval=(Source("sst2", "dev"),),
            labels=entries.BINARY, metrics=("accuracy",), main_score="accuracy"),
    TaskDef(name="mnli", type="sentence-pair", roles=ROLE, recipe=CLS, version="2",
            train=(Source("mnli", "dev_matched", exclude_texts_of=("xnli", "test", "en")),), dev=None,
            eval=(Source("mnli", "dev_matched"),),
            labels=entries.NLI, metrics=("accuracy",), main_score="accuracy",
            notes="MultiNLI train is not available offline: dev_matched trains"),
    TaskDef(name="squad_v2", type="qa", roles=ROLE, recipe=QA, version="1",
            # the dev half shares paragraphs with XQuAD (and so LAReQA): those are dropped
            train=(Source("squad_v2", "dev", "en", exclude_contexts_of=("xquad", "test", "en")),), dev=None,
            eval=(Source("squad_v2", "dev", "en", exclude_contexts_of=("xquad", "test", "en")),),
            metrics=("squad_v2",), main_score="squad_v2",
            notes="the CS224N half of dev-v2.0 trains, minus XQuAD's source paragraphs"),
    TaskDef(name="hellaswag", type="multiple_choice", roles=ROLE, recipe=MC, version="1",
            train=(Source("hellaswag", "train"),), dev=Source("hellaswag", "val"), eval=(Source("hellaswag", "val"),),
            metrics=("accuracy",), main_score="accuracy", notes="files not offline: xstilts data fetch hellaswag"),
    TaskDef(name="qqp", type="sentence-pair", roles=ROLE, recipe=CLS, version="1",
            train=(Source("qqp", "train"),), dev=Source("qqp", "dev"), eval=(Source("qqp", "dev"),),
            labels=entries.BINARY, metrics=("accuracy",), main_score="accuracy",
            notes="files not offline: xstilts data fetch qqp"),
)


def _per_language(dataset: str, names: dict[str, str], train: str, dev: str | None, test: str, **kw) -> tuple:
    """One entry per language of a multilingual dataset; `names` maps file code -> name suffix."""
    return tuple(
        TaskDef(name=f"{dataset}:{suffix}", roles=ROLE, train=(Source(dataset, train, lang),),
                dev=Source(dataset, dev, lang) if dev else None, eval=(Source(dataset, test, lang),),
                **{"version": "1", **kw})
        for lang, suffix in names.items())


def _translations(entries: tuple[TaskDef, ...], source: str) -> tuple[TaskDef, ...]:
    """Marks every entry but the source itself as a translation of `source` (the human
    translations a `translated` condition trains on, Phang et al.'s baseline (ii))."""
    return tuple(t if t.name == source else replace(t, translation_of=source) for t in entries)


_nusax = catalog.get_dataset("nusax")
NUSAX_SOURCE = "nusax:ind"  # NusaX: Indonesian SmSA sentences translated by native speakers
PARALLEL_AND_LOW_RESOURCE = (
    # NusaX sentiment: the same 1,000 sentences in English, Indonesian and 10 local languages
    *_translations(_per_language(
        "nusax", {lang: _short(_nusax.tag(lang)) for lang in _nusax.languages}, "train", "valid", "test",
        type="classification", recipe=CLS, labels=entries.SENTIMENT, metrics=("macro_f1", "accuracy"),
        main_score="macro_f1"), NUSAX_SOURCE),
    # SIB-200 topics over FLORES sentences (the FLORES alignment probe reads the same sentences),
    # translated from English FLORES
    *_translations(_per_language(
        "sib200", {lang: lang for lang in languages.SIB200_LANGS}, "train", "dev", "test", type="classification",
        recipe=CLS, labels=catalog.get_dataset("sib200").labels, metrics=("accuracy",), main_score="accuracy"),
        "sib200:eng_Latn"),
    # XNLI dev as intermediate data: the 14 human translations of English XNLI dev (the XNLI
    # target evaluates on test, so training on dev does not touch its evaluated text)
    *_translations(_per_language(
        "xnli", {lang: lang for lang in languages.XNLI_LANGS}, "dev", None, "test", type="sentence-pair",
        recipe=CLS, labels=entries.NLI, metrics=("accuracy",), main_score="accuracy"), "xnli:en"),
    # AmericasNLI: translations of Spanish XNLI; no train split, so test (larger) trains and dev evaluates
    *(replace(t, translation_of="xnli:es") for t in _per_language(
        "americasnli", {lang: lang for lang in languages.AMERICAS_LANGS}, "test", None, "dev",
        type="sentence-pair", recipe=CLS, labels=entries.NLI, metrics=("accuracy",), main_score="accuracy")),
    *_per_language("masakhaner", {lang: lang for lang in languages.MASAKHANER_LANGS}, "train", "dev", "test",
                   type="tagging", recipe=CLS, labels=catalog.get_dataset("masakhaner").labels,
                   metrics=("ner_f1",), main_score="ner_f1", version="2"),  # 2: long sentences split, not cut
    *_per_language("afrisenti", {lang: lang for lang in languages.AFRISENTI_LANGS}, "train", "dev", "test",
                   type="classification", recipe=CLS, labels=entries.SENTIMENT, metrics=("macro_f1", "accuracy"),
                   main_score="macro_f1"),
    *_per_language("masakhanews", {lang: lang for lang in ("lin", "lug")}, "train", "dev", "test",
                   type="classification", recipe=CLS, labels=catalog.get_dataset("masakhanews").labels,
                   metrics=("accuracy",), main_score="accuracy"),
)

TASKS = ENGLISH + PARALLEL_AND_LOW_RESOURCE
