"""XTREME-R aggregation of fine-tuned target rows, per condition and seed, over what is present.

Why not `overall_score` directly: a study rarely runs all ten tasks or all their languages, so the
task average is taken over the XTREME-R languages that have a score (the missing ones are named),
and categories/overall over the tasks present, flagged "partial". The arithmetic itself is
`xstilts.metrics.xtreme_r`'s, applied to the benchmark restricted to those tasks and languages.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xstilts.errors import XstiltsError
from xstilts.metrics.xtreme_r import (
    XTREME_R,
    Benchmark,
    category_averages,
    language_average,
    overall_score,
    task_score,
    transfer_gap,
)
from xstilts.store import ResultRow

# (condition, seed, task) -> language -> main score
Scores = dict[tuple[str, int | None, str], dict[str, float]]


class ReportError(XstiltsError):
    """Rows that cannot be compared as they are (mixed task versions, duplicated scores)."""


@dataclass(frozen=True)
class TaskResult:
    """One task for one condition and seed: scores per language and their XTREME-R summaries."""

    task: str
    per_language: dict[str, float]
    average: float  # over the benchmark's languages present (all languages for a non-XTREME-R task)
    average_without_en: float | None
    english: float | None
    gap: float | None  # English minus the mean of the other languages averaged
    missing: tuple[str, ...]  # benchmark languages with no score
    in_benchmark: bool


@dataclass(frozen=True)
class Aggregate:
    """XTREME-R summary of one condition and seed."""

    condition: str
    seed: int | None
    tasks: dict[str, TaskResult]
    categories: dict[str, float]  # over the tasks present in each category
    partial_categories: tuple[str, ...]  # categories with a task missing
    overall: float | None  # mean over the XTREME-R tasks present
    missing_tasks: tuple[str, ...]

    @property
    def partial(self) -> bool:
        return bool(self.missing_tasks)


def language_scores(rows: Iterable[ResultRow], benchmark: Benchmark = XTREME_R) -> Scores:
    """Main score per language: a benchmark task's score keys averaged (QA: (F1 + EM) / 2).

    A task outside the benchmark must carry exactly one metric. The same (condition, seed, task,
    language, metric) twice means rows of different splits or protocols were mixed: that is refused.
    """
    values: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in rows:
        key = (r.condition, r.seed, r.task, r.language)
        if r.metric in values[key]:
            raise ReportError(f"two '{r.metric}' scores for {r.task}/{r.language}, condition {r.condition}, "
                              f"seed {r.seed} (splits or protocols mixed?): filter the rows first")
        values[key][r.metric] = r.value
    names = {t.name for t in benchmark.tasks}
    out: Scores = defaultdict(dict)
    for (cond, seed, task, lang), metrics in values.items():
        if task in names:
            score = task_score(benchmark.task(task), metrics)
        elif len(metrics) == 1:
            (score,) = metrics.values()
        else:
            raise ReportError(f"{task} is not an {benchmark.name} task and has several metrics "
                              f"({', '.join(sorted(metrics))}): keep only its main metric")
        out[(cond, seed, task)][lang] = score
    return dict(out)


def task_result(task: str, scores: Mapping[str, float], benchmark: Benchmark = XTREME_R) -> TaskResult:
    """Averages of one task over the benchmark's languages that have a score."""
    in_benchmark = task in {t.name for t in benchmark.tasks}
    declared = benchmark.task(task).languages if in_benchmark else tuple(sorted(scores))
    present = tuple(lang for lang in declared if lang in scores)
    if not present:
        raise ReportError(f"{task}: none of its {benchmark.name} languages has a score "
                          f"(got {', '.join(sorted(scores))})")
    others = [lang for lang in present if lang != "en"]
    english = scores.get("en") if "en" in present else None
    return TaskResult(
        task=task,
        per_language=dict(scores),
        average=language_average(scores, present),
        average_without_en=language_average(scores, present, include_english=False) if others else None,
        english=english,
        gap=transfer_gap({lang: scores[lang] for lang in present}) if english is not None and others else None,
        missing=tuple(lang for lang in declared if lang not in scores),
        in_benchmark=in_benchmark,
    )


def aggregate(condition: str, seed: int | None, scores: Mapping[str, Mapping[str, float]],
              benchmark: Benchmark = XTREME_R) -> Aggregate:
    """Task, category and overall scores of one condition and seed from {task: {language: score}}."""
    tasks = {task: task_result(task, langs, benchmark) for task, langs in scores.items()}
    bench_scores = {t: r.average for t, r in tasks.items() if r.in_benchmark}
    present = dataclasses.replace(benchmark, tasks=tuple(t for t in benchmark.tasks if t.name in bench_scores))
    return Aggregate(
        condition=condition,
        seed=seed,
        tasks=tasks,
        categories=category_averages(present, bench_scores),
        partial_categories=tuple(c for c in present.categories
                                 if any(t.category == c and t.name not in bench_scores for t in benchmark.tasks)),
        overall=overall_score(present, bench_scores) if bench_scores else None,
        missing_tasks=tuple(t.name for t in benchmark.tasks if t.name not in bench_scores),
    )


def aggregate_all(scores: Scores, benchmark: Benchmark = XTREME_R) -> list[Aggregate]:
    """One `Aggregate` per (condition, seed), in the order the scores first name them."""
    grouped: dict[tuple[str, int | None], dict[str, dict[str, float]]] = defaultdict(dict)
    for (cond, seed, task), langs in scores.items():
        grouped[(cond, seed)][task] = langs
    return [aggregate(cond, seed, tasks, benchmark) for (cond, seed), tasks in grouped.items()]
