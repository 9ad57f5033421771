"""Every run's hyper-parameters: declared once, here, and resolved in one place.

`HParams` declares each one: its type, its bounds, its default, what it means (the CLI's help),
and, in its field's `json_schema_extra`, the phase it belongs to ("finetune" or "intermediate";
unmarked: both) and whether a task publishes it in its recipe. Everything else is derived:
the spec's layer `Train` (every field optional), a user task's `recipe:` (`RecipeFields`), the
options of `xstilts finetune` (`cli_tools.hparam_options`), and the training loop's config (`TrainConfig`
extends `LoopHParams`, the fields the loop itself reads). A new hyper-parameter is one field.

Layers, later ones winning: the task's published recipe (`tasks/schema.py: Recipe`, after
XTREME's scripts) → the spec's phase defaults (`intermediate:` / `finetune:`) → the
condition's or target's own `train:` → command-line options. The result, `HParams`, is what a
node's key hashes, what `xstilts plan` prints, what the runner trains with and what every
result row records: there is no other default anywhere on the way.

The training length is one choice: a layer that sets `epochs` replaces an inherited
`max_steps` and the other way round; one layer setting both cannot be honoured.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, create_model

from xstilts.errors import BadValue
from xstilts.located import Strict
from xstilts.tasks.schema import Recipe

Phase = Literal["intermediate", "finetune"]
DEFAULT_MAX_DEV_EXAMPLES = 1000
# Phase 2 scores each task on its own dev set (to record that it learned; no model selection).
# Left unset, these stand in for eval_every / max_dev_examples there: the resolved fields stay
# None, so the nodes planned before phase 2 had a dev curve keep their keys.
PHASE2_DEV_EVALS = 5  # evaluations per run (eval_every = steps // this)
PHASE2_MAX_DEV_EXAMPLES = 300  # per task: a few seconds of me5-small on a CPU
RECIPE: dict[str, Any] = {"recipe": True}  # a task publishes it (tasks/schema.py: Recipe)
FINETUNE: dict[str, Any] = {"phase": "finetune"}  # phase 3 only (phase 2 has no zero-shot evaluation)
INTERMEDIATE: dict[str, Any] = {"phase": "intermediate"}  # phase 2 only
# Added after studies were published: a node's key hashes it, and a result row records it, only when
# it differs from its default, so every earlier node and row keeps its key (a new hyper-parameter is
# declared with this). KEYED_WHEN_SET: the same for node keys only (rows of that time recorded every
# field, so they record these always).
ADDED: dict[str, Any] = {"added": "keys and rows"}
KEYED_WHEN_SET: dict[str, Any] = {"added": "keys"}


class LoopHParams(BaseModel):
    """The hyper-parameters the training loop itself reads (`TrainConfig` is these plus a run's own
    settings); the defaults are the loop's, for a run without a recipe."""

    lr: PositiveFloat = Field(2e-5, description="Peak learning rate (default: the task's XTREME recipe).",
                              json_schema_extra=RECIPE)
    batch_size: PositiveInt = Field(32, description="Examples per micro-batch, global across processes (default: "
                                                    "the recipe's).", json_schema_extra=RECIPE)
    grad_accum: PositiveInt = Field(1, description="Micro-batches per optimizer step (default: the recipe's).",
                                    json_schema_extra=RECIPE)
    max_steps: PositiveInt | None = Field(None, description="Training steps, in place of epochs (default: the task's "
                                                            "epochs).")
    epochs: PositiveFloat | None = Field(None, description="Passes over the training data (default: the recipe's).",
                                         json_schema_extra=RECIPE)
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = Field(0.1, description="Share of steps with a rising learning "
                                                                               "rate.", json_schema_extra=RECIPE)
    weight_decay: Annotated[float, Field(ge=0)] = Field(0.01, description="AdamW weight decay.",
                                                        json_schema_extra=RECIPE)
    # CPU: the ~96M-parameter word-embedding matrix dominates the AdamW step; freezing it halves the
    # me5-small step time (DESIGN.md)
    freeze_embeddings: bool = Field(False, description="Freeze the word embeddings (recorded): halves a CPU step for "
                                                       "XLM-R-sized vocabularies.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: less "
                                                            "memory, more compute, the same weights.",
                                         json_schema_extra=KEYED_WHEN_SET)
    max_grad_norm: PositiveFloat = Field(1.0, description="Clip the gradient's norm to this before each optimizer "
                                                          "step.", json_schema_extra=ADDED)


