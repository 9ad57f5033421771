"""Checkpoints that survive a kill at any moment: written to a temporary directory, then
swapped in with renames, so `last/` is always either the previous or the new complete one.

Model weights go to safetensors; optimizer, scheduler, sampler positions and RNG states
(small, our own) to `state.pt`; step, best score and the effective config to `meta.json`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from xstilts.errors import CorruptArtefactError
from xstilts.models import checksums

MODEL_FILE, STATE_FILE, META_FILE = "model.safetensors", "state.pt", "meta.json"
CHECKSUM_FILE = "checksums.json"  # sha256 and size of the files above, checked before loading


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yields a fresh temporary directory; on success it replaces `final`.

    A directory cannot be os.replace'd onto a non-empty one, so the old copy is first
    renamed aside (`.<name>.old`); `resolve` falls back to it if a kill lands in between.
    """
    final = Path(final)
    tmp, old = final.with_name(f".{final.name}.tmp"), final.with_name(f".{final.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def resolve(final: Path) -> Path | None:
    """The complete checkpoint at `final`, or its set-aside copy, or None."""
    old = final.with_name(f".{final.name}.old")
    for path in (final, old):
        if (path / META_FILE).exists():
            return path
    return None


def save_weights(model: nn.Module, directory: Path) -> None:
    """Weights plus their checksum (CHECKSUM_FILE), which `load_weights` checks."""
    save_model(model, str(directory / MODEL_FILE), metadata={"format": "pt"})
    _record(directory)


def load_weights(model: nn.Module, directory: Path) -> None:
    """Loads the weights after checking the checkpoint's files against the checksums saved with
    them; a corrupt one names the file and the training folder to delete (retraining rebuilds it)."""
    directory = Path(directory)
    if (directory / CHECKSUM_FILE).is_file():
        try:
            files = json.loads((directory / CHECKSUM_FILE).read_text())
        except ValueError:
            raise CorruptArtefactError(directory / CHECKSUM_FILE, "corrupt (not readable JSON)", directory.parent) from None
        checksums.verify(directory, files, rebuild=directory.parent)
    try:
        load_model(model, str(directory / MODEL_FILE), strict=True)
    except SafetensorError as e:  # a checkpoint written before checksums were
        raise CorruptArtefactError(directory / MODEL_FILE, f"corrupt ({e})", directory.parent) from None


def _record(directory: Path) -> None:
    files = checksums.record(directory, skip=(META_FILE, CHECKSUM_FILE))
    (directory / CHECKSUM_FILE).write_text(json.dumps(files, indent=1))


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too


def save_checkpoint(directory: Path, model: nn.Module, state: dict, meta: dict) -> None:
    """Atomically writes weights, `state` (+ RNG states, taken now) and `meta`."""
    with atomic_dir(directory) as tmp:
        save_weights(model, tmp)
        torch.save({**state, "rng": rng_state()}, tmp / STATE_FILE)
        _record(tmp)  # now with the state file too
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, default=str))


def load_checkpoint(directory: Path, model: nn.Module) -> tuple[dict, dict]:
    """Loads weights into `model`; returns (state, meta). The caller restores RNG last."""
    load_weights(model, directory)
    state = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=False)  # our own file
    return state, json.loads((directory / META_FILE).read_text())


def drop_optimizer_state(directory: Path) -> None:
    """Keeps a finished run's `last/` weights and drops its optimizer state (two more copies of
    the weights): the checksums are written anew, and the loop no longer resumes from it."""
    directory = Path(directory)
    if (directory / STATE_FILE).exists():
        (directory / STATE_FILE).unlink()
        _record(directory)


def is_resumable(directory: Path) -> bool:
    return (Path(directory) / STATE_FILE).is_file()
