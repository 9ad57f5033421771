"""The `xstilts` command line: parses options, then calls the library. No logic lives here."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
import typer.rich_utils
from rich.markup import escape

from .cli_data import data_app
from .errors import Interrupted, XstiltsError
from .console import console_width, make_console

app = typer.Typer(
    help="Cross-lingual intermediate-task training (STILTs) for multilingual encoders, evaluated on "
         "XTREME-R. Data is read from --data-root or $XSTILTS_DATA; results go to a SQLite store in "
         "~/.local/share/xstilts (or --store URL).",
    no_args_is_help=True, pretty_exceptions_show_locals=False, rich_markup_mode="markdown",
)
app.add_typer(data_app, name="data")
# One width policy for every console of the process (console.py).
console = make_console()
typer.rich_utils.MAX_WIDTH = console_width()  # --help too (typer's own console would take 80 in a pipe)

DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder with one sub-folder per dataset (default: $XSTILTS_DATA).")]
StoreUrl = Annotated[Optional[str], typer.Option(
    "--store", help="Results database URL (default: sqlite file in ~/.local/share/xstilts; any "
                    "SQLAlchemy URL, e.g. postgresql://...).")]
Model = Annotated[str, typer.Option(
    "--model", "-m", help="'me5-small' (bundled, offline), a local transformers directory, or a hub id "
                          "such as xlm-roberta-large.")]


_state = {"debug": False}


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


TaskFiles = Annotated[Optional[list[Path]], typer.Option(
    "--tasks", help="A YAML file of your own tasks (README: Bring your own tasks); repeat for several.")]


def _load_task_files(files: list[Path] | None) -> None:
    from .tasks.user import load_task_file

    for f in files or ():
        load_task_file(f)


@app.command()
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
    from .experiments.align import run_alignment

    with user_errors():
        run_alignment(
            model=model, tasks=[t.strip() for t in tasks.split(",") if t.strip()], protocol=protocol,
            layers=layers, pooling=pooling,
            prefix=prefix, scorer=scorer, margin_k=margin_k, langs={"tatoeba": tatoeba_langs, "flores": flores_langs},
            pairs=flores_pairs, max_sentences=max_sentences, max_length=max_length, device=device,
            data_root=data_root, store_url=store, json_out=json_out, console=console,
        )


Seed = Annotated[int, typer.Option(help="Seed for data order, head initialisation and dropout.")]
LogWith = Annotated[Optional[str], typer.Option(
    "--log-with", help="Experiment tracking: 'tensorboard' (event files under each run's train/tensorboard/), "
                       "'wandb' or 'mlflow' (if installed), or a comma list; logs the run's config and every "
                       "step's loss, learning rate and dev score. Default: none ($XSTILTS_LOG_WITH).")]


@app.command()
def finetune(
    task: Annotated[str, typer.Option("--task", "-t", help="Target task: xnli, xcopa, udpos, wikiann, xquad, mlqa, "
                                                          "tydiqa, lareqa (see `xstilts tasks`).")],
    model: Model = "me5-small",
    seed: Seed = 1,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps (default: the task's epochs).")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Passes over the English data (default: the recipe's).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (default: the task's XTREME recipe).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Examples per micro-batch (default: the recipe's).")] = None,
    grad_accum: Annotated[Optional[int], typer.Option(help="Micro-batches per optimizer step (default: the recipe's).")] = None,
    warmup_ratio: Annotated[Optional[float], typer.Option(help="Share of steps with a rising learning rate.")] = None,
    max_length: Annotated[Optional[int], typer.Option(help="Tokens per feature (default: the recipe's).")] = None,
    max_train_examples: Annotated[Optional[int], typer.Option(help="Use only the first N English examples.")] = None,
    max_eval_examples: Annotated[Optional[int], typer.Option(help="Evaluate on the first N examples per language.")] = None,
    eval_langs: Annotated[Optional[str], typer.Option(help="Comma list of evaluation languages (default: all).")] = None,
    eval_every: Annotated[Optional[int], typer.Option(
        help="Model selection on English dev (and a checkpoint) every N steps (default: 5 times per run).")] = None,
    max_dev_examples: Annotated[Optional[int], typer.Option(
        help="English dev examples per model-selection pass (default: 1,000).")] = None,
    freeze_embeddings: Annotated[Optional[bool], typer.Option(
        "--freeze-embeddings/--no-freeze-embeddings",
        help="Freeze the word embeddings (recorded): halves a CPU step for XLM-R-sized vocabularies.")] = None,
    gradient_checkpointing: Annotated[Optional[bool], typer.Option(
        help="Recompute activations in the backward pass: less memory, more compute, the same weights.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option(help="Run directory (default: ~/.local/share/xstilts/runs/...).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run from its last checkpoint.")] = False,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    task_files: TaskFiles = None,
    log_with: LogWith = None,
) -> None:
    """Fine-tune on the task's English training data, select on English dev, then evaluate
    zero-shot in every language of the task; prints a per-language table and stores the rows.
    Every setting left out comes from the task's XTREME recipe (`xstilts tasks`); the resolved
    values are printed, saved in the run's finetune.json and recorded in every row.

    Example: xstilts finetune --model me5-small --task udpos --seed 1 --max-steps 300 --freeze-embeddings
    Several GPUs (data parallel, batch sizes stay global): torchrun --nproc_per_node 4 "$(which xstilts)" finetune ...
    """
    from .experiments.finetune import run_finetune
    from .experiments.hparams import resolve
    from .experiments.spec import Train
    from .tasks import get_task

    with user_errors():
        _load_task_files(task_files)
        hp = resolve(get_task(task).recipe, Train(
            max_steps=max_steps, epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
            warmup_ratio=warmup_ratio, max_length=max_length, freeze_embeddings=freeze_embeddings,
            gradient_checkpointing=gradient_checkpointing, max_train_examples=max_train_examples, eval_every=eval_every, max_dev_examples=max_dev_examples,
            max_eval_examples=max_eval_examples))
        from .training import tracking

        if log_with is not None:
            tracking.use(log_with)
        with tracking.run_context(f"{task} {model} seed {seed}", {"command": "finetune", "task": task, "model": model,
                                                                  "seed": seed, "hparams": hp.model_dump()}):
            run_finetune(model, task, hp, seed=seed, out_dir=out_dir, data_root=data_root, store_url=store,
                         resume=resume, console=console, eval_langs=eval_langs.split(",") if eval_langs else None)


@app.command()
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
    from .experiments.finetune import run_evaluate

    with user_errors():
        _load_task_files(task_files)
        run_evaluate(run_dir, task, data_root=data_root, store_url=store, max_eval_examples=max_eval_examples,
                     eval_langs=eval_langs.split(",") if eval_langs else None, console=console)


tasks_app = typer.Typer(help="The task catalog: built-in tasks and your own (--tasks FILE).", no_args_is_help=False)
app.add_typer(tasks_app, name="tasks")


JsonOut = Annotated[Optional[Path], typer.Option(
    "--json", help="Also write this command's result as JSON to this file; '-' writes only the JSON, to "
                   "standard output (the human-readable output goes to standard error).")]


@contextmanager
def _human_output(json_out: Path | None):
    """Everything printed inside (errors included) goes to standard error when the JSON goes to
    standard output (`--json -`), so that standard output holds the JSON alone; yields the real
    standard output, for the JSON."""
    from contextlib import nullcontext, redirect_stdout

    from .experiments.export import to_stdout

    out = sys.stdout
    with redirect_stdout(sys.stderr) if to_stdout(json_out) else nullcontext():
        yield out


@tasks_app.callback(invoke_without_command=True)
def tasks(ctx: typer.Context,
          role: Annotated[Optional[str], typer.Option(help="'target', 'intermediate' or 'probe'.")] = None,
          task_files: TaskFiles = None, json_out: JsonOut = None) -> None:
    """List the task catalog: built-in and user tasks, type, training data, evaluation languages, metrics."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = task_files
        return
    from rich.table import Table

    from .experiments.export import emit, task_record, to_stdout
    from .tasks import all_tasks
    from .tasks.registry import BUILTIN

    with _human_output(json_out) as out, user_errors():
        _load_task_files(task_files)
        if json_out is not None:
            emit({"tasks": [task_record(t, builtin=t.name in BUILTIN) for t in all_tasks(role)]}, json_out,
                 stdout=out)
    if to_stdout(json_out):
        return
    table = Table(title="tasks")
    for col in ("task", "role", "type", "trains on", "evaluates", "metrics", "from"):
        table.add_column(col)
    for t in all_tasks(role):
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

    with user_errors():
        _load_task_files([*(ctx.obj or []), *(task_files or [])])
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


