"""Batches from pre-tokenised features: dynamic padding and length-grouped batch order.

Padding each batch only to its own longest sequence (and grouping similar lengths) is
where most of the speed-up over padding everything to max_length comes from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models.heads import mask_tokens

SEQUENCE_KEYS = ("input_ids", "q_input_ids", "p_input_ids")  # padded with pad_id, get a mask
SCALAR_KEYS = ("labels", "start_positions", "end_positions")  # labels may also be per token
LABEL_PAD = -100
Collate = Callable[[list[dict]], dict[str, torch.Tensor]]  # features -> a batch (Collator, Packed, ...)


def feature_length(feature: dict) -> int:
    """Tokens a feature occupies after padding within its own batch (longest choice for MC)."""
    total = 0
    for key in SEQUENCE_KEYS:
        seq = feature.get(key)
        if seq:
            total += max(len(s) for s in seq) if isinstance(seq[0], list) else len(seq)
    return total


def _pad(rows: list[list[int]], length: int, value: int) -> torch.Tensor:
    return torch.tensor([r + [value] * (length - len(r)) for r in rows], dtype=torch.long)


@dataclass
class Collator:
    """Pads to the longest sequence in the batch, rounded up to `pad_to_multiple_of`, or to
    `fixed_length` (the transformers example-script way, kept for benchmarks).

    input_ids → input_ids + attention_mask; nested [choice][token] → (batch, choices, length)
    plus `choice_mask` (batch, choices): examples with fewer choices (COPA's 2 beside SIQA's 3)
    get padding choices, masked out of the softmax by the head (each holds one pad token
    with attention on it, so the encoder never sees an all-masked row);
    q_/p_input_ids → q_/p_ ids and masks; token labels padded with -100. Other keys
    ("example_index", "offset_mapping") are dropped: models never take them.
    """

    pad_id: int
    pad_to_multiple_of: int | None = None
    fixed_length: int | None = None

    def _length(self, rows: list[list[int]]) -> int:
        if self.fixed_length:
            return self.fixed_length
        n = max(len(r) for r in rows)
        m = self.pad_to_multiple_of
        return math.ceil(n / m) * m if m else n

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {}
        first = features[0]
        for key in SEQUENCE_KEYS:
            if key not in first:
                continue
            prefix = key[: -len("input_ids")]
            nested = isinstance(first[key][0], list)
            if nested:
                choices = max(len(f[key]) for f in features)
                extra = [[[self.pad_id]] * (choices - len(f[key])) for f in features]
                rows = [r for f, more in zip(features, extra) for r in (*f[key], *more)]
                batch["choice_mask"] = torch.tensor(
                    [[1] * len(f[key]) + [0] * len(more) for f, more in zip(features, extra)], dtype=torch.bool)
            else:
                rows = [f[key] for f in features]
            length = self._length(rows)
            ids = _pad(rows, length, self.pad_id)
            mask = _pad([[1] * len(r) for r in rows], length, 0)
            if nested:
                ids, mask = (t.view(len(features), -1, length) for t in (ids, mask))
            batch[key], batch[prefix + "attention_mask"] = ids, mask
        for key in SCALAR_KEYS:
            if key not in first:
                continue
            if isinstance(first[key], list):  # token labels: pad like input_ids
                batch[key] = _pad([f[key] for f in features], batch["input_ids"].shape[-1], LABEL_PAD)
            else:
                batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
        return batch


@dataclass
class MLMCollator:
    """Pads like Collator, then masks (80/10/10) with torch's global RNG, so a resumed run
    (which restores that RNG) draws the same masks."""

    collator: Collator
    mask_token_id: int
    vocab_size: int
    special_ids: list[int]
    prob: float = 0.15

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.collator([{"input_ids": f["input_ids"]} for f in features])
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], mask_token_id=self.mask_token_id, vocab_size=self.vocab_size,
            special_ids=self.special_ids, prob=self.prob,
        )
        return batch


def split_by_tokens(features: list[dict], budget: int | None, *, packed: bool) -> list[list[dict]]:
    """Consecutive parts of a batch, each costing at most `budget` encoder tokens (real tokens
    when packed, longest × count when padded); one part without a budget, and always one for
    retrieval pairs, whose in-batch negatives are the whole batch."""
    if budget is None or "q_input_ids" in features[0]:
        return [features]
    parts: list[list[dict]] = [[]]
    for f in features:
        part = parts[-1] + [f]
        lengths = [feature_length(g) for g in part]
        cost = sum(lengths) if packed else max(lengths) * len(part)
        if cost > budget and parts[-1]:
            parts.append([f])
        else:
            parts[-1] = part
    return parts


def shard(features: list[dict], rank: int, world: int) -> list[dict]:
    """Process `rank`'s part of a global batch under data parallelism: every `world`-th feature,
    so a length-sorted batch gives every process similar lengths (and may leave a process none).
    A retrieval batch goes whole to every process: its in-batch negatives are the whole batch."""
    return features if "q_input_ids" in features[0] else features[rank::world]


def loss_terms(batch: dict[str, torch.Tensor]) -> int:
    """How many terms a head's mean loss averages: labelled tokens for per-token labels
    (tagging, MLM), examples otherwise. Weighting parts of a batch by it keeps its gradient."""
    labels = batch.get("labels", batch.get("start_positions"))
    if labels is None:  # retrieval: never split
        return 1
    return int((labels != LABEL_PAD).sum()) if labels.ndim >= 2 else len(labels)


def real_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Non-padding tokens in a batch: the honest unit of throughput."""
    return int(sum(v.sum() for k, v in batch.items() if k.endswith("attention_mask")))


@dataclass
class LengthGroupedSampler:
    """Batches of indices for one epoch, deterministic in (seed, epoch).

    As transformers' group_by_length: a seeded permutation is cut into mega-batches of
    `mega_batch_mult` × batch_size, each sorted by length (longest first) and cut into
    batches, so a batch pads little while the order stays random across mega-batches.
    The longest batch goes first so an out-of-memory shows at step one. Without grouping
    it is a plain shuffled batching.
    """

    lengths: list[int]
    batch_size: int
    seed: int = 0
    group_by_length: bool = True
    mega_batch_mult: int = 50

    def batches(self, epoch: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        if not self.group_by_length:
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        mega = self.mega_batch_mult * self.batch_size
        out: list[list[int]] = []
        for i in range(0, len(order), mega):
            chunk = sorted(order[i : i + mega], key=lambda j: -self.lengths[j])
            out += [chunk[k : k + self.batch_size] for k in range(0, len(chunk), self.batch_size)]
        longest = max(range(len(out)), key=lambda b: max(self.lengths[j] for j in out[b]))
        out[0], out[longest] = out[longest], out[0]
        return out

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)
