"""XTREME-R (Ruder et al. 2021) declared as data, and the pure functions that aggregate by it.

The task -> language lists are google-research/xtreme's `evaluate.py` (`XTREME_R_TASK2LANGS`, the
`--xtreme_version xtreme-r` lists), kept here as the one source the rest of xstilts imports. The
aggregation follows that script too: a task's score is the macro average over its languages
(English included), QA tasks score (F1 + EM) / 2, and the overall score is the mean over tasks;
category averages are reported beside it (`overall="categories"` switches to their mean).

The retrieval category is a declared choice. `official` is what evaluate.py scores: retrieval =
Tatoeba + Mewsli-X, and LAReQA (for which evaluate.py lists no languages) is no benchmark task.
`paper` follows the XTREME-R paper's table: LAReQA joins retrieval, on XQuAD-R's 11 languages.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from xstilts.errors import BadValue, UnknownName

CLASSIFICATION = "classification"
STRUCTURED_PREDICTION = "structured prediction"
QUESTION_ANSWERING = "question answering"
RETRIEVAL = "retrieval"
RETRIEVAL_CHOICES = ("official", "paper")


@dataclass(frozen=True)
class TaskAggregation:
    """One task: its registered metric, the keys averaged into its score, category and languages."""

    name: str
    metric: str
    score_keys: tuple[str, ...]
    category: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's tasks and how their numbers combine; `retrieval` names the category choice."""

    name: str
    tasks: tuple[TaskAggregation, ...]
    include_english: bool = True
    overall: str = "tasks"  # "tasks": mean of task scores; "categories": mean of category means
    retrieval: str = "official"

    def task(self, name: str) -> TaskAggregation:
        for task in self.tasks:
            if task.name == name:
                return task
        raise UnknownName(f"{self.name} has no task '{name}' (tasks: {', '.join(t.name for t in self.tasks)})")

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.category for t in self.tasks))

    def describe(self) -> str:
        """One line naming the retrieval choice, for the report."""
        members = " + ".join(t.name for t in self.tasks if t.category == RETRIEVAL)
        source = "google-research/xtreme evaluate.py" if self.retrieval == "official" else "the XTREME-R paper's table"
        return f"{self.name} retrieval category: {self.retrieval} ({members}, as {source})"


def _langs(codes: str) -> tuple[str, ...]:
    return tuple(codes.split(","))


# In evaluate.py's order; its names panx and mewslix are our wikiann and mewsli-x.
XTREME_R_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xnli": _langs("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"),
    "wikiann": _langs("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,"
                      "ko,th,sw,yo,my,zh,kk,tr,et,fi,hu,qu,pl,uk,az,lt,pa,gu,ro"),
    "udpos": _langs("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,"
                    "ur,vi,yo,zh,lt,pl,uk,wo,ro"),
    "tatoeba": _langs("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,"
                      "sw,zh,kk,tr,et,fi,hu,az,lt,pl,uk,ro"),
    "xcopa": _langs("et,ht,id,it,qu,sw,ta,th,tr,vi,zh"),
    "mewsli-x": _langs("ar,de,en,es,fa,ja,pl,ro,ta,tr,uk"),
    "xquad": _langs("en,es,de,el,ru,tr,ar,vi,th,zh,hi,ro"),
    "mlqa": _langs("en,es,de,ar,hi,vi,zh"),
    "tydiqa": _langs("en,ar,bn,fi,id,ko,ru,sw,te"),
}
# LAReQA is scored outside evaluate.py (its list there is empty): XQuAD-R's languages.
LAREQA_LANGUAGES = _langs("ar,de,el,en,es,hi,ru,th,tr,vi,zh")

_QA = ("f1", "exact_match")


def _task(name: str, metric: str, keys: tuple[str, ...], category: str) -> TaskAggregation:
    langs = LAREQA_LANGUAGES if name == "lareqa" else XTREME_R_LANGUAGES[name]
    return TaskAggregation(name, metric, keys, category, langs)


