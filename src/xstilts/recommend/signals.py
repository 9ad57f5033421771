"""The signals of `xstilts recommend`: rank a study's intermediate tasks for target tasks and their languages
from signals that need no phase-3 training, then check the ranking against the study's gains.

Signals, per candidate condition c (every condition but the baseline) and target language l:
- alignment: the change (c minus the baseline) in the study's probe accuracy, averaged over
  probes, layers and directions, on the probe languages that are l (same ISO 639-3 code), else
  on every probe language;
- logme / hscore: LogME and H-score of the target task's English training features (mean-pooled
  last layer for sentence tasks, first sub-word of each word for tagging) on c's phase-2
  encoder (its first seed's), the same for every l. Only examples no phase-2 node trained on are
  encoded: XNLI's English training set is MNLI, which an `mnli` condition trains on;
- proximity: 1 when c trains in l, 0.5 in l's script, else 0 (from ISO 639-3 + script tags);
- combined: the mean of the signals' z-scores across candidates (no fitting).
From a published record's rows alone (`recommend --from DIR`, no phase-2 encoders): alignment and
proximity; LogME and H-score need the encoders' features and are skipped, by name (`skipped`).
Validation (`check`): each figure against the random ranking and the gains' own noise
ceiling, the fitted blend on whole tasks left out. Costs: phase 2 (which both need), the signals'
own seconds (probe nodes, feature encoding) and the seconds of the fine-tuning grid they replace.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from xstilts.data import languages
from xstilts.data.examples import example_texts
from xstilts.errors import XstiltsError
from xstilts.recommend import check
from xstilts.orchestration.guard import MIN_CHARS
from xstilts.orchestration.plan import Plan
from xstilts.metrics.transferability import hscore, logme
from xstilts.paths import data_root as resolve_root
from xstilts.report.recommendation import SIGNALS, ENCODER_SIGNALS, Recommendation
from xstilts.report.xtreme import language_scores
from xstilts.store import ResultsStore
from xstilts.tasks import get_task
from xstilts.tasks.data import normalise, read_sources
from xstilts.tasktypes import type_of

# an individual language and the macrolanguage a data set names it by (UD's `ar` is FLORES' arb,
# Tatoeba's ara; UD's `zh` is zho, Tatoeba's cmn): one code for both, so they match
MACROLANGUAGE = {"arb": "ara", "cmn": "zho", "pes": "fas", "swh": "swa", "zsm": "msa", "ekk": "est"}

MAX_FEATURE_EXAMPLES = 500  # English training examples encoded per candidate for LogME / H-score
MAX_TOKENS = 4000  # tagging: labelled tokens kept for LogME / H-score


def _iso3(lang: str) -> str:
    code = languages.LANGUAGE_TAGS.get(lang, lang).split("_")[0]
    return MACROLANGUAGE.get(code, code)


def _script(lang: str) -> str | None:
    tag = languages.LANGUAGE_TAGS.get(lang, lang)
    return tag.split("_")[1] if "_" in tag else ("Latn" if len(tag) == 3 else None)


def _condition_langs(plan: Plan) -> dict[str, list[str]]:
    """The languages each condition trains in: the language part of 'dataset:lang', else English."""
    out = {}
    for c in plan.study.conditions:
        if c.kind != "none":
            out[c.name] = [t.split(":", 1)[1] if ":" in t else "en" for t in c.tasks]
    return out


def proximity(train_langs: Sequence[str], lang: str) -> float:
    """1 when a training language is LANG, 0.5 when one shares its script, else 0."""
    if any(_iso3(t) == _iso3(lang) for t in train_langs):
        return 1.0
    return 0.5 if _script(lang) in {_script(t) for t in train_langs} else 0.0


def _alignment_signal(rows, candidates: Sequence[str], baseline: str, langs: Sequence[str]) -> dict[str, dict[str, float]]:
    """language -> candidate -> mean probe accuracy change over the probe rows of that language
    (any probe, layer, direction), else over all probe rows."""
    acc: dict[str, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.layer is not None and r.metric == "accuracy":
            key = (r.task, r.language, r.layer, r.direction, r.pooling, r.scorer, r.split)
            acc[r.condition][key].append(r.value)
    base = {k: statistics.mean(v) for k, v in acc.get(baseline, {}).items()}
    out: dict[str, dict[str, float]] = {}
    for lang in langs:
        out[lang] = {}
        for c in candidates:
            deltas = [(statistics.mean(v) - base[k], k[1]) for k, v in acc.get(c, {}).items() if k in base]
            same = [d for d, probe_lang in deltas if _iso3(probe_lang.split("_")[0]) == _iso3(lang)]
            pool = same or [d for d, _ in deltas]
            out[lang][c] = statistics.mean(pool) if pool else math.nan
    return out


def _text_hash(text: str) -> bytes | None:
    """The overlap guard's hash of a text (same normalisation and length floor), None when shorter."""
    norm = normalise(text)
    return hashlib.blake2b(norm.encode(), digest_size=16).digest() if len(norm) >= MIN_CHARS else None


