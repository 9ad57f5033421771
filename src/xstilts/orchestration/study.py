"""`xstilts run SPEC`: the three-phase study, from a spec to a report.

spec → plan (DAG of intermediate / probe / finetune nodes) → executor (local, or Ray)
→ rows in the results store → report (terminal tables + HTML). The node runners here
adapt a node's config to the phase functions; they resume a node killed half-way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from xstilts.errors import XstiltsError
from xstilts.orchestration.execute import Summary
from xstilts.orchestration.executors import executor_class, make_executor
from xstilts.orchestration.plan import Plan, study_seeds
from xstilts.orchestration.validate import validate
from xstilts.orchestration.plan_view import render_plan
from xstilts.orchestration.storage import study_dir, study_rows, study_store_url
from xstilts.report.html import write_html
from xstilts.report.conditions import ConditionInfo, Design, Primary
from xstilts.report.study import ReportWarning, build_report
from xstilts.report.tables import print_report
from xstilts.store import ResultRow, ResultsStore
from xstilts.console import make_console

def run_study(spec_path: Path, *, data_root: Path | None = None, store_url: str | None = None,
              work_dir: Path | None = None, executor: str = "local", html: Path | None = None,
              console: Console | None = None, smoke: bool = False, model: str | None = None,
              ray_address: str | None = None, units: Sequence[int] | None = None) -> tuple[Path, Summary]:
    """Validate, plan, run every node not yet done, then report; returns the HTML report's path
    and the run's summary (failed and blocked nodes included). SMOKE runs every node on the
    smoke budget into its own store and work folder; MODEL replaces the spec's model. The work
    folder is WORK_DIR, else the spec's `storage:`, else one under the user dir."""
    console = console or make_console()
    executor_cls = executor_class(executor)
    with console.status("validating the spec and checking train/evaluation overlap"):
        plan = validate(spec_path, data_root=data_root, smoke=smoke, model=model, remember=True, units=units)
    spec = plan.study
    store = ResultsStore(study_store_url(spec, store_url, smoke))
    work = study_dir(spec, work_dir, smoke)
    root = data_root or spec.data_root
    with plan.user.scope():
        console.print(render_plan(plan, store))
        summary = make_executor(executor_cls, work, root, console, address=ray_address).run(plan, store)
        path = report_study(plan, store, html or work / "report.html", folder=work, console=console, smoke=smoke)
    if summary.failed or summary.blocked:
        console.print(f"[red]{len(summary.failed)} node(s) failed, {len(summary.blocked)} blocked[/] "
                      "(the table above names them; `xstilts plan` shows their state)")
    return path, summary


def conditions_of(spec) -> list[ConditionInfo]:
    return [ConditionInfo(c.name, c.kind, tuple(c.tasks), c.pair, translation_of=c.translation_of)
            for c in spec.conditions]


def design_of(spec, *, smoke: bool = False) -> Design:
    """The report's view of a spec: its declared analysis, phase-2 runs per condition (0: untrained),
    the overlaps it declared, and whether it is a smoke run."""
    runs = len(study_seeds(spec, smoke)) if spec.intermediate_seeds == "per-seed" else 1
    a = spec.analysis
    return Design(margin=a.margin, alpha=a.alpha, smoke=smoke,
                  primary=tuple(Primary(p.a, p.b, tuple(p.targets)) for p in a.primary),
                  phase2_runs={c.name: 0 if c.kind == "none" else runs for c in spec.conditions},
                  declared_overlap={c.name: tuple(getattr(c, "declared_overlap", ()) or ()) for c in spec.conditions})


def study_report(plan: Plan, rows: list[ResultRow], nodes: list[dict], *, smoke: bool = False):
    """The report of a study's rows with its spec's design and its nodes' learning records."""
    import dataclasses

    from xstilts.report.learning import assess
    from xstilts.report.setup import phase2_steps

    with warnings.catch_warnings():  # the report prints its own notes, once, under "warning:"
        warnings.simplefilter("ignore", ReportWarning)
        design = dataclasses.replace(design_of(plan.study, smoke=smoke), phase2_steps=phase2_steps(nodes))
        return build_report(rows, conditions_of(plan.study), design=design, learning=assess(nodes, rows))


def report_study(plan: Plan, store: ResultsStore, html: Path, *, folder: Path, console: Console,
                 smoke: bool = False, record=None) -> Path:
    """Print the study's report and write its HTML, with the recommendations saved in FOLDER.
    RECORD (a published study, orchestration.record.Record) replaces the store's rows and nodes."""
    from xstilts.orchestration.publish import node_records, record_rows
    from xstilts.report.recommendation import load_saved, recommendation_grids
    from xstilts.orchestration.record import parts_grid
    from xstilts.report.grid import to_rich

    if record is not None:
        rows = record_rows(record, plan)
        if not rows:
            raise XstiltsError(f"{record.folder}: none of its {len(record.rows):,} rows comes from a node of this "
                               "spec's plan (another version of the spec?): report it with its own spec.yaml")
        nodes, where = record.nodes, str(record.folder)
        n_nodes = len({r.protocol["node"] for r in rows})
    else:
        rows, n_nodes = study_rows(plan, store)
        nodes, where = node_records(plan, store), store.url
    report = study_report(plan, rows, nodes, smoke=smoke)
    print_report(report, console)
    extra = [grid for rec in load_saved(record.folder if record is not None else folder)
             for grid in recommendation_grids(rec)]
    provenance = [g] if record is not None and (g := parts_grid(record)) is not None else []
    for grid in provenance:
        console.print(to_rich(grid))
    path = write_html(report, html, title=f"xstilts study: {plan.study.name}", recommendations=extra,
                      provenance=provenance)
    probe_or_ft = sum(n.kind != "intermediate" for n in plan.nodes.values())
    console.print(f"report from {len(rows):,} rows of {n_nodes} of this plan's {probe_or_ft} probe and fine-tuning "
                  f"nodes in {where}\nHTML report: {path}")
    return path
