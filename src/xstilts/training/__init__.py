"""One training loop for single- and multi-task training, with exact resume; prediction.

The loop and its config (accelerate, rich, pydantic) load on first use, so that collate and
packing import on a machine with only torch and transformers (benchmarks/gpu_check.sh).
"""

from importlib import import_module

from .collate import Collator, LengthGroupedSampler, MLMCollator, feature_length, real_tokens
from .packing import Packed, pack

_LAZY = {
    "TrainConfig": ".config", "NonFiniteLossError": ".loop", "TrainingInterrupted": ".loop", "TrainResult": ".loop",
    "predict": ".inference", "train": ".loop", "task_probabilities": ".sampling",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Collator", "LengthGroupedSampler", "MLMCollator", "NonFiniteLossError", "Packed", "TrainConfig", "TrainResult",
    "TrainingInterrupted", "feature_length", "pack", "predict", "real_tokens", "task_probabilities", "train",
]
