"""The one way xstilts makes a rich console: task names such as 'nusax:bug' print as
written (rich would otherwise read ':bug:' as an emoji code)."""

from __future__ import annotations

from rich.console import Console


def make_console(**kwargs) -> Console:
    return Console(emoji=False, **kwargs)