SpecPath = Annotated[Path, typer.Argument(help="A study spec (YAML), e.g. experiments/demo.yaml.", exists=True,
                                           dir_okay=False)]
Smoke = Annotated[bool, typer.Option(
    "--smoke", help="Every node of the spec through the same code paths on a tiny budget (2 steps of 4 examples, "
                    "32 training / 16 dev / 16 test examples per language, 100 sentences per probe language, "
                    "the first seed, or the first 3 where each seed trains its own phase-2 encoder, with at most 2 "
                    "nested fine-tuning seeds), into a results store and work folder of its own.")]
SpecModel = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="Run the spec with this model instead of its own (a hub id or a local directory).")]


@app.command()
def validate(spec: SpecPath, data_root: DataRoot = None, smoke: Smoke = False, model: SpecModel = None) -> None:
    """Check a study spec without running anything: schema (errors name file:line:field), every task
    and language name, the files each node reads, MLM languages, translations, hyper-parameters that
    cannot be honoured, the plan, and the overlap guard (no intermediate training on text a target
    of the same study evaluates on)."""
    from .experiments.plan import validate as validate_spec

    with user_errors():
        plan = validate_spec(spec, data_root=data_root, smoke=smoke, model=model, offline_ok=True)
    kinds = {}
    for n in plan.nodes.values():
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    from .experiments.power import power_lines

    for w in plan.warnings:
        console.print(f"[yellow]{w}[/]")
    for line in power_lines(plan.spec):
        if "UNDER" in line or "unknown" in line or line.startswith("intermediate_seeds"):
            console.print(f"[yellow]warning: {line}[/]")
    console.print(f"[green]{spec} is valid[/]: " + ", ".join(f"{v} {k}" for k, v in kinds.items())
                  + f" nodes, about {plan.minutes:.0f} min on the default throughput")


