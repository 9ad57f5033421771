"""The study report as data: XTREME-R aggregates, gains over the baseline, English vs low-resource
pairs, translated vs source task, and alignment gain next to transfer gain, all computed from one
study's result rows.

Rows with a `layer` are alignment probes (retrieval read from the encoder's hidden states); rows
without one are fine-tuned target tasks. Probe rows are compared only within one protocol: every
setting that can move a score (split, pooling, scorer, prefix, layer, sentence count, ...) is part
of the key they are averaged by. Tables, plots and HTML only render a `StudyReport`.
"""

from __future__ import annotations

import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xstilts.metrics.xtreme_r import Benchmark, xtreme_r
from xstilts.report.stats import Comparison, apply_holm, compare, spearman
from xstilts.report.xtreme import Aggregate, ReportError, Scores, aggregate_all, language_scores
from xstilts.store import ResultRow

Kind = Literal["none", "english", "low-resource", "multi", "mlm", "translated"]
KINDS: tuple[Kind, ...] = ("none", "english", "low-resource", "translated", "multi", "mlm")
BASELINE = "none"  # the kind of the baseline condition (and the name inferred as that kind)
# Probe settings that change what a score measures: row fields, and keys of a row's `protocol` dict.
PROBE_FIELDS = ("task", "dataset", "split", "metric", "pooling", "scorer", "prefix")
PROBE_PROTOCOL_KEYS = ("max_sentences", "margin_k", "max_length", "passage_prefix")


class ReportWarning(UserWarning):
    """Something the reader must know before trusting a comparison (e.g. different language sets)."""


@dataclass(frozen=True)
class ConditionInfo:
    """What a condition is. `pair` links versions of the same data in different languages;
    `translation_of` names the intermediate task a 'translated' condition's task translates."""

    name: str
    kind: Kind
    intermediate: tuple[str, ...] = ()
    pair: str | None = None
    translation_of: str | None = None


def infer_condition(name: str, intermediate: Sequence[str] = ()) -> ConditionInfo:
    """Best guess from the name when the spec gave no metadata: 'multi:…', 'mlm+…', 'translated:…',
    'data-eng' (English side of parallel data 'data') and 'data-xxx' (a low-resource side), else English."""
    inter = tuple(intermediate)
    if name == BASELINE:
        return ConditionInfo(name, "none", inter)
    for prefix, kind in (("multi:", "multi"), ("mlm+", "mlm"), ("translated:", "translated")):
        if name.startswith(prefix):
            return ConditionInfo(name, kind, inter)  # type: ignore[arg-type]
    stem, sep, lang = name.rpartition("-")
    if sep and stem and 2 <= len(lang) <= 3 and lang.isalpha():
        return ConditionInfo(name, "english" if lang in ("en", "eng") else "low-resource", inter, pair=stem)
    return ConditionInfo(name, "english", inter)


@dataclass(frozen=True)
class Alignment:
    """One condition's probes: gains over the baseline and accuracy-by-layer curves, per probe label."""

    condition: str
    gain: float | None  # mean of the per-probe gains
    per_task: dict[str, float]  # probe label -> gain averaged over languages, directions, layers
    curves: dict[str, dict[int, float]]  # probe label -> layer -> score averaged over languages, directions
    transfer_gain: float | None  # mean gain over the target tasks


@dataclass
class StudyReport:
    conditions: dict[str, ConditionInfo]  # baseline first, then grouped by kind
    baseline: str | None  # the condition of kind 'none'
    benchmark: Benchmark  # XTREME-R with the declared retrieval choice
    target_tasks: tuple[str, ...]
    probe_tasks: tuple[str, ...]  # probe labels: the task, plus the settings that tell its protocols apart
    aggregates: list[Aggregate]
    gains: list[Comparison]  # every condition minus the baseline, per target task; Holm over all of them
    pairs: list[Comparison]  # low-resource (or translated) minus English on the same data; own Holm family
    translations: list[Comparison]  # translated minus the condition training its source task; own Holm family
    alignment: dict[str, Alignment]
    correlation: tuple[float, float] | None  # Spearman (rho, p) of alignment gain vs transfer gain
    warnings: list[str] = field(default_factory=list)

    def gain(self, condition: str, task: str) -> Comparison | None:
        return next((c for c in self.gains if c.a == condition and c.task == task), None)

    def aggregates_of(self, condition: str) -> list[Aggregate]:
        return [a for a in self.aggregates if a.condition == condition]

    @property
    def comparisons(self) -> list[Comparison]:
        return [*self.gains, *self.pairs, *self.translations]


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


