"""Hugging Face datasets as a source: one split of one dataset, read through `datasets`.

A hub dataset is pinned to a revision (a commit), so its rows cannot change under a study;
`datasets` keeps its local cache and honours offline mode (HF_DATASETS_OFFLINE=1). A local
folder needs no revision: one written by `save_to_disk`, or data files `datasets` recognises
(a parquet folder); its files are hashed like any other data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.data.mapped import Row
from xstilts.errors import MissingDataError


@dataclass(frozen=True)
class HFRef:
    """One split of a Hugging Face dataset: a hub name at a revision, or a local folder."""

    name: str
    split: str
    config: str | None = None
    revision: str | None = None

    @property
    def local(self) -> Path | None:
        path = Path(self.name)
        return path if path.is_absolute() else None

    def files(self) -> tuple[Path, ...]:
        """The local folder's files (what its content hash covers); none for a hub dataset."""
        if self.local is None or not self.local.is_dir():
            return ()
        return tuple(sorted(p for p in self.local.rglob("*") if p.is_file() and ".cache" not in p.parts))

    def __str__(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        return f"hf:{self.name}{f'/{self.config}' if self.config else ''}{at}[{self.split}]"


def _load(ref: HFRef) -> Any:
    import datasets

    local = ref.local
    if local is not None:
        if not local.exists():
            raise MissingDataError(f"{local} is missing (a Hugging Face dataset folder)")
        if (local / "dataset_dict.json").is_file() or (local / "state.json").is_file():
            data = datasets.load_from_disk(str(local))
            if isinstance(data, datasets.DatasetDict):
                if ref.split not in data:
                    raise MissingDataError(f"{local} has no split '{ref.split}' (it has {', '.join(data)})")
                data = data[ref.split]
            return data
        return datasets.load_dataset(str(local), ref.config, split=ref.split)
    return datasets.load_dataset(ref.name, ref.config, revision=ref.revision, split=ref.split)


def rows(ref: HFRef) -> list[Row]:
    """The split's rows as (where, row number, values); class-label ids become their names, so a
    mapping reads labels and tags as text like any file's."""
    try:
        data = _load(ref)
    except MissingDataError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds (offline, not found, bad config)
        raise MissingDataError(f"{ref}: cannot load it through `datasets`: {type(e).__name__}: {e}".splitlines()[0]
                               + " (offline? HF_DATASETS_OFFLINE=1 reads only the local cache)") from None
    names = {}
    for column, feature in data.features.items():
        inner = getattr(feature, "feature", feature)  # Sequence(ClassLabel) or a list of ClassLabel
        if isinstance(feature, list):
            inner = feature[0]
        if hasattr(inner, "int2str"):
            names[column] = inner.int2str
    where = Path(str(ref))
    out: list[Row] = []
    for i, row in enumerate(data):
        for column, to_name in names.items():
            value = row[column]
            row[column] = [to_name(v) for v in value] if isinstance(value, list) else to_name(value)
        out.append((where, i + 1, row))
    return out
