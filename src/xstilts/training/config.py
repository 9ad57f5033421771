"""The settings of one training run; saved with every checkpoint as the effective config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, PositiveFloat, PositiveInt, model_validator

from xstilts.training.hparams import HParams, LoopHParams
from xstilts.errors import BadValue


class TrainConfig(LoopHParams):
    """The loop's hyper-parameters (`hparams.LoopHParams`: lr, batch size (the global batch: under
    several processes each runs a shard of it), length (exactly one of max_steps / epochs; multi-task
    epochs count batches of all tasks together), warmup, weight decay, frozen embeddings, gradient
    checkpointing) and a run's own settings."""

    model_config = ConfigDict(extra="forbid")

    eval_every: PositiveInt | None = None  # steps; the last step is always evaluated
    save_every: PositiveInt | None = None  # steps; the last step is always saved
    seed: int = 0
    bf16: bool | None = None  # None: bf16 autocast on CUDA, fp32 on CPU
    # None: grouped when padding (less padding), random when packing (mixed lengths fill the
    # rows: 7% padding on the XNLI/SST-2 sample against 19% for grouped batches)
    group_by_length: bool | None = None
    pad_to_multiple_of: PositiveInt | None = 8
    # no compute on padding: each batch's sequences packed into rows of at most pack_length
    # tokens (block-diagonal attention: a row costs its width squared, so rows stay short),
    # padded to a multiple of `bucket`. Same loss and gradients. None: on for CUDA, off on CPU,
    # where it measured no clear gain over length-grouped dynamic padding (README).
    packing: bool | None = None
    pack_length: PositiveInt = 128
    bucket: PositiveInt = 64
    # torch.compile the encoder: 2 min (tiny) to 10 min (me5-small) of compiling on CPU, where it
    # never paid back (README); meant for long GPU runs, where packed rows give it few shapes
    compile: bool = False
    # most tokens the encoder runs at once: a larger batch is split and its gradients
    # accumulated, each part's loss weighted by its share of the batch's loss terms, so the
    # recipe's batch and gradient stay as they are (retrieval batches are never split:
    # their negatives are the batch)
    token_budget: PositiveInt | None = None
    # multi-task: one batch per micro-step from a task drawn with these probabilities
    task_sampling: Literal["proportional", "temperature"] = "proportional"
    sampling_cap: PositiveInt | None = None  # proportional: sizes capped at this many features
    sampling_temperature: PositiveFloat = 1.0
    # tasks with a fixed share of batches (the MLM baseline's `fraction`); the rest share the remainder
    task_shares: dict[str, float] = {}
    task_loss_weights: dict[str, float] = {}  # a task's loss is scaled by this (default 1) before backward
    load_best: bool = True  # with an eval_fn: the model ends with the best evaluated weights
    # with an eval_fn: False only records the score (phase 2 has no model selection, so no best/ weights)
    select_best: bool = True
    # with an eval_fn: stop at the first evaluation scoring at least this (phase 2's `until:`); the
    # length (max_steps or epochs) stays the cap and the schedule's length
    stop_at: float | None = None
    progress: bool = True
    # experiment trackers ('tensorboard', 'wandb', 'mlflow'; training/tracking.py); None: those of
    # $XSTILTS_LOG_WITH (`--log-with`), () none. They log, they change no result
    log_with: tuple[str, ...] | None = None
    # test-only: raise TrainingInterrupted after this step, as if the process were killed
    stop_after_steps: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_length(self) -> "TrainConfig":
        if (self.max_steps is None) == (self.epochs is None):
            raise BadValue("give exactly one of max_steps and epochs")
        return self


def train_config(hp: HParams, seed: int, progress: bool, **extra: Any) -> TrainConfig:
    """The loop's config from resolved hyper-parameters: every field the loop reads, by name."""
    return TrainConfig(**hp.model_dump(include=set(LoopHParams.model_fields)), seed=seed, progress=progress, **extra)
