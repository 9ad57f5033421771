"""What every task type answers; each type is one object (`TaskType`) in a module of its own."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.models.heads import HeadType
    from xstilts.tasks.schema import TaskDef

Decoded = tuple[list, list, list[dict]]  # (predictions, references, one JSONL record per example)


class Scorer(Protocol):
    """What a type's decoding asks of the evaluator (evaluation/zero_shot.Evaluator)."""

    task: TaskDef
    tokenizer: Any
    max_length: int

    def features(self, builder: str, version: int, data_hash: str, build: Any) -> list[dict]: ...

    def predict(self, features: list[dict]) -> dict[str, Any]: ...

    def embed(self, texts: Sequence[str], data_hash: str, builder: str) -> Any: ...


class TaskType:
    """A task type: the head a fine-tuned model gets (None: only probed), how its English training
    text becomes features, how a model's outputs on an evaluation language become predictions,
    the chance level its runs are judged against, and what a user's task file of the type reads."""

    name: str = ""
    head: HeadType | None = None  # the head a fine-tuned model gets (models/heads.py)
    labelled: bool = False  # the task lists its labels; the head has one output per label
    probe: bool = False  # can be an alignment probe (scored on the encoder itself)
    builder: tuple[str, int] = ("", 0)  # the training features' builder name and VERSION (cache key)
    # a user's task file: the field-mapping kinds it reads, the fixed formats it reads, the fields it must map
    field_kinds: tuple[str, ...] = ()
    file_formats: tuple[str, ...] = ()
    token_level: bool = False  # transferability features per labelled token, not per text
    pivoted: bool = False  # its texts pair every language with one pivot language (bitext)
    pooled_rows: bool = False  # its rows score mean-pooled embeddings, not a head's classes

    def eval_data(self, task: TaskDef, data_root: Any, examples: dict[str, list], hashes: dict[str, str],
                  max_examples: int | None) -> tuple[dict[str, list], dict[str, str], Sequence[Candidate]]:
        """The evaluation examples and their hashes, with what they are scored against (retrieval:
        the candidate pool of every language); most types take the examples as read."""
        return examples, hashes, ()

    def head_options(self, task: TaskDef) -> dict[str, Any]:
        """What the head needs besides its type: the label count of a labelled head."""
        return {"num_labels": len(task.labels)} if self.labelled else {}

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        raise NotImplementedError(f"a {self.name} task is not trained")

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        raise NotImplementedError(f"a {self.name} task is not evaluated zero-shot")

    def eval_protocol(self, task: TaskDef, candidates: Sequence[Candidate]) -> dict[str, Any]:
        """What evaluation rows record of how this type was scored, beyond length and batch."""
        return {}

    def chance(self, task: TaskDef, examples: Sequence = ()) -> tuple[float | None, float | None]:
        """(chance score in points, chance cross-entropy): one over the labels of a labelled type;
        None where the type has none."""
        if self.labelled and task.labels:
            return 100.0 / len(task.labels), math.log(len(task.labels))
        return None, None

    def features(self, ev: Scorer, examples: list, data_hash: str) -> list[dict]:
        """EXAMPLES as this type's training features, through the evaluator's feature cache (the
        types whose evaluation reads the same features as their training)."""
        return ev.features(*self.builder, data_hash,
                           lambda: self.train_features(ev.task, ev.tokenizer, examples, ev.max_length))

    def task_problems(self, task: TaskDef) -> list[tuple[str, str]]:
        """(field, message) for what this type asks of a task entry beyond the shared checks."""
        problems = []
        if self.labelled and not task.labels:
            problems.append(("labels", f"a {task.type} task lists its labels"))
        return problems

    def mapping_problem(self, fields: Mapping[str, Any], kind: str) -> str | None:
        """What a user's field mapping (of KIND, which fits the type) lacks for it, or None."""
        return None


def gold(example: Any, value: Any) -> Any:
    """VALUE, the gold of EXAMPLE; unlabelled data cannot be scored."""
    from xstilts.errors import BadValue

    if value is None:
        raise BadValue(f"example {example.uid} has no gold label: unlabelled data cannot be scored")
    return value


def records(examples: Sequence, preds: Sequence, refs: Sequence) -> list[dict]:
    return [{"uid": ex.uid, "prediction": p, "gold": g} for ex, p, g in zip(examples, preds, refs)]
