"""A run's per-step log (log.jsonl), which the training loop writes: read back into its result
(every evaluation, what each task got), and cut back to the step a resumed run starts from."""

from __future__ import annotations

import json
from pathlib import Path


def eval_curve(log_path: Path) -> list[dict]:
    """Every evaluation of a run, from its log ({"step", "score", "eval"}; resumed runs included)."""
    if not Path(log_path).is_file():
        return []
    return [r for r in map(json.loads, Path(log_path).read_text().splitlines()) if "score" in r]


def task_summary(log_path: Path) -> dict[str, dict]:
    """What each task (loss) got over a whole run, from its log: micro-batches drawn, their share,
    and the first and final loss (the mean of the task's losses over the first and the last tenth
    of the steps it was drawn in: a final loss far above the first says the run diverged)."""
    steps = [r for r in map(json.loads, Path(log_path).read_text().splitlines()) if "task_batches" in r]
    if not steps:
        return {}
    counts: dict[str, int] = {}
    for r in steps:
        for t, n in r["task_batches"].items():
            counts[t] = counts.get(t, 0) + n
    total = sum(counts.values())

    def mean(losses: list[float]) -> float:
        return round(sum(losses) / len(losses), 4)

    out = {}
    for t, n in counts.items():
        losses = [r["task_loss"][t] for r in steps if t in r["task_loss"]]
        tenth = max(1, len(losses) // 10)
        out[t] = {"batches": n, "share": round(n / total, 4), "first_loss": mean(losses[:tenth]),
                  "final_loss": mean(losses[-tenth:])}
    return out


def truncate_log(path: Path, step: int) -> None:
    """Drops log lines past the resumed step (steps the killed run did after its checkpoint)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))
