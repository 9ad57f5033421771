"""A table as data (title, columns, rows, caption), rendered by the terminal (`to_rich`) and the
HTML report alike, so every table is built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table

TEXT_COLUMNS = {"condition", "kind", "minus", "task"}  # left-aligned; the others hold numbers


@dataclass
class Grid:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    breaks: set[int] = field(default_factory=set)  # a rule after these row indices
    signed: bool = True  # cells are differences: colour them by sign in HTML


def to_rich(grid: Grid) -> Table:
    table = Table(title=grid.title, caption=grid.caption, caption_justify="left")
    for col in grid.columns:
        table.add_column(col, justify="left" if col in TEXT_COLUMNS else "right", overflow="fold")
    for i, row in enumerate(grid.rows):
        table.add_row(*row, end_section=i in grid.breaks)
    return table
