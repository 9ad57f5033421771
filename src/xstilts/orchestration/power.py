"""Power before spending: how likely a spec's primary comparisons are to reach a verdict, and how
many units (phase-2 encoders) they need, from the variance a finished pilot study measured.

The sd of a unit's difference comes from the pilot's rows, recomputed with this spec's declared
comparison (the same sides and outcomes), else from `analysis.planning_sd`. A pilot with one
phase-2 run per condition measured fine-tuning-seed variance only, which underestimates the
variance between encoders: the lines say so.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

from xstilts.orchestration.record import Record
from xstilts.orchestration.spec import Spec
from xstilts.report.stats import TARGET_POWER, power, sd_of_difference, units_needed
from xstilts.report.study import ReportWarning, build_report


def planned_units(spec: Spec) -> int:
    """Units the spec will have per condition: its seeds when each has its own phase-2 encoder."""
    return len(spec.seeds)


def power_lines(spec: Spec, pilot: Record | None = None) -> list[str]:
    """One line per primary comparison: the sd it plans with and where from, the power with this
    spec's units for its margin, and the units needed for 80% power."""
    from xstilts.orchestration.study import conditions_of, design_of

    a = spec.analysis
    if not a.primary:
        return []
    n = planned_units(spec)
    sds: dict[str, tuple[float | None, str]] = {}
    if pilot is not None:
        design = replace(design_of(spec), phase2_runs=design_of(pilot.spec).phase2_runs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReportWarning)
            report = build_report(pilot.rows, conditions_of(pilot.spec), design=design)
        for c in report.primary:
            where = (f"pilot {pilot.folder}, {len(c.units)} units"
                     + ("" if c.encoders else " of fine-tuning seeds only: one phase-2 run per condition, so "
                        "variance between encoders is not in it and the sd is an underestimate"))
            sds[c.task] = (sd_of_difference(c), where)
    out = []
    for p in a.primary:
        label = f"{p.a} − {p.b} on {'+'.join(p.targets)}"
        sd, where = sds.get("+".join(p.targets), (None, ""))
        if sd is None and a.planning_sd is not None:
            sd, where = a.planning_sd, "analysis.planning_sd"
        if sd is None:
            out.append(f"primary {label}: power unknown (no pilot variance: pass --pilot DIR of a published "
                       "study, or set analysis.planning_sd)")
            continue
        pw, need = power(sd, n, a.margin, a.alpha), units_needed(sd, a.margin, a.alpha)
        unit = "phase-2 encoders" if spec.intermediate_seeds == "per-seed" else "fine-tuning seeds of one encoder"
        verdict = "" if pw is not None and pw >= TARGET_POWER else " — UNDER-POWERED"
        out.append(f"primary {label}: sd {sd:.2f} points ({where}); power {_pct(pw)} to detect ±{a.margin:g} at "
                   f"alpha {a.alpha:g} with {n} {unit}; {TARGET_POWER:.0%} needs {need} units{verdict}")
    if spec.intermediate_seeds != "per-seed":
        out.append("intermediate_seeds: first — one phase-2 encoder per condition, so no comparison can speak "
                   "about kinds of intermediate training; use per-seed")
    return out


def _pct(p: float | None) -> str:
    return "n/a (under 2 units)" if p is None else f"{p:.0%}"
