"""`xstilts recommend`: rank a study's intermediate tasks for target tasks and their languages
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
Validation (recommend_check): each figure against the random ranking and the gains' own noise
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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from xstilts.data import languages
from xstilts.data.examples import example_texts
from xstilts.errors import XstiltsError
from xstilts.experiments import recommend_check as check
from xstilts.experiments.guard import MIN_CHARS
from xstilts.experiments.plan import Plan
from xstilts.metrics.ranking import top_k
from xstilts.metrics.transferability import hscore, logme
from xstilts.paths import data_root as resolve_root
from xstilts.report.grid import Grid
from xstilts.report.learning import learning_records, not_learned
from xstilts.report.xtreme import language_scores
from xstilts.store import ResultsStore
from xstilts.tasks import get_task
from xstilts.tasks.data import normalise, read_sources

SIGNALS = ("alignment", "logme", "hscore", "proximity")
ENCODER_SIGNALS = ("logme", "hscore")  # need the phase-2 encoders' features (not in a published record)
MAX_FEATURE_EXAMPLES = 500  # English training examples encoded per candidate for LogME / H-score
MAX_TOKENS = 4000  # tagging: labelled tokens kept for LogME / H-score
NOT_HELD_OUT = "fitted (leave one target out)"  # a language shares its task's fine-tuning runs


@dataclass
class Recommendation:
    tasks: list[str]
    candidates: list[str]
    signals: dict[str, dict[str, dict[str, float]]]  # signal -> 'task:language' -> candidate -> value
    gains: dict[str, dict[str, float]]  # 'task:language' -> candidate -> actual gain (empty: not run)
    phase2_seconds: float  # what the signals and the grid both need
    signal_seconds: float  # probes and feature encoding: the signals' own cost
    grid_seconds: float  # the fine-tuning runs of TASKS: what the signals would replace
    grid_nodes: int
    validation: dict[str, dict[str, float]] = field(default_factory=dict)  # signal -> metric -> mean
    # added with the honest checks (records saved before them load with these defaults):
    # target -> candidate -> unit (phase-2 seed, else seed) -> gain
    unit_gains: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    p: dict[str, dict[str, float]] = field(default_factory=dict)  # signal -> metric -> permutation p
    random: dict[str, float] = field(default_factory=dict)  # metric -> a random ranking's mean
    ceiling: dict[str, float] = field(default_factory=dict)  # metric -> split-half agreement of the gains
    draws: int = 0
    rng_seed: int = 0
    features: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> {'examples', 'skipped'}
    skipped: dict[str, str] = field(default_factory=dict)  # signal -> why it was not measured


def signals_of(rec: Recommendation) -> list[str]:
    """The signals REC measured, in SIGNALS order."""
    return [s for s in SIGNALS if s in rec.signals]


# an individual language and the macrolanguage a data set names it by (UD's `ar` is FLORES' arb,
# Tatoeba's ara; UD's `zh` is zho, Tatoeba's cmn): one code for both, so they match
MACROLANGUAGE = {"arb": "ara", "cmn": "zho", "pes": "fas", "swh": "swa", "zsm": "msa", "ekk": "est"}


def _iso3(lang: str) -> str:
    code = languages.LANGUAGE_TAGS.get(lang, lang).split("_")[0]
    return MACROLANGUAGE.get(code, code)


def _script(lang: str) -> str | None:
    tag = languages.LANGUAGE_TAGS.get(lang, lang)
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
        cond, cap = node.config["condition"], node.meta["hparams"].max_train_examples
        mlm = cond.get("mlm") or {}
        if (what := repr((cond["tasks"], cap, mlm))) in seen:
            continue
        seen.add(what)
        texts = [t for name in cond["tasks"] for ex in read_sources(get_task(name).train, root, cap)
                 for t in example_texts(ex)]
        unlabelled = dict.fromkeys(t for name in mlm.get("tasks", []) for ex in read_sources(get_task(name).train, root)
                                   for t in example_texts(ex) if t.strip())
        texts += list(unlabelled)[:mlm.get("max_examples")]
        out |= {h for t in texts if (h := _text_hash(t)) is not None}
    return out


def feature_examples(task: str, data_root: Path | None, exclude: set[bytes]) -> tuple[list, int]:
    """The first MAX_FEATURE_EXAMPLES English training examples of TASK with no text in EXCLUDE,
    and how many were skipped on the way."""
    kept, skipped = [], 0
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
    from xstilts.experiments.finetune import build_train_features
    from xstilts.models.encoders import load_encoder
    from xstilts.training.collate import Collator

    t = get_task(task)
    if t.head not in ("classification", "tagging"):
        raise XstiltsError(f"LogME needs class labels: '{task}' is a {t.head} task")
    enc = load_encoder(encoder_name)
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
    conditions = {c.name: c for c in plan.spec.conditions}
    baseline = next((c.name for c in plan.spec.conditions if c.kind == "none"), None)
    if baseline is None:
        raise XstiltsError(f"{plan.spec.name}: recommend compares conditions with the baseline; the spec has no "
                           "condition of kind 'none'")
    # a condition whose every run did not learn has no rows left (they are left out, as in the report)
    candidates = [c for c in conditions if c != baseline and any(r.condition == c for r in rows)]
    if not candidates:
        raise XstiltsError(f"{plan.spec.name}: no condition has rows to rank (none was run, or no phase-2 run "
                           "learned its task: `xstilts report` lists them)")
    train_langs = _condition_langs(plan)
    unit_of = {n.config["seed"]: n.meta.get("unit", n.config["seed"]) for n in plan.nodes.values()
               if n.kind == "finetune"}
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
    for kind, task, secs in node_times:
        if kind != "finetune" or task in tasks:
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


def ranking(rec: Recommendation) -> list[tuple[str, dict[str, float]]]:
    """Candidates by the combined signal, averaged over the targets."""
    targets = list(rec.signals["combined"])
    mean = {c: {s: statistics.mean(rec.signals[s][t][c] for t in targets) for s in rec.signals}
            for c in rec.candidates}
    order = top_k([mean[c]["combined"] for c in rec.candidates], len(rec.candidates))
    return [(rec.candidates[i], mean[rec.candidates[i]]) for i in order]


def recommendation_grids(rec: Recommendation) -> list[Grid]:
    """The ranking, its check against the study's gains and the costs, as grids for the terminal and
    the HTML report."""
    tasks = ", ".join(rec.tasks)
    present = signals_of(rec)
    rank = Grid(f"{tasks}: intermediate tasks ranked by signals measured without fine-tuning",
                ["rank", "condition", "combined (z)", *present, "actual gain"], signed=False,
                caption=f"means over {len(rec.signals['combined'])} targets ({', '.join(rec.signals['combined'])}); "
                        "combined: the mean of the signals' z-scores across candidates; actual gain: the "
                        "study's mean gain over the baseline on the same targets, in points"
                        + (f". Not measured: {skipped_line(rec)}" if rec.skipped else ""))
    for i, (c, values) in enumerate(ranking(rec), 1):
        actual = [g[c] for g in rec.gains.values() if c in g]
        rank.rows.append([str(i), c, f"{values['combined']:+.2f}", *(f"{values[s]:.3f}" for s in present),
                          f"{statistics.mean(actual):+.2f}" if actual else "not run"])
    grids = [rank]
    if rec.validation:
        grids.append(_check_grid(rec))
    return grids


def _cell(value: float, p: float | None = None) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}" + (f" (p {p:.3g})" if p is not None and math.isfinite(p) else "")


def _check_grid(rec: Recommendation) -> Grid:
    """Each signal's figures with their permutation p, then the random ranking's mean and the gains'
    own split-half agreement; the caption opens with the verdict in words."""
    metrics = [m for m in next(iter(rec.validation.values())) if m != "targets"]
    grid = Grid("Does the ranking predict the study's gains? (per target, then the mean)",
                ["signal", *metrics, "targets"], signed=False,
                caption=check.verdict(rec.ceiling) + " spearman: rank correlation with the actual gains (1 = same "
                        "order); ndcg@3: 1 when the top 3 are the 3 best; regret@k: points lost by taking the best of "
                        "the top k instead of the best candidate; 'fitted' blends the signals by least squares on "
                        "the other tasks and scores the task left out (a language left out is not held out: it "
                        "shares its task's fine-tuning runs). "
                        + (f"Tied candidates score the mean over their orderings. p: the share of {rec.draws:,} random "
                           f"rankings (seed {rec.rng_seed}; one per task, shared by its languages) scoring at least "
                           "as well. noise ceiling: the same figures for the gains of one half of the units (phase-2 "
                           "seeds, else seeds) against the other half's, averaged over splits: the gains of all "
                           "units agree with themselves somewhat better, and no signal can be expected to do much "
                           "better than that. " if rec.draws else "")
                        + "n/a: the gains are constant across candidates (no order to correlate)")
    for name, v in rec.validation.items():
        grid.rows.append([name, *(_cell(v[m], rec.p.get(name, {}).get(m)) for m in metrics), str(v["targets"])])
    if rec.random:
        grid.breaks.add(len(grid.rows) - 1)
        grid.rows.append(["random ranking (mean)", *(_cell(rec.random[m]) for m in metrics),
                          str(rec.random["targets"])])
    if rec.ceiling:
        splits = f", {rec.ceiling['splits']:.0f} splits" if "splits" in rec.ceiling else ""
        grid.rows.append(["noise ceiling (seed halves)", *(_cell(rec.ceiling.get(m, math.nan)) for m in metrics),
                          f"{rec.ceiling.get('units', 0):.0f} units{splits}"])
    return grid


def skipped_line(rec: Recommendation) -> str:
    """The signals REC did not measure, by name, and why."""
    why = defaultdict(list)
    for signal, reason in rec.skipped.items():
        why[reason].append(signal)
    return "; ".join(f"{', '.join(names)} ({reason})" for reason, names in why.items())


def cost_line(rec: Recommendation) -> str:
    return (f"cost: phase 2 {rec.phase2_seconds / 60:.1f} min (both need it); then the signals "
            f"{rec.signal_seconds / 60:.1f} min (probes, feature encoding) vs the fine-tuning grid they replace "
            f"{rec.grid_seconds / 60:.1f} min ({rec.grid_nodes} runs of {', '.join(rec.tasks)})")


def saved_path(folder: Path, tasks: Sequence[str]) -> Path:
    return Path(folder) / f"recommend-{'+'.join(tasks)}.json"


def load_saved(folder: Path) -> list[Recommendation]:
    """The recommendations `xstilts recommend` saved in a study's folder, for its report."""
    import json

    out = []
    for path in sorted(Path(folder).glob("recommend-*.json")):
        saved = json.loads(path.read_text(encoding="utf-8"))
        rec = Recommendation(**{f.name: saved[f.name] for f in fields(Recommendation) if f.name in saved})
        rec.validation.pop(NOT_HELD_OUT, None)  # older records scored it as held out
        out.append(rec)
    return out


