"""Zero-shot cross-lingual evaluation of a fine-tuned TaskModel: every language of a task.

Per language: build features (cached by data hash, tokenizer, max length and builder
version), predict with `training.predict` (length-sorted batches, inference mode), decode by
task type (argmax, QA span decoding, one tag per word, ranking over LAReQA's pooled
candidates) and score with the task's registered metrics. The result is one ResultRow per
(language, metric key) with the whole protocol; predictions can be written per language as
JSONL so a reviewer can rescore them. Evaluators never average (the report does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from xstilts import features as F
from xstilts.data.examples import Candidate
from xstilts.errors import BadValue
from xstilts.features import cache as feature_cache
from xstilts.features import retrieval
from xstilts.features.train import cache_key
from xstilts.metrics import get_metric
from xstilts.provenance import stable_hash
from xstilts.store import ResultRow
from xstilts.tasks import TaskDef
from xstilts.tasks.data import read_source, sources_hash
from xstilts.tasktypes import type_of
from xstilts.training import Collator, predict


@dataclass(frozen=True)
class EvalData:
    """Examples to score, per language, with what identifies them.

    `candidates` is the pooled retrieval pool (LAReQA: every sentence of every language);
    `data_hash[lang]` goes into result rows and feature-cache keys.
    """

    examples: Mapping[str, Sequence]
    data_hash: Mapping[str, str]
    splits: Mapping[str, tuple[str, str]]  # lang -> (dataset, split)
    candidates: Sequence[Candidate] = ()


@dataclass(frozen=True)
class RunInfo:
    """What every row says about the model and the run that produced it."""

    model: str
    model_hash: str
    seed: int | None
    condition: str = "none"
    intermediate: tuple[str, ...] = ()
    protocol: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None


def load_eval_data(task: TaskDef, data_root, langs: Sequence[str] | None = None,
                   max_examples: int | None = None) -> EvalData:
    """The task's evaluation sources (all languages, or `langs`), each cut to its first `max_examples`."""
    sources = [task.eval_source(lang) for lang in langs] if langs else list(task.eval)
    examples = {s.lang: read_source(s, data_root)[:max_examples] for s in sources}
    hashes = {s.lang: sources_hash([s], data_root, max_examples) for s in sources}
    examples, hashes, candidates = type_of(task.type).eval_data(task, data_root, examples, hashes, max_examples)
    return EvalData(examples, hashes, {s.lang: (s.dataset, s.split_name) for s in sources}, tuple(candidates))


def in_memory(task: TaskDef, examples: Mapping[str, Sequence], candidates: Sequence[Candidate] = ()) -> EvalData:
    """EvalData from examples already in memory (tests, custom data); hashed by content."""
    hashes = {lang: stable_hash([list(exs), list(candidates)]) for lang, exs in examples.items()}
    return EvalData(dict(examples), hashes, {lang: ("in-memory", "eval") for lang in examples}, tuple(candidates))


