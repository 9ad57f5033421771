"""The `xstilts` command line: the app, its global options, and where each command lives
(cli_tools: one phase at a time; cli_study: a study; cli_data: the data root). No logic lives here."""

from __future__ import annotations

from typing import Annotated

import typer
import typer.rich_utils

from . import cli_study, cli_tools
from .cli_common import _state
from .cli_data import data_app
from .console import console_width

app = typer.Typer(
    help="Cross-lingual intermediate-task training (STILTs) for multilingual encoders, evaluated on "
         "XTREME-R. Data is read from --data-root or $XSTILTS_DATA; results go to a SQLite store in "
         "~/.local/share/xstilts (or --store URL).",
    no_args_is_help=True, pretty_exceptions_show_locals=False, rich_markup_mode="markdown",
)
typer.rich_utils.MAX_WIDTH = console_width()  # --help too (typer's own console would take 80 in a pipe)

for tool in (cli_tools.align, cli_tools.finetune, cli_tools.evaluate):
    app.command()(tool)
app.add_typer(cli_tools.tasks_app, name="tasks")
for command in (cli_study.validate, cli_study.plan, cli_study.run, cli_study.recommend, cli_study.report):
    app.command()(command)
app.command("export")(cli_study.export)
app.add_typer(data_app, name="data")


def _print_version(value: bool) -> None:
    if value:
        from .provenance import package_version

        print(f"xstilts {package_version()}")
        raise typer.Exit()


@app.callback()
def _main(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback of any error (otherwise one line and a hint).")] = False,
          version: Annotated[bool, typer.Option(
              "--version", callback=_print_version, is_eager=True,
              help="Print the installed xstilts version and exit.")] = False) -> None:
    _state["debug"] = debug


def main() -> None:  # pragma: no cover - console entry
    app()