def _left_out(nodes: Sequence[dict], rows: Sequence, smoke: bool) -> tuple[dict[str, str], list[str]]:
    """What the report leaves out: node key -> why, for each run that did not learn and every node
    built on a phase-2 encoder that did not; and the runs themselves, said in words. Nothing in a
    smoke run, where nothing learns."""
    if smoke:
        return {}, []
    records = learning_records(nodes, rows)
    left_out = not_learned(records, nodes)
    return left_out, sorted({left_out[r.node] for r in records if not r.learned})


def run_recommend(spec_path: Path | None, tasks: Sequence[str], langs: Sequence[str] | None, *,
                  data_root: Path | None = None, store_url: str | None = None, smoke: bool = False,
                  model: str | None = None, work_dir: Path | None = None, json_out: Path | None = None,
                  record: Path | None = None, console=None) -> Recommendation:
    """Load a finished study, rank its conditions for TASKS, validate, print, and save as JSON in the
    study's folder (where `xstilts report` picks it up) and at JSON_OUT (not '-', standard output:
    the caller prints the returned result there).
    RECORD (a published study's folder) replaces the store: its rows give the signals they
    support, and the result is saved only at JSON_OUT (the record itself is left as published)."""
    from xstilts.console import make_console
    from xstilts.experiments.export import emit, to_stdout
    from xstilts.experiments.plan import validate
    from xstilts.experiments.record import load_record
    from xstilts.experiments.publish import node_records, record_rows, record_spec
    from xstilts.experiments.storage import study_dir, study_rows, study_store_url
    from xstilts.report.grid import to_rich

    console = console or make_console()
    spec_path = record_spec(spec_path, record)
    rec_ = load_record(record) if record is not None else None
    # a record was run already: its overlaps and model were checked then (nothing runs here)
    plan = validate(spec_path, data_root=data_root, smoke=smoke, model=model, check_model=rec_ is None,
                    overlap=rec_ is None)
    targets = {n.config.get("task") for n in plan.nodes.values() if n.kind == "finetune"}
    for task in tasks:
        if task not in targets:
            raise XstiltsError(f"{spec_path}: '{task}' is not a fine-tuned target of study '{plan.spec.name}' "
                               f"(its targets: {', '.join(sorted(targets))})")
    if rec_ is not None:
        rows, times, encoders = record_rows(rec_, plan), record_times(rec_), None
        left_out, runs = _left_out(rec_.nodes, rows, smoke)
    else:
        store = ResultsStore(study_store_url(plan.spec, store_url, smoke), read_only=True)
        done = {n.key: n for n in store.nodes("done")}
        rows, times = study_rows(plan, store)[0], store_times(plan, store)
        left_out, runs = _left_out(node_records(plan, store), rows, smoke)
        trained = [(node.meta["condition"], key) for key, node in plan.nodes.items()
                   if node.kind == "intermediate" and key in done]
        missing = [c.name for c in plan.spec.conditions if c.kind != "none" and c.name not in dict(trained)]
        if missing:
            raise XstiltsError(f"{spec_path}: the phase-2 encoders of {missing} are not done yet: run "
                               f"`xstilts run {spec_path}` first")
        encoders = {}
        for condition, key in trained:
            if key not in left_out:
                encoders.setdefault(condition, done[key].outputs["encoder"])
    if left_out:
        console.print(f"[yellow]left out, as in the report: {len(left_out)} nodes of {len(runs)} run(s) that did not "
                      f"learn ({'; '.join(runs)}) and the nodes built on them[/]", soft_wrap=True)
        rows = [r for r in rows if r.protocol.get("node") not in left_out]
    rec = recommend(plan, rows, tasks, langs, encoders=encoders, node_times=times,
                    data_root=data_root or plan.spec.data_root, console=console)
    if rec.skipped:
        console.print(f"[yellow]from the record's rows alone: {', '.join(signals_of(rec))} measured; skipped "
                      f"{skipped_line(rec)}[/]", soft_wrap=True)
    for grid in recommendation_grids(rec):
        console.print(to_rich(grid))
    if rec.validation:
        console.print(f"[bold]Is this check informative?[/] {check.verdict(rec.ceiling)}")
    console.print(cost_line(rec))
    saved = []
    if rec_ is None:
        saved.append(saved_path(study_dir(plan.spec, work_dir, smoke), tasks))
        emit(asdict(rec), saved[0])
    if json_out is not None and not to_stdout(json_out):  # '-': the caller prints it, after this output
        emit(asdict(rec), json_out)
        saved.append(Path(json_out))
    if saved:
        console.print(f"saved to {' and '.join(map(str, saved))}"
                      + (f"; `xstilts report {spec_path}` adds it to the HTML report" if rec_ is None else ""))
    elif rec_ is not None and not to_stdout(json_out):
        console.print("not saved (the record is left as published): --json FILE saves it")
    return rec
