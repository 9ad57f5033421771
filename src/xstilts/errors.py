"""Errors a user can act on: each names the file, line and field that is wrong."""

from __future__ import annotations

from pathlib import Path


class XstiltsError(Exception):
    """Base class: the CLI prints these without a traceback."""


class BadValue(XstiltsError, ValueError):
    """A value the user gave (a spec field, an option, a task file entry, a data file's content) that
    cannot be used. A ValueError too, so pydantic validators and `except ValueError` keep working."""


class UnknownName(XstiltsError, KeyError):
    """A name (task, probe, dataset, language, format) no registry holds; FIELD, where set, is the
    spec field it belongs in. A KeyError too, for the lookups that catch one."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


class DataFormatError(XstiltsError):
    """A data file does not follow its declared format."""

    def __init__(self, path: str | Path, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


class MissingDataError(XstiltsError):
    """A dataset (or one of its files) is not under the data root."""


class ModelLoadError(XstiltsError):
    """A model source is missing, corrupt or truncated."""


class ModelUnavailable(ModelLoadError):
    """A hub model neither in the Hugging Face cache nor reachable: the machine's state, not the spec's."""


class DataIntegrityError(XstiltsError):
    """A catalogued file is not the one the catalog recorded: changed, truncated or replaced."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class PlaceholderGoldError(XstiltsError):
    """An evaluation file's golds are blank or placeholders, so any score on it would be meaningless."""

    def __init__(self, path: str | Path, what: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {what}: placeholder golds, not real ones (XTREME blanks the golds of its "
                         "test sets); refusing to use them: replace the file with a labelled copy")


class CorruptArtefactError(ModelLoadError):
    """A file xstilts wrote (converted model, phase-2 encoder, checkpoint) no longer matches the
    checksum recorded when it was written: truncated, overwritten or deleted."""

    def __init__(self, path: str | Path, problem: str, rebuild: str | Path, then: str | None = None):
        self.path, self.problem, self.rebuild = str(path), problem, str(rebuild)
        super().__init__(f"file {self.path} is {problem}: delete {self.rebuild} to rebuild it"
                         + (f"; {then}" if then else ""))


class StoreError(XstiltsError):
    """The results store cannot be opened or written: bad URL, missing driver, no permission."""


class DiskFullError(XstiltsError):
    """A write failed because the disk is full (ENOSPC)."""


class Interrupted(XstiltsError):
    """The user stopped a run (Ctrl-C); the message says where."""
