"""Every run's effective hyper-parameters, resolved in one place.

Layers, later ones winning: the task's published recipe (`tasks/schema.py: Recipe`, after
XTREME's scripts) → the spec's phase defaults (`intermediate:` / `finetune:`) → the
condition's or target's own `train:` → command-line options. The result, `HParams`, is what a
node's key hashes, what `xstilts plan` prints, what the runner trains with and what every
result row records: there is no other default anywhere on the way.

The training length is one choice: a layer that sets `epochs` replaces an inherited
`max_steps` and the other way round; one layer setting both cannot be honoured.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from xstilts.errors import BadValue
from xstilts.training.config import TrainConfig
from xstilts.located import Strict
from xstilts.tasks.schema import Recipe

Phase = Literal["intermediate", "finetune"]
DEFAULT_MAX_DEV_EXAMPLES = 1000
# Phase 2 scores each task on its own dev set (to record that it learned; no model selection).
# Left unset, these stand in for eval_every / max_dev_examples there: the resolved fields stay
# None, so the nodes planned before phase 2 had a dev curve keep their keys.
PHASE2_DEV_EVALS = 5  # evaluations per run (eval_every = steps // this)
PHASE2_MAX_DEV_EXAMPLES = 300  # per task: a few seconds of me5-small on a CPU
# Phase 2 has no zero-shot evaluation, and phase 3 selects on dev instead of stopping at a target.
FINETUNE_ONLY = ("max_eval_examples",)
INTERMEDIATE_ONLY = ("until",)


class Train(Strict):
    """Training hyper-parameters; a field left out falls back to the next layer
    (condition/target override → spec defaults → the task's published recipe), resolved by
    `resolve`."""

    max_steps: PositiveInt | None = None  # replaces epochs (set one of the two)
    epochs: PositiveFloat | None = None
    lr: PositiveFloat | None = None
    batch_size: PositiveInt | None = None  # examples per micro-batch
    grad_accum: PositiveInt | None = None  # micro-batches per optimizer step
    max_length: PositiveInt | None = None
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] | None = None
    weight_decay: Annotated[float, Field(ge=0)] | None = None
    freeze_embeddings: bool | None = None
    gradient_checkpointing: bool | None = None  # less activation memory for more compute; same weights
    max_train_examples: PositiveInt | None = None
    # dev evaluations: phase 3 selects its weights on English dev, phase 2 records each task's own dev curve
    eval_every: PositiveInt | None = None  # dev evaluations (and checkpoints) every N steps
    max_dev_examples: PositiveInt | None = None  # dev examples per evaluation (per task in phase 2)
    max_eval_examples: PositiveInt | None = None  # fine-tuning only: zero-shot examples per language
    # phase 2 only: stop once every trained task's own dev score reaches this many points
    # (checked at each dev evaluation; max_steps / epochs stay the cap), so that conditions in
    # different languages learn their tasks equally instead of for equal steps
    until: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None



class HParams(BaseModel):
    """The resolved settings of one training run (see the module docstring for where each comes from)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: PositiveFloat
    batch_size: PositiveInt
    grad_accum: PositiveInt = 1
    max_steps: PositiveInt | None = None  # exactly one of max_steps / epochs
    epochs: PositiveFloat | None = None
    warmup_ratio: float
    weight_decay: float
    max_length: PositiveInt
    freeze_embeddings: bool = False
    # recompute activations in the backward pass: less memory, the same weights (a run-only setting)
    gradient_checkpointing: bool = False
    max_train_examples: PositiveInt | None = None
    eval_every: PositiveInt | None = None  # None: five dev evaluations per run
    max_dev_examples: PositiveInt | None = None  # None: all of English dev (phase 2: PHASE2_MAX_DEV_EXAMPLES)
    max_eval_examples: PositiveInt | None = None  # None: every example of every language
    until: float | None = None  # phase 2: stop once every task's own dev score reaches this (points)

    def node_config(self) -> dict:
        """What a plan node's key hashes: every field, but a run-only setting only when it is on
        and `until` only when set (so adding either kept the keys of every earlier node)."""
        exclude = {name for name, off in (("gradient_checkpointing", not self.gradient_checkpointing),
                                          ("until", self.until is None)) if off}
        return self.model_dump(exclude=exclude)

    def describe(self) -> str:
        """One line for `xstilts plan`: the length, rate, batch and caps that were resolved."""
        length = f"{self.max_steps} steps" if self.max_steps else f"{self.epochs:g} ep"
        batch = f"{self.batch_size}x{self.grad_accum}" if self.grad_accum > 1 else f"{self.batch_size}"
        parts = [length, f"lr {self.lr:g}", f"batch {batch}", f"len {self.max_length}",
                 f"warmup {self.warmup_ratio:g}"]
        if self.freeze_embeddings:
            parts.append("frozen emb")
        if self.gradient_checkpointing:
            parts.append("grad ckpt")
        for name in ("max_train_examples", "max_dev_examples", "max_eval_examples", "eval_every", "until"):
            if getattr(self, name) is not None:
                parts.append(f"{name.removeprefix('max_')} {getattr(self, name)}")
        return ", ".join(parts)


class HParamsError(BadValue):
    """A combination of settings that cannot be honoured; `field` names the offending one."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"field '{field}': {message}")


def check_layer(layer: Train, phase: Phase) -> None:
    """Raise HParamsError for what one spec layer asks and no run could honour."""
    if layer.max_steps is not None and layer.epochs is not None:
        raise HParamsError("epochs", "set max_steps or epochs, not both")
    if phase == "intermediate":
        for name in FINETUNE_ONLY:
            if getattr(layer, name) is not None:
                raise HParamsError(name, "phase 2 has no zero-shot evaluation; set it under 'finetune:' or on a "
                                         "task target")
    else:
        for name in INTERMEDIATE_ONLY:
            if getattr(layer, name) is not None:
                raise HParamsError(name, "only phase 2 trains to a dev target (phase 3 selects its best weights "
                                         "on dev); set it under 'intermediate:' or on a condition")


def resolve(recipe: Recipe, *layers: Train, phase: Phase = "finetune") -> HParams:
    """The recipe overridden by each layer in turn (unset fields fall through)."""
    values: dict[str, Any] = {
        "lr": recipe.lr, "batch_size": recipe.batch_size, "grad_accum": recipe.grad_accum, "epochs": recipe.epochs, "max_length": recipe.max_length,
        "warmup_ratio": recipe.warmup_ratio, "weight_decay": recipe.weight_decay,
        "max_dev_examples": DEFAULT_MAX_DEV_EXAMPLES if phase == "finetune" else None,
    }
    for layer in layers:
        check_layer(layer, phase)
        given = layer.model_dump(exclude_none=True)
        if "max_steps" in given:
            values["epochs"] = None
        if "epochs" in given:
            values["max_steps"] = None
        values.update(given)
    return HParams(**values)


def train_config(hp: HParams, seed: int, progress: bool, **extra: Any) -> TrainConfig:
    """The loop's config from resolved hyper-parameters (the only place the two meet)."""
    return TrainConfig(lr=hp.lr, batch_size=hp.batch_size, grad_accum=hp.grad_accum, max_steps=hp.max_steps,
                       epochs=hp.epochs, warmup_ratio=hp.warmup_ratio, weight_decay=hp.weight_decay, seed=seed,
                       freeze_embeddings=hp.freeze_embeddings, gradient_checkpointing=hp.gradient_checkpointing,
                       progress=progress, **extra)
