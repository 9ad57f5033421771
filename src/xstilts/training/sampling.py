"""Where the next batch comes from: a resumable stream per task and a seeded task sampler.

Both keep their position as plain state so a resumed run draws exactly the batches and
tasks the interrupted one would have drawn.
"""

from __future__ import annotations

from typing import Literal

import torch

from .collate import LengthGroupedSampler
from xstilts.errors import BadValue


class BatchStream:
    """Endless batches of indices from one task: epoch after epoch of its sampler."""

    def __init__(self, sampler: LengthGroupedSampler):
        self.sampler, self.epoch, self.position = sampler, 0, 0
        self._batches = sampler.batches(0)

    def next(self) -> list[int]:
        if self.position >= len(self._batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._batches = self.sampler.batches(self.epoch)
        self.position += 1
        return self._batches[self.position - 1]

    def progress(self) -> float:
        """Epochs done, fractional."""
        return self.epoch + self.position / max(len(self._batches), 1)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self._batches = self.sampler.batches(self.epoch)


def task_probabilities(
    sizes: dict[str, int],
    rule: Literal["proportional", "temperature"] = "proportional",
    cap: int | None = None,
    temperature: float = 1.0,
    fixed: dict[str, float] | None = None,
) -> dict[str, float]:
    """Sampling weight per task: p ∝ min(n, cap) (proportional, Phang et al.'s multi-task
    setting) or p ∝ n^(1/T) (temperature; T=1 is proportional, large T tends to uniform).
    Tasks in `fixed` get exactly that share; the others split what is left by the rule."""
    fixed = {t: p for t, p in (fixed or {}).items() if t in sizes}
    rest = {t: n for t, n in sizes.items() if t not in fixed}
    left = 1.0 - sum(fixed.values())
    if left <= 0 or (not rest and left > 1e-9):
        raise BadValue(f"fixed task shares {fixed} leave {left:.2f} for {sorted(rest) or 'no other task'}")
    if rule == "proportional":
        weights = {t: float(min(n, cap) if cap else n) for t, n in rest.items()}
    elif rule == "temperature":
        weights = {t: float(n) ** (1.0 / temperature) for t, n in rest.items()}
    else:
        raise BadValue(f"unknown task sampling rule {rule!r}")
    total = sum(weights.values())
    return {**{t: left * w / total for t, w in weights.items()}, **fixed}


class TaskSampler:
    """Draws a task name per batch from fixed probabilities with its own seeded generator."""

    def __init__(self, probabilities: dict[str, float], seed: int):
        self.names = list(probabilities)
        self.weights = torch.tensor([probabilities[t] for t in self.names], dtype=torch.float64)
        self.generator = torch.Generator().manual_seed(seed)

    def pick(self) -> str:
        return self.names[int(torch.multinomial(self.weights, 1, generator=self.generator))]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