RecordSpec = Annotated[Optional[Path], typer.Argument(
    help="A study spec (YAML); optional with --from DIR (the record's own spec.yaml).", exists=True,
    dir_okay=False, show_default=False)]
FromRecord = Annotated[Optional[Path], typer.Option(
    "--from", help="A published study: the folder `xstilts report SPEC --publish DIR` wrote (rows.json.gz, "
                   "spec.yaml, nodes.json), e.g. results/lowres-vs-english; its rows replace the store's.",
    file_okay=False)]


def _seed_list(value: Optional[str]) -> Optional[list[int]]:
    if value is None:
        return None
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a comma list of seeds, e.g. 1 or 2,3") from None
    if not seeds:
        raise typer.BadParameter("name at least one seed, e.g. --seeds 1")
    return seeds


Part = Annotated[Optional[str], typer.Option(
    "--seeds", callback=_seed_list, metavar="S[,S...]",
    help="Only the part of the study these units (phase-2 seeds of the spec) need: for a study too long for "
         "one sitting, run it part by part (`run --seeds 1`), publish each part (`report --seeds 1 --publish "
         "results/NAME/parts/seed-1`); `report --from results/NAME` merges the parts, refusing parts from "
         "other code or data. The untrained encoder's probes belong to the first seed's part.")]


Pilot = Annotated[Optional[Path], typer.Option(
    "--pilot", help="A published study (a folder `report --publish` wrote) whose rows give the variance the "
                    "power of this spec's primary comparisons is computed from.")]