def phase2_hashes(plan: Plan, data_root: Path | None) -> set[bytes]:
    """Hashes of every text a phase-2 node of PLAN trains on: the first max_train_examples of each
    of its tasks' training sources (what intermediate.py reads) and its MLM text."""
    root = resolve_root(data_root)
    out: set[bytes] = set()
    seen = set()
    for node in plan.nodes.values():
        if node.kind != "intermediate":
            continue
        cond, cap = node.typed.condition, node.meta["hparams"].max_train_examples
        mlm_tasks = cond.mlm.tasks if cond.mlm else []
        if (what := repr((cond.tasks, cap, cond.mlm))) in seen:
            continue
        seen.add(what)
        texts = [t for name in cond.tasks for ex in read_sources(get_task(name).train, root, cap)
                 for t in example_texts(ex)]
        unlabelled = dict.fromkeys(t for name in mlm_tasks for ex in read_sources(get_task(name).train, root)
                                   for t in example_texts(ex) if t.strip())
        texts += list(unlabelled)[:cond.mlm.max_examples if cond.mlm else None]
        out |= {h for t in texts if (h := _text_hash(t)) is not None}
    return out


def feature_examples(task: str, data_root: Path | None, exclude: set[bytes]) -> tuple[list, int]:
    """The first MAX_FEATURE_EXAMPLES English training examples of TASK with no text in EXCLUDE,
    and how many were skipped on the way."""
    kept: list = []
    skipped = 0
    for ex in read_sources(get_task(task).train, resolve_root(data_root)):
        if len(kept) == MAX_FEATURE_EXAMPLES:
            break
        if any(_text_hash(t) in exclude for t in example_texts(ex)):
            skipped += 1
        else:
            kept.append(ex)
    return kept, skipped


