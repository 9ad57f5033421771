"""Task types, one object each (classification and sentence pairs, multiple choice, tagging,
extractive QA, QA retrieval, bitext; masked-LM, phase 2's auxiliary objective, which no task entry
names): each owns what depends on the type (the head a fine-tuned
model gets, the training features, the zero-shot decoding, the chance level, what a user's task
file of the type reads), so the rest of the package asks `type_of(task.type)` instead of
comparing names. A new type is a module here and its line in TYPES."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xstilts.errors import BadValue, UnknownName
from xstilts.tasktypes.base import TaskType
from xstilts.tasktypes.bitext import BITEXT
from xstilts.tasktypes.choice import MULTIPLE_CHOICE
from xstilts.tasktypes.classification import CLASSIFICATION, SENTENCE_PAIR
from xstilts.tasktypes.mlm import MLM
from xstilts.tasktypes.qa import QA_TYPE
from xstilts.tasktypes.retrieval import QA_RETRIEVAL
from xstilts.tasktypes.tagging import TAGGING

if TYPE_CHECKING:
    from xstilts.models.heads import HeadType
    from xstilts.tasks.schema import TaskDef

TYPES: Mapping[str, TaskType] = {t.name: t for t in (CLASSIFICATION, SENTENCE_PAIR, MULTIPLE_CHOICE, QA_TYPE, TAGGING,
                                                    BITEXT, QA_RETRIEVAL)}


def type_of(name: str) -> TaskType:
    if name not in TYPES:
        raise UnknownName(f"unknown task type '{name}'; known: {', '.join(TYPES)}")
    return TYPES[name]


def head_of(task: TaskDef) -> tuple[HeadType, dict[str, Any]]:
    """(head type, its options) of a model fine-tuned on TASK; a probe-only type has none."""
    kind = type_of(task.type)
    if kind.head is None:
        raise BadValue(f"task '{task.name}' ({task.type}) is only probed, never fine-tuned")
    return kind.head, kind.head_options(task)


__all__ = ["MLM", "TYPES", "TaskType", "head_of", "type_of"]