def _by_seed(scores: Scores, condition: str, task: str) -> dict[int | None, dict[str, float]]:
    return {s: langs for (c, s, t), langs in scores.items() if c == condition and t == task}


def _language_warnings(scores: Scores, conditions: Sequence[str], tasks: Sequence[str]) -> list[str]:
    out = []
    for task in tasks:
        langs = {c: set().union(*_by_seed(scores, c, task).values()) for c in conditions}
        langs = {c: v for c, v in langs.items() if v}
        union = set().union(*langs.values()) if langs else set()
        lacking = {c: sorted(union - v) for c, v in langs.items() if v != union}
        if lacking:
            detail = "; ".join(f"{c} lacks {', '.join(v)}" for c, v in lacking.items())
            out.append(f"{task}: conditions were evaluated on different languages ({detail}); "
                       "gains use the languages both sides have")
    return out


def _ordered(rows: Sequence[ResultRow], infos: Sequence[ConditionInfo]) -> dict[str, ConditionInfo]:
    given = {i.name: i for i in infos}
    names = dict.fromkeys(r.condition for r in rows)
    found = {n: given.get(n) or infer_condition(n, next(r.intermediate for r in rows if r.condition == n))
             for n in names}
    return {n: found[n] for kind in KINDS for n in [*given, *names] if n in found and found[n].kind == kind}


def _comparisons(pairs: Sequence[tuple[str, str]], scores: Scores, tasks: Sequence[str]) -> list[Comparison]:
    """Condition a minus condition b on every task both have scores for, Holm-corrected as one family."""
    out = [comp for a, b in pairs for task in tasks
           if (comp := compare(a, b, task, _by_seed(scores, a, task), _by_seed(scores, b, task))) is not None]
    apply_holm(out)
    return out


def _pair_comparisons(conditions: dict[str, ConditionInfo], scores: Scores, tasks: Sequence[str]) -> list[Comparison]:
    """Each non-English member of a parallel pair minus its English member."""
    groups: dict[str, list[ConditionInfo]] = defaultdict(list)
    for info in conditions.values():
        if info.pair is not None:
            groups[info.pair].append(info)
    pairs = [(other.name, eng.name) for members in groups.values()
             for eng in members if eng.kind == "english" for other in members if other.kind != "english"]
    return _comparisons(pairs, scores, tasks)


def _translation_comparisons(conditions: dict[str, ConditionInfo], scores: Scores,
                             tasks: Sequence[str]) -> list[Comparison]:
    """Each translated condition minus every condition that trains exactly its source task."""
    pairs = [(info.name, source.name) for info in conditions.values()
             if info.kind == "translated" and info.translation_of is not None
             for source in conditions.values()
             if source.kind not in ("translated", "none") and source.intermediate == (info.translation_of,)]
    return _comparisons(pairs, scores, tasks)


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
        parts = [f"{k}={s.get(k)!r}" if k == "prefix" else f"{k}={s.get(k)}"
                 for k in names if len(seen[(s["task"], k)]) > 1]
        labels.append(f"{s['task']} ({', '.join(parts)})" if parts else str(s["task"]))
    return labels


