"""Masked-LM on unlabelled text: phase 2's auxiliary objective (the paper's first baseline, MLM kept
on during intermediate training). It reads the text of other tasks' training data, so no task entry
names it: it is not in TYPES, and a user's task file cannot declare it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from xstilts.tasktypes.base import TaskType
from xstilts.training.collate import Collator, MLMCollator


class MaskedLM(TaskType):
    name, head = "mlm", "mlm"

    def text_features(self, texts: Iterable[str], tokenizer: Any, max_length: int,
                      max_examples: int | None) -> list[dict]:
        """The distinct non-blank TEXTS (the first MAX_EXAMPLES), tokenised; a text with no piece
        between its special tokens has nothing to mask and is left out."""
        distinct = list(dict.fromkeys(t for t in texts if t.strip()))[:max_examples]
        ids = tokenizer(distinct, truncation=True, max_length=max_length)["input_ids"]
        return [{"input_ids": x} for x in ids if len(x) > 2]

    def collate(self, tokenizer: Any, pad: Collator, probability: float) -> MLMCollator:
        """Batches padded by PAD, then masked: PROBABILITY of the non-special tokens (80/10/10)."""
        return MLMCollator(pad, tokenizer.mask_token_id, len(tokenizer), list(tokenizer.all_special_ids), probability)


MLM = MaskedLM()