@app.command()
def plan(spec: SpecPath, data_root: DataRoot = None, store: StoreUrl = None, smoke: Smoke = False,
         model: SpecModel = None, pilot: Pilot = None, seeds: Part = None, json_out: JsonOut = None) -> None:
    """Print a study's DAG (phase-2 encoders, probes, fine-tuning runs), each node's status in the
    results store, its estimated cost and its effective hyper-parameters, before anything runs; and,
    for the spec's declared primary comparisons, the power its units give for its margin and the
    units needed for 80%, from a pilot's variance (--pilot) or analysis.planning_sd.

    Example: xstilts plan experiments/lowres-vs-english.yaml --pilot results/lowres-vs-english-pilot"""
    from .experiments.export import emit, plan_record, to_stdout
    from .experiments.plan import render_plan, validate as validate_spec
    from .experiments.power import power_lines
    from .experiments.record import load_record
    from .experiments.storage import study_store_url
    from .store import ResultsStore

    with _human_output(json_out) as out, user_errors():
        p = validate_spec(spec, data_root=data_root, smoke=smoke, model=model, check_model=False, units=seeds)
        record = load_record(pilot) if pilot is not None else None
        url = study_store_url(p.spec, store, smoke)
        # plan creates nothing; a store named by hand must be there (a study not run yet has none)
        results = ResultsStore(url, read_only=True, must_exist=store is not None)
        power = power_lines(p.spec, record)
        if json_out is not None:
            emit({"spec": str(spec), **plan_record(p, results, power)}, json_out, stdout=out)
        if to_stdout(json_out):
            return
        console.print(render_plan(p, results))
        for line in power:
            console.print(f"[{'yellow' if 'UNDER' in line or 'unknown' in line else 'green'}]{line}[/]")


WorkDir = Annotated[Optional[Path], typer.Option(
    help="The study's folder: encoders, checkpoints, predictions, the report (default: the spec's "
         "`storage:`/<name>, else ~/.local/share/xstilts/studies/<name>). On a Ray cluster: a path every "
         "node mounts.")]


