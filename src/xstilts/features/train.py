"""A task's English training features, built by its type and kept in the feature cache (both
phases train through this: phase 3 on a target task, phase 2 on each intermediate task)."""

from __future__ import annotations

from collections.abc import Sequence

from xstilts import features as F
from xstilts.features import cache as feature_cache
from xstilts.paths import cache_dir
from xstilts.tasks.schema import TaskDef
from xstilts.tasktypes import type_of


def build_train_features(task: TaskDef, tokenizer, examples: Sequence, max_length: int) -> list[dict]:
    """English training features for the task's type."""
    return type_of(task.type).train_features(task, tokenizer, examples, max_length)


def cached_train_features(task: TaskDef, tokenizer, examples: Sequence, data_hash: str, max_length: int
                          ) -> list[dict]:
    """build_train_features through the feature cache, keyed by everything that shapes them."""
    key = cache_key(task, *type_of(task.type).builder, data_hash, F.tokenizer_fingerprint(tokenizer), max_length)
    return feature_cache.cached_features(key, lambda: build_train_features(task, tokenizer, examples, max_length),
                                         cache_dir() / "features")


def cache_key(task: TaskDef, builder: str, version: int, data_hash: str, tokenizer_fingerprint: str,
              max_length: int) -> dict:
    """Everything that shapes a task's features, training or evaluation: the feature cache's key."""
    return {"builder": builder, "version": version, "data": data_hash, "tokenizer": tokenizer_fingerprint,
            "max_length": max_length, "labels": list(task.labels), "doc_stride": task.recipe.doc_stride,
            "max_query_length": task.recipe.max_query_length}
