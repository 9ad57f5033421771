"""`xstilts run SPEC`: the three-phase study, from a spec to a report.

spec → plan (DAG of intermediate / probe / finetune nodes) → executor (local, or Ray)
→ rows in the results store → report (terminal tables + HTML). The node runners here
adapt a node's config to the phase functions; they resume a node killed half-way.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from xstilts.errors import XstiltsError
from xstilts.evaluation import alignment
from xstilts.evaluation.encode import resolve_layers
from xstilts.experiments.align import describe
from xstilts.experiments.execute import LocalExecutor, RunContext, Summary, register_runner
from xstilts.experiments.finetune import CONFIG_FILE, run_finetune
from xstilts.experiments.hparams import HParams
from xstilts.experiments.intermediate import SOURCE_FILE, is_complete, run_intermediate
from xstilts.experiments.plan import Node, Plan, render_plan, study_seeds, validate
from xstilts.experiments.spec import load_spec_tasks
from xstilts.experiments.storage import study_dir, study_rows, study_store_url
from xstilts.models.encoders import load_encoder, weights_hash
from xstilts.report.alignment import per_language_table
from xstilts.report.html import write_html
from xstilts.report.conditions import ConditionInfo, Design, Primary
from xstilts.report.study import ReportWarning, build_report
from xstilts.report.tables import print_report
from xstilts.store import ResultRow, ResultsStore
from xstilts.tasks import get_task
from xstilts.console import make_console

def _encoder_of(node: Node, deps: dict[str, dict]) -> str:
    return next((d["encoder"] for d in deps.values() if "encoder" in d), node.config["model"])


def _provenance(node: Node, ctx: RunContext) -> dict[str, Any]:
    """What every row of a node carries to say where it came from (and what the report selects by)."""
    unit = {"unit": node.meta["unit"]} if "unit" in node.meta else {}  # nested fine-tuning seeds: their encoder's seed
    return {"study": ctx.spec.name if ctx.spec else None, "node": node.key, **unit}


def _with_spec_tasks(runner):
    """Runs a node runner after registering the spec's own tasks (a Ray worker is a fresh process)."""
    def run(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
        if ctx.spec is not None:
            load_spec_tasks(ctx.spec, ctx.data_root)
        return runner(node, deps, ctx)
    return run


def intermediate_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c, cond = node.config, node.config["condition"]
    sampling, mlm = cond.get("sampling") or {}, cond.get("mlm")
    encoder = run_intermediate(
        c["model"], cond["tasks"], HParams(**c["train"]), out_dir=ctx.node_dir, seed=c["seed"],
        data_root=ctx.data_root, sampling=sampling.get("rule", "proportional"), sampling_cap=sampling.get("cap"),
        sampling_temperature=sampling.get("temperature", 1.0), mlm_tasks=mlm["tasks"] if mlm else (),
        mlm_max_examples=mlm["max_examples"] if mlm else None, mlm_weight=mlm["weight"] if mlm else 1.0,
        mlm_fraction=mlm["fraction"] if mlm else "proportional", resume=True,
    )
    source = json.loads((Path(encoder) / SOURCE_FILE).read_text())
    return {"encoder": str(encoder), "task_shares": source["task_shares"], "mlm_head": (source["mlm"] or {}).get("head"),
            # each task's own dev curve, chance and verdict (report.learning); absent from encoders trained before
            **({"learning": source["learning"], "stopped_early": source["stopped_early"]} if "learning" in source
               else {})}


def probe_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c = node.config
    enc = load_encoder(_encoder_of(node, deps))
    if torch.cuda.is_available():  # the GPU (or share of one) this node holds
        enc.model.to("cuda")
    task, prefix = get_task(c["probe"]), enc.default_prefix if c["prefix"] is None else c["prefix"]
    if c.get("protocol") == "xtreme-r":
        proto = alignment.official_protocol(task, enc.num_layers, prefix, enc.max_tokens)
    else:
        proto = alignment.Protocol(layers=tuple(resolve_layers(c["layers"], enc.num_layers)), pooling=c["pooling"],
                                   prefix=prefix, scorer=c["scorer"])
    rows = alignment.probe(enc, proto, task, langs=c["langs"], model_hash=weights_hash(enc),
                           condition=c["condition"], data_root=ctx.data_root, max_sentences=c["max_sentences"])
    after = {"fine_tuned_on": c["after"]} if c.get("after") else {}
    for r in rows:  # rows name the study's model; the condition says what trained it
        r.model, r.intermediate, r.seed = c["model"], list(c["intermediate_tasks"]), c["intermediate_seed"]
        r.protocol.update(_provenance(node, ctx), **after)
    title = f"{c['probe']} on {c['condition']}" + (f" after {c['after']}" if after else "")
    make_console().print(per_language_table(
        [r for r in rows if r.metric == rows[0].metric] if rows else rows, f"{title}: {describe(proto, task)}",
        {"all": c["langs"]}))
    return {"rows": rows}


def finetune_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c = node.config
    rows = run_finetune(
        _encoder_of(node, deps), c["task"], HParams(**c["train"]), seed=c["seed"], out_dir=ctx.node_dir,
        data_root=ctx.data_root, store_url=False, resume=True, condition=c["condition"],
        intermediate=c["intermediate_tasks"], eval_langs=c["langs"], model_name=c["model"],
        provenance=_provenance(node, ctx),
        keep_weights=ctx.spec.checkpoints.keep_finetuned if ctx.spec else True,
        encoder_out=Path(ctx.node_dir) / "encoder" if c.get("export_encoder") else None,
    )
    config = json.loads((Path(ctx.node_dir) / CONFIG_FILE).read_text())
    exported = {"encoder": str(Path(ctx.node_dir) / "encoder")} if c.get("export_encoder") else {}
    return {"rows": rows, "learning": config["learning"], **exported}  # English dev curve, chance and verdict


register_runner("intermediate", _with_spec_tasks(intermediate_node),
                is_valid=lambda out: is_complete(Path(out["encoder"])))
register_runner("probe", _with_spec_tasks(probe_node))
register_runner("finetune", _with_spec_tasks(finetune_node),
                is_valid=lambda out: "encoder" not in out or is_complete(Path(out["encoder"])))


def run_study(spec_path: Path, *, data_root: Path | None = None, store_url: str | None = None,
              work_dir: Path | None = None, executor: str = "local", html: Path | None = None,
              console: Console | None = None, smoke: bool = False, model: str | None = None,
              ray_address: str | None = None, units: list[int] | None = None) -> tuple[Path, Summary]:
    """Validate, plan, run every node not yet done, then report; returns the HTML report's path
    and the run's summary (failed and blocked nodes included). SMOKE runs every node on the
    smoke budget into its own store and work folder; MODEL replaces the spec's model. The work
    folder is WORK_DIR, else the spec's `storage:`, else one under the user dir."""
    console = console or make_console()
    if executor not in ("local", "ray"):
        raise XstiltsError(f"--executor: '{executor}' is not an executor; use 'local' or 'ray'")
    with console.status("validating the spec and checking train/evaluation overlap"):
        plan = validate(spec_path, data_root=data_root, smoke=smoke, model=model, remember=True, units=units)
    spec = plan.spec
    store = ResultsStore(study_store_url(spec, store_url, smoke))
    console.print(render_plan(plan, store))
    work = study_dir(spec, work_dir, smoke)
    root = data_root or spec.data_root
    if executor == "ray":
        from xstilts.experiments.executor_ray import RayExecutor

        summary = RayExecutor(work, root, console=console, address=ray_address).run(plan, store)
    else:
        summary = LocalExecutor(work, root, console=console).run(plan, store)
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

    from xstilts.report.learning import learning_records
    from xstilts.report.setup import phase2_steps

    with warnings.catch_warnings():  # the report prints its own notes, once, under "warning:"
        warnings.simplefilter("ignore", ReportWarning)
        design = dataclasses.replace(design_of(plan.spec, smoke=smoke), phase2_steps=phase2_steps(nodes))
        return build_report(rows, conditions_of(plan.spec), design=design, learning=learning_records(nodes, rows))


def report_study(plan: Plan, store: ResultsStore, html: Path, *, folder: Path, console: Console,
                 smoke: bool = False, record=None) -> Path:
    """Print the study's report and write its HTML, with the recommendations saved in FOLDER.
    RECORD (a published study, experiments.record.Record) replaces the store's rows and nodes."""
    from xstilts.experiments.publish import node_records, record_rows
    from xstilts.experiments.recommend import load_saved, recommendation_grids
    from xstilts.experiments.record import parts_grid
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
    path = write_html(report, html, title=f"xstilts study: {plan.spec.name}", recommendations=extra,
                      provenance=provenance)
    probe_or_ft = sum(n.kind != "intermediate" for n in plan.nodes.values())
    console.print(f"report from {len(rows):,} rows of {n_nodes} of this plan's {probe_or_ft} probe and fine-tuning "
                  f"nodes in {where}\nHTML report: {path}")
    return path
