"""XTREME-R structured prediction: UD-POS and WikiANN NER."""

from xstilts.data import catalog
from xstilts.tasks.schema import Recipe, Source, TaskDef

TASKS = (
    TaskDef(
        name="udpos", type="tagging",
        train=(Source("ud", "train", "en"),),
        dev=Source("ud", "dev", "en"),
        eval=tuple(Source("ud", "test", lang) for lang in catalog.UD_TREEBANKS),
        labels=catalog.UPOS, metrics=("pos_f1", "pos_accuracy"), main_score="pos_f1", version="1",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=10, max_length=128),
        notes="one test treebank per language (ud/SOURCE.md); pos_f1 is the seqeval F1 XTREME reports",
    ),
    TaskDef(
        name="wikiann", type="tagging",
        train=(Source("wikiann", "train", "en"),),
        dev=Source("wikiann", "dev", "en"),
        # the labelled test split where the data root has one (36 languages), dev for the other 4
        eval=tuple(Source("wikiann", "test" if lang in catalog.WIKIANN_TEST_LANGS else "dev", lang)
                   for lang in catalog.WIKIANN_LANGS),
        labels=catalog.get_dataset("wikiann").labels,  # "O" first: truncated words are filled with id 0
        metrics=("ner_f1",), main_score="ner_f1", version="2",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=10, max_length=128),
        notes="evaluates on the tagged test split (36 languages; dev for es fi fr hu it ko nl pl pt ru uk, which "
              "have none here); English dev selects the model only",
    ),
)
