"""`xstilts validate`, `plan`, `run`, `recommend`, `report` and `export`: a study from its spec (or a
published record). Parses options, then calls the library; `cli.py` registers the commands."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import DataRoot, JsonOut, LogWith, StoreUrl, _human_output, console, user_errors
from .errors import XstiltsError


SpecPath = Annotated[Path, typer.Argument(help="A study spec (YAML), e.g. experiments/demo.yaml.", exists=True,
                                           dir_okay=False)]
Smoke = Annotated[bool, typer.Option(
    "--smoke", help="Every node of the spec through the same code paths on a tiny budget (2 steps of 4 examples, "
                    "32 training / 16 dev / 16 test examples per language, 100 sentences per probe language, "
                    "the first seed, or the first 3 where each seed trains its own phase-2 encoder, with at most 2 "
                    "nested fine-tuning seeds), into a results store and work folder of its own.")]
SpecModel = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="Run the spec with this model instead of its own (a hub id or a local directory).")]


def validate(spec: SpecPath, data_root: DataRoot = None, smoke: Smoke = False, model: SpecModel = None) -> None:
    """Check a study spec without running anything: schema (errors name file:line:field), every task
    and language name, the files each node reads, MLM languages, translations, hyper-parameters that
    cannot be honoured, the plan, and the overlap guard (no intermediate training on text a target
    of the same study evaluates on)."""
    from .orchestration.validate import validate as validate_spec

    with user_errors():
        plan = validate_spec(spec, data_root=data_root, smoke=smoke, model=model, offline_ok=True)
    kinds: dict[str, int] = {}
    for n in plan.nodes.values():
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    from .orchestration.power import power_lines

    for w in plan.warnings:
        console.print(f"[yellow]{w}[/]")
    for line in power_lines(plan.study):
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


def _seed_list(value: str) -> list[int]:
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a comma list of seeds, e.g. 1 or 2,3") from None
    if not seeds:
        raise typer.BadParameter("name at least one seed, e.g. --seeds 1")
    return seeds


Part = Annotated[Optional[Sequence[int]], typer.Option(  # not list[int]: typer would take it as a repeated option
    "--seeds", parser=_seed_list, metavar="S[,S...]",
    help="Only the part of the study these units (phase-2 seeds of the spec) need: for a study too long for "
         "one sitting, run it part by part (`run --seeds 1`), publish each part (`report --seeds 1 --publish "
         "results/NAME/parts/seed-1`); `report --from results/NAME` merges the parts, refusing parts from "
         "other code or data. The untrained encoder's probes belong to the first seed's part.")]


Pilot = Annotated[Optional[Path], typer.Option(
    "--pilot", help="A published study (a folder `report --publish` wrote) whose rows give the variance the "
                    "power of this spec's primary comparisons is computed from.")]


def plan(spec: SpecPath, data_root: DataRoot = None, store: StoreUrl = None, smoke: Smoke = False,
         model: SpecModel = None, pilot: Pilot = None, seeds: Part = None, json_out: JsonOut = None) -> None:
    """Print a study's DAG (phase-2 encoders, probes, fine-tuning runs), each node's status in the
    results store, its estimated cost and its effective hyper-parameters, before anything runs; and,
    for the spec's declared primary comparisons, the power its units give for its margin and the
    units needed for 80%, from a pilot's variance (--pilot) or analysis.planning_sd.

    Example: xstilts plan experiments/lowres-vs-english.yaml --pilot results/lowres-vs-english-pilot"""
    from .orchestration.export import emit, plan_record, to_stdout
    from .orchestration.validate import resolved
    from .orchestration.plan_view import render_plan
    from .orchestration.power import power_lines
    from .orchestration.record import load_record
    from .orchestration.storage import study_store_url
    from .store import ResultsStore

    with _human_output(json_out) as out, user_errors(), ExitStack() as scope:
        # the spec's own tasks in scope, for the disk estimate and the view
        p = scope.enter_context(resolved(spec, data_root=data_root, smoke=smoke, model=model, check_model=False,
                                         units=seeds))
        record = load_record(pilot) if pilot is not None else None
        url = study_store_url(p.study, store, smoke)
        # plan creates nothing; a store named by hand must be there (a study not run yet has none)
        results = ResultsStore(url, read_only=True, must_exist=store is not None)
        power = power_lines(p.study, record)
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
    from .orchestration.export import emit, run_record
    from .orchestration.validate import resolved
    from .orchestration.storage import study_store_url
    from .orchestration.study import run_study

    with _human_output(json_out) as out, user_errors(), ExitStack() as scope:
        if log_with is not None:
            from .training import tracking

            tracking.use(log_with)
        path, summary = run_study(spec, data_root=data_root, store_url=store, work_dir=work_dir, executor=executor,
                                  html=html, console=console, smoke=smoke, model=model, ray_address=ray_address,
                                  units=seeds)
        if json_out is not None:
            p = scope.enter_context(resolved(spec, data_root=data_root, overlap=False, smoke=smoke, model=model,
                                             check_model=False, units=seeds))
            from .store.store import default_url

            url = study_store_url(p.study, store, smoke) or default_url()
            emit({"spec": str(spec), **run_record(p, summary, store_url=url, html=path)}, json_out, stdout=out)
    if summary.failed or summary.blocked:
        raise typer.Exit(code=1)


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

    from .orchestration.export import emit, to_stdout
    from .recommend.run import run_recommend
    from .orchestration.spec import load_spec
    from .orchestration.storage import study_store_url
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
    from .orchestration.validate import resolved
    from .orchestration.record import load_record
    from .orchestration.publish import publish as publish_study, record_spec
    from .orchestration.storage import study_dir, study_rows, study_store_url
    from .orchestration.study import report_study
    from .store import ResultsStore

    with user_errors(), ExitStack() as scope:
        if record is not None and publish is not None:
            raise XstiltsError(f"--publish writes a record from a store's rows; {record} is a published record "
                               "already (copy the folder to publish it elsewhere)")
        spec = record_spec(spec, record)
        p = scope.enter_context(resolved(spec, data_root=data_root, overlap=False, smoke=smoke, model=model,
                                         check_model=False, units=seeds))
        try:
            results = ResultsStore(study_store_url(p.study, store, smoke), read_only=True,
                                   must_exist=record is None)
            if record is None:
                _refuse_empty(spec, p, results)
        except XstiltsError as e:
            raise XstiltsError(f"{e}{_published_hint(spec, p.study.name)}") from e
        folder = study_dir(p.study, work_dir, smoke)
        rec = load_record(record) if record is not None else None
        # a record's report never overwrites the report of the user's own run of the same study
        default = folder / (f"report-from-{record.resolve().name}.html" if record is not None else "report.html")
        path = report_study(p, results, html or default, folder=folder, console=console,
                            smoke=smoke, record=rec)
        if publish is not None:
            written = publish_study(p, results, study_rows(p, results)[0], path, folder, publish)
            console.print(f"published {len(written)} files to {publish}: {', '.join(w.name for w in written)}")


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
    from .orchestration.export import export_rows
    from .orchestration.validate import resolved
    from .orchestration.record import load_record
    from .orchestration.publish import record_rows, record_spec
    from .orchestration.storage import study_rows, study_store_url
    from .store import ResultsStore

    with user_errors(), ExitStack() as scope:
        spec_path = record_spec(spec, record)
        rec = load_record(record) if record is not None else None
        if rec is not None and spec is None:
            rows, source = rec.rows, str(record)
        else:
            p = scope.enter_context(resolved(spec_path, data_root=data_root, overlap=False, smoke=smoke,
                                             model=model, check_model=False))
            if rec is not None:
                rows, source = record_rows(rec, p), f"{record} (nodes of {spec_path})"
            else:
                results = ResultsStore(study_store_url(p.study, store, smoke),
                                       read_only=True, must_exist=True)
                rows, source = study_rows(p, results)[0], f"{results.url} (study {p.study.name})"
        written = export_rows(rows, out, source=source)
    tasks = len(written) - 2
    console.print(f"exported {len(rows):,} rows of {source}: {out / 'rows.csv'} and {tasks} task file"
                  f"{'s' * (tasks != 1)} under {out}/ (listed in {out / 'export.json'})", soft_wrap=True)


def _published_hint(spec: Path, name: str) -> str:
    """Where a published record of the study lies (results/NAME beside the spec's folder, or under
    the working directory): a new user has no store of their own but the committed record."""
    from .orchestration.record import is_record

    for where in (Path("results") / name, spec.resolve().parent.parent / "results" / name):
        if is_record(where):
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
