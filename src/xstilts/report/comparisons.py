"""Comparisons between conditions with the replication unit as the unit (the trained encoder, or
the fine-tuning seed): per-unit scores, zero-shot language selection, families of comparisons
with their verdicts, and the spec's declared primary comparisons (report.stats does the tests)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from xstilts.report.conditions import ConditionInfo, Design
from xstilts.report.stats import Comparison, compare, decide
from xstilts.report.xtreme import Scores
from xstilts.store import ResultRow

def train_language(task: str) -> str:
    """The language a target task is fine-tuned in (English for every XTREME-R task)."""
    from xstilts.tasks.registry import known_tasks

    t = known_tasks().get(task)
    return t.train[0].lang if t is not None and t.train else "en"


def unit_of(row: ResultRow) -> int | None:
    """The replication unit of a row: the phase-2 seed of its encoder where the study nests
    fine-tuning seeds in it (`protocol['unit']`), else the row's own seed."""
    return row.protocol.get("unit", row.seed)


Units = dict[str, dict[str, dict[int | None, dict[str, float]]]]  # condition -> task -> unit -> language -> score


def unit_scores(scores: Scores, unit: dict[tuple[str, int | None], int | None]) -> Units:
    """Per condition, task and unit: each language's score averaged over the unit's fine-tuning seeds."""
    acc: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for (cond, seed, task), langs in scores.items():
        for lang, v in langs.items():
            acc[cond][task][unit.get((cond, seed), seed)][lang].append(v)
    return {c: {t: {u: {lang: statistics.fmean(v) for lang, v in ls.items()} for u, ls in us.items()}
                for t, us in ts.items()} for c, ts in acc.items()}


def zero_shot(by_unit: dict, task: str, english: bool = False) -> dict:
    """Only the training language (ENGLISH) or only the others, per unit; units left empty dropped."""
    train = train_language(task)
    out = {u: {lang: v for lang, v in langs.items() if (lang == train) == english} for u, langs in by_unit.items()}
    return {u: langs for u, langs in out.items() if langs}


def language_warnings(units: Units, conditions: Sequence[str], tasks: Sequence[str]) -> list[str]:
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


def comparison_family(links: Sequence[tuple[str, str]], units: Units, tasks: Sequence[str], design: Design,
                 pick=None) -> list[Comparison]:
    """A minus B on every task both have, one family with its verdicts; PICK filters each side's units."""
    out = []
    for a, b in links:
        for task in tasks:
            ua, ub = units.get(a, {}).get(task, {}), units.get(b, {}).get(task, {})
            if pick is not None:
                ua, ub = pick(ua, task), pick(ub, task)
            if ua and ub and (comp := compare(a, b, task, ua, ub, encoders=encoder_units(design, a, b))) is not None:
                comp.flags = overlap_flags(design, a, b, task)
                out.append(comp)
    decide(out, margin=design.margin, alpha=design.alpha)
    return out


def encoder_units(design: Design, *conditions: str) -> bool:
    """Whether the units are trained encoders: every trained side had several phase-2 runs (an
    untrained baseline, 0 runs, is a fixed reference; a condition the design does not name counts 1)."""
    runs = [design.phase2_runs.get(c, 1) for c in conditions]
    return all(n > 1 for n in runs if n != 0) and any(n != 0 for n in runs)


def overlap_flags(design: Design, a: str, b: str, task: str) -> tuple[str, ...]:
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


def primary_comparisons(design: Design, conditions: dict[str, ConditionInfo], units: Units, probe_units: Units,
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
                                                 encoders=encoder_units(design, *sides[0], *sides[1]))) is not None:
            c.flags = tuple(f for x in sides[0] + sides[1] for name, _ in outcomes
                            for f in overlap_flags(design, x, x, name))[:1]
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
                by_unit = zero_shot(by_unit, name)
            for u, vals in by_unit.items():
                per[u].append(statistics.fmean(vals.values()))
    need = len(members) * len(outcomes)
    return ({u: {"all": statistics.fmean(v)} for u, v in per.items() if len(v) == need},
            {u for u, v in per.items() if len(v) != need})
