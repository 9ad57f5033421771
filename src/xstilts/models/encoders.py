"""One entry point for every encoder a study can start from: a hub id
(`xlm-roberta-large`), a local transformers directory, or the bundled `me5-small`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..errors import ModelLoadError
from . import me5

SOURCE_FILE = "xstilts_source.json"  # written by xstilts into every model directory it makes


@dataclass
class Encoder:
    """A loaded encoder with what a result row needs to name it."""

    name: str  # what the user passed
    path: str  # where the weights were read from
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    default_prefix: str

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers


def resolve(name: str) -> str:
    """The directory or hub id transformers should load for `name`."""
    if name == me5.NAME:
        return str(me5.ensure_me5())
    return name


def load_encoder(name: str, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> Encoder:
    """Load model and tokenizer; a hub id needs the hub (or its local HF cache)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bars speak for long work
    path = resolve(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        try:  # the pooler is unused (we pool ourselves); not every architecture has the switch
            model = AutoModel.from_pretrained(path, dtype=dtype or torch.float32, add_pooling_layer=False)
        except TypeError:
            model = AutoModel.from_pretrained(path, dtype=dtype or torch.float32)
    except OSError as e:
        raise ModelLoadError(
            f"could not load encoder '{name}': {e}\n"
            "Pass 'me5-small' (bundled, offline), a local model directory, or a hub id "
            "reachable from this machine (or present in the Hugging Face cache)."
        ) from e
    model.to(device).eval()
    return Encoder(name, path, model, tokenizer, _source_info(path).get("default_prefix", ""))


def _source_info(path: str) -> dict:
    """What xstilts recorded about a directory it wrote (me5 conversion, phase-2 encoders):
    its weights hash and the text prefix its model family expects."""
    meta = Path(path) / SOURCE_FILE
    return json.loads(meta.read_text()) if meta.is_file() else {}


def weights_hash(encoder: Encoder) -> str:
    """A stable hash of the encoder's weights, recorded with every result.

    For a directory written by xstilts (the me5 cache, checkpoints), the hash is read
    from its metadata when present, so it is not recomputed over 470 MB each run."""
    info = _source_info(encoder.path)
    if "weights_sha256" in info:
        return info["weights_sha256"]
    from ..provenance import tensor_state_hash

    return tensor_state_hash(encoder.model.state_dict())
