"""A task's English training features, built by its type and kept in the feature cache (both
phases train through this: phase 3 on a target task, phase 2 on each intermediate task)."""

from __future__ import annotations

from collections.abc import Sequence

from xstilts import features as F
from xstilts.features import cache as feature_cache
from xstilts.features import choice, classification, qa, retrieval, tagging
from xstilts.paths import cache_dir
from xstilts.tasks.schema import TaskDef

BUILDERS = {  # task head (tasks/schema.py HEADS) -> (builder name, module VERSION)
    "classification": ("classification", classification.VERSION), "multiple_choice": ("choice", choice.VERSION),
    "qa": ("qa_train", qa.VERSION), "tagging": ("tagging", tagging.VERSION),
    "retrieval": ("retrieval_pairs", retrieval.VERSION),
}


def build_train_features(task: TaskDef, tokenizer, examples: Sequence, max_length: int) -> list[dict]:
    """English training features for the task's type."""
    r = task.recipe
    if task.head == "classification":
        return F.build_classification_features(examples, tokenizer, max_length, task.labels)
    if task.head == "multiple_choice":
        return F.build_choice_features(examples, tokenizer, max_length)
    if task.head == "qa":
        return F.build_qa_train_features(examples, tokenizer, max_length, r.doc_stride, r.max_query_length)
    if task.head == "tagging":
        return F.build_tagging_features(examples, tokenizer, max_length, task.labels)
    return F.build_retrieval_pairs(examples, tokenizer, max_length)


def cached_train_features(task: TaskDef, tokenizer, examples: Sequence, data_hash: str, max_length: int
                          ) -> list[dict]:
    """build_train_features through the feature cache, keyed by everything that shapes them."""
    builder, version = BUILDERS[task.head]
    key = {"builder": builder, "version": version, "data": data_hash, "tokenizer": F.tokenizer_fingerprint(tokenizer),
           "max_length": max_length, "labels": list(task.labels), "doc_stride": task.recipe.doc_stride,
           "max_query_length": task.recipe.max_query_length}
    return feature_cache.cached_features(key, lambda: build_train_features(task, tokenizer, examples, max_length),
                                         cache_dir() / "features")
