"""XTREME-R retrieval with a fine-tuned dual encoder: LAReQA (scripts/train_lareqa.sh)."""

from xstilts.data import languages
from xstilts.tasks.families.qa import ENGLISH_QA
from xstilts.tasks.schema import Recipe, Source, TaskDef

TASKS = (
    TaskDef(
        name="lareqa", type="qa_retrieval", roles=("target", "probe"), train=ENGLISH_QA, dev=None,
        eval=tuple(Source("lareqa", "test", lang) for lang in languages.LAREQA_LANGS),
        metrics=("map_at_20",), main_score="map_at_20", version="1",
        # XTREME: lr 5e-5, 3 epochs, effective batch 16 (in-batch negatives), no warm-up or decay.
        recipe=Recipe(lr=5e-5, batch_size=16, epochs=3, max_length=128, warmup_ratio=0.0, weight_decay=0.0),
        notes="questions of each language rank the pooled answer sentences of all 11 languages (mAP@20); "
              "candidates are encoded without their paragraph; no dev set: the last weights are kept",
    ),
)