class Evaluator:
    """Predicts and scores one task with one model; holds what all languages share."""

    def __init__(self, model: nn.Module | None, tokenizer, task: TaskDef, *, batch_size: int = 64,
                 max_length: int | None = None, cache_dir: Path | None = None):
        self.model, self.tokenizer, self.task = model, tokenizer, task
        self.batch_size = batch_size
        self.max_length = max_length or task.recipe.max_length
        self.cache_dir = cache_dir
        self.collate = Collator(pad_id=tokenizer.pad_token_id, pad_to_multiple_of=8)
        self._fingerprint: str | None = None
        self._embedded: dict[tuple[str, str], np.ndarray] = {}  # (builder, data hash) -> embeddings

    # ---- what a type's decoding asks of the evaluator (tasktypes.base.Scorer) ----------

    def features(self, builder: str, version: int, data_hash: str, build) -> list[dict]:
        """BUILD()'s features, through the feature cache where there is one."""
        if self.cache_dir is None:
            return build()
        if self._fingerprint is None:
            self._fingerprint = F.tokenizer_fingerprint(self.tokenizer)
        key = cache_key(self.task, builder, version, data_hash, self._fingerprint, self.max_length)
        return feature_cache.cached_features(key, build, self.cache_dir)

    def predict(self, features: list[dict]) -> dict[str, np.ndarray]:
        if self.model is None:
            raise RuntimeError("the evaluator was given no model to predict with")
        head = self.task.name if self.task.name in getattr(self.model, "heads", {}) else None
        return predict(self.model, features, self.collate, self.batch_size, task=head)

    def embed(self, texts: Sequence[str], data_hash: str, builder: str) -> np.ndarray:
        """Mean-pooled embeddings of TEXTS, kept for the evaluator's life (a retrieval pool is
        embedded once for every language)."""
        if (builder, data_hash) not in self._embedded:
            feats = self.features(builder, retrieval.VERSION, data_hash, lambda: [
                {"input_ids": list(self.tokenizer(t, truncation=True, max_length=self.max_length)["input_ids"])}
                for t in texts])
            self._embedded[builder, data_hash] = self.predict(feats)["embeddings"]
        return self._embedded[builder, data_hash]

    def run(self, examples: Sequence, data_hash: str, candidates: Sequence[Candidate] = ()):
        """(predictions, references, JSONL records) of EXAMPLES, decoded by the task's type."""
        if not examples:
            raise BadValue(f"{self.task.name}: no examples to evaluate")
        return type_of(self.task.type).decode(self, list(examples), data_hash, candidates)

    # ---- scoring ------------------------------------------------------------------------

    def score(self, lang: str, predictions, references) -> dict[str, dict[str, float]]:
        """Registered metric name -> its values for one language."""
        kw = {"lang": lang} if self.task.metric_lang else {}
        return {name: get_metric(name)(predictions, references, **kw) for name in self.task.metrics}

    def main_score(self, scores: dict[str, dict[str, float]]) -> float:
        return scores[self.task.main_score][get_metric(self.task.main_score).main]


def rows_for(task: TaskDef, lang: str, scores: dict[str, dict[str, float]], data: EvalData, run: RunInfo,
             protocol: Mapping[str, Any]) -> list[ResultRow]:
    """One row per metric key; a key produced by two metrics of one task is an error."""
    rows: list[ResultRow] = []
    seen: dict[str, str] = {}  # metric key -> the metric reporting it
    dataset, split = data.splits[lang]
    for name, values in scores.items():
        for key, value in values.items():
            if key in seen:
                raise BadValue(f"task '{task.name}': metrics '{seen[key]}' and '{name}' both report '{key}'")
            seen[key] = name
            rows.append(ResultRow(
                model=run.model, model_hash=run.model_hash, condition=run.condition,
                intermediate=list(run.intermediate), task=task.name, task_version=task.version,
                dataset=dataset, split=split, language=lang, seed=run.seed, metric=key, value=float(value),
                scorer="head", pooling="mean" if type_of(task.type).pooled_rows else None,
                protocol={**run.protocol, **protocol, "metric_fn": name, **_implementation(name)},
                data_hash=data.data_hash[lang],
                run_id=run.run_id))
    return rows


def _implementation(metric: str) -> dict[str, str]:
    """The code that computed a metric, where versions disagree (tagging F1: seqeval 0.0.12 or later)."""
    impl = get_metric(metric).implementation
    return {"metric_implementation": impl} if impl else {}


def evaluate(model: nn.Module, tokenizer, task: TaskDef, data: EvalData, run: RunInfo, *,
             predictions_dir: Path | None = None, batch_size: int = 64, max_length: int | None = None,
             cache_dir: Path | None = None, on_language=None) -> list[ResultRow]:
    """Score every language in `data`; returns the rows (the caller stores them).

    `on_language(lang, rows)` is called after each language (progress, incremental storing).
    """
    ev = Evaluator(model, tokenizer, task, batch_size=batch_size, max_length=max_length, cache_dir=cache_dir)
    protocol: dict[str, Any] = {"max_length": ev.max_length, "eval_batch_size": batch_size}
    protocol |= type_of(task.type).eval_protocol(task, data.candidates)
    rows = []
    for lang, examples in data.examples.items():
        preds, refs, records = ev.run(examples, data.data_hash[lang], data.candidates)
        lang_rows = rows_for(task, lang, ev.score(lang, preds, refs), data, run,
                             {**protocol, "n_examples": len(examples)})
        if predictions_dir is not None:
            write_predictions(Path(predictions_dir) / f"{task.name}.{lang}.jsonl", records)
        if on_language is not None:
            on_language(lang, lang_rows)
        rows += lang_rows
    return rows


def write_predictions(path: Path, records: Sequence[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)
