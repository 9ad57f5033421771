"""What a study compares, as its spec declares it (or its condition names suggest): conditions
and their kinds, the declared primary comparisons and the design; and which conditions pair up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from xstilts.report.stats import ALPHA, MARGIN
from xstilts.store import ResultRow

Kind = Literal["none", "english", "low-resource", "multi", "mlm", "translated"]
KINDS: tuple[Kind, ...] = ("none", "english", "low-resource", "translated", "multi", "mlm")
BASELINE = "none"  # the kind of the baseline condition (and the name inferred as that kind)


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


def ordered(rows: Sequence[ResultRow], infos: Sequence[ConditionInfo]) -> dict[str, ConditionInfo]:
    """Every condition of the rows with its metadata (given, else inferred), grouped by kind in KINDS order."""
    given = {i.name: i for i in infos}
    names = dict.fromkeys(r.condition for r in rows)
    found = {n: given.get(n) or infer_condition(n, next(r.intermediate for r in rows if r.condition == n))
             for n in names}
    return {n: found[n] for kind in KINDS for n in [*given, *names] if n in found and found[n].kind == kind}


def pair_links(conditions: dict[str, ConditionInfo]) -> list[tuple[str, str]]:
    """(non-English member, English member) of every parallel pair."""
    groups: dict[str, list[ConditionInfo]] = defaultdict(list)
    for info in conditions.values():
        if info.pair is not None:
            groups[info.pair].append(info)
    return [(other.name, eng.name) for members in groups.values()
            for eng in members if eng.kind == "english" for other in members if other.kind != "english"]


def translation_links(conditions: dict[str, ConditionInfo]) -> list[tuple[str, str]]:
    """(translated condition, condition training exactly its source task)."""
    return [(info.name, source.name) for info in conditions.values()
            if info.kind == "translated" and info.translation_of is not None
            for source in conditions.values()
            if source.kind not in ("translated", "none") and source.intermediate == (info.translation_of,)]
