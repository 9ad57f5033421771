"""Every task entry is consistent: files present, languages known, metrics registered."""

import pytest

from xstilts.data import catalog, languages
from xstilts.metrics import get_metric
from xstilts.metrics.xtreme_r import XTREME_R
from xstilts.tasks import Source, TaskDef, all_tasks, get_task
from xstilts.tasktypes import TYPES
from xstilts.tasks.registry import build_registry
from xstilts.tasks.schema import ROLES


def _sources(task: TaskDef) -> list[Source]:
    return [*task.train, *([task.dev] if task.dev else []), *task.eval]


@pytest.mark.parametrize("task", all_tasks(), ids=lambda t: t.name)
def test_entry(task: TaskDef, data_root):
    assert task.type in TYPES and set(task.roles) <= set(ROLES) and task.version
    assert task.main_score in task.metrics
    for name in task.metrics:
        get_metric(name)
    assert len(set(task.languages)) == len(task.languages)
    assert all(lang in languages.LANGUAGE_TAGS for lang in task.languages)
    if task.type in ("classification", "tagging"):
        assert task.labels
    for s in _sources(task):
        entry = catalog.get_dataset(s.dataset)
        files = catalog.dataset_files(entry, s.split, s.lang)
        assert files, (task.name, s)
        if entry.available:
            assert all(p.is_file() for f in files for p in catalog.local_paths(entry, f, data_root)), (task.name, s)


def test_xtreme_r_targets_cover_the_declared_languages():
    """Every XTREME-R language with data here is evaluated (UD ar/hi and others are not in the snapshot)."""
    for agg in XTREME_R.tasks:
        if agg.name in ("mewsli-x", "tatoeba"):  # no data / scored on the encoder itself
            continue
        task = get_task(agg.name)
        assert task.metrics[0] == agg.metric or agg.metric in task.metrics
        available = set(catalog.get_dataset(task.eval[0].dataset).languages)
        assert {lang for lang in agg.languages if lang in available} <= set(task.languages), agg.name


def test_registry_rejects_duplicates_and_suggests_names():
    xnli = get_task("xnli")
    with pytest.raises(ValueError, match="twice"):
        build_registry([xnli, xnli])
    with pytest.raises(KeyError, match="did you mean 'xnli'"):
        get_task("xnlii")
    assert get_task("wikiann").labels[0] == "O"