@app.command()
def run(
    spec: SpecPath,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    work_dir: WorkDir = None,
    executor: Annotated[str, typer.Option(help="'local' (one process) or 'ray' (a Ray cluster; each node kind "
                                               "holds what the spec's `resources:` says; `pip install "
                                               "xstilts[ray]`).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(
        help="The Ray cluster to join, e.g. ray://head:10001 or head:6379 (default: $RAY_ADDRESS, a "
             "cluster started on this machine with `ray start --head`, else a local one).")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Where to write the HTML report.")] = None,
    smoke: Smoke = False,
    model: SpecModel = None,
    log_with: LogWith = None,
    seeds: Part = None,
    json_out: JsonOut = None,
) -> None:
    """Run a study: intermediate training, alignment probes and zero-shot fine-tuning for every
    condition, target and seed of SPEC, then print the comparison and write the HTML report.

    Killing it and running it again skips every finished node and repeats none; a failed node is
    recorded with its error and does not stop the others. Two runs of one study on one store share
    the work: each node is claimed (a lease renewed while it runs) and run once; a run waits for
    nodes another live run holds. Ctrl-C marks the node it stopped in 'interrupted' (rerun to
    continue it). Exit status: 0 when every node is done, 1 when any node failed or was blocked by
    a failed dependency (the summary table names them), 2 for a spec, input, store, permission or
    full-disk error, 130 when interrupted.

    Example: xstilts run experiments/demo.yaml;  xstilts run experiments/full.yaml --smoke
    """
    from .experiments.export import emit, run_record
    from .experiments.plan import validate as validate_spec
    from .experiments.storage import study_store_url
    from .experiments.study import run_study

    with _human_output(json_out) as out, user_errors():
        if log_with is not None:
            from .training import tracking

            tracking.use(log_with)
        path, summary = run_study(spec, data_root=data_root, store_url=store, work_dir=work_dir, executor=executor,
                                  html=html, console=console, smoke=smoke, model=model, ray_address=ray_address,
                                  units=seeds)
        if json_out is not None:
            p = validate_spec(spec, data_root=data_root, overlap=False, smoke=smoke, model=model, check_model=False,
                              units=seeds)
            from .store.store import default_url

            url = study_store_url(p.spec, store, smoke) or default_url()
            emit({"spec": str(spec), **run_record(p, summary, store_url=url, html=path)}, json_out, stdout=out)
    if summary.failed or summary.blocked:
        raise typer.Exit(code=1)


@app.command()
def recommend(
    task: Annotated[list[str], typer.Option("--task", "-t", help="A fine-tuned target of the study, e.g. xnli; "
                                                                 "repeat for several (their targets are pooled).")],
    spec: RecordSpec = None,
    langs: Annotated[Optional[str], typer.Option(help="Comma list of target languages (default: each task's "
                                                      "non-English languages the study evaluated).")] = None,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    work_dir: WorkDir = None,
    smoke: Smoke = False,
    model: SpecModel = None,
    json_out: Annotated[Optional[Path], typer.Option(
        "--json", help="Also save the ranking and its check here ('-': only the JSON, to standard output).")] = None,
    record: FromRecord = None,
) -> None:
    """Rank a finished study's intermediate tasks for target tasks from signals that need no
    fine-tuning: the alignment change on the target languages' parallel text (the study's probes),
    LogME and H-score of each task's English features on each phase-2 encoder, and language and
    script proximity. Then check the ranking against the study's actual gains per target
    (task:language): Spearman, NDCG@3, regret@1/3, and a least-squares blend of the signals scored
    on held-out tasks, each figure beside a random ranking (mean, permutation p) and the gains' noise
    ceiling; and print the cost of the signals beside the cost of
    the fine-tuning grid they would replace. The result is saved in the study's folder, and
    `xstilts report` adds it to the HTML report.

    With --from DIR (a published study, whose phase-2 encoders are not there) it ranks from the
    record's rows alone: alignment and proximity; LogME and H-score need the encoders and are
    skipped, by name.

    Example: xstilts recommend experiments/lowres-vs-english.yaml --task xnli --task udpos

    Example: xstilts recommend --from results/lowres-vs-english --task xnli --task udpos
    """
    from dataclasses import asdict

    from .experiments.export import emit, to_stdout
    from .experiments.recommend import run_recommend
    from .experiments.spec import load_spec
    from .experiments.storage import study_store_url
    from .store import ResultsStore

    with _human_output(json_out) as out, user_errors():
        if record is None:
            if spec is None:
                raise XstiltsError("give a study spec (SPEC) or a published record (--from DIR)")
            ResultsStore(study_store_url(load_spec(spec), store, smoke), read_only=True,
                         must_exist=True)  # a missing or wrong store is said in one line, before any work
        rec = run_recommend(spec, task, langs.split(",") if langs else None, data_root=data_root, store_url=store,
                            smoke=smoke, model=model, work_dir=work_dir, json_out=json_out, record=record,
                            console=console)
        if to_stdout(json_out):
            emit(asdict(rec), json_out, stdout=out)


@app.command()
def report(
    spec: RecordSpec = None,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    work_dir: WorkDir = None,
    html: Annotated[Optional[Path], typer.Option(help="Where to write the HTML report (default: "
                                                      "report.html in the study's folder; with --from, "
                                                      "report-from-RECORD.html there, RECORD the record folder's name).")] = None,
    publish: Annotated[Optional[Path], typer.Option(
        help="Also write the study's record to this folder, small enough to commit: rows.json.gz, the spec "
             "as written and resolved, nodes.json (each node's settings, state and seconds), "
             "environment.json (versions, git hash, CPU), report.html and saved recommendations.")] = None,
    smoke: Smoke = False,
    model: SpecModel = None,
    record: FromRecord = None,
    seeds: Part = None,
) -> None:
    """Report a study from the rows its nodes stored (nothing runs): the answer in one sentence,
    XTREME-R aggregation, gains over the no-intermediate baseline with significance over seeds,
    English vs low-resource, translated vs source, alignment gain vs transfer gain, and any saved
    `xstilts recommend` check; terminal tables and an HTML report.

    A published study opens with one command (its own spec, rows, nodes and saved recommendations).

    Example: xstilts report --from results/lowres-vs-english

    Example: xstilts report experiments/lowres-vs-english.yaml --publish results/lowres-vs-english
    """
    from .experiments.plan import validate as validate_spec
    from .experiments.record import load_record
    from .experiments.publish import publish as publish_study, record_spec
    from .experiments.storage import study_dir, study_rows, study_store_url
    from .experiments.study import report_study
    from .store import ResultsStore

    with user_errors():
        if record is not None and publish is not None:
            raise XstiltsError(f"--publish writes a record from a store's rows; {record} is a published record "
                               "already (copy the folder to publish it elsewhere)")
        spec = record_spec(spec, record)
        p = validate_spec(spec, data_root=data_root, overlap=False, smoke=smoke, model=model, check_model=False,
                          units=seeds)
        try:
            results = ResultsStore(study_store_url(p.spec, store, smoke), read_only=True,
                                   must_exist=record is None)
            if record is None:
                _refuse_empty(spec, p, results)
        except XstiltsError as e:
            raise XstiltsError(f"{e}{_published_hint(spec, p.spec.name)}") from e
        folder = study_dir(p.spec, work_dir, smoke)
        rec = load_record(record) if record is not None else None
        # a record's report never overwrites the report of the user's own run of the same study
        default = folder / (f"report-from-{record.resolve().name}.html" if record is not None else "report.html")
        path = report_study(p, results, html or default, folder=folder, console=console,
                            smoke=smoke, record=rec)
        if publish is not None:
            written = publish_study(p, results, study_rows(p, results)[0], path, folder, publish)
            console.print(f"published {len(written)} files to {publish}: {', '.join(w.name for w in written)}")


@app.command("export")
def export(
    spec: RecordSpec = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write rows.csv, MODEL/TASK.json and "
                                                          "export.json into (created if needed).",
                                      file_okay=False)] = Path("export"),
    record: FromRecord = None,
    data_root: DataRoot = None,
    store: StoreUrl = None,
    smoke: Smoke = False,
    model: SpecModel = None,
) -> None:
    """Write a study's result rows (from the store) or a published record's (--from DIR) as files
    other tools read: rows.csv (one line per row, every field, `protocol.<key>` columns holding
    JSON) and one JSON file per model and task laid out like MTEB's results (scores per split,
    language, condition and seed, with the protocol), plus export.json listing them.

    Example: xstilts export experiments/demo.yaml --out demo-export

    Example: xstilts export --from results/lowres-vs-english --out lowres-export
    """
    from .experiments.export import export_rows
    from .experiments.plan import validate as validate_spec
    from .experiments.record import load_record
    from .experiments.publish import record_rows, record_spec
    from .experiments.storage import study_rows, study_store_url
    from .store import ResultsStore

    with user_errors():
        spec_path = record_spec(spec, record)
        rec = load_record(record) if record is not None else None
        if rec is not None and spec is None:
            rows, source = rec.rows, str(record)
        else:
            p = validate_spec(spec_path, data_root=data_root, overlap=False, smoke=smoke, model=model,
                              check_model=False)
            if rec is not None:
                rows, source = record_rows(rec, p), f"{record} (nodes of {spec_path})"
            else:
                results = ResultsStore(study_store_url(p.spec, store, smoke),
                                       read_only=True, must_exist=True)
                rows, source = study_rows(p, results)[0], f"{results.url} (study {p.spec.name})"
        written = export_rows(rows, out, source=source)
    tasks = len(written) - 2
    console.print(f"exported {len(rows):,} rows of {source}: {out / 'rows.csv'} and {tasks} task file"
                  f"{'s' * (tasks != 1)} under {out}/ (listed in {out / 'export.json'})", soft_wrap=True)


def _published_hint(spec: Path, name: str) -> str:
    """Where a published record of the study lies (results/NAME beside the spec's folder, or under
    the working directory): a new user has no store of their own but the committed record."""
    for where in (Path("results") / name, spec.resolve().parent.parent / "results" / name):
        if (where / "rows.json.gz").is_file() or (where / "parts").is_dir():
            shown = os.path.relpath(where)
            return f". Its published record is in {shown}: `xstilts report --from {shown}` reports it"
    return ""


def _refuse_empty(spec: Path, plan, store) -> None:
    """A report of no rows would only print empty tables: say why there are none instead (writing nothing)."""
    nodes = {k for k, n in plan.nodes.items() if n.kind != "intermediate"}
    done = {n.key for n in store.nodes("done")} & nodes
    if not done:
        raise XstiltsError(f"{store.url}: none of the {len(nodes)} probe and fine-tuning nodes of {spec} is done in "
                           f"this store, so there is nothing to report; run `xstilts run {spec}` first (`xstilts "
                           "plan` shows each node's state), or pass --store / --from")


def main() -> None:  # pragma: no cover - console entry
    app()
