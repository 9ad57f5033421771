"""The study report as data, computed from one study's result rows: XTREME-R aggregates (the
official scores, English included), and comparisons with the trained encoder as the unit (see
report.comparisons and report.stats; what is compared, report.conditions): gains over the baseline, English vs low-resource pairs, translated vs source,
English on its own line, alignment probes with intervals, and the spec's declared primary
comparisons, each ending in a verdict.

Zero-shot means zero-shot: every transfer comparison averages the languages other than the task's
training language, over the same languages on both sides. Rows with a `layer` are alignment probes;
rows without one are fine-tuned target tasks. Probe rows are compared only within one protocol
(every setting that can move a score is part of the key they are averaged by). Runs that did not
learn (report.learning) are listed and left out of every comparison. Tables, plots and HTML only
render a `StudyReport`.
"""

from __future__ import annotations

import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from xstilts.data.languages import TATOEBA_ISO1
from xstilts.metrics.xtreme_r import RETRIEVAL, Benchmark, xtreme_r
from xstilts.report.comparisons import (
    Units,
    comparison_family,
    encoder_units,
    language_warnings,
    primary_comparisons,
    unit_of,
    unit_scores,
    zero_shot,
)
from xstilts.report.conditions import ConditionInfo, Design, ordered, pair_links, translation_links
from xstilts.report.learning import Learning
from xstilts.report.setup import Setup, setup_of
from xstilts.report.stats import Comparison, spearman
from xstilts.report.xtreme import Aggregate, ReportError, aggregate_all, language_scores
from xstilts.store import ResultRow

# Probe settings that change what a score measures: row fields, and keys of a row's `protocol` dict.
PROBE_FIELDS = ("task", "dataset", "split", "metric", "pooling", "scorer", "prefix")
PROBE_PROTOCOL_KEYS = ("name", "fine_tuned_on", "max_sentences", "margin_k", "max_length", "passage_prefix",
                       "candidate_context")
LABEL_NAMES = {"name": "protocol"}  # how a probe label names a protocol key


class ReportWarning(UserWarning):
    """Something the reader must know before trusting a comparison (e.g. different language sets)."""


@dataclass(frozen=True)
class Alignment:
    """One condition's probes: gains over the baseline and accuracy-by-layer curves, per probe label."""

    condition: str
    gain: float | None  # mean of the per-probe gains
    per_task: dict[str, float]  # probe label -> gain averaged over languages, directions, layers
    curves: dict[str, dict[int, float]]  # probe label -> layer -> score averaged over languages, directions, units
    transfer_gain: float | None  # mean zero-shot gain over the target tasks


@dataclass
class StudyReport:
    conditions: dict[str, ConditionInfo]  # baseline first, then grouped by kind
    baseline: str | None  # the condition of kind 'none'
    benchmark: Benchmark  # XTREME-R with the declared retrieval choice
    target_tasks: tuple[str, ...]
    probe_tasks: tuple[str, ...]  # probe labels: the task, plus the settings that tell its protocols apart
    aggregates: list[Aggregate]  # official XTREME-R scores per condition and run (English included)
    gains: list[Comparison]  # zero-shot: every condition minus the baseline, per target task; one family
    pairs: list[Comparison]  # zero-shot: low-resource (or translated) minus English on the same data; one family
    translations: list[Comparison]  # zero-shot: translated minus the condition training its source; one family
    english: list[Comparison]  # the training language on its own: every condition minus the baseline
    alignment_gains: list[Comparison]  # probes: every condition minus the baseline, per probe label
    alignment_pairs: list[Comparison]  # probes: low-resource minus English on the same data
    primary: list[Comparison]  # the spec's declared comparisons, their own family
    alignment: dict[str, Alignment]
    correlation: tuple[float, float] | None  # Spearman (rho, p) of alignment gain vs transfer gain
    design: Design = field(default_factory=Design)
    learning: list = field(default_factory=list)  # report.learning.LearningRecord of every training node
    excluded: list[str] = field(default_factory=list)  # runs left out because they did not learn, in words
    warnings: list[str] = field(default_factory=list)
    setup: Setup = field(default_factory=Setup)  # model, phase-3 budgets, splits, metrics, evaluation cuts

    def gain(self, condition: str, task: str) -> Comparison | None:
        return next((c for c in self.gains if c.a == condition and c.task == task), None)

    def aggregates_of(self, condition: str) -> list[Aggregate]:
        return [a for a in self.aggregates if a.condition == condition]

    @property
    def comparisons(self) -> list[Comparison]:
        return [*self.primary, *self.gains, *self.pairs, *self.translations, *self.english,
                *self.alignment_gains, *self.alignment_pairs]

    @property
    def units_are_encoders(self) -> bool:
        """Whether every trained condition had several phase-2 runs (the unit is the encoder)."""
        trained = [n for n, i in self.conditions.items() if i.kind != "none"]
        return bool(trained) and encoder_units(self.design, *trained)


