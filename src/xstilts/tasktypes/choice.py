"""Multiple choice (XCOPA, COPA, SIQA, HellaSwag, CommonsenseQA): each choice scored with its
context by one head, the highest wins; chance is one over the number of choices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xstilts import features as F
from xstilts.features import choice
from xstilts.tasktypes.base import Decoded, Scorer, TaskType, gold, records

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.tasks.schema import TaskDef


class MultipleChoice(TaskType):
    name, head = "multiple_choice", "multiple_choice"
    builder = ("choice", choice.VERSION)
    field_kinds = ("choice",)

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        return F.build_choice_features(examples, tokenizer, max_length)

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        feats = self.features(ev, examples, data_hash)
        preds = ev.predict(feats)["logits"].argmax(-1).tolist()
        refs = [gold(ex, ex.label) for ex in examples]
        return preds, refs, records(examples, preds, refs)

    def chance(self, task: TaskDef, examples: Sequence = ()) -> tuple[float | None, float | None]:
        """Averaged over EXAMPLES' choice counts (None without them)."""
        counts = [len(ex.choices) for ex in examples if getattr(ex, "choices", None)]
        if not counts:
            return None, None
        return 100.0 * sum(1 / n for n in counts) / len(counts), sum(map(math.log, counts)) / len(counts)


MULTIPLE_CHOICE = MultipleChoice()