_TASKS = (
    _task("xnli", "accuracy", ("accuracy",), CLASSIFICATION),
    _task("xcopa", "accuracy", ("accuracy",), CLASSIFICATION),
    _task("udpos", "pos_f1", ("f1",), STRUCTURED_PREDICTION),
    _task("wikiann", "ner_f1", ("f1",), STRUCTURED_PREDICTION),
    _task("xquad", "squad", _QA, QUESTION_ANSWERING),
    _task("mlqa", "mlqa", _QA, QUESTION_ANSWERING),
    _task("tydiqa", "squad", _QA, QUESTION_ANSWERING),
    _task("mewsli-x", "map_at_20", ("map_at_20",), RETRIEVAL),
    _task("lareqa", "map_at_20", ("map_at_20",), RETRIEVAL),
    _task("tatoeba", "tatoeba_accuracy", ("accuracy",), RETRIEVAL),
)

XTREME_R = Benchmark("xtreme-r", tuple(t for t in _TASKS if t.name != "lareqa"), retrieval="official")
XTREME_R_PAPER = Benchmark("xtreme-r", _TASKS, retrieval="paper")


def xtreme_r(retrieval: str = "official") -> Benchmark:
    """XTREME-R with the named retrieval category: 'official' (evaluate.py) or 'paper'."""
    if retrieval not in RETRIEVAL_CHOICES:
        raise BadValue(f"unknown XTREME-R retrieval choice '{retrieval}' (choose {' or '.join(RETRIEVAL_CHOICES)})")
    return XTREME_R if retrieval == "official" else XTREME_R_PAPER


def task_score(task: TaskAggregation, values: Mapping[str, float]) -> float:
    """One language's score for `task`: the mean of its score keys (QA: (F1 + EM) / 2)."""
    missing = [k for k in task.score_keys if k not in values]
    if missing:
        raise ValueError(f"{task.name}: metric values lack {missing}")
    return statistics.fmean(values[k] for k in task.score_keys)


def language_average(scores: Mapping[str, float], languages: tuple[str, ...], *, include_english: bool = True) -> float:
    """Macro average over the declared `languages`; all must be present, others are ignored."""
    wanted = [lang for lang in languages if include_english or lang != "en"]
    missing = [lang for lang in wanted if lang not in scores]
    if missing:
        raise ValueError(f"no score for language(s) {', '.join(missing)}")
    if not wanted:
        raise ValueError("no languages to average")
    return statistics.fmean(scores[lang] for lang in wanted)


def transfer_gap(scores: Mapping[str, float]) -> float:
    """English score minus the mean of all other languages (XTREME's cross-lingual transfer gap)."""
    others = [v for lang, v in scores.items() if lang != "en"]
    if "en" not in scores or not others:
        raise ValueError("transfer gap needs English and at least one other language")
    return scores["en"] - statistics.fmean(others)


def category_averages(benchmark: Benchmark, task_scores: Mapping[str, float]) -> dict[str, float]:
    """Mean task score per category, for every category whose tasks are all present."""
    out = {}
    for category in benchmark.categories:
        names = [t.name for t in benchmark.tasks if t.category == category]
        if all(n in task_scores for n in names):
            out[category] = statistics.fmean(task_scores[n] for n in names)
    return out


def overall_score(benchmark: Benchmark, task_scores: Mapping[str, float]) -> float:
    """The benchmark score from per-task scores; every task must be present (as in evaluate.py)."""
    missing = [t.name for t in benchmark.tasks if t.name not in task_scores]
    if missing:
        raise ValueError(f"{benchmark.name} score needs every task; missing {', '.join(missing)}")
    if benchmark.overall == "categories":
        return statistics.fmean(category_averages(benchmark, task_scores).values())
    if benchmark.overall == "tasks":
        return statistics.fmean(task_scores[t.name] for t in benchmark.tasks)
    raise ValueError(f"{benchmark.name}: unknown overall aggregation '{benchmark.overall}'")
