"""`xstilts align`, `finetune`, `evaluate` and `tasks`: one phase or one lookup at a time, outside a
study. Parses options, then calls the library; `cli.py` registers the commands."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import ValidationError
from rich.markup import escape

from .errors import BadValue
from .training.hparams import HParams, Phase, Train, phase_of
from .cli_common import DataRoot, JsonOut, LogWith, Model, StoreUrl, _human_output, console, user_errors


TaskFiles = Annotated[Optional[list[Path]], typer.Option(
    "--tasks", help="A YAML file of your own tasks (README: Bring your own tasks); repeat for several.")]


@contextmanager
def _task_files(files: list[Path] | None) -> Iterator[None]:
    """The tasks of FILES (`--tasks`), known inside the block."""
    from .tasks.user import UserTasks, load_task_file

    loaded = UserTasks()
    for f in files or ():
        loaded += load_task_file(f)
    with loaded.scope():
        yield


def hparam_options(phase: Phase) -> list[inspect.Parameter]:
    """One command-line option per hyper-parameter of PHASE (unset: the recipe's), with its help."""
    out = []
    for name, f in HParams.model_fields.items():
        if phase_of(name) not in (None, phase):
            continue
        kind = next(a for a in typing.get_args(f.annotation) or (f.annotation,) if a is not type(None))
        kind = typing.get_args(kind)[0] if typing.get_origin(kind) is Annotated else kind
        option = typer.Option(f"--{name.replace('_', '-')}/--no-{name.replace('_', '-')}" if kind is bool
                              else f"--{name.replace('_', '-')}", help=f.description)
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Annotated[Optional[kind], option]))  # noqa: UP045 - a runtime type
    return out


def from_cli(values: dict[str, Any]) -> Train:
    """The layer the command-line options give (None: not given); a value out of bounds is bad input
    naming its option, as the spec names its field."""
    try:
        return Train(**values)
    except ValidationError as e:
        error = e.errors()[0]
        raise BadValue(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}") from None


def align(
    model: Model = "me5-small",
    tasks: Annotated[str, typer.Option(
        help="Comma list of probes (tatoeba, flores, lareqa, bucc, ...; `xstilts tasks --role probe`) and of "
             "YAML task files, whose probes are run.")] = "tatoeba,flores",
    protocol: Annotated[str, typer.Option(
        help="'alignment': the probe as an alignment measure, with the settings below. 'xtreme-r': the "
             "benchmark's own protocol, which fixes them: Tatoeba English queries, cosine, mean pooling of "
             "layer 7 of 12 (13 of 24), 512 tokens; BUCC CLS pooling of layer 7, threshold from dev; LAReQA "
             "candidates with their paragraph. README: Retrieval protocols.")] = "alignment",
    layers: Annotated[Optional[str], typer.Option(
        help="'last', 'middle', 'all' (0 = embeddings ... L) or a comma list such as 4,8,-1. "
             "All layers come from one encoding pass. [alignment protocol; default: last]")] = None,
    pooling: Annotated[Optional[str], typer.Option(
        help="Sentence vector: 'mean' over tokens or the 'cls' token. [alignment protocol; default: mean]")] = None,
    prefix: Annotated[Optional[str], typer.Option(
        help="Text put before every sentence. Default: the model's own ('query: ' for me5-small, "
             "as its model card asks for symmetric tasks; none otherwise). Use '' for none.")] = None,
    scorer: Annotated[Optional[str], typer.Option(
        help="'cosine' (XTREME's) or 'margin' (ratio margin over k neighbours, Artetxe & Schwenk 2019). "
             "BUCC always mines by ratio margin. [alignment protocol; default: cosine]")] = None,
    margin_k: Annotated[Optional[int], typer.Option(
        help="Neighbours for margin scoring and mining (XTREME's 4). [default: 4]")] = None,
    tatoeba_langs: Annotated[str, typer.Option(
        help="'default' (XTREME-R's 41), 'xtreme' (XTREME's 36), 'all' (112) or a comma list of ISO 639-3 "
             "codes.")] = "default",
    flores_langs: Annotated[str, typer.Option(
        help="'all' (SIB-200's 47), 'low' (the low-resource ones) or a comma list of codes like swh_Latn.")] = "all",
    flores_pairs: Annotated[str, typer.Option(
        "--flores-pairs", "--pairs",
        help="Extra xx->yy pairs of the probes aligned by id (FLORES), e.g. 'quy_Latn:spa_Latn'.")] = "",
    max_sentences: Annotated[Optional[int], typer.Option(
        "--max-sentences", "--flores-sentences",
        help="Use only the first N sentences (pairs, questions) per language of each probe (default: all).")] = None,
    max_length: Annotated[Optional[int], typer.Option(
        help="Tokens per sentence before truncation. [alignment protocol; default: 128]")] = None,
    device: Annotated[str, typer.Option(help="'cpu', 'cuda', 'cuda:1', ...")] = "cpu",
    data_root: DataRoot = None,
    store: StoreUrl = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the result rows to this JSON file.")] = None,
) -> None:
    """How well aligned is an encoder across languages, per language and per layer?

    Sentences are embedded (pooled hidden states of the chosen layers), each retrieves its
    translation by nearest neighbour, and accuracy is reported in both directions (BUCC: pairs
    are mined and scored by F1). Every row is stored with its full protocol (model and weights
    hash, layer, pooling, prefix, scorer, data hash), so reruns overwrite rather than duplicate.

    The alignment protocol (default) is a measure for comparing encoders and layers; only
    `--protocol xtreme-r` gives the figure XTREME-R publishes (Tatoeba: English queries).

    Examples:
      xstilts align --tasks tatoeba,flores,bucc --layers all
      xstilts align --tasks tatoeba --protocol xtreme-r
    """
    from .recipes.align import run_alignment

    with user_errors():
        run_alignment(
            model=model, tasks=[t.strip() for t in tasks.split(",") if t.strip()], protocol=protocol,
            layers=layers, pooling=pooling,
            prefix=prefix, scorer=scorer, margin_k=margin_k, langs={"tatoeba": tatoeba_langs, "flores": flores_langs},
            pairs=flores_pairs, max_sentences=max_sentences, max_length=max_length, device=device,
            data_root=data_root, store_url=store, json_out=json_out, console=console,
        )


