"""`xstilts recommend`: rank a study's intermediate tasks for a target task and its languages
from signals that need no phase-3 training, then check the ranking against the study's gains.

Signals, per candidate condition c (every condition but the baseline) and target language l:
- alignment: the change (c minus the baseline) in the study's probe accuracy, averaged over
  probes, layers and directions, on the probe languages that are l (same ISO 639-3 code), else
  on every probe language;
- logme / hscore: LogME and H-score of the target task's English training features (mean-pooled
  last layer for sentence tasks, first sub-word of each word for tagging) on c's phase-2
  encoder; the same for every l;
- proximity: 1 when c trains in l, 0.5 in l's script, else 0 (from ISO 639-3 + script tags);
- combined: the mean of the signals' z-scores across candidates (no fitting).
Validation, per (target task, language): Spearman's rho between a signal and the actual gain
(c minus baseline, mean over seeds), NDCG@k and regret@k; then averaged over languages, and a
leave-one-out check of a least-squares blend of the signals fitted on every other (task,
language) and scored on the held-out one. Costs: the seconds the signals took (phase-2 and
probe nodes, LogME encoding) beside the seconds of the fine-tuning grid they would replace.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from xstilts.data import catalog
from xstilts.errors import XstiltsError
from xstilts.experiments.plan import Plan
from xstilts.metrics.ranking import ndcg_at_k, regret_at_k, top_k
from xstilts.metrics.transferability import hscore, logme
from xstilts.report.stats import spearman
from xstilts.report.xtreme import language_scores
from xstilts.store import ResultsStore

SIGNALS = ("alignment", "logme", "hscore", "proximity")
MAX_FEATURE_EXAMPLES = 500  # English training examples encoded per candidate for LogME / H-score
MAX_TOKENS = 4000  # tagging: labelled tokens kept for LogME / H-score


@dataclass
class Recommendation:
    task: str
    candidates: list[str]
    signals: dict[str, dict[str, dict[str, float]]]  # signal -> language -> candidate -> value
    gains: dict[str, dict[str, float]]  # language -> candidate -> actual gain (empty: not run)
    signal_seconds: float
    grid_seconds: float
    validation: dict[str, dict[str, float]] = field(default_factory=dict)  # signal -> metric -> mean


def _iso3(lang: str) -> str:
    return catalog.LANGUAGE_TAGS.get(lang, lang).split("_")[0]


def _script(lang: str) -> str | None:
    tag = catalog.LANGUAGE_TAGS.get(lang, lang)
    return tag.split("_")[1] if "_" in tag else ("Latn" if len(tag) == 3 else None)


def _condition_langs(plan: Plan) -> dict[str, list[str]]:
    """The languages each condition trains in: the language part of 'dataset:lang', else English."""
    out = {}
    for c in plan.spec.conditions:
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
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
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


def task_features(encoder_name: str, task: str, data_root: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of the first MAX_FEATURE_EXAMPLES English training examples of TASK on
    the encoder: mean-pooled last layer per example, or per labelled token for tagging."""
    from xstilts.experiments.finetune import build_train_features
    from xstilts.models.encoders import load_encoder
    from xstilts.paths import data_root as resolve_root
    from xstilts.tasks import get_task
    from xstilts.tasks.data import read_sources
    from xstilts.training.collate import Collator

    t = get_task(task)
    if t.head not in ("classification", "tagging"):
        raise XstiltsError(f"LogME needs class labels: '{task}' is a {t.head} task")
    enc = load_encoder(encoder_name)
    examples = read_sources(t.train, resolve_root(data_root), MAX_FEATURE_EXAMPLES)
    feats = build_train_features(t, enc.tokenizer, examples, min(t.recipe.max_length, 128))
    collate = Collator(pad_id=enc.model.config.pad_token_id)
    xs, ys = [], []
    enc.model.eval()
    with torch.inference_mode():
        for i in range(0, len(feats), 32):
            batch = collate([{k: f[k] for k in ("input_ids", "labels")} for f in feats[i:i + 32]])
            hidden = enc.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            if t.head == "tagging":
                keep = batch["labels"] != -100
                xs.append(hidden[keep].float().numpy())
                ys.append(batch["labels"][keep].numpy())
            else:
                mask = batch["attention_mask"].unsqueeze(-1).float()
                xs.append(((hidden * mask).sum(1) / mask.sum(1)).float().numpy())
                ys.append(batch["labels"].numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    return x[:MAX_TOKENS], y[:MAX_TOKENS]


def _z(values: dict[str, float]) -> dict[str, float]:
    finite = [v for v in values.values() if math.isfinite(v)]
    if len(finite) < 2 or statistics.pstdev(finite) == 0:
        return {c: 0.0 for c in values}
    mu, sd = statistics.mean(finite), statistics.pstdev(finite)
    return {c: (v - mu) / sd if math.isfinite(v) else 0.0 for c, v in values.items()}


def validate_ranking(signals: dict[str, dict[str, dict[str, float]]], gains: dict[str, dict[str, float]],
                     candidates: Sequence[str], k: int = 3) -> dict[str, dict[str, float]]:
    """Per signal: mean Spearman rho, NDCG@k, regret@1 and regret@k over the languages with gains;
    'fitted (leave-one-out)': a least-squares blend of the signals fitted on the other languages."""
    langs = [lang for lang in gains if all(c in gains[lang] for c in candidates)]
    out: dict[str, dict[str, float]] = {}

    def score(predicted_by_lang: dict[str, list[float]]) -> dict[str, float]:
        rhos, ndcgs, r1, rk = [], [], [], []
        for lang, pred in predicted_by_lang.items():
            actual = [gains[lang][c] for c in candidates]
            rho = spearman(pred, actual)
            if rho is not None:
                rhos.append(rho[0])
            ndcgs.append(ndcg_at_k(pred, actual, k))
            r1.append(regret_at_k(pred, actual, 1))
            rk.append(regret_at_k(pred, actual, k))
        mean = lambda v: round(statistics.mean(v), 3) if v else math.nan  # noqa: E731
        return {"spearman": mean(rhos), f"ndcg@{k}": mean(ndcgs), "regret@1": mean(r1), f"regret@{k}": mean(rk),
                "languages": len(predicted_by_lang)}

    for name, by_lang in signals.items():
        out[name] = score({lang: [by_lang[lang][c] if math.isfinite(by_lang[lang][c]) else 0.0
                                  for c in candidates] for lang in langs})
    base = [s for s in signals if s != "combined"]
    if len(langs) >= 2:
        def design(lang: str) -> np.ndarray:
            z = [_z(signals[s][lang]) for s in base]
            return np.array([[1.0] + [zs[c] for zs in z] for c in candidates])

        held = {}
        for lang in langs:
            train = [other for other in langs if other != lang]
            x = np.vstack([design(o) for o in train])
            y = np.concatenate([[gains[o][c] for c in candidates] for o in train])
            w, *_ = np.linalg.lstsq(x, y, rcond=None)
            held[lang] = list(design(lang) @ w)
        out["fitted (leave-one-out)"] = score(held)
    return out


def recommend(plan: Plan, store: ResultsStore, task: str, langs: Sequence[str] | None, *,
              encoders: dict[str, str], data_root: Path | None, console=None) -> Recommendation:
    """The ranking and its validation for TASK; ENCODERS maps each candidate to its phase-2 encoder."""
    from xstilts.experiments.study import study_rows

    conditions = {c.name: c for c in plan.spec.conditions}
    baseline = next((c.name for c in plan.spec.conditions if c.kind == "none"), None)
    if baseline is None:
        raise XstiltsError(f"{plan.spec.name}: recommend compares conditions with the baseline; the spec has no "
                           "condition of kind 'none'")
    candidates = [c for c in conditions if c != baseline]
    rows, _ = study_rows(plan, store)
    task_rows = [r for r in rows if r.task == task and r.layer is None]
    scores = language_scores(task_rows)
    gains: dict[str, dict[str, float]] = defaultdict(dict)
    for c in candidates:
        seeds = [s for (cond, s, t) in scores if cond == c and t == task]
        for lang in {lang for (cond, s, t), v in scores.items() if t == task for lang in v}:
            diffs = [scores[(c, s, task)][lang] - scores[(baseline, s, task)][lang] for s in seeds
                     if lang in scores.get((c, s, task), {}) and lang in scores.get((baseline, s, task), {})]
            if diffs:
                gains[lang][c] = statistics.mean(diffs)
    langs = list(langs) if langs else sorted(lang for lang in gains if lang != "en") or ["en"]

    started = time.perf_counter()
    transfer = {"logme": {}, "hscore": {}}
    for c in candidates:
        x, y = task_features(encoders[c], task, data_root)
        transfer["logme"][c], transfer["hscore"][c] = logme(x, y), hscore(x, y)
        if console is not None:
            console.print(f"[dim]{c}: LogME {transfer['logme'][c]:.4f}, H-score {transfer['hscore'][c]:.3f} "
                          f"({len(y)} {'tokens' if len(y) > MAX_FEATURE_EXAMPLES else 'examples'})[/]")
    feature_seconds = time.perf_counter() - started

    train_langs = _condition_langs(plan)
    signals: dict[str, dict[str, dict[str, float]]] = {
        "alignment": _alignment_signal(rows, candidates, baseline, langs),
        "logme": {lang: dict(transfer["logme"]) for lang in langs},
        "hscore": {lang: dict(transfer["hscore"]) for lang in langs},
        "proximity": {lang: {c: proximity(train_langs[c], lang) for c in candidates} for lang in langs},
    }
    signals["combined"] = {lang: {c: statistics.mean(_z(signals[s][lang])[c] for s in SIGNALS)
                                  for c in candidates} for lang in langs}
    nodes = {n.key: n for n in store.nodes()}
    seconds = {kind: sum((nodes[k].finished_at - nodes[k].started_at).total_seconds()
                         for k, n in plan.nodes.items()
                         if n.kind == kind and k in nodes and nodes[k].finished_at and nodes[k].started_at
                         and (kind != "finetune" or n.config.get("task") == task))
               for kind in ("intermediate", "probe", "finetune")}
    rec = Recommendation(task, candidates, signals, {lang: dict(g) for lang, g in gains.items() if lang in langs},
                         signal_seconds=seconds["intermediate"] + seconds["probe"] + feature_seconds,
                         grid_seconds=seconds["finetune"])
    if rec.gains:
        rec.validation = validate_ranking(signals, rec.gains, candidates)
    return rec


def ranking(rec: Recommendation, lang: str | None = None) -> list[tuple[str, dict[str, float]]]:
    """Candidates by the combined signal, averaged over the target languages (or LANG)."""
    langs = [lang] if lang else list(rec.signals["combined"])
    mean = {c: {s: statistics.mean(rec.signals[s][lg][c] for lg in langs) for s in rec.signals}
            for c in rec.candidates}
    order = top_k([mean[c]["combined"] for c in rec.candidates], len(rec.candidates))
    return [(rec.candidates[i], mean[rec.candidates[i]]) for i in order]


def run_recommend(spec_path: Path, task: str, langs: Sequence[str] | None, *, data_root: Path | None = None,
                  store_url: str | None = None, smoke: bool = False, model: str | None = None,
                  json_out: Path | None = None, console=None) -> Recommendation:
    """Load a finished study, rank its conditions for TASK, validate, print (and save as JSON)."""
    import json

    from rich.table import Table

    from xstilts.console import make_console
    from xstilts.experiments.plan import validate
    from xstilts.experiments.study import smoke_store_url

    console = console or make_console()
    plan = validate(spec_path, data_root=data_root, smoke=smoke, model=model)
    store = ResultsStore(store_url or plan.spec.store or (smoke_store_url() if smoke else None), read_only=True)
    if task not in {n.config.get("task") for n in plan.nodes.values()}:
        raise XstiltsError(f"{spec_path}: '{task}' is not a fine-tuned target of study '{plan.spec.name}'")
    done = {n.key: n for n in store.nodes("done")}
    encoders: dict[str, str] = {}
    for key, node in plan.nodes.items():
        if node.kind == "intermediate" and key in done:
            encoders.setdefault(node.meta["condition"], done[key].outputs["encoder"])
    missing = [c.name for c in plan.spec.conditions if c.kind != "none" and c.name not in encoders]
    if missing:
        raise XstiltsError(f"{spec_path}: the phase-2 encoders of {missing} are not done yet: run "
                           f"`xstilts run {spec_path}` first")
    rec = recommend(plan, store, task, langs, encoders=encoders, data_root=data_root or plan.spec.data_root,
                    console=console)

    table = Table(title=f"{task}: intermediate tasks ranked by signals measured without fine-tuning "
                        f"(mean over {', '.join(rec.signals['combined'])})")
    for col in ("rank", "condition", "combined (z)", *SIGNALS, "actual gain"):
        table.add_column(col, justify="left" if col == "condition" else "right")
    for i, (c, values) in enumerate(ranking(rec), 1):
        actual = [g[c] for g in rec.gains.values() if c in g]
        table.add_row(str(i), c, f"{values['combined']:+.2f}", *(f"{values[s]:.3f}" for s in SIGNALS),
                      f"{statistics.mean(actual):+.2f}" if actual else "not run")
    console.print(table)
    if rec.validation:
        check = Table(title="Does the ranking predict the study's gains? (per language, then the mean)")
        metrics = [m for m in next(iter(rec.validation.values())) if m != "languages"]
        for col in ("signal", *metrics, "languages"):
            check.add_column(col, justify="left" if col == "signal" else "right")
        for name, v in rec.validation.items():
            check.add_row(name, *(f"{v[m]:.3f}" if math.isfinite(v[m]) else "n/a" for m in metrics),
                          str(v["languages"]))
        console.print(check)
        console.print("spearman: rank correlation with the actual gains (1 = same order); ndcg@3: 1 when the "
                      "top 3 are the 3 best; regret@k: points lost by taking the best of the top k instead of "
                      "the best candidate; 'fitted' blends the signals by least squares on the other languages; "
                      "n/a: a signal or the gains are constant across candidates (no order to correlate)")
    console.print(f"cost: signals {rec.signal_seconds / 60:.1f} min (phase-2 training, probes, feature "
                  f"encoding) vs the {task} fine-tuning grid {rec.grid_seconds / 60:.1f} min")
    if json_out:
        Path(json_out).write_text(json.dumps(rec.__dict__, indent=2, default=str))
        console.print(f"saved to {json_out}")
    return rec
