"""Reading a task's sources into typed examples, with their filters and a content hash."""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from xstilts.data import catalog
from xstilts.data.examples import example_texts
from xstilts.provenance import files_sha256, stable_hash
from xstilts.tasks.schema import Source


def normalise(text: str) -> str:
    """The form texts are compared in (NFKC, casefolded, whitespace collapsed)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def in_half(uid: str, half: str) -> bool:
    """A fixed split of a set into two halves by the ids' sha256 (order and machine independent)."""
    return (hashlib.sha256(uid.encode()).digest()[0] % 2 == 0) == (half == "select")


def source_paths(source: Source, data_root: str | Path | None) -> list[Path]:
    """The files a source reads, the excluded datasets' included (their content changes the result)."""
    wanted = [(source.dataset, source.split, source.lang)]
    wanted += [x for x in (source.exclude_contexts_of, source.exclude_texts_of) if x]
    return [p for d, s, lang in wanted for f in catalog.dataset_files(d, s, lang)
            for p in catalog.local_paths(d, f, data_root)]


def read_source(source: Source, data_root: str | Path | None) -> list:
    """A source's examples after its filters. Memoised per process on the files' size, mtime,
    ctime and inode (a study reads the same evaluation sets in hundreds of nodes): any change
    made to a file through the file system, its mtime restored or not, reads it again."""
    stamp = tuple((str(p), *_stat(p)) if p.is_file() else (str(p),) for p in source_paths(source, data_root))
    return list(_read_source(source, str(data_root) if data_root else None, stamp))


def _stat(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


@functools.lru_cache(maxsize=128)
def _read_source(source: Source, data_root: str | None, _stamp: tuple) -> tuple:
    examples = catalog.read(source.dataset, source.split, source.lang, data_root)
    if source.answerable_only:
        examples = [ex for ex in examples if not ex.is_impossible and ex.answers]
    if source.exclude_contexts_of:
        banned = {ex.context for ex in catalog.read(*source.exclude_contexts_of, data_root)}
        examples = [ex for ex in examples if ex.context not in banned]
    if source.half:
        examples = [ex for ex in examples if in_half(ex.uid, source.half)]
    if source.exclude_texts_of:
        banned = {normalise(t) for ex in catalog.read(*source.exclude_texts_of, data_root) for t in example_texts(ex)}
        examples = [ex for ex in examples if not any(normalise(t) in banned for t in example_texts(ex))]
    return tuple(examples)


def _hf_refs(sources: Sequence[Source]) -> list[str]:
    """The Hugging Face splits sources read (a hub split is identified by name, config, revision)."""
    return [str(f.hf) for s in sources for f in catalog.dataset_files(s.dataset, s.split, s.lang) if f.hf]


def sources_hash(sources: Sequence[Source], data_root: str | Path | None, limit: int | None = None) -> str:
    """sha256 of the files read, the filters applied and the example limit."""
    files = files_sha256([p for s in sources for p in source_paths(s, data_root)])
    hf = _hf_refs(sources)
    return stable_hash({"files": files, "sources": list(sources), "limit": limit, **({"hf": hf} if hf else {})})


def files_hash(sources: Sequence[Source], data_root: str | Path | None) -> str:
    """sha256 of the files sources read (and of their Hugging Face splits): a probe row's data hash."""
    files = files_sha256([p for s in sources for p in source_paths(s, data_root)])
    hf = _hf_refs(sources)
    return stable_hash({"files": files, "hf": hf}) if hf else files


def _id_order(uid: str) -> tuple:
    return (0, int(uid), "") if uid.isdigit() else (1, 0, uid)


def id_texts(sources: Sequence[Source], data_root: str | Path | None) -> dict[str, str]:
    """id -> text of the sources' examples (one language of an id-aligned bitext task)."""
    return {ex.uid: ex.text_a for s in sources for ex in read_source(s, data_root)}


def common_ids(texts: Sequence[dict[str, str]]) -> list[str]:
    """The ids every language has, in numeric (else text) order."""
    return sorted(set.intersection(*(set(t) for t in texts)), key=_id_order)


def read_sources(sources: Sequence[Source], data_root: str | Path | None, limit: int | None = None) -> list:
    """All sources' examples in order, then the first `limit` of them."""
    examples = [ex for s in sources for ex in read_source(s, data_root)]
    return examples[:limit] if limit else examples
