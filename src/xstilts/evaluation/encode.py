"""Sentence embeddings from any layer of an encoder, without wasted work.

One forward pass yields every requested layer (output_hidden_states); batches are
built from length-sorted sentences under a token budget so padding is minimal;
inference runs under `torch.inference_mode`. Pooling, layer and prefix are required
arguments: they are protocol, recorded with every result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from rich.progress import Progress

from ..models.encoders import Encoder
from xstilts.errors import BadValue

Pooling = Literal["mean", "cls"]


def resolve_layers(spec: str | Sequence[int], num_layers: int) -> list[int]:
    """'all' -> 0..L (0 = embeddings), 'last' -> [L], 'middle' -> [L//2], or a list like '4,8,-1'."""
    if isinstance(spec, str):
        if spec == "all":
            return list(range(num_layers + 1))
        items: list[str | int] = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        items = list(spec)
    out = []
    for it in items:
        if it == "last":
            out.append(num_layers)
        elif it == "middle":
            out.append(num_layers // 2)
        else:
            try:
                i = int(it)
            except ValueError:
                raise BadValue(f"layer '{it}' is not 'all', 'last', 'middle' or an integer") from None
            i = i + num_layers + 1 if i < 0 else i
            if not 0 <= i <= num_layers:
                raise BadValue(f"layer {it} is outside 0..{num_layers} (0 = embedding output)")
            out.append(i)
    return sorted(set(out))


def length_sorted_batches(lengths: Sequence[int], max_tokens: int, max_batch: int) -> list[list[int]]:
    """Indices grouped into batches of similar length; each batch's padded size
    (longest × count) stays under `max_tokens`, with at most `max_batch` sentences."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        new_longest = max(longest, lengths[i])
        if cur and (new_longest * (len(cur) + 1) > max_tokens or len(cur) >= max_batch):
            batches.append(cur)
            cur, new_longest = [], lengths[i]
        cur.append(i)
        longest = new_longest
    if cur:
        batches.append(cur)
    return batches


@torch.inference_mode()
def encode(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    layers: Sequence[int],
    pooling: Pooling,
    prefix: str,
    max_length: int = 128,
    max_tokens: int = 8192,
    max_batch: int = 256,
    progress: Progress | None = None,
    description: str = "encoding",
) -> dict[int, np.ndarray]:
    """Embed `texts` -> {layer: float32 array (n, hidden)}, L2-normalised rows."""
    model, tok = encoder.model, encoder.tokenizer
    device = next(model.parameters()).device
    ids = tok([prefix + t for t in texts], truncation=True, max_length=max_length,
              add_special_tokens=True)["input_ids"]
    hidden = model.config.hidden_size
    out = {layer: np.zeros((len(texts), hidden), dtype=np.float32) for layer in layers}
    pad = tok.pad_token_id
    task = progress.add_task(description, total=len(texts)) if progress else None
    for batch in length_sorted_batches([len(x) for x in ids], max_tokens, max_batch):
        width = max(len(ids[i]) for i in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            input_ids[r, : len(ids[i])] = torch.tensor(ids[i])
            mask[r, : len(ids[i])] = 1
        input_ids, mask = input_ids.to(device), mask.to(device)
        states = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for layer in layers:
            h = states[layer].float()
            if pooling == "mean":
                m = mask.unsqueeze(-1).to(h.dtype)
                v = (h * m).sum(1) / m.sum(1).clamp(min=1)
            elif pooling == "cls":
                v = h[:, 0]
            else:
                raise BadValue(f"pooling must be 'mean' or 'cls', not {pooling!r}")
            v = torch.nn.functional.normalize(v, dim=-1)
            out[layer][batch] = v.cpu().numpy()
        if progress and task is not None:
            progress.advance(task, len(batch))
    return out
