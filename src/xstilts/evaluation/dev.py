"""The dev-set scorer the training loop calls: model selection in phase 3, each task's own
learning curve in phase 2."""

from __future__ import annotations

from pathlib import Path

from xstilts.evaluation.zero_shot import Evaluator
from xstilts.paths import cache_dir
from xstilts.tasks.data import read_source, sources_hash
from xstilts.tasks.schema import TaskDef


def dev_eval_fn(task: TaskDef, tokenizer, root: Path, max_length: int, max_dev_examples: int | None):
    """eval_fn for the loop: the task's main score on its dev set (English for a target; a phase-2
    task's own language), or None without a dev set."""
    if task.dev is None:
        return None
    examples = read_source(task.dev, root)[:max_dev_examples]
    data_hash = sources_hash([task.dev], root, max_dev_examples)

    ev = Evaluator(None, tokenizer, task, max_length=max_length, cache_dir=cache_dir() / "features")

    def eval_fn(model):
        ev.model = model  # the loop passes the unwrapped model being trained
        scores = ev.score(task.dev.lang, *ev.run(examples, data_hash)[:2])
        return ev.main_score(scores), {f"{name}.{k}": v for name, vals in scores.items() for k, v in vals.items()}

    return eval_fn
