"""The study report as data, computed from one study's result rows: XTREME-R aggregates (the
official scores, English included), and comparisons with the trained encoder as the unit (see
report.stats): gains over the baseline, English vs low-resource pairs, translated vs source,
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
from typing import Literal

from xstilts.data.languages import TATOEBA_ISO1
from xstilts.metrics.xtreme_r import RETRIEVAL, Benchmark, xtreme_r
from xstilts.report.setup import Setup, setup_of
from xstilts.report.stats import ALPHA, MARGIN, Comparison, compare, decide, spearman
from xstilts.report.xtreme import Aggregate, ReportError, Scores, aggregate_all, language_scores
from xstilts.store import ResultRow

Kind = Literal["none", "english", "low-resource", "multi", "mlm", "translated"]
KINDS: tuple[Kind, ...] = ("none", "english", "low-resource", "translated", "multi", "mlm")
BASELINE = "none"  # the kind of the baseline condition (and the name inferred as that kind)
# Probe settings that change what a score measures: row fields, and keys of a row's `protocol` dict.
PROBE_FIELDS = ("task", "dataset", "split", "metric", "pooling", "scorer", "prefix")
PROBE_PROTOCOL_KEYS = ("name", "fine_tuned_on", "max_sentences", "margin_k", "max_length", "passage_prefix",
                       "candidate_context")
LABEL_NAMES = {"name": "protocol"}  # how a probe label names a protocol key


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
class Primary:
    """A comparison declared before the run: side A minus side B on outcomes ON. A side is a
    condition name or a condition kind (the mean of that kind's conditions, per unit); an outcome
    is a target task or probe name ('alignment': every probe, 'transfer': every target task)."""

    a: str
    b: str
    on: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.a} − {self.b} on {'+'.join(self.on)}"


@dataclass(frozen=True)
class Design:
    """What the rows alone do not say: the declared analysis and the study's structure."""

    margin: float = MARGIN  # points: the smallest difference that matters
    alpha: float = ALPHA
    primary: tuple[Primary, ...] = ()
    phase2_runs: dict[str, int] = field(default_factory=dict)  # condition -> phase-2 encoders (0: untrained; default 1)
    declared_overlap: dict[str, tuple[str, ...]] = field(default_factory=dict)  # condition -> targets
    smoke: bool = False
    phase2_steps: tuple[int, ...] = ()  # step budgets of the phase-2 nodes (report.setup.phase2_steps)


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
        return bool(trained) and _encoders(self.design, *trained)


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


def train_language(task: str) -> str:
    """The language a target task is fine-tuned in (English for every XTREME-R task)."""
    from xstilts.tasks.registry import REGISTRY

    t = REGISTRY.get(task)
    return t.train[0].lang if t is not None and t.train else "en"


def unit_of(row: ResultRow) -> int | None:
    """The replication unit of a row: the phase-2 seed of its encoder where the study nests
    fine-tuning seeds in it (`protocol['unit']`), else the row's own seed."""
    return row.protocol.get("unit", row.seed)


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
            seeds = sorted(s for s, u in runs[cond] if r.seed is None or u == r.seed) or [r.seed]
            out += [r.model_copy(update={"seed": s, "layer": None, "direction": None,
                                         "language": TATOEBA_ISO1.get(r.language, r.language)}) for s in seeds]
    return out


Units = dict[str, dict[str, dict[int | None, dict[str, float]]]]  # condition -> task -> unit -> language -> score


def _units(scores: Scores, unit: dict[tuple[str, int | None], int | None]) -> Units:
    """Per condition, task and unit: each language's score averaged over the unit's fine-tuning seeds."""
    acc: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for (cond, seed, task), langs in scores.items():
        for lang, v in langs.items():
            acc[cond][task][unit.get((cond, seed), seed)][lang].append(v)
    return {c: {t: {u: {lang: statistics.fmean(v) for lang, v in ls.items()} for u, ls in us.items()}
                for t, us in ts.items()} for c, ts in acc.items()}


def _zero_shot(by_unit: dict, task: str, english: bool = False) -> dict:
    """Only the training language (ENGLISH) or only the others, per unit; units left empty dropped."""
    train = train_language(task)
    out = {u: {lang: v for lang, v in langs.items() if (lang == train) == english} for u, langs in by_unit.items()}
    return {u: langs for u, langs in out.items() if langs}


def _language_warnings(units: Units, conditions: Sequence[str], tasks: Sequence[str]) -> list[str]:
    out = []
    for task in tasks:
        langs = {c: set().union(*units.get(c, {}).get(task, {}).values()) for c in conditions}
        langs = {c: v for c, v in langs.items() if v}
        union = set().union(*langs.values()) if langs else set()
        lacking = {c: sorted(union - v) for c, v in langs.items() if v != union}
        if lacking:
            detail = "; ".join(f"{c} lacks {', '.join(v)}" for c, v in lacking.items())
            out.append(f"{task}: conditions were evaluated on different languages ({detail}); "
                       "each comparison uses the languages both sides have")
    return out


def _ordered(rows: Sequence[ResultRow], infos: Sequence[ConditionInfo]) -> dict[str, ConditionInfo]:
    given = {i.name: i for i in infos}
    names = dict.fromkeys(r.condition for r in rows)
    found = {n: given.get(n) or infer_condition(n, next(r.intermediate for r in rows if r.condition == n))
             for n in names}
    return {n: found[n] for kind in KINDS for n in [*given, *names] if n in found and found[n].kind == kind}


def _pair_links(conditions: dict[str, ConditionInfo]) -> list[tuple[str, str]]:
    """(non-English member, English member) of every parallel pair."""
    groups: dict[str, list[ConditionInfo]] = defaultdict(list)
    for info in conditions.values():
        if info.pair is not None:
            groups[info.pair].append(info)
    return [(other.name, eng.name) for members in groups.values()
            for eng in members if eng.kind == "english" for other in members if other.kind != "english"]


def _translation_links(conditions: dict[str, ConditionInfo]) -> list[tuple[str, str]]:
    """(translated condition, condition training exactly its source task)."""
    return [(info.name, source.name) for info in conditions.values()
            if info.kind == "translated" and info.translation_of is not None
            for source in conditions.values()
            if source.kind not in ("translated", "none") and source.intermediate == (info.translation_of,)]


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


def _comparisons(links: Sequence[tuple[str, str]], units: Units, tasks: Sequence[str], design: Design,
                 pick=None) -> list[Comparison]:
    """A minus B on every task both have, one family with its verdicts; PICK filters each side's units."""
    out = []
    for a, b in links:
        for task in tasks:
            ua, ub = units.get(a, {}).get(task, {}), units.get(b, {}).get(task, {})
            if pick is not None:
                ua, ub = pick(ua, task), pick(ub, task)
            if ua and ub and (comp := compare(a, b, task, ua, ub, encoders=_encoders(design, a, b))) is not None:
                comp.flags = _flags(design, a, b, task)
                out.append(comp)
    decide(out, margin=design.margin, alpha=design.alpha)
    return out


def _encoders(design: Design, *conditions: str) -> bool:
    """Whether the units are trained encoders: every trained side had several phase-2 runs (an
    untrained baseline, 0 runs, is a fixed reference; a condition the design does not name counts 1)."""
    runs = [design.phase2_runs.get(c, 1) for c in conditions]
    return all(n > 1 for n in runs if n != 0) and any(n != 0 for n in runs)


def _flags(design: Design, a: str, b: str, task: str) -> tuple[str, ...]:
    return tuple(f"declared overlap: {c} trains on data of {task}" for c in (a, b)
                 if task.split(" ")[0] in design.declared_overlap.get(c, ()))


def _side(name: str, conditions: dict[str, ConditionInfo]) -> list[str]:
    return [name] if name in conditions else [n for n, i in conditions.items() if i.kind == name]


def _outcomes(on: Sequence[str], tasks: Sequence[str], probes: Sequence[str]) -> list[tuple[str, bool]]:
    """(name, is_probe) for each named outcome: a probe label is named by its task's name."""
    out = []
    for name in on:
        if name == "alignment":
            out += [(p, True) for p in probes]
        elif name == "transfer":
            out += [(t, False) for t in tasks]
        else:
            out += [(t, False) for t in tasks if t == name] + [(p, True) for p in probes if p.split(" ")[0] == name]
    return list(dict.fromkeys(out))


def _primary(design: Design, conditions: dict[str, ConditionInfo], units: Units, probe_units: Units,
             tasks: Sequence[str], probes: Sequence[str]) -> tuple[list[Comparison], list[str]]:
    """Each declared comparison: per unit, a side's score is the mean over its conditions of the mean
    over the outcomes (zero-shot languages for tasks; languages, directions and layers for probes)."""
    out, notes = [], []
    for p in design.primary:
        outcomes = _outcomes(p.on, tasks, probes)
        present = {c for c in [*units, *probe_units]}  # conditions left out (did not learn) have no rows
        sides = [[c for c in _side(p.a, conditions) if c in present], [c for c in _side(p.b, conditions) if c in present]]
        if not outcomes or not all(sides):
            notes.append(f"primary comparison {p.label}: no rows for "
                         + ("its outcomes" if not outcomes else "one of its sides") + " (not computed)")
            continue
        (a_units, a_partial), (b_units, b_partial) = (_side_scores(side, outcomes, units, probe_units)
                                                      for side in sides)
        partial = a_partial | b_partial  # units a side holds only some conditions of (one did not learn there)
        if partial:
            notes.append(f"primary comparison {p.label}: unit{'s' * (len(partial) > 1)} "
                         f"{', '.join(str(u) for u in sorted(partial, key=str))} left out, as a side lacks one of its "
                         "conditions there (a run that did not learn): a side's score is the mean over all its "
                         "conditions, never over the ones that happened to learn")
        if a_units and b_units and (c := compare(p.a, p.b, "+".join(p.on), a_units, b_units,
                                                 encoders=_encoders(design, *sides[0], *sides[1]))) is not None:
            c.flags = tuple(f for x in sides[0] + sides[1] for name, _ in outcomes
                            for f in _flags(design, x, x, name))[:1]
            out.append(c)
        else:
            notes.append(f"primary comparison {p.label}: its sides share no complete unit (not computed)")
    decide(out, margin=design.margin, alpha=design.alpha)
    return out, notes


def _side_scores(members: Sequence[str], outcomes: Sequence[tuple[str, bool]], units: Units, probe_units: Units
                 ) -> tuple[dict, set]:
    """unit -> {"all": a side's score} for the units holding every member condition on every outcome,
    and the units that hold only some."""
    per: dict = defaultdict(list)
    for c in members:
        for name, is_probe in outcomes:
            by_unit = (probe_units if is_probe else units).get(c, {}).get(name, {})
            if not is_probe:
                by_unit = _zero_shot(by_unit, name)
            for u, vals in by_unit.items():
                per[u].append(statistics.fmean(vals.values()))
    need = len(members) * len(outcomes)
    return ({u: {"all": statistics.fmean(v)} for u, v in per.items() if len(v) == need},
            {u for u, v in per.items() if len(v) != need})


def _excluded(learning: Sequence, design: Design) -> tuple[set, set, list[str]]:
    """What did not learn: encoders (condition, phase-2 seed, or None for the condition's only one),
    fine-tuning nodes, and the sentences that list them."""
    encoders, nodes, words = set(), set(), []
    for r in learning:
        if r.learned:
            continue
        if r.phase == "intermediate":
            single = design.phase2_runs.get(r.condition, 1) <= 1
            encoders.add((r.condition, None if single else r.seed))
            words.append(f"{r.condition}" + ("" if single else f" (phase-2 seed {r.seed})")
                         + f": phase 2 did not learn {r.task} ({r.why}); every row of that encoder is left out")
        else:
            nodes.add(r.node)
            words.append(f"{r.condition}, {r.task} seed {r.seed}: fine-tuning did not learn ({r.why}); "
                         "that run is left out")
    return encoders, nodes, words


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
                 retrieval: str = "official", design: Design = Design(), learning: Sequence = ()) -> StudyReport:
    """Everything the study reports, from its rows; `conditions` gives the spec's metadata (else inferred);
    `retrieval` picks XTREME-R's retrieval category ('official' as evaluate.py, or 'paper'); `design` the
    declared analysis and phase-2 runs per condition; `learning` the training nodes' learning records
    (runs that did not learn are left out of every comparison and listed)."""
    rows = list(rows)
    benchmark = xtreme_r(retrieval)
    check_versions(rows)
    infos = _ordered(rows, conditions)
    bad_encoders, bad_nodes, excluded = _excluded(learning, design)
    if design.smoke:  # nothing learns in 2 steps: list the runs, keep them, so every comparison path still runs
        bad_encoders, bad_nodes = set(), set()
        excluded = [f"(smoke run: kept all the same) {e}" for e in excluded]
    kept = [r for r in rows if r.protocol.get("node") not in bad_nodes
            and (r.condition, None) not in bad_encoders and (r.condition, unit_of(r)) not in bad_encoders]
    targets = [r for r in kept if r.layer is None]
    probes = [r for r in kept if r.layer is not None]
    all_scores = language_scores([r for r in rows if r.layer is None], benchmark)
    scores = language_scores(targets, benchmark)
    units = _units(scores, {(r.condition, r.seed): unit_of(r) for r in targets})
    tasks = tuple(dict.fromkeys(t for (_c, _s, t) in all_scores))
    notes = _language_warnings(units, list(infos), tasks)
    baselines = [n for n, i in infos.items() if i.kind == "none"]
    baseline = baselines[0] if baselines else None
    if baseline is None and len(infos) > 1:
        notes.append("no condition of kind 'none': gains over the baseline cannot be computed")
    elif len(baselines) > 1:
        notes.append(f"several conditions of kind 'none' ({', '.join(baselines)}): {baseline} is the baseline")
    over_base = [(n, baseline) for n in infos if baseline is not None and n != baseline]
    gains = _comparisons(over_base, units, tasks, design, pick=_zero_shot)
    english = _comparisons(over_base, units, tasks, design, pick=lambda u, t: _zero_shot(u, t, english=True))
    labels = _probe_labels(probes)
    probe_tasks = tuple(dict.fromkeys(labels))
    probe_units = _probe_units(probes, labels)
    alignment_gains = _comparisons(over_base, probe_units, probe_tasks, design)
    alignment_pairs = _comparisons(_pair_links(infos), probe_units, probe_tasks, design)
    primary, primary_notes = _primary(design, infos, units, probe_units, tasks, probe_tasks)
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
        pairs=_comparisons(_pair_links(infos), units, tasks, design, pick=_zero_shot),
        translations=_comparisons(_translation_links(infos), units, tasks, design, pick=_zero_shot),
        english=english,
        alignment_gains=alignment_gains,
        alignment_pairs=alignment_pairs,
        primary=primary,
        alignment=alignment,
        correlation=spearman([p[0] for p in points], [p[1] for p in points]),
        design=design,
        learning=list(learning),
        excluded=excluded,
        warnings=notes,
        setup=setup_of(rows, benchmark),
    )
