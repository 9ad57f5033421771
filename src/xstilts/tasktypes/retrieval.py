"""Question-answer retrieval (LAReQA): questions and candidate sentences embedded by one
mean-pooling head, each question ranked against the pool of every language's candidates; trained
on English (question, answer sentence) pairs with in-batch negatives. Also a probe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from xstilts import features as F
from xstilts.errors import BadValue
from xstilts.features import retrieval
from xstilts.provenance import stable_hash
from xstilts.tasktypes.base import Decoded, Scorer, TaskType

if TYPE_CHECKING:
    from xstilts.data.examples import Candidate
    from xstilts.tasks.schema import TaskDef

TOP_K = 20  # candidates kept per question (mAP@20, as XTREME-R)


class Retrieval(TaskType):
    name, head, probe, pooled_rows = "qa_retrieval", "retrieval", True, True
    builder = ("retrieval_pairs", retrieval.VERSION)
    file_formats = ("lareqa-json",)

    def train_features(self, task: TaskDef, tokenizer: Any, examples: Sequence, max_length: int) -> list[dict]:
        return F.build_retrieval_pairs(examples, tokenizer, max_length)

    def eval_data(self, task: TaskDef, data_root: Any, examples: dict[str, list], hashes: dict[str, str],
                  max_examples: int | None) -> tuple[dict[str, list], dict[str, str], Sequence[Candidate]]:
        """Every language's questions are ranked against the pool of all languages' candidates,
        however many languages are scored."""
        from xstilts.data import catalog
        from xstilts.tasks.data import sources_hash

        questions, candidates = catalog.lareqa_pool(data_root, task.languages, task.eval[0].dataset)
        cut = {lang: questions[lang][:max_examples] for lang in examples}
        pool_hash = sources_hash(task.eval, data_root)
        return cut, {lang: stable_hash([h, pool_hash]) for lang, h in hashes.items()}, candidates

    def decode(self, ev: Scorer, examples: list, data_hash: str, candidates: Sequence[Candidate]) -> Decoded:
        if not candidates:
            raise BadValue(f"{ev.task.name}: retrieval needs the candidate pool")
        pool = ev.embed([c.sentence for c in candidates], stable_hash([[c.uid, c.sentence] for c in candidates]),
                        "retrieval_candidates")
        queries = ev.embed([ex.question for ex in examples], data_hash, "retrieval_questions")
        scores = queries @ pool.T  # the head L2-normalises for cosine similarity
        top = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
        position = {c.uid: j for j, c in enumerate(candidates)}
        refs = [{position[a] for a in ex.answer_ids if a in position} for ex in examples]
        missing = [ex.uid for ex, rel in zip(examples, refs) if not rel]
        if missing:
            raise BadValue(f"{ev.task.name}: question(s) {missing[:5]} have no answer in the candidate pool")
        preds = top.tolist()
        records = [{"uid": ex.uid, "prediction": [candidates[j].uid for j in row], "gold": list(ex.answer_ids)}
                   for ex, row in zip(examples, preds)]
        return preds, refs, records

    def eval_protocol(self, task: TaskDef, candidates: Sequence[Candidate]) -> dict[str, Any]:
        return {"pool_size": len(candidates), "similarity": "cosine", "candidate_context": False}

    def mapping_problem(self, fields: Mapping[str, Any], kind: str) -> str | None:
        return "qa_retrieval reads lareqa-json files"


QA_RETRIEVAL = Retrieval()
