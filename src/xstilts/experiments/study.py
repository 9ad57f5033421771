"""`xstilts run SPEC`: the three-phase study, from a spec to a report.

spec → plan (DAG of intermediate / probe / finetune nodes) → executor (local, or Ray)
→ rows in the results store → report (terminal tables + HTML). The node runners here
adapt a node's config to the phase functions; they resume a node killed half-way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from xstilts.evaluation import alignment
from xstilts.evaluation.encode import resolve_layers
from xstilts.experiments.execute import LocalExecutor, RunContext, register_runner
from xstilts.experiments.finetune import run_finetune
from xstilts.experiments.intermediate import is_complete, run_intermediate
from xstilts.experiments.plan import Node, Plan, render_plan, validate
from xstilts.models.encoders import load_encoder, weights_hash
from xstilts.paths import user_dir
from xstilts.report.alignment import per_language_table
from xstilts.report.html import write_html
from xstilts.report.study import ConditionInfo, build_report
from xstilts.report.tables import print_report
from xstilts.store import ResultRow, ResultsStore
from xstilts.tasks import all_tasks
from xstilts.console import make_console

# SIB-200 sentences are the FLORES probe's own sentences: never MLM text unless named.
_MLM_EXCLUDED = ("sib200",)


def mlm_tasks_for(languages: list[str]) -> list[str]:
    """MLM text sources: an entry with ':' is a task name; a language code takes the training
    text of every intermediate task in that language (SIB-200 excluded, see above)."""
    out = []
    for entry in languages:
        if ":" in entry:
            out.append(entry)
            continue
        found = [t.name for t in all_tasks("intermediate")
                 if t.name.split(":")[-1] == entry and t.name.split(":")[0] not in _MLM_EXCLUDED]
        if not found:
            raise ValueError(f"MLM language '{entry}': no intermediate task has text in it "
                             "(name a task such as 'nusax:bug' instead)")
        out += found
    return out


def _encoder_of(node: Node, deps: dict[str, dict]) -> str:
    return next((d["encoder"] for d in deps.values() if "encoder" in d), node.config["model"])


def intermediate_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c, cond = node.config, node.config["condition"]
    train, sampling, mlm = c["train"], cond.get("sampling") or {}, cond.get("mlm")
    encoder = run_intermediate(
        c["model"], cond["tasks"], out_dir=ctx.node_dir, seed=c["seed"], data_root=ctx.data_root,
        max_steps=train.get("max_steps", 1000), lr=train.get("lr"), batch_size=train.get("batch_size"),
        max_length=train.get("max_length", 128), max_train_examples=train.get("max_train_examples"),
        freeze_embeddings=train.get("freeze_embeddings", False), sampling=sampling.get("rule", "proportional"),
        sampling_cap=sampling.get("cap"), sampling_temperature=sampling.get("temperature", 1.0),
        mlm_tasks=mlm_tasks_for(mlm["languages"]) if mlm else (),
        mlm_max_examples=mlm.get("max_examples") if mlm else None, resume=True,
    )
    return {"encoder": str(encoder)}


def probe_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c = node.config
    enc = load_encoder(_encoder_of(node, deps))
    proto = alignment.Protocol(
        layers=tuple(resolve_layers(c["layers"], enc.num_layers)),
        pooling=c["pooling"], prefix=enc.default_prefix if c["prefix"] is None else c["prefix"], scorer=c["scorer"],
    )
    common: dict[str, Any] = dict(model_hash=weights_hash(enc), condition=c["condition"], data_root=ctx.data_root)
    if c["probe"] == "tatoeba":
        rows = alignment.tatoeba(enc, proto, langs=c["langs"], **common)
    elif c["probe"] == "flores":
        rows = alignment.flores(enc, proto, langs=c["langs"], max_sentences=c["max_sentences"], **common)
    else:
        rows = alignment.lareqa(enc, proto, langs=c["langs"], **common)
    for r in rows:  # rows name the study's model; the condition says what trained it
        r.model, r.intermediate, r.seed = c["model"], list(c["intermediate_tasks"]), c["intermediate_seed"]
    ResultsStore(ctx.store_url).add(rows)
    make_console(width=160).print(per_language_table(
        rows, f"{c['probe']} on {c['condition']}: {proto.pooling} pooling, prefix {proto.prefix!r}, {proto.scorer}",
        {"all": c["langs"]}))
    return {"rows": len(rows)}


def finetune_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c, train = node.config, node.config["train"]
    rows = run_finetune(
        _encoder_of(node, deps), c["task"], seed=c["seed"], out_dir=ctx.node_dir, data_root=ctx.data_root,
        store_url=ctx.store_url, max_steps=train.get("max_steps"), epochs=train.get("epochs"), lr=train.get("lr"),
        batch_size=train.get("batch_size"), max_length=train.get("max_length"),
        max_train_examples=train.get("max_train_examples"), freeze_embeddings=train.get("freeze_embeddings", False),
        eval_every=train.get("eval_every"), max_dev_examples=train.get("max_dev_examples", 1000),
        max_eval_examples=train.get("max_eval_examples"), resume=True, condition=c["condition"], intermediate=c["intermediate_tasks"], eval_langs=c["langs"],
        model_name=c["model"],
    )
    return {"rows": len(rows)}


register_runner("intermediate", intermediate_node, is_valid=lambda out: is_complete(Path(out["encoder"])))
register_runner("probe", probe_node)
register_runner("finetune", finetune_node)


def study_rows(plan: Plan, store: ResultsStore) -> list[ResultRow]:
    """The rows this study's plan produces: its model and conditions, its targets' tasks."""
    spec = plan.spec
    tasks = sorted({n.config.get("task") or n.config.get("probe") for n in plan.nodes.values()
                    if n.kind in ("probe", "finetune")})
    return store.query(model=spec.model, condition=[c.name for c in spec.conditions], task=tasks)


def run_study(spec_path: Path, *, data_root: Path | None = None, store_url: str | None = None,
              work_dir: Path | None = None, executor: str = "local", html: Path | None = None,
              console: Console | None = None) -> Path:
    """Validate, plan, run every node not yet done, then report; returns the HTML report's path."""
    console = console or make_console()
    with console.status("validating the spec and checking train/evaluation overlap"):
        plan = validate(spec_path, data_root=data_root)
    spec = plan.spec
    store = ResultsStore(store_url or spec.store)
    console.print(render_plan(plan, store))
    for w in plan.warnings:
        console.print(f"[yellow]{w}[/]")
    work = Path(work_dir) if work_dir else user_dir() / "studies" / spec.name
    root = data_root or spec.data_root
    if executor == "ray":
        from xstilts.experiments.execute import RayExecutor

        summary = RayExecutor(work, root, console=console).run(plan, store)
    else:
        summary = LocalExecutor(work, root, console=console).run(plan, store)
    return report_study(plan, store, html or work / "report.html", console=console, failed=len(summary.failed))


def report_study(plan: Plan, store: ResultsStore, html: Path, *, console: Console, failed: int = 0) -> Path:
    conditions = [ConditionInfo(c.name, c.kind, tuple(c.tasks), c.pair) for c in plan.spec.conditions]
    report = build_report(study_rows(plan, store), conditions)
    print_report(report, console)
    path = write_html(report, html, title=f"xstilts study: {plan.spec.name}")
    console.print(f"HTML report: {path}" + (f"  ([red]{failed} node(s) failed[/]: see above)" if failed else ""))
    return path
