"""Model outputs for the evaluation code, batched by length so little is padded; apart from the
training loop, as evaluation needs none of its machinery (accelerate, trackers, checkpoints)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .collate import Collate, feature_length


def _stack(arrays: list[np.ndarray], fill: float) -> np.ndarray:
    """Stacks per-example arrays whose first axis (sequence length) may differ, padding with `fill`."""
    if all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    length = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def predict(
    model: nn.Module, features: Sequence[dict], collate: Collate, batch_size: int = 64, *, task: str | None = None,
) -> dict[str, np.ndarray]:
    """Model outputs (all but "loss") per feature, in the original order, as float32 arrays.

    Batches are sorted by length so little is padded. For token-level heads (qa, tagging)
    positions past a feature's own length are -inf, never picked by an argmax, whatever
    batch it landed in.
    """
    device = next(model.parameters()).device
    specs = getattr(model, "specs", {})
    head_type = (specs.get(task) if task else next(iter(specs.values()), None)) if specs else None
    token_level = getattr(head_type, "type", None) in ("qa", "tagging")
    order = sorted(range(len(features)), key=lambda i: -feature_length(features[i]))
    per_example: dict[str, list[np.ndarray]] = {}
    was_training = model.training
    model.eval()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for start in range(0, len(order), batch_size):
            batch = collate([features[i] for i in order[start : start + batch_size]])
            lengths = batch["attention_mask"].sum(-1).tolist() if token_level else None
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch) if task is None else model(task=task, **batch)
            for key, value in out.items():
                if key == "loss" or value.ndim == 0:
                    continue
                rows = list(value.float().cpu().numpy())
                if lengths is not None:
                    rows = [r[:n] for r, n in zip(rows, lengths, strict=True)]
                per_example.setdefault(key, []).extend(rows)
    model.train(was_training)
    inverse = np.argsort(order)
    return {k: _stack([v[j] for j in inverse], fill=-np.inf) for k, v in per_example.items()}