def check_versions(rows: Iterable[ResultRow]) -> None:
    """Refuse rows of one task under different task versions: their scores are not comparable."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in rows:
        seen[r.task][r.task_version].add(r.condition)
    for task, versions in seen.items():
        if len(versions) > 1:
            detail = "; ".join(f"v{v}: {', '.join(sorted(c))}" for v, c in sorted(versions.items()))
            raise ReportError(f"{task} rows come from different task versions ({detail}); scores of "
                              "different versions are not comparable: rerun or filter to one version")


def official_retrieval(probes: Sequence[ResultRow], targets: Sequence[ResultRow], benchmark: Benchmark
                       ) -> list[ResultRow]:
    """The benchmark's retrieval tasks from probe rows scored with its protocol (`xtreme-r`: English
    queries), as rows its aggregation reads beside the fine-tuned tasks, in its language codes. Where
    a condition was probed after fine-tuning on a task (XTREME-R scores Tatoeba after SQuAD), only
    those rows count. A probe of an encoder every fine-tuning run of the condition shares (the base
    encoder; phase 2 trained once) stands for each of those runs; a unit's, for the unit's runs."""
    retrieval = {t.name for t in benchmark.tasks if t.category == RETRIEVAL}
    official = [r for r in probes if r.task in retrieval and r.protocol.get("name") == "xtreme-r"
                and (r.direction or "").startswith("eng->")]
    runs: dict[str, set[tuple[int | None, int | None]]] = defaultdict(set)
    for r in targets:
        runs[r.condition].add((r.seed, unit_of(r)))
    out = []
    for cond in dict.fromkeys(r.condition for r in official):
        rows = [r for r in official if r.condition == cond]
        for r in [r for r in rows if r.protocol.get("fine_tuned_on")] or rows:
            seeds = sorted((s for s, u in runs[cond] if r.seed is None or u == r.seed),
                           key=lambda s: (s is None, s or 0)) or [r.seed]
            out += [r.model_copy(update={"seed": s, "layer": None, "direction": None,
                                         "language": TATOEBA_ISO1.get(r.language, r.language)}) for s in seeds]
    return out


def _probe_settings(r: ResultRow) -> dict[str, object]:
    """Everything that makes two probe scores comparable, except condition, seed, language, direction, layer."""
    settings: dict[str, object] = {f: getattr(r, f) for f in PROBE_FIELDS}
    settings.update({k: r.protocol[k] for k in PROBE_PROTOCOL_KEYS if k in r.protocol})
    return settings


def _probe_labels(rows: Sequence[ResultRow]) -> list[str]:
    """Per row, a name for its probe protocol: the task, plus the settings that vary within that task."""
    settings = [_probe_settings(r) for r in rows]
    names = list(dict.fromkeys(k for s in settings for k in s))
    seen: dict[tuple, set[str]] = defaultdict(set)
    for s in settings:
        for k in names:
            seen[(s["task"], k)].add(repr(s.get(k)))
    labels = []
    for s in settings:
        parts = [f"{k}={s.get(k)!r}" if k == "prefix" else f"{LABEL_NAMES.get(k, k)}={s.get(k)}"
                 for k in names if len(seen[(s["task"], k)]) > 1]
        labels.append(f"{s['task']} ({', '.join(parts)})" if parts else str(s["task"]))
    return labels


def _probe_units(rows: Sequence[ResultRow], labels: Sequence[str]) -> Units:
    """condition -> probe label -> unit (the encoder's phase-2 seed) -> 'language/direction/layer' -> score."""
    out: Units = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for r, label in zip(rows, labels):
        out[r.condition][label][r.seed][f"{r.language}/{r.direction}/{r.layer}"] = r.value
    return out


def _excluded(learning: Learning, design: Design) -> list[str]:
    """The runs that did not learn, in words; what each takes with it is `learning.left_out`."""
    words = []
    for r in learning.records:
        if r.learned:
            continue
        if r.phase == "intermediate":
            single = design.phase2_runs.get(r.condition, 1) <= 1
            words.append(f"{r.condition}" + ("" if single else f" (phase-2 seed {r.seed})")
                         + f": phase 2 did not learn {r.task} ({r.why}); every row of that encoder is left out")
        else:
            words.append(f"{r.condition}, {r.task} seed {r.seed}: fine-tuning did not learn ({r.why}); "
                         "that run is left out")
    return words


def _alignment(condition: str, baseline: str | None, probe_units: Units, gains: Sequence[Comparison],
               alignment_gains: Sequence[Comparison]) -> Alignment:
    per_task = {c.task: c.gain.mean for c in alignment_gains if c.a == condition}
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for label, by_unit in probe_units.get(condition, {}).items():
        for vals in by_unit.values():
            for key, v in vals.items():
                curves[label][int(key.rsplit("/", 1)[1])].append(v)
    transfer = [c.gain.mean for c in gains if c.a == condition]
    return Alignment(
        condition=condition,
        gain=statistics.fmean(per_task.values()) if per_task else None,
        per_task=dict(sorted(per_task.items())),
        curves={t: {layer: statistics.fmean(v) for layer, v in sorted(ls.items())} for t, ls in sorted(curves.items())},
        transfer_gain=statistics.fmean(transfer) if transfer else None,
    )


def build_report(rows: Sequence[ResultRow], conditions: Sequence[ConditionInfo] = (), *,
                 retrieval: str = "official", design: Design = Design(), learning: Learning = Learning()
                 ) -> StudyReport:
    """Everything the study reports, from its rows; `conditions` gives the spec's metadata (else inferred);
    `retrieval` picks XTREME-R's retrieval category ('official' as evaluate.py, or 'paper'); `design` the
    declared analysis and phase-2 runs per condition; `learning` the training nodes' learning records
    and the nodes left out of every comparison (a run that did not learn, and every node built on
    one: `report.learning.assess`), which are listed."""
    rows = list(rows)
    benchmark = xtreme_r(retrieval)
    check_versions(rows)
    infos = ordered(rows, conditions)
    excluded, left_out = _excluded(learning, design), learning.left_out
    if design.smoke:  # nothing learns in 2 steps: list the runs, keep them, so every comparison path still runs
        left_out = {}
        excluded = [f"(smoke run: kept all the same) {e}" for e in excluded]
    kept = [r for r in rows if r.protocol.get("node") not in left_out]
    targets = [r for r in kept if r.layer is None]
    probes = [r for r in kept if r.layer is not None]
    all_scores = language_scores([r for r in rows if r.layer is None], benchmark)
    scores = language_scores(targets, benchmark)
    units = unit_scores(scores, {(r.condition, r.seed): unit_of(r) for r in targets})
    tasks = tuple(dict.fromkeys(t for (_c, _s, t) in all_scores))
    notes = language_warnings(units, list(infos), tasks)
    baselines = [n for n, i in infos.items() if i.kind == "none"]
    baseline = baselines[0] if baselines else None
    if baseline is None and len(infos) > 1:
        notes.append("no condition of kind 'none': gains over the baseline cannot be computed")
    elif len(baselines) > 1:
        notes.append(f"several conditions of kind 'none' ({', '.join(baselines)}): {baseline} is the baseline")
    over_base = [(n, baseline) for n in infos if baseline is not None and n != baseline]
    gains = comparison_family(over_base, units, tasks, design, pick=zero_shot)
    english = comparison_family(over_base, units, tasks, design, pick=lambda u, t: zero_shot(u, t, english=True))
    labels = _probe_labels(probes)
    probe_tasks = tuple(dict.fromkeys(labels))
    probe_units = _probe_units(probes, labels)
    alignment_gains = comparison_family(over_base, probe_units, probe_tasks, design)
    alignment_pairs = comparison_family(pair_links(infos), probe_units, probe_tasks, design)
    primary, primary_notes = primary_comparisons(design, infos, units, probe_units, tasks, probe_tasks)
    alignment = {c: _alignment(c, baseline, probe_units, gains, alignment_gains)
                 for c in infos if c in probe_units or c != baseline}
    points = [(a.gain, a.transfer_gain) for c, a in alignment.items()
              if c != baseline and a.gain is not None and a.transfer_gain is not None]
    order = {name: i for i, name in enumerate(infos)}
    notes += primary_notes
    notes += [f"declared overlap: {c} trains on data that target {t} also uses (the spec says so); its "
              f"comparisons on {t} are flagged" for c, targets in design.declared_overlap.items() if c in infos
              for t in targets]
    for note in notes:
        warnings.warn(note, ReportWarning, stacklevel=2)
    return StudyReport(
        conditions=infos,
        baseline=baseline,
        benchmark=benchmark,
        target_tasks=tasks,
        probe_tasks=probe_tasks,
        aggregates=sorted(aggregate_all(language_scores([*targets, *official_retrieval(probes, targets, benchmark)],
                                                        benchmark), benchmark),
                          key=lambda a: (order[a.condition], a.seed is None, a.seed or 0)),
        gains=gains,
        pairs=comparison_family(pair_links(infos), units, tasks, design, pick=zero_shot),
        translations=comparison_family(translation_links(infos), units, tasks, design, pick=zero_shot),
        english=english,
        alignment_gains=alignment_gains,
        alignment_pairs=alignment_pairs,
        primary=primary,
        alignment=alignment,
        correlation=spearman([p[0] for p in points], [p[1] for p in points]),
        design=design,
        learning=list(learning.records),
        excluded=excluded,
        warnings=notes,
        setup=setup_of(rows, benchmark),
    )
