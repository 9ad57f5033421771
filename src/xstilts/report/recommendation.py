"""A recommendation as data (what `xstilts recommend` saves as JSON in a study's folder) and the
grids a report shows of it: the ranking, its check against the study's gains, the costs. The
report of a study reads saved recommendations from here; computing one is `xstilts.recommend`."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from xstilts.metrics.ranking import top_k
from xstilts.report.grid import Grid

NOISE_FLOOR = 0.5  # split-half Spearman of the gains below which the check is uninformative
SIGNALS = ("alignment", "logme", "hscore", "proximity")
ENCODER_SIGNALS = ("logme", "hscore")  # need the phase-2 encoders' features (not in a published record)
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
                caption=verdict(rec.ceiling) + " spearman: rank correlation with the actual gains (1 = same "
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
    out = []
    for path in sorted(Path(folder).glob("recommend-*.json")):
        saved = json.loads(path.read_text(encoding="utf-8"))
        rec = Recommendation(**{f.name: saved[f.name] for f in fields(Recommendation) if f.name in saved})
        rec.validation.pop(NOT_HELD_OUT, None)  # older records scored it as held out
        out.append(rec)
    return out


def verdict(ceiling: Mapping[str, float]) -> str:
    """In words: can this check tell a signal that predicts the gains from one that does not?"""
    if not ceiling:
        return ("This record predates the noise-ceiling and random-ranking checks (ties were broken by list "
                "order): rerun `xstilts recommend` before drawing any conclusion from it.")
    units = int(ceiling.get("units", 0))
    if units < 2:
        return (f"With {units} unit (seed) per candidate the gains' reproducibility cannot be measured: this check "
                "is uninformative. Run at least 2 seeds.")
    rho = ceiling.get("spearman", math.nan)
    if not math.isfinite(rho) or rho < NOISE_FLOOR:
        return (f"The gains are mostly seed noise: disjoint halves of the {units} units rank the candidates with "
                f"Spearman {rho:.2f} (below {NOISE_FLOOR}), so this check is uninformative: no signal can be "
                "shown to predict gains that do not reproduce.")
    return (f"The gains reproduce (disjoint halves of the {units} units agree with Spearman {rho:.2f}): a signal "
            "whose figures beat the random ranking (small p) predicts them, up to about the ceiling.")
