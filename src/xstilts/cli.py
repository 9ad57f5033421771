"""The `xstilts` command line: parses options, then calls the library. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .data.cli import data_app
from .errors import XstiltsError

app = typer.Typer(
    help="Cross-lingual intermediate-task training (STILTs) for multilingual encoders, evaluated on "
         "XTREME-R. Data is read from --data-root or $XSTILTS_DATA; results go to a SQLite store in "
         "~/.local/share/xstilts (or --store URL).",
    no_args_is_help=True, pretty_exceptions_show_locals=False,
)
app.add_typer(data_app, name="data")
# Wide tables stay readable when output goes to a file or CI log (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 160)

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder with one sub-folder per dataset (default: $XSTILTS_DATA).")]
StoreUrl = Annotated[Optional[str], typer.Option(
    "--store", help="Results database URL (default: sqlite file in ~/.local/share/xstilts; any "
                    "SQLAlchemy URL, e.g. postgresql://...).")]
Model = Annotated[str, typer.Option(
    "--model", "-m", help="'me5-small' (bundled, offline), a local transformers directory, or a hub id "
                          "such as xlm-roberta-large.")]


def _fail(e: Exception) -> None:
    console.print(f"[bold red]error:[/] {e}")
    raise typer.Exit(code=2)


@app.command()
def align(
    model: Model = "me5-small",
    tasks: Annotated[str, typer.Option(help="Comma list of probes: tatoeba, flores, lareqa.")] = "tatoeba,flores",
    layers: Annotated[str, typer.Option(
        help="'last', 'middle', 'all' (0 = embeddings ... L) or a comma list such as 4,8,-1. "
             "All layers come from one encoding pass.")] = "last",
    pooling: Annotated[str, typer.Option(help="Sentence vector: 'mean' over tokens or the 'cls' token.")] = "mean",
    prefix: Annotated[Optional[str], typer.Option(
        help="Text put before every sentence. Default: the model's own ('query: ' for me5-small, "
             "as its model card asks for symmetric tasks; none otherwise). Use '' for none.")] = None,
    scorer: Annotated[str, typer.Option(
        help="'cosine' (XTREME's protocol) or 'margin' (ratio margin over k neighbours, "
             "Artetxe & Schwenk 2019).")] = "cosine",
    margin_k: Annotated[int, typer.Option(help="Neighbours for margin scoring.")] = 4,
    tatoeba_langs: Annotated[str, typer.Option(
        help="'xtreme' (XTREME's 36), 'all' (112) or a comma list of ISO 639-3 codes.")] = "xtreme",
    flores_langs: Annotated[str, typer.Option(
        help="'all' (SIB-200's 47), 'low' (the low-resource ones) or a comma list of codes like swh_Latn.")] = "all",
    flores_pairs: Annotated[str, typer.Option(
        help="Extra xx->yy FLORES pairs, e.g. 'quy_Latn:spa_Latn,hau_Latn:fra_Latn'.")] = "",
    flores_sentences: Annotated[Optional[int], typer.Option(
        help="Use only the first N aligned FLORES sentences (default: all 1,004).")] = None,
    max_length: Annotated[int, typer.Option(help="Tokens per sentence before truncation.")] = 128,
    device: Annotated[str, typer.Option(help="'cpu', 'cuda', 'cuda:1', ...")] = "cpu",
    data_root: DataRoot = None,
    store: StoreUrl = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result rows to this JSON file.")] = None,
) -> None:
    """How well aligned is an encoder across languages, per language and per layer?

    Sentences are embedded (pooled hidden states of the chosen layers), each retrieves its
    translation by nearest neighbour, and accuracy is reported in both directions. Every row
    is stored with its full protocol (model and weights hash, layer, pooling, prefix, scorer,
    data hash), so reruns overwrite rather than duplicate.

    Example: xstilts align --model me5-small --tasks tatoeba,flores --layers all
    """
    from .experiments.align import run_alignment

    try:
        run_alignment(
            model=model, tasks=[t.strip() for t in tasks.split(",") if t.strip()], layers=layers, pooling=pooling,
            prefix=prefix, scorer=scorer, margin_k=margin_k, tatoeba_langs=tatoeba_langs,
            flores_langs=flores_langs, flores_pairs=flores_pairs, flores_sentences=flores_sentences,
            max_length=max_length, device=device, data_root=data_root, store_url=store, json_out=json_out,
            console=console,
        )
    except (XstiltsError, ValueError, KeyError) as e:
        _fail(e)


def main() -> None:  # pragma: no cover - console entry
    app()
