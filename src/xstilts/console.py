"""The one way xstilts makes a rich console, with one width policy.

Width: a terminal's own width; when output goes to a file, a pipe or a CI log, $COLUMNS if set,
else 100 columns (rich would assume 80 there, and fixed wider consoles break paths mid-word
in an 80- or 100-column viewer). Tables that would not fit switch to a condensed layout
(report/alignment.py) rather than growing past the width. Task names such as 'nusax:bug'
print as written (rich would otherwise read ':bug:' as an emoji code).
"""

from __future__ import annotations

import os
import sys

from rich.console import Console, ConsoleDimensions

FILE_WIDTH = 100  # columns when output is not a terminal and $COLUMNS is not set


def console_width(stream=None) -> int | None:
    """None on a terminal (rich follows its size as it changes); else $COLUMNS, else FILE_WIDTH."""
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):  # a closed or stream-less file object
        pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else FILE_WIDTH


class _Console(Console):
    """Applies the policy at every print, to the stream printed to then (a console made at import
    follows a later redirect or $COLUMNS, as a test runner's)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        width = console_width(self.file)
        return size if width is None else ConsoleDimensions(width, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        # rich's Console.size read on the class is the property object; mypy types it as the getter
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def make_console(**kwargs) -> Console:
    """A console with the width policy above: every console of a process is as wide as the
    others, so lines and tables wrap at one place."""
    return _Console(emoji=False, **kwargs)