def task_features(encoder_name: str, task: str, examples: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of EXAMPLES of TASK on the encoder: mean-pooled last layer per example,
    or per labelled token (at most MAX_TOKENS) for tagging."""
    from xstilts.features.train import build_train_features
    from xstilts.models.encoders import load_encoder
    from xstilts.training.collate import Collator

    t = get_task(task)
    kind = type_of(t.type)
    if not kind.labelled:
        raise XstiltsError(f"LogME needs class labels: '{task}' is a {t.type} task")
    enc = load_encoder(encoder_name)
    feats = build_train_features(t, enc.tokenizer, examples, min(t.recipe.max_length, 128))
    collate = Collator(pad_id=enc.model.config.pad_token_id)
    xs, ys = [], []
    enc.model.eval()
    with torch.inference_mode():
        for i in range(0, len(feats), 32):
            batch = collate([{k: f[k] for k in ("input_ids", "labels")} for f in feats[i:i + 32]])
            hidden = enc.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            if kind.token_level:
                keep = batch["labels"] != -100
                xs.append(hidden[keep].float().numpy())
                ys.append(batch["labels"][keep].numpy())
            else:
                mask = batch["attention_mask"].unsqueeze(-1).float()
                xs.append(((hidden * mask).sum(1) / mask.sum(1)).float().numpy())
                ys.append(batch["labels"].numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x[:MAX_TOKENS], y[:MAX_TOKENS]


def _gains(scores, task: str, candidates: Sequence[str], baseline: str, unit_of: dict[int, int]
           ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """language -> candidate -> mean over seeds of (candidate minus baseline) on TASK; and the same
    per unit (phase-2 seed, which nests its fine-tuning seeds; else the seed), keyed by str(unit)."""
    gains: dict[str, dict[str, float]] = defaultdict(dict)
    per_unit: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    langs = {lang for (_c, _s, t), v in scores.items() if t == task for lang in v}
    for c in candidates:
        seeds = [s for (cond, s, t) in scores if cond == c and t == task]
        for lang in langs:
            diffs = {s: scores[(c, s, task)][lang] - scores[(baseline, s, task)][lang] for s in seeds
                     if lang in scores.get((c, s, task), {}) and lang in scores.get((baseline, s, task), {})}
            if diffs:
                gains[lang][c] = statistics.mean(diffs.values())
                units: dict[str, list[float]] = defaultdict(list)
                for s, d in diffs.items():
                    units[str(unit_of.get(s, s))].append(d)
                per_unit[lang][c] = {u: statistics.mean(v) for u, v in sorted(units.items())}
    return gains, per_unit


NodeTime = tuple[str, "str | None", float]  # (kind, fine-tuned task or None, seconds it ran)


def store_times(plan: Plan, store: ResultsStore) -> list[NodeTime]:
    """The plan's nodes that finished in STORE, with their seconds."""
    stored = {n.key: n for n in store.nodes()}
    return [(n.kind, n.config.get("task"), (s.finished_at - s.started_at).total_seconds())
            for key, n in plan.nodes.items() if (s := stored.get(key)) is not None and s.finished_at and s.started_at]


def record_times(record) -> list[NodeTime]:
    """A published record's nodes (nodes.json) with their seconds."""
    return [(n["kind"], (n.get("config") or {}).get("task"), float(n["seconds"])) for n in record.nodes
            if n.get("seconds")]


def recommend(plan: Plan, rows: Sequence, tasks: Sequence[str], langs: Sequence[str] | None, *,
              encoders: dict[str, str] | None, node_times: Sequence[NodeTime], data_root: Path | None,
              console=None) -> Recommendation:
    """The ranking and its validation for TASKS from the study's ROWS; ENCODERS maps each candidate
    to its phase-2 encoder (None: LogME and H-score are skipped); NODE_TIMES: the finished nodes'
    kinds, tasks and seconds (the costs). Targets are 'task:language' (each task's non-English languages, or those of
    LANGS it has)."""
    spec = plan.study
    conditions = {c.name: c for c in spec.conditions}
    baseline = next((c.name for c in spec.conditions if c.kind == "none"), None)
    if baseline is None:
        raise XstiltsError(f"{spec.name}: recommend compares conditions with the baseline; the spec has no "
                           "condition of kind 'none'")
    # a condition whose every run did not learn has no rows left (they are left out, as in the report)
    candidates = [c for c in conditions if c != baseline and any(r.condition == c for r in rows)]
    if not candidates:
        raise XstiltsError(f"{spec.name}: no condition has rows to rank (none was run, or no phase-2 run "
                           "learned its task: `xstilts report` lists them)")
    train_langs = _condition_langs(plan)
    unit_of = {n.typed.seed: n.meta.get("unit", n.typed.seed) for n in plan.nodes.values() if n.kind == "finetune"}
    skipped = {} if encoders is not None else {
        s: "needs the phase-2 encoders' features (LogME / H-score of the target's English training data "
           "on each encoder); run the study, then `xstilts recommend SPEC`" for s in ENCODER_SIGNALS}
    measured = [s for s in SIGNALS if s not in skipped]
    signals: dict[str, dict[str, dict[str, float]]] = {s: {} for s in measured}
    gains: dict[str, dict[str, float]] = {}
    unit_gains: dict[str, dict[str, dict[str, float]]] = {}
    features: dict[str, dict[str, int]] = {}
    seen = phase2_hashes(plan, data_root) if encoders is not None else set()
    feature_seconds = 0.0
    for task in tasks:
        by_lang, by_unit = _gains(language_scores([r for r in rows if r.task == task and r.layer is None]), task,
                                  candidates, baseline, unit_of)
        task_langs = ([lang for lang in langs if lang in by_lang] if langs
                      else sorted(lang for lang in by_lang if lang != "en")) or ["en"]
        logme_, hscore_ = {}, {}
        if encoders is not None:
            started = time.perf_counter()
            examples, n_skipped = feature_examples(task, data_root, seen)
            features[task] = {"examples": len(examples), "skipped": n_skipped}
            if console is not None:
                console.print(f"[dim]{task}: LogME / H-score on {len(examples)} English training examples no "
                              f"phase-2 encoder trained on ({n_skipped} skipped that one did)[/]")
            for c in candidates:
                x, y = task_features(encoders[c], task, examples)
                logme_[c], hscore_[c] = logme(x, y), hscore(x, y)
                if console is not None:
                    console.print(f"[dim]{task} on {c}: LogME {logme_[c]:.4f}, H-score {hscore_[c]:.3f} "
                                  f"({len(y)} {'tokens' if len(y) > MAX_FEATURE_EXAMPLES else 'examples'})[/]")
            feature_seconds += time.perf_counter() - started
        alignment = _alignment_signal(rows, candidates, baseline, task_langs)
        for lang in task_langs:
            target = f"{task}:{lang}"
            signals["alignment"][target] = alignment[lang]
            if encoders is not None:
                signals["logme"][target], signals["hscore"][target] = dict(logme_), dict(hscore_)
            signals["proximity"][target] = {c: proximity(train_langs[c], lang) for c in candidates}
            if lang in by_lang:
                gains[target], unit_gains[target] = dict(by_lang[lang]), dict(by_unit[lang])
    signals["combined"] = {t: {c: statistics.mean(check.z_scores(signals[s][t])[c] for s in measured)
                               for c in candidates}
                           for t in signals["alignment"]}
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for kind, node_task, secs in node_times:
        if kind != "finetune" or node_task in tasks:
            seconds[kind] += secs
            counts[kind] += 1
    rec = Recommendation(list(tasks), candidates, signals, gains,
                         phase2_seconds=seconds["intermediate"], signal_seconds=seconds["probe"] + feature_seconds,
                         grid_seconds=seconds["finetune"], grid_nodes=counts["finetune"], unit_gains=unit_gains,
                         features=features, skipped=skipped)
    if rec.gains:
        checked = check.validate_ranking(signals, rec.gains, candidates, unit_gains)
        rec.validation, rec.p, rec.random, rec.ceiling = (checked[k] for k in ("validation", "p", "random", "ceiling"))
        rec.draws, rec.rng_seed = checked["draws"], checked["rng_seed"]
    return rec


