"""What `xstilts tasks show NAME` prints: a task's resolved files and example counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xstilts.data import catalog, integrity
from xstilts.errors import XstiltsError
from xstilts.tasks.schema import Source, TaskDef


@dataclass(frozen=True)
class FileLine:
    use: str  # train / dev / eval (what the task does with it)
    source: Source
    files: tuple[str, ...]  # local paths, or the Hugging Face split
    count: int | str  # examples, or why there is no count


def _count(s: Source, data_root: str | Path | None) -> int | str:
    """The recorded count of a catalogued file, else the examples read (a user's small files)."""
    recorded = integrity.load_counts().get(integrity.count_key(s.dataset, s.split, s.lang))
    if recorded is not None:
        return recorded
    try:
        return len(catalog.read(s.dataset, s.split, s.lang, data_root))
    except (XstiltsError, OSError) as e:
        return str(e).splitlines()[0]


def file_lines(task: TaskDef, data_root: str | Path | None = None) -> list[FileLine]:
    uses = [*(("train first", s) for s in task.train_first), *(("train", s) for s in task.train),
            *((("dev", task.dev),) if task.dev else ()), *(("eval", s) for s in task.eval)]
    out = []
    for use, s in uses:
        entry = catalog.get_dataset(s.dataset)
        files = []
        for f in catalog.dataset_files(entry, s.split, s.lang):
            files += [str(f.hf)] if f.hf else [str(p) for p in catalog.local_paths(entry, f, data_root)]
        out.append(FileLine(use, s, tuple(files), _count(s, data_root)))
    return out
