"""Packing: the sequences of a padded batch laid end to end in rows, so the encoder does no
work on padding; heads get their hidden states back in the padded layout.

A packed batch keeps the collator's `attention_mask` (and labels) in the padded layout, for
pooling and losses, and adds, per sequence key prefix ("", "q_", "p_"):
`input_ids` (rows, width) of packed sequences, `position_ids` restarting at 0 for each
sequence, `seq_ids` (0 on the row's padding, 1, 2, ... for its sequences: attention stays
inside a sequence) and `unpack_index` (the padded layout → flat positions of the rows).
Rows hold at most `row_length` tokens (attention cost grows with the square of a row), and
are padded to a multiple of `multiple` so compiled steps see few shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

PREFIXES = ("", "q_", "p_")


def assign_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """First-fit decreasing: sequence indices per row, each row's lengths summing to ≤ capacity."""
    rows: list[list[int]] = []
    free: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
        r = next((r for r, f in enumerate(free) if f >= lengths[i]), None)
        if r is None:
            rows.append([])
            free.append(capacity)
            r = len(rows) - 1
        rows[r].append(i)
        free[r] -= lengths[i]
    return rows


def pack_sequences(ids: torch.Tensor, mask: torch.Tensor, *, pad_id: int, row_length: int, multiple: int) -> dict:
    """Packs the (…, length) padded `ids` whose real tokens `mask` marks (a prefix of each row)."""
    flat_ids, flat_mask = ids.reshape(-1, ids.shape[-1]), mask.reshape(-1, mask.shape[-1])
    lengths = flat_mask.sum(-1).tolist()
    capacity = max(row_length, max(lengths))
    rows = assign_rows(lengths, capacity)
    width = math.ceil(max(sum(lengths[i] for i in row) for row in rows) / multiple) * multiple
    packed = torch.full((len(rows), width), pad_id, dtype=ids.dtype)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    seq_ids = torch.zeros((len(rows), width), dtype=torch.long)
    unpack = torch.zeros(flat_ids.shape, dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for k, i in enumerate(row, start=1):
            n = lengths[i]
            packed[r, start : start + n] = flat_ids[i, :n]
            positions[r, start : start + n] = torch.arange(n)
            seq_ids[r, start : start + n] = k
            unpack[i, :n] = torch.arange(r * width + start, r * width + start + n)
            start += n
    return {"input_ids": packed, "position_ids": positions, "seq_ids": seq_ids, "unpack_index": unpack.view(mask.shape)}


def pack(batch: dict[str, torch.Tensor], *, pad_id: int, row_length: int = 128, multiple: int = 64) -> dict:
    """A padded batch (any task type: nested choices, q_/p_ pairs) → the same batch packed."""
    out = dict(batch)
    for prefix in PREFIXES:
        if prefix + "input_ids" in batch:
            packed = pack_sequences(batch[prefix + "input_ids"], batch[prefix + "attention_mask"],
                                    pad_id=pad_id, row_length=row_length, multiple=multiple)
            out.update({prefix + k: v for k, v in packed.items()})
    return out


def computed_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Token positions the encoder runs on, padding included (packed or not)."""
    return sum(batch[p + "input_ids"].numel() for p in PREFIXES if p + "input_ids" in batch)


@dataclass
class Packed:
    """Wraps any collate function (Collator, MLMCollator, ...) so that its batches come packed."""

    collate: Callable[[list[dict]], dict[str, torch.Tensor]]
    pad_id: int
    row_length: int = 128
    multiple: int = 64

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        return pack(self.collate(features), pad_id=self.pad_id, row_length=self.row_length, multiple=self.multiple)
