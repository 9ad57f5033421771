"""XTREME-R structured prediction: UD-POS and WikiANN NER.

Versions: udpos 2 / wikiann 3 split sentences over max_length into pieces (every word predicted;
before, words past the limit were filled with tag 0) and score F1 with seqeval 0.0.12's rules, as
XTREME does; udpos 2 also reads every test treebank of a language. Rows of older versions are
never compared with these (report.study.check_versions).
"""

from xstilts.data import catalog, entries, languages
from xstilts.tasks.schema import Recipe, Source, TaskDef

TASKS = (
    TaskDef(
        name="udpos", type="tagging",
        train=(Source("ud", "train", "en"),),
        dev=Source("ud", "dev", "en"),
        eval=tuple(Source("ud", "test", lang) for lang in entries.UD_LANGS),
        labels=entries.UPOS, metrics=("pos_f1", "pos_accuracy"), main_score="pos_f1", version="2",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=10, max_length=128),
        notes="every test treebank of a language, concatenated (ud/SOURCE.md); pos_f1 is the F1 XTREME reports "
              "(seqeval 0.0.12's rules; pos_f1_seqeval: the installed seqeval)",
    ),
    TaskDef(
        name="wikiann", type="tagging",
        train=(Source("wikiann", "train", "en"),),
        dev=Source("wikiann", "dev", "en"),
        # the labelled test split where the data root has one (36 languages), dev for the other 4
        eval=tuple(Source("wikiann", "test" if lang in languages.WIKIANN_TEST_LANGS else "dev", lang)
                   for lang in languages.WIKIANN_LANGS),
        labels=catalog.get_dataset("wikiann").labels,
        metrics=("ner_f1",), main_score="ner_f1", version="3",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=10, max_length=128),
        notes="evaluates on the tagged test split (36 languages; dev for es fi fr hu it ko nl pl pt ru uk, which "
              "have none here); English dev selects the model only",
    ),
)