def _probe_means(rows: Sequence[ResultRow], labels: Sequence[str]) -> dict[str, dict[tuple, float]]:
    """condition -> (probe label, language, direction, layer) -> score averaged over seeds."""
    vals: dict[str, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r, label in zip(rows, labels):
        vals[r.condition][(label, r.language, r.direction, r.layer)].append(r.value)
    return {c: {k: statistics.fmean(v) for k, v in keys.items()} for c, keys in vals.items()}


def _alignment(condition: str, baseline: str | None, means: dict[str, dict[tuple, float]],
               gains: Sequence[Comparison]) -> Alignment:
    mine = means.get(condition, {})
    base = means.get(baseline, {}) if condition != baseline else {}
    per_key: dict[str, list[float]] = defaultdict(list)
    for key in mine.keys() & base.keys():
        per_key[key[0]].append(mine[key] - base[key])
    per_task = {t: statistics.fmean(v) for t, v in sorted(per_key.items())}
    curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (label, _lang, _dir, layer), v in mine.items():
        curves[label][layer].append(v)
    transfer = [c.gain.mean for c in gains if c.a == condition]
    return Alignment(
        condition=condition,
        gain=statistics.fmean(per_task.values()) if per_task else None,
        per_task=per_task,
        curves={t: {layer: statistics.fmean(v) for layer, v in sorted(ls.items())} for t, ls in sorted(curves.items())},
        transfer_gain=statistics.fmean(transfer) if transfer else None,
    )


def build_report(rows: Sequence[ResultRow], conditions: Sequence[ConditionInfo] = (), *,
                 retrieval: str = "official") -> StudyReport:
    """Everything the study reports, from its rows; `conditions` gives the spec's metadata (else inferred);
    `retrieval` picks XTREME-R's retrieval category ('official' as evaluate.py, or 'paper')."""
    rows = list(rows)
    benchmark = xtreme_r(retrieval)
    check_versions(rows)
    infos = _ordered(rows, conditions)
    targets = [r for r in rows if r.layer is None]
    probes = [r for r in rows if r.layer is not None]
    scores = language_scores(targets, benchmark)
    tasks = tuple(dict.fromkeys(t for (_c, _s, t) in scores))
    notes = _language_warnings(scores, list(infos), tasks)
    baselines = [n for n, i in infos.items() if i.kind == "none"]
    baseline = baselines[0] if baselines else None
    if baseline is None:
        notes.append("no condition of kind 'none': gains over the baseline cannot be computed")
    elif len(baselines) > 1:
        notes.append(f"several conditions of kind 'none' ({', '.join(baselines)}): {baseline} is the baseline")
    gains = []
    for name in (n for n in infos if baseline is not None and n != baseline):
        for task in tasks:
            comp = compare(name, baseline, task, _by_seed(scores, name, task), _by_seed(scores, baseline, task))
            if comp is None and _by_seed(scores, name, task):
                notes.append(f"{name} shares no seed (or language) with {baseline} on {task}: no gain")
            elif comp is not None:
                gains.append(comp)
    apply_holm(gains)
    labels = _probe_labels(probes)
    means = _probe_means(probes, labels)
    alignment = {c: _alignment(c, baseline, means, gains) for c in infos if c in means or c != baseline}
    points = [(a.gain, a.transfer_gain) for c, a in alignment.items()
              if c != baseline and a.gain is not None and a.transfer_gain is not None]
    order = {name: i for i, name in enumerate(infos)}
    for note in notes:
        warnings.warn(note, ReportWarning, stacklevel=2)
    return StudyReport(
        conditions=infos,
        baseline=baseline,
        benchmark=benchmark,
        target_tasks=tasks,
        probe_tasks=tuple(dict.fromkeys(labels)),
        aggregates=sorted(aggregate_all(scores, benchmark),
                          key=lambda a: (order[a.condition], a.seed is None, a.seed or 0)),
        gains=gains,
        pairs=_pair_comparisons(infos, scores, tasks),
        translations=_translation_comparisons(infos, scores, tasks),
        alignment=alignment,
        correlation=spearman([p[0] for p in points], [p[1] for p in points]),
        warnings=notes,
    )
