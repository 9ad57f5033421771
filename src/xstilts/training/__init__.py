"""One training loop for single- and multi-task training, with exact resume; prediction."""

from .collate import Collator, LengthGroupedSampler, MLMCollator, feature_length, real_tokens
from .config import TrainConfig
from .loop import NonFiniteLossError, TrainingInterrupted, TrainResult, predict, train
from .sampling import task_probabilities

__all__ = [
    "Collator", "LengthGroupedSampler", "MLMCollator", "NonFiniteLossError", "TrainConfig", "TrainResult",
    "TrainingInterrupted", "feature_length", "predict", "real_tokens", "task_probabilities", "train",
]
