"""The data catalog: the registry of dataset entries (the built-in ones of entries.py, and a
user's), and the one way to read a catalogued split: checked against the recorded example
count, golds and sha256 before anything uses it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Mapping
import contextlib
from pathlib import Path
from typing import Any

from xstilts.errors import BadValue, DataFormatError, MissingDataError, UnknownName
from xstilts.paths import data_root as default_data_root
from xstilts.scoped import Scoped
from xstilts.data import aligned, formats, integrity, mapped  # aligned and mapped register their formats
from xstilts.data import readers  # noqa: F401  (imported to register the official label formats)
from xstilts.data.entries import ENTRIES, DataFile, DatasetEntry
from xstilts.data.examples import BitextExample, Candidate, RetrievalQAExample
from xstilts.data.hf import rows as hf_rows
from xstilts.data.languages import LAREQA_LANGS


# ---- registry ---------------------------------------------------------------------------


def build_registry(entries: Iterable[DatasetEntry]) -> dict[str, DatasetEntry]:
    """Name -> entry; a duplicate name or an unregistered format is an error at import."""
    registry: dict[str, DatasetEntry] = {}
    for e in entries:
        if e.name in registry:
            raise BadValue(f"dataset '{e.name}' is defined twice")
        formats.get_format(e.format)
        registry[e.name] = e
    return registry


# the built-in datasets, fixed; those of the user's tasks in scope are added for a block (scoped.py)
_DATASETS = Scoped("xstilts_user_datasets", build_registry(ENTRIES), lambda name: f"dataset '{name}' is built in")
REGISTRY = _DATASETS.builtin


def datasets() -> Mapping[str, DatasetEntry]:
    """Every dataset known here: the built-in ones and those of the user's tasks in scope."""
    return _DATASETS.known()


def user_datasets(entries: Iterable[DatasetEntry]) -> contextlib.AbstractContextManager[None]:
    """ENTRIES known inside the block (each checked: its format must be registered)."""
    entries = list(entries)
    for entry in entries:
        formats.get_format(entry.format)
    return _DATASETS.adding((e.name, e) for e in entries)


def get_dataset(name: str) -> DatasetEntry:
    known = datasets()
    if name not in known:
        raise UnknownName(f"unknown dataset '{name}'{formats.did_you_mean(name, known)}")
    return known[name]


def all_datasets() -> tuple[DatasetEntry, ...]:
    return tuple(datasets().values())


def _entry(entry_or_name: DatasetEntry | str) -> DatasetEntry:
    return get_dataset(entry_or_name) if isinstance(entry_or_name, str) else entry_or_name


def dataset_files(entry: DatasetEntry | str, split: str | None = None, lang: str | None = None) -> tuple[DataFile, ...]:
    """The entry's files, filtered by split and/or language; an unknown one is an error."""
    entry = _entry(entry)
    for value, known, what in ((split, entry.splits, "split"), (lang, entry.languages, "language")):
        if value is not None and value not in known:
            raise UnknownName(f"{entry.name} has no {what} '{value}'{formats.did_you_mean(value, known)}",
                              field="langs" if what == "language" else None)
    return tuple(f for f in entry.files if split in (None, f.split) and lang in (None, f.lang))


def local_paths(entry: DatasetEntry | str, f: DataFile, data_root: str | Path | None = None) -> tuple[Path, ...]:
    entry = _entry(entry)
    return tuple(default_data_root(data_root) / entry.dir / p for p in f.paths)


def _present(entry: DatasetEntry, split: str, lang: str, data_root: str | Path | None) -> tuple[DataFile, tuple[Path, ...]]:
    """The file entry of one split and language and its local paths, which must exist."""
    files = dataset_files(entry, split, lang)
    if not files:
        raise UnknownName(f"{entry.name} has no {split} split for '{lang}'")
    paths = local_paths(entry, files[0], data_root)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise MissingDataError(f"{missing[0]} {_why_unreadable(missing[0])}; run `xstilts data fetch {entry.name}`")
    return files[0], paths


