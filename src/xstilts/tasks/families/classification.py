"""XTREME-R sentence-pair classification and multiple choice: XNLI and XCOPA."""

from xstilts.data import catalog
from xstilts.tasks.schema import Recipe, Source, TaskDef

TASKS = (
    TaskDef(
        name="xnli", type="classification",
        # MultiNLI train is not in the offline snapshot; its dev_matched set stands in (mnli/SOURCE.md).
        # With `xstilts data fetch mnli_train` a user can point a copy of this entry at Source("mnli_train", "train").
        train=(Source("mnli", "dev_matched"),),
        dev=Source("xnli", "dev", "en"),
        eval=tuple(Source("xnli", "dev", lang) for lang in catalog.XNLI_LANGS),
        labels=catalog.NLI, metrics=("accuracy",), main_score="accuracy", version="1",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=5, max_length=128),
        notes="XTREME's XNLI test files carry no labels, so the 15 labelled dev sets are the evaluation; "
              "English dev is also the model-selection set, so only the non-English numbers are untouched.",
    ),
    TaskDef(
        name="xcopa", type="multiple_choice",
        # XTREME-R trains on SIQA train then COPA; SIQA train is not available, its dev is used instead.
        train=(Source("copa", "train"), Source("siqa", "dev")),
        dev=Source("copa", "val"),
        eval=tuple(Source("xcopa", "test", lang) for lang in catalog.XCOPA_LANGS),
        metrics=("accuracy",), main_score="accuracy", version="1",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=5, max_length=128),
        notes="scripts/train_xcopa.sh trains SIQA then COPA in two runs; here both are one mixed training set.",
    ),
)
