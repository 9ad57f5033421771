"""What every `xstilts` command shares: the console, the one-line error policy (`user_errors`) and
the options several commands take."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.markup import escape

from .console import make_console
from .errors import Interrupted, XstiltsError

# One width policy for every console of the process (console.py).
console = make_console()

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder with one sub-folder per dataset (default: $XSTILTS_DATA).")]
StoreUrl = Annotated[Optional[str], typer.Option(
    "--store", help="Results database URL (default: sqlite file in ~/.local/share/xstilts; any "
                    "SQLAlchemy URL, e.g. postgresql://...).")]
Model = Annotated[str, typer.Option(
    "--model", "-m", help="'me5-small' (bundled, offline), a local transformers directory, or a hub id "
                          "such as xlm-roberta-large.")]

LogWith = Annotated[Optional[str], typer.Option(
    "--log-with", help="Experiment tracking: 'tensorboard' (event files under each run's train/tensorboard/), "
                       "'wandb' or 'mlflow' (if installed), or a comma list; logs the run's config and every "
                       "step's loss, learning rate and dev score. Default: none ($XSTILTS_LOG_WITH).")]

_state = {"debug": False}


_WHERE = ("set XSTILTS_HOME (results, runs) or XSTILTS_CACHE (converted models, features) to a folder on a "
          "disk you can write, or pass --store / --work-dir")


def _explain(e: BaseException) -> tuple[str, str | None, int]:
    """(one line, hint, exit status) for an error reaching the user."""
    from sqlalchemy.exc import SQLAlchemyError

    from .diskfull import free_mb, is_disk_full

    if isinstance(e, XstiltsError):  # bad input; anything else the user did not cause
        return str(e), None, 2
    if is_disk_full(e):
        where = getattr(e, "filename", None)
        room = f" ({free_mb(where):,} MB free there)" if where else ""
        return f"the disk is full{f' writing {where}' if where else ''}{room}", f"free some space, or {_WHERE}", 2
    if isinstance(e, PermissionError):
        return f"permission denied: {e.filename or e}", _WHERE, 2
    if isinstance(e, OSError):
        return f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}", None, 2
    if isinstance(e, SQLAlchemyError):
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        return f"the results store failed: {reason}", "check --store (and that its folder is writable)", 2
    return f"internal error: {type(e).__name__}: {e}", "rerun with --debug for the traceback, and please report it", 1


@contextmanager
def user_errors():
    """Every error reaches the user as one red line (plus a hint where there is one), without a
    traceback unless --debug: exit status 2 for what the user can fix (input, store, permissions,
    full disk), 130 for Ctrl-C, 1 for an internal error."""
    try:
        yield
    except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise
    except Interrupted as e:
        console.print(f"[bold yellow]interrupted:[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(code=130) from None
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]")
        raise typer.Exit(code=130) from None
    except Exception as e:
        if _state["debug"]:
            raise
        line, hint, code = _explain(e)
        console.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
        if hint:
            console.print(f"[dim]hint: {escape(hint)}[/]", soft_wrap=True)
        raise typer.Exit(code=code) from None


JsonOut = Annotated[Optional[Path], typer.Option(
    "--json", help="Also write this command's result as JSON to this file; '-' writes only the JSON, to "
                   "standard output (the human-readable output goes to standard error).")]


@contextmanager
def _human_output(json_out: Path | None):
    """Everything printed inside (errors included) goes to standard error when the JSON goes to
    standard output (`--json -`), so that standard output holds the JSON alone; yields the real
    standard output, for the JSON."""
    from contextlib import nullcontext, redirect_stdout

    from .orchestration.export import to_stdout

    out = sys.stdout
    with redirect_stdout(sys.stderr) if to_stdout(json_out) else nullcontext():
        yield out