def _why_unreadable(path: Path) -> str:
    """'is missing', or what else keeps a path that is there from being read as a file."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (RuntimeError, OSError) as e:  # Python < 3.13 raises RuntimeError for a loop, later ELOOP
            if isinstance(e, RuntimeError) or e.errno == errno.ELOOP:
                return f"is a symlink loop ({path} -> {os.readlink(path)}): replace the link with the file"
            return f"is a symlink to {os.readlink(path)}, which does not exist"
    if path.exists():
        return "is not a file"
    return "is missing"


def _checked(entry: DatasetEntry, f: DataFile, paths: tuple[Path, ...], read_all: Callable[[], Any],
             examples: Callable[[Any], list] = lambda r: r) -> Any:
    """Read a catalogued file whole, then refuse it unless it is what the catalog recorded: the
    example count, real golds (unless the split has none by design), the sha256. A file that
    fails to parse and differs from the recorded one is reported as changed, with the reason."""
    hashed = {f"{entry.dir}/{rel}": p for rel, p in zip(f.paths, paths)}
    where = paths[0] if paths else Path(str(f.hf))
    hint = f"fetch it again: xstilts data fetch {entry.name} --force"
    try:
        result = read_all()
    except DataFormatError as e:
        integrity.check_sha256(hashed, hint, because=e)
        raise
    found = examples(result)
    integrity.check_count(integrity.count_key(entry.name, f.split, f.lang), where, len(found), hint)
    if f.split not in entry.unlabelled:
        integrity.check_golds(where, found)
    integrity.check_sha256(hashed, hint)
    return result


def read(entry_or_name: DatasetEntry | str, split: str, lang: str, data_root: str | Path | None = None) -> list:
    """All examples of one split and language, as typed examples (see readers.py and aligned.py), checked
    against the catalog's recorded count, golds and sha256 before they are returned."""
    entry = _entry(entry_or_name)
    f, paths = _present(entry, split, lang, data_root)
    if (hf := f.hf) is not None:
        return _checked(entry, f, (), lambda: formats.nonempty(
            mapped.examples(hf_rows(hf), dict(entry.fields), entry.labels), Path(str(hf)), lang))
    fmt = formats.get_format(entry.format)
    options = {"fields": dict(entry.fields)} if "fields" in fmt.options else {}
    return _checked(entry, f, paths, lambda: fmt.read(paths, entry.labels, lang, **options))


# ---- helpers for the alignment and retrieval code ---------------------------------------


def tatoeba_pairs(lang: str, data_root: str | Path | None = None) -> list[BitextExample]:
    """Tatoeba test pairs of one language (ISO 639-3 code): source = xx, target = English."""
    return read("tatoeba", "test", lang, data_root)


def flores_sentences(data_root: str | Path | None = None, langs: Iterable[str] | None = None
                     ) -> dict[str, dict[int, str]]:
    """SIB-200's FLORES sentences, language -> index_id -> text, over train, dev and test;
    the same index_id is the same sentence in every language (1,004 per language).
    `langs` reads only those languages (all 47 by default); an unknown one raises KeyError."""
    entry = get_dataset("sib200")
    wanted = entry.languages if langs is None else tuple(langs)
    unknown = [lang for lang in wanted if lang not in entry.languages]
    if unknown:
        raise UnknownName(f"FLORES/SIB-200 has no language {unknown}; available: {', '.join(entry.languages)}")
    return {lang: {int(x.uid): x.text_a for split in entry.splits for x in read(entry, split, lang, data_root)}
            for lang in wanted}


def bucc(lang: str, split: str = "dev", data_root: str | Path | None = None, dataset: str = "bucc2018"
         ) -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """Both sides of a BUCC pair (id -> sentence, every sentence, not only the gold ones) and
    its gold (source id, target id) pairs, checked like any catalogued read."""
    entry = get_dataset(dataset)
    f, paths = _present(entry, split, lang, data_root)
    return _checked(entry, f, paths, lambda: aligned.read_bucc_sides(paths), examples=lambda r: r[2])


def lareqa(lang: str, data_root: str | Path | None = None, dataset: str = "lareqa"
           ) -> tuple[list[RetrievalQAExample], list[Candidate]]:
    """One XQuAD-R language: its questions (answer = the sentence holding the answer) and all
    its sentences as candidates."""
    entry = get_dataset(dataset)
    f, paths = _present(entry, "test", lang, data_root)
    return _checked(entry, f, paths, lambda: aligned.read_lareqa(paths[0], lang), examples=lambda r: r[0])


def lareqa_pool(data_root: str | Path | None = None, langs: Iterable[str] = LAREQA_LANGS, dataset: str = "lareqa"
                ) -> tuple[dict[str, list[RetrievalQAExample]], list[Candidate]]:
    """LAReQA as XTREME-R scores it: questions per language, each with its answer sentence in
    every language (questions are parallel by id), against the pooled candidates of all languages."""
    per_lang = {lang: lareqa(lang, data_root, dataset) for lang in langs}
    answers: dict[str, list[str]] = {}
    for qs, _ in per_lang.values():
        for q in qs:
            answers.setdefault(q.uid, []).extend(q.answer_ids)
    questions = {lang: [RetrievalQAExample(q.uid, q.question, tuple(answers[q.uid])) for q in qs]
                 for lang, (qs, _) in per_lang.items()}
    return questions, [c for _, cands in per_lang.values() for c in cands]
