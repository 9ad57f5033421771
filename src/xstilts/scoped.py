"""A registry of built-in entries, fixed, plus the user's entries known only inside a block: what
the task catalog and the data catalog are, so that a spec's own tasks are resolved once and two
studies in one process (a test run, a notebook) never see each other's. The block's entries live
in a ContextVar, never in the built-in mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Generic, TypeVar

from xstilts.errors import BadValue

T = TypeVar("T")


class Scoped(Generic[T]):
    def __init__(self, name: str, builtin: Mapping[str, T], refuse: Callable[[str], str]):
        self.builtin: Mapping[str, T] = MappingProxyType(dict(builtin))
        self._refuse = refuse  # the message for a user entry named like a built-in one
        self._user: ContextVar[Mapping[str, T]] = ContextVar(name, default=MappingProxyType({}))

    def known(self) -> Mapping[str, T]:
        """The built-in entries and the user's in scope."""
        user = self._user.get()
        return {**self.builtin, **user} if user else self.builtin

    @contextmanager
    def adding(self, entries: Iterable[tuple[str, T]]) -> Iterator[None]:
        """ENTRIES (name, entry) known inside the block, over those of any enclosing block (a later
        one of a name replaces an earlier one); a built-in name is refused."""
        scope = dict(self._user.get())
        for name, entry in entries:
            if name in self.builtin:
                raise BadValue(self._refuse(name))
            scope[name] = entry
        token = self._user.set(MappingProxyType(scope))
        try:
            yield
        finally:
            self._user.reset(token)
