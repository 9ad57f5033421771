"""Sequence tagging (UD-POS, WikiANN, MasakhaNER): a label per word, predicted on its first
sub-word by a token head, scored with seqeval (NER) or accuracy (POS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xstilts import features as F
from xstilts.features import tagging
from xstilts.tasktypes.base import Decoded, Scorer, TaskType, gold, records

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.tasks.schema import TaskDef


class Tagging(TaskType):
    name, head, labelled, token_level = "tagging", "tagging", True, True
    builder = ("tagging", tagging.VERSION)
    field_kinds = ("tagging",)
    file_formats = ("conllu", "conll-tab", "conll-space")

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        return F.build_tagging_features(examples, tokenizer, max_length, task.labels)

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        feats = self.features(ev, examples, data_hash)
        ids = F.align_predictions(feats, ev.predict(feats)["logits"])
        preds = [[ev.task.labels[i] for i in row] for row in ids]
        refs = [list(gold(ex, ex.tags or None)) for ex in examples]
        return preds, refs, records(examples, preds, refs)


TAGGING = Tagging()
