"""XTREME-R extractive QA: XQuAD, MLQA, TyDiQA-GoldP (scripts/train_qa.sh recipe)."""

from xstilts.data import languages
from xstilts.tasks.schema import Recipe, Source, TaskDef

QA_RECIPE = Recipe(lr=3e-5, batch_size=32, epochs=3, max_length=384, doc_stride=128, max_query_length=64,
                   weight_decay=0.0001)
# SQuAD v1.1 train is not available offline. English SQuAD-format training = TyDiQA-GoldP en train
# + the answerable questions of the SQuAD 2.0 dev half here, minus the paragraphs XQuAD was made from.
# TyDiQA-GoldP English dev is both a selection set and XTREME's English test: selection reads one
# fixed half of it, the English score the other (tasks/schema.py: Source.half).
SELECT = Source("tydiqa", "dev", "en", half="select")
ENGLISH_QA = (
    Source("tydiqa", "train", "en"),
    Source("squad_v2", "dev", "en", answerable_only=True, exclude_contexts_of=("xquad", "test", "en")),
)

TASKS = (
    TaskDef(
        name="xquad", type="qa", train=ENGLISH_QA, dev=SELECT,
        eval=tuple(Source("xquad", "test", lang) for lang in languages.XQUAD_LANGS),
        metrics=("squad",), main_score="squad", version="2", recipe=QA_RECIPE,
        notes="12 languages, ro included (XTREME-R's list); selection on half of TyDiQA-GoldP English dev",
    ),
    TaskDef(
        name="mlqa", type="qa", train=ENGLISH_QA, dev=SELECT,
        eval=tuple(Source("mlqa", "dev", lang) for lang in languages.MLQA_LANGS),
        metrics=("mlqa",), main_score="mlqa", metric_lang=True, version="2", recipe=QA_RECIPE,
        notes="same-language dev sets (test not available); MLQA's per-language normalisation",
    ),
    TaskDef(
        name="tydiqa", type="qa", train=(Source("tydiqa", "train", "en"),), dev=SELECT,
        eval=tuple(Source("tydiqa", "dev", lang, half="heldout" if lang == "en" else None)
                   for lang in languages.TYDIQA_LANGS),
        metrics=("squad",), main_score="squad", version="2", recipe=QA_RECIPE,
        notes="dev is XTREME's test set; English: selection on one fixed half, the score on the other",
    ),
)
