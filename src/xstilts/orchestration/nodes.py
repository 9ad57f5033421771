"""A node's config, typed per kind: what its runner reads and its key hashes. The plan builds each
node's config as a JSON object (its key is the hash of that object, so a field added later enters
only when set and earlier keys hold) and checks it against its kind's model here; runners, the
disk estimate and `recommend` read the typed form (`Node.typed`), never the raw dict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from xstilts.training.hparams import HParams


class _Typed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _NodeConfig(_Typed):
    study: str
    model: str  # the study's model (rows name it; the encoder a node starts from is a dependency's output)
    data: str  # the content id of every file the node reads
    smoke: bool


class SamplingConfig(_Typed):
    rule: Literal["proportional", "temperature"]
    cap: int | None
    temperature: float


class MLMConfig(_Typed):
    languages: list[str]
    weight: float
    fraction: Literal["proportional"] | float
    max_examples: int | None
    tasks: list[str]  # the text sources of its languages (guard.mlm_tasks_for)


class ConditionConfig(_Typed):
    kind: str
    tasks: list[str]
    sampling: SamplingConfig | None
    translation_of: str | None
    mlm: MLMConfig | None


class IntermediateConfig(_NodeConfig):
    """Phase 2: one condition's encoder, trained with one seed."""

    seed: int
    train: HParams
    condition: ConditionConfig


class ProbeConfig(_NodeConfig):
    """An alignment probe on one encoder (the base one, a phase-2 one, or one fine-tuned on `after`)."""

    probe: str
    langs: list[str]
    layers: str | list[int]
    pooling: Literal["mean", "cls"]
    prefix: str | None  # None: the encoder's default
    scorer: Literal["cosine", "margin"]
    max_sentences: int | None
    protocol: Literal["alignment", "xtreme-r"] = "alignment"
    after: str | None = None
    margin_search: str | None = None
    condition: str
    intermediate_tasks: list[str]
    intermediate_seed: int | None  # None: the untrained encoder, or one phase-2 run for every seed


class FinetuneConfig(_NodeConfig):
    """Phase 3: one target task fine-tuned from one condition's encoder with one seed."""

    task: str
    langs: list[str] | None  # None: every language of the task
    train: HParams
    seed: int
    condition: str
    intermediate_tasks: list[str]
    export_encoder: bool = False  # a probe scores this fine-tuned encoder (`after:`)


CONFIGS: dict[str, type[_NodeConfig]] = {"intermediate": IntermediateConfig, "probe": ProbeConfig,
                                         "finetune": FinetuneConfig}


def typed_config(kind: str, config: dict[str, Any]) -> Any:
    """CONFIG as its kind's model; a field missing, unknown or of the wrong type raises."""
    return CONFIGS[kind].model_validate(config)
