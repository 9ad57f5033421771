"""`xstilts data ...`: list the catalog against a data root, and fetch datasets.

A typer sub-app; the main CLI mounts it as `data`. Only parsing and printing live here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from xstilts.errors import XstiltsError
from xstilts.paths import data_root as default_data_root
from xstilts.data.fetch import fetch as fetch_dataset
from xstilts.data.inventory import inventory
from xstilts.console import make_console

data_app = typer.Typer(help="The benchmark datasets: what is under the data root, and fetching them from "
                            "their official sources.", no_args_is_help=True)

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder holding one sub-folder per dataset (default: $XSTILTS_DATA, "
                        "else ~/.local/share/xstilts/data).")]
STATUS_STYLE = {"present": "green", "partial": "yellow", "missing": "red"}


@data_app.command("list")
def list_(data_root: DataRoot = None,
          json_out: Annotated[Optional[Path], typer.Option(
              "--json", help="Also write the list as JSON to this file; '-' prints only the JSON, to standard "
                             "output.")] = None) -> None:
    """Every catalogued dataset: role, format, languages, splits, example counts per split and
    whether its files are present, missing or partial under the data root."""
    from xstilts.orchestration.export import emit, to_stdout

    root = default_data_root(data_root)
    rows = inventory(root)
    if json_out is not None:
        try:
            emit({"data_root": str(root), "datasets": [r.as_dict() for r in rows]}, json_out)
        except OSError as e:
            typer.secho(f"error: {e.strerror or e}: {e.filename or json_out}", fg="red", err=True)
            raise typer.Exit(2) from None
        if to_stdout(json_out):
            return
    table = Table(title=f"datasets under {root}")
    for col in ("dataset", "role", "format", "langs", "splits (examples)", "status"):
        table.add_column(col, justify="right" if col == "langs" else "left")
    for r in rows:
        splits = ", ".join(f"{s} {r.counts[s]:,}" if r.counts[s] else s for s in r.splits)
        status = f"[{STATUS_STYLE[r.status]}]{r.status}[/]" + (
            f" ({r.files_present}/{r.files_total})" if r.status == "partial" else "")
        table.add_row(r.name, "+".join(r.roles), r.format, str(r.languages), splits, status)
    make_console().print(table)


@data_app.command("fetch")
def fetch(name: Annotated[str, typer.Argument(help="Dataset name, as shown by `xstilts data list`.")],
          mirror: Annotated[Optional[str], typer.Option(
              "--mirror", help="Base URL laid out like the data root (<mirror>/<dataset>/<file>), used "
                               "instead of the official sources.")] = None,
          data_root: DataRoot = None,
          force: Annotated[bool, typer.Option("--force", help="Download again files already present.")] = False,
          ) -> None:
    """Download a dataset's files into the data root, resuming partial downloads and checking
    each file's sha256 against the checksums recorded in xstilts."""
    try:
        written = fetch_dataset(name, data_root, mirror=mirror, force=force)
    except (XstiltsError, KeyError) as e:
        typer.secho(f"error: {e.args[0] if isinstance(e, KeyError) else e}", fg="red", err=True)
        raise typer.Exit(2) from None  # like every command: 2 for what the user can fix (name, network, disk)
    typer.echo(f"{name}: {len(written)} file(s) fetched into {default_data_root(data_root)}")
