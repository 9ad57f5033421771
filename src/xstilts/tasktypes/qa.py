"""Extractive QA (XQuAD, MLQA, TyDiQA-GoldP, SQuAD): context windows of doc_stride, a span head,
answers decoded from the n-best start/end logits as XTREME's scripts do; chance is 0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xstilts import features as F
from xstilts.features import qa
from xstilts.tasktypes.base import Decoded, Scorer, TaskType, records

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.tasks.schema import TaskDef


class QA(TaskType):
    name, head = "qa", "qa"
    builder = ("qa_train", qa.VERSION)
    field_kinds = ("qa",)
    file_formats = ("squad-json",)

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        r = task.recipe
        return F.build_qa_train_features(examples, tokenizer, max_length, r.doc_stride, r.max_query_length)

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        r = ev.task.recipe
        feats = ev.features("qa_eval", qa.VERSION, data_hash, lambda: F.build_qa_eval_features(
            examples, ev.tokenizer, ev.max_length, r.doc_stride, r.max_query_length))
        out = ev.predict(feats)
        answers = F.decode_qa(examples, feats, out["start_logits"], out["end_logits"], n_best=r.n_best,
                              max_answer_length=r.max_answer_length)
        preds = [answers[ex.uid] for ex in examples]
        refs = [[text for text, _ in ex.answers] for ex in examples]
        return preds, refs, records(examples, preds, refs)

    def eval_protocol(self, task: TaskDef, candidates: Sequence[Candidate]) -> dict[str, Any]:
        r = task.recipe
        return {"doc_stride": r.doc_stride, "max_query_length": r.max_query_length,
                "max_answer_length": r.max_answer_length, "n_best": r.n_best}

    def chance(self, task: TaskDef, examples: Sequence = ()) -> tuple[float | None, float | None]:
        return 0.0, None


QA_TYPE = QA()
