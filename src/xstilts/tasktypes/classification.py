"""Text classification, of one text or of a pair (XNLI, PAWS-X, SST-2, NusaX, a user's CSV): a label
per example, a classification head over the first token, accuracy against the gold label."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from xstilts import features as F
from xstilts.features import classification
from xstilts.tasktypes.base import Decoded, Scorer, TaskType, gold, records

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.tasks.schema import TaskDef


class Classification(TaskType):
    name, head, labelled = "classification", "classification", True
    builder = ("classification", classification.VERSION)
    field_kinds = ("text",)

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        return F.build_classification_features(examples, tokenizer, max_length, task.labels)

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        feats = self.features(ev, examples, data_hash)
        preds = [ev.task.labels[i] for i in ev.predict(feats)["logits"].argmax(-1)]
        refs = [gold(ex, ex.label) for ex in examples]
        return preds, refs, records(examples, preds, refs)

    def mapping_problem(self, fields: Mapping[str, Any], kind: str) -> str | None:
        return None if "label" in fields else f"a {self.name} task maps 'label'"


class SentencePair(Classification):
    """Two texts, one label (XNLI, PAWS-X): the same head; a user's file maps both texts."""

    name = "sentence-pair"

    def mapping_problem(self, fields: Mapping[str, Any], kind: str) -> str | None:
        return super().mapping_problem(fields, kind) or (
            None if "text_b" in fields else "a sentence-pair task maps 'text' and 'text_b'")


CLASSIFICATION, SENTENCE_PAIR = Classification(), SentencePair()
