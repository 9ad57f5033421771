"""What of the catalog is under a data root, and how many examples each split holds.

Counting uses each format's fast counter (lines or blocks; SQuAD JSON is loaded once), so a
full inventory of the data root takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xstilts.paths import data_root as default_data_root
from xstilts.data import formats
from xstilts.data.catalog import all_datasets, local_paths
from xstilts.data.entries import DatasetEntry


@dataclass(frozen=True)
class DatasetStatus:
    name: str
    roles: tuple[str, ...]
    format: str
    languages: int
    splits: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)  # split -> examples over its present files
    files_present: int = 0
    files_total: int = 0

    @property
    def status(self) -> str:
        if self.files_present == self.files_total:
            return "present"
        return "missing" if self.files_present == 0 else "partial"

    def as_dict(self) -> dict:
        return {"name": self.name, "roles": list(self.roles), "format": self.format, "languages": self.languages,
                "splits": list(self.splits), "counts": self.counts, "status": self.status,
                "files_present": self.files_present, "files_total": self.files_total}


def dataset_status(entry: DatasetEntry, data_root: str | Path | None = None) -> DatasetStatus:
    counter = formats.get_format(entry.format).count
    counts, present = {s: 0 for s in entry.splits}, 0
    for f in entry.files:
        paths = local_paths(entry, f, data_root)
        if all(p.is_file() for p in paths):
            present += 1
            counts[f.split] += counter(paths)
    return DatasetStatus(entry.name, entry.roles, entry.format, len(entry.languages), entry.splits,
                         counts, present, len(entry.files))


def inventory(data_root: str | Path | None = None) -> list[DatasetStatus]:
    root = default_data_root(data_root)
    return [dataset_status(e, root) for e in all_datasets()]
