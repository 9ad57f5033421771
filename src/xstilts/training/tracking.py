"""Experiment tracking, opt-in: TensorBoard, Weights & Biases or MLflow through accelerate's trackers.

`--log-with tensorboard` (`finetune`, `run`) sets $XSTILTS_LOG_WITH, which every training run of
the process (and of its children: torchrun ranks, Ray workers started from it) reads; `run_context`
names the run and gives the config that is logged with it (a study node's kind, label, key and
config; a `finetune` command's options). `train` then logs that config with its own effective
settings once, and every step's loss, learning rate, gradient norm and throughput, and every
evaluation's score and metrics, at the step they belong to.

Offline-safe: TensorBoard writes event files under the run's own folder (`<run>/train/tensorboard/`,
a study node's `<node>/train/tensorboard/`); MLflow writes a file store under that folder unless
$MLFLOW_TRACKING_URI says otherwise; W&B follows its own settings (WANDB_MODE=offline without a
network). A tracker whose package is missing is refused before anything runs, in one line.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import XstiltsError

ENV = "XSTILTS_LOG_WITH"
# tracker -> (a module that must import, what to install)
TRACKERS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb"),
            "mlflow": ("mlflow", "mlflow")}
FOLDER = "tensorboard"  # TensorBoard's event files, under a training run's out_dir

_context: list[dict[str, Any]] = []  # innermost last: {"name", "project", "config", "log_with"}


def parse(value: str | Sequence | None) -> tuple[str, ...]:
    """Tracker names from a comma list ('tensorboard,mlflow'), each checked to be known and installed."""
    from ..data.formats import did_you_mean

    if value is None:
        return ()
    names = [v.strip().lower() for v in (value.split(",") if isinstance(value, str) else value)]
    out = []
    for name in (n for n in names if n and n != "none"):
        if name not in TRACKERS:
            raise XstiltsError(f"--log-with: unknown tracker '{name}'{did_you_mean(name, TRACKERS)}")
        module, package = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise XstiltsError(f"--log-with {name}: {package} is not installed here (pip install {package})")
        if name not in out:
            out.append(name)
    return tuple(out)


def use(value: str | None) -> tuple[str, ...]:
    """Check VALUE and make it the trackers of every training run of this process and its children."""
    names = parse(value)
    if names:
        os.environ[ENV] = ",".join(names)
    else:
        os.environ.pop(ENV, None)
    return names


def active(explicit: Sequence[str] | None = None) -> tuple[str, ...]:
    """The trackers a training run logs to: EXPLICIT (its TrainConfig.log_with), else its run
    context's, else $XSTILTS_LOG_WITH."""
    if explicit is None:
        explicit = current()["log_with"]
    return parse(list(explicit) if explicit is not None else os.environ.get(ENV))


@contextmanager
def run_context(name: str | None = None, config: Mapping[str, Any] | None = None,
                project: str | None = None, log_with: Sequence[str] | None = None) -> Iterator[None]:
    """Training runs inside log CONFIG (beside their own settings) under run NAME in PROJECT
    (W&B project, MLflow experiment; default 'xstilts'), to LOG_WITH (None: $XSTILTS_LOG_WITH;
    a Ray worker gets the driver's trackers this way)."""
    _context.append({"name": name, "config": dict(config or {}), "project": project,
                     "log_with": None if log_with is None else tuple(log_with)})
    try:
        yield
    finally:
        _context.pop()


def current() -> dict[str, Any]:
    """The innermost run context: {"name", "config", "project"} (empty values outside any)."""
    return _context[-1] if _context else {"name": None, "config": {}, "project": None, "log_with": None}


def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as 'a/b' keys; lists as JSON text; None as 'none': the scalar values
    every tracker's hyper-parameter table takes."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, name + "/"))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is None:
            out[name] = "none"
        else:
            out[name] = json.dumps(value, default=str, sort_keys=True)
    return out


def numbers(values: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """The numeric leaves of VALUES (e.g. an evaluation's metrics, per task) as 'prefix/a/b' scalars."""
    return {k: float(v) for k, v in flat(values, prefix + "/").items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def trackers(names: Sequence[str], out_dir: Path) -> list:
    """accelerate tracker objects for NAMES, writing under OUT_DIR (a training run's folder)."""
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    ctx = current()
    project, run = ctx["project"] or "xstilts", ctx["name"] or Path(out_dir).parent.name
    made = []
    for name in names:
        if name == "tensorboard":
            made.append(TensorBoardTracker(FOLDER, out_dir))
        elif name == "wandb":
            made.append(WandBTracker(project, name=run, dir=str(out_dir)))
        elif name == "mlflow":
            if not os.environ.get("MLFLOW_TRACKING_URI"):
                import mlflow

                mlflow.set_tracking_uri((Path(out_dir).resolve() / "mlruns").as_uri())
            made.append(MLflowTracker(project, run_name=run))
    return made


def event_dir(out_dir: Path) -> Path:
    """Where `--log-with tensorboard` puts a training run's event files."""
    return Path(out_dir) / FOLDER