Seed = Annotated[int, typer.Option(help="Seed for data order, head initialisation and dropout.")]


def finetune(
    task: Annotated[str, typer.Option("--task", "-t", help="Target task: xnli, xcopa, udpos, wikiann, xquad, mlqa, "
                                                          "tydiqa, lareqa (see `xstilts tasks`).")],
    model: Model = "me5-small",
    seed: Seed = 1,
    eval_langs: Annotated[Optional[str], typer.Option(help="Comma list of evaluation languages (default: all).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option(help="Run directory (default: ~/.local/share/xstilts/runs/...).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run from its last checkpoint.")] = False,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    task_files: TaskFiles = None,
    log_with: LogWith = None,
    **hparams: Any,
) -> None:
    """Fine-tune on the task's English training data, select on English dev, then evaluate
    zero-shot in every language of the task; prints a per-language table and stores the rows.
    Every setting left out comes from the task's XTREME recipe (`xstilts tasks`); the resolved
    values are printed, saved in the run's finetune.json and recorded in every row.

    Example: xstilts finetune --model me5-small --task udpos --seed 1 --max-steps 300 --freeze-embeddings
    Several GPUs (data parallel, batch sizes stay global): torchrun --nproc_per_node 4 "$(which xstilts)" finetune ...
    """
    from .recipes.finetune import run_finetune
    from .tasks import get_task
    from .training.hparams import resolve

    with user_errors(), _task_files(task_files):
        hp = resolve(get_task(task).recipe, from_cli(hparams))
        from .training import tracking

        if log_with is not None:
            tracking.use(log_with)
        with tracking.run_context(f"{task} {model} seed {seed}", {"command": "finetune", "task": task, "model": model,
                                                                  "seed": seed, "hparams": hp.recorded()}):
            run_finetune(model, task, hp, seed=seed, out_dir=out_dir, data_root=data_root, store_url=store,
                         resume=resume, console=console, eval_langs=eval_langs.split(",") if eval_langs else None)


# one option per hyper-parameter of phase 3, derived from their declaration (training/hparams.py)
finetune.__signature__ = inspect.signature(finetune, eval_str=True).replace(parameters=[  # type: ignore[attr-defined]
    *(p for p in inspect.signature(finetune, eval_str=True).parameters.values()
      if p.kind is not inspect.Parameter.VAR_KEYWORD),
    *hparam_options("finetune")])


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A directory written by `xstilts finetune`.")],
    task: Annotated[Optional[str], typer.Option(help="Task to evaluate on (default: the one it was trained on; "
                                                     "e.g. an xquad run on mlqa).")] = None,
    eval_langs: Annotated[Optional[str], typer.Option(help="Comma list of languages (default: all).")] = None,
    max_eval_examples: Annotated[Optional[int], typer.Option(help="First N examples per language.")] = None,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    task_files: TaskFiles = None,
) -> None:
    """Evaluate a fine-tuned run zero-shot in every language of a task and store the rows."""
    from .recipes.finetune import run_evaluate

    with user_errors(), _task_files(task_files):
        run_evaluate(run_dir, task, data_root=data_root, store_url=store, max_eval_examples=max_eval_examples,
                     eval_langs=eval_langs.split(",") if eval_langs else None, console=console)


tasks_app = typer.Typer(help="The task catalog: built-in tasks and your own (--tasks FILE).", no_args_is_help=False)


@tasks_app.callback(invoke_without_command=True)
def tasks(ctx: typer.Context,
          role: Annotated[Optional[str], typer.Option(help="'target', 'intermediate' or 'probe'.")] = None,
          task_files: TaskFiles = None, json_out: JsonOut = None) -> None:
    """List the task catalog: built-in and user tasks, type, training data, evaluation languages, metrics."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = task_files
        return
    from rich.table import Table

    from .orchestration.export import emit, task_record, to_stdout
    from .tasks import all_tasks
    from .tasks.registry import BUILTIN

    with user_errors(), _task_files(task_files):  # the user's tasks are listed inside their scope
        with _human_output(json_out) as out:
            if json_out is not None:
                emit({"tasks": [task_record(t, builtin=t.name in BUILTIN) for t in all_tasks(role)]}, json_out,
                     stdout=out)
        if to_stdout(json_out):
            return
        listed = all_tasks(role)
    table = Table(title="tasks")
    for col in ("task", "role", "type", "trains on", "evaluates", "metrics", "from"):
        table.add_column(col)
    for t in listed:
        langs = t.languages
        table.add_row(t.name, ",".join(t.roles), t.type, " + ".join(f"{s.dataset}/{s.split}" for s in t.train),
                      f"{len(langs)} lang" + ("s" if len(langs) != 1 else "") + f" ({', '.join(langs[:6])}"
                      + ("…)" if len(langs) > 6 else ")"), ", ".join(t.metrics),
                      "built in" if t.name in BUILTIN else "yours")
    console.print(table)


@tasks_app.command("show")
def tasks_show(ctx: typer.Context, name: Annotated[str, typer.Argument(help="A task name.")],
               task_files: TaskFiles = None, data_root: DataRoot = None) -> None:
    """One task: its type, roles, version, source and licence, and every file it reads with its
    example count per split and language."""
    from rich.table import Table

    from .tasks import get_task
    from .tasks.describe import file_lines

    with user_errors(), _task_files([*(ctx.obj or []), *(task_files or [])]):
        t = get_task(name)
        lines = file_lines(t, data_root)
    console.print(f"[bold]{t.name}[/] {t.type}, role {', '.join(t.roles)}, version {t.version}"
                  + (f", pivot {t.pivot}" if t.pivot else ""))
    console.print(f"metrics {', '.join(t.metrics)} (main {t.main_score})" + (f"; labels {', '.join(t.labels)}" if t.labels else ""))
    for what, value in (("source", t.origin), ("licence", t.licence), ("notes", t.notes)):
        if value:
            console.print(f"{what}: {escape(value)}")
    table = Table(title=f"{t.name}: files")
    for col in ("use", "split", "language", "examples", "files"):
        table.add_column(col)
    for ln in lines:
        table.add_row(ln.use, ln.source.split_name, ln.source.lang,
                      f"{ln.count:,}" if isinstance(ln.count, int) else f"[red]{escape(ln.count)}[/]",
                      escape("\n".join(ln.files)))
    console.print(table)
