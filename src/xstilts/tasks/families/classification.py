"""XTREME-R sentence-pair classification and multiple choice: XNLI and XCOPA."""

from xstilts.data import entries, languages
from xstilts.tasks.schema import Recipe, Source, TaskDef

TASKS = (
    TaskDef(
        name="xnli", type="sentence-pair",
        # MultiNLI train is not in the offline snapshot; its dev_matched set stands in (mnli/SOURCE.md).
        # With `xstilts data fetch mnli_train` a user can point a copy of this entry at Source("mnli_train", "train").
        train=(Source("mnli", "dev_matched", exclude_texts_of=("xnli", "test", "en")),),
        dev=Source("xnli", "dev", "en"),
        eval=tuple(Source("xnli", "test", lang) for lang in languages.XNLI_LANGS),
        labels=entries.NLI, metrics=("accuracy",), main_score="accuracy", version="2",
        recipe=Recipe(lr=2e-5, batch_size=32, epochs=5, max_length=128),
        notes="evaluates on the labelled test split (15 x 5,010 pairs); English dev selects the model only",
    ),
    TaskDef(
        name="xcopa", type="multiple_choice",
        # XTREME's scripts/train_xcopa.sh: a run on SIQA, then a run on COPA from its weights (and
        # its multiple-choice head), each 5 epochs at lr 2e-5, batch 8 x 4 accumulation, 128 tokens.
        # SIQA train is not in the offline snapshot: its dev set (1,954 questions) stands in.
        train_first=(Source("siqa", "dev"),),
        train=(Source("copa", "train"),),
        dev=Source("copa", "val"),
        eval=tuple(Source("xcopa", "test", lang) for lang in languages.XCOPA_LANGS),
        metrics=("accuracy",), main_score="accuracy", version="2",
        recipe=Recipe(lr=2e-5, batch_size=8, grad_accum=4, epochs=5, max_length=128, warmup_ratio=0.0,
                      weight_decay=0.0),
        notes="SIQA then COPA in two stages as XTREME's train_xcopa.sh (SIQA dev stands in for its train "
              "split); HF Trainer defaults there: no warm-up, no weight decay",
    ),
)