class HParams(LoopHParams):
    """The resolved settings of one training run (see the module docstring for where each comes from)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: PositiveInt = Field(description="Tokens per feature (default: the recipe's).", json_schema_extra=RECIPE)
    max_train_examples: PositiveInt | None = Field(None, description="Use only the first N training examples.")
    # dev evaluations: phase 3 selects its weights on English dev, phase 2 records each task's own dev curve
    eval_every: PositiveInt | None = Field(None, description="A dev evaluation (and a checkpoint) every N steps "
                                                             "(default: 5 per run).")
    max_dev_examples: PositiveInt | None = Field(None, description="Dev examples per evaluation (default: 1,000 "
                                                                   "English; phase 2: 300 per task).")
    max_eval_examples: PositiveInt | None = Field(None, description="Evaluate on the first N examples per language.",
                                                  json_schema_extra=FINETUNE)
    # stop once every trained task's own dev score reaches this many points (checked at each dev
    # evaluation; max_steps / epochs stay the cap), so that conditions in different languages
    # learn their tasks equally instead of for equal steps
    until: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = Field(
        None, description="Stop once every task's own dev score reaches this many points.",
        json_schema_extra={**INTERMEDIATE, **KEYED_WHEN_SET})

    def node_config(self) -> dict:
        """What a plan node's key hashes: every field, but one added after studies were published only
        when it is not at its default (gradient_checkpointing only when on, until only when set)."""
        return self._without_defaults_of(("keys", "keys and rows"))

    def recorded(self) -> dict:
        """What a run and its result rows record: every field, but one ADDED after rows were
        published only when it is not at its default."""
        return self._without_defaults_of(("keys and rows",))

    def _without_defaults_of(self, added: tuple[str, ...]) -> dict:
        return self.model_dump(exclude={n for n, f in type(self).model_fields.items()
                                        if _extra(f).get("added") in added and getattr(self, n) == f.default})

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


def _extra(f: Any) -> dict[str, Any]:
    """What a field's declaration says beyond its type: its phase, recipe and ADDED marks."""
    return f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}


def phase_of(name: str) -> str | None:
    """The one phase a hyper-parameter belongs to, or None for both."""
    return _extra(HParams.model_fields[name]).get("phase")


RECIPE_FIELDS = tuple(n for n, f in HParams.model_fields.items() if _extra(f).get("recipe"))
FINETUNE_ONLY = tuple(n for n in HParams.model_fields if phase_of(n) == "finetune")
INTERMEDIATE_ONLY = tuple(n for n in HParams.model_fields if phase_of(n) == "intermediate")


def partial_model(name: str, base: type[BaseModel], doc: str, fields: typing.Iterable[str] = tuple(HParams.model_fields)
                  ) -> type[BaseModel]:
    """A model of HParams' FIELDS, each optional (None: not set, the next layer's value holds), with
    their bounds: what a spec layer or a task's recipe writes."""
    def optional(n: str) -> Any:
        f = HParams.model_fields[n]
        kind = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        return (Optional[kind], Field(None, description=f.description))  # noqa: UP045 - a runtime type

    model = create_model(name, __base__=base, __doc__=doc, **{n: optional(n) for n in fields})
    model.__module__ = __name__
    return model


if TYPE_CHECKING:  # generated at run time from HParams' fields: the checker cannot see them
    Train = Any
else:
    Train = partial_model("Train", Strict, "A layer of training hyper-parameters in a spec (`intermediate:`, `finetune:`, "
                          "a condition's or target's `train:`); a field left out falls back to the next layer.")


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
    values: dict[str, Any] = {name: getattr(recipe, name) for name in RECIPE_FIELDS}
    values["max_dev_examples"] = DEFAULT_MAX_DEV_EXAMPLES if phase == "finetune" else None
    for layer in layers:
        check_layer(layer, phase)
        given = layer.model_dump(exclude_none=True)
        if "max_steps" in given:
            values["epochs"] = None
        if "epochs" in given:
            values["max_steps"] = None
        values.update(given)
    return HParams(**values)
