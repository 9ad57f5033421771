"""XTREME-R extractive QA: XQuAD, MLQA, TyDiQA-GoldP (scripts/train_qa.sh recipe)."""

from xstilts.data import catalog
from xstilts.tasks.schema import Recipe, Source, TaskDef

QA_RECIPE = Recipe(lr=3e-5, batch_size=32, epochs=3, max_length=384, doc_stride=128, max_query_length=64,
                   weight_decay=0.0001)
# SQuAD v1.1 train is not available offline. English SQuAD-format training = TyDiQA-GoldP en train
# + the answerable questions of the SQuAD 2.0 dev half here, minus the paragraphs XQuAD was made from.
ENGLISH_QA = (
    Source("tydiqa", "train", "en"),
    Source("squad_v2", "dev", "en", answerable_only=True, exclude_contexts_of=("xquad", "test", "en")),
)

TASKS = (
    TaskDef(
        name="xquad", type="qa", train=ENGLISH_QA, dev=Source("tydiqa", "dev", "en"),
        eval=tuple(Source("xquad", "test", lang) for lang in catalog.XQUAD_LANGS),
        metrics=("squad",), main_score="squad", version="1", recipe=QA_RECIPE,
        notes="ro is evaluated too but is not an XTREME-R language",
    ),
    TaskDef(
        name="mlqa", type="qa", train=ENGLISH_QA, dev=Source("tydiqa", "dev", "en"),
        eval=tuple(Source("mlqa", "dev", lang) for lang in catalog.MLQA_LANGS),
        metrics=("mlqa",), main_score="mlqa", metric_lang=True, version="1", recipe=QA_RECIPE,
        notes="same-language dev sets (test not available); MLQA's per-language normalisation",
    ),
    TaskDef(
        name="tydiqa", type="qa", train=(Source("tydiqa", "train", "en"),), dev=Source("tydiqa", "dev", "en"),
        eval=tuple(Source("tydiqa", "dev", lang) for lang in catalog.TYDIQA_LANGS),
        metrics=("squad",), main_score="squad", version="1", recipe=QA_RECIPE,
        notes="dev is XTREME's test set; English dev also selects the model",
    ),
)
