"""Node kinds mapped to the recipes that run them: the one place that adapts a plan node's config to
a phase's function (phase 2, a probe, phase 3). An executor is handed this map; nothing registers
itself on import. A runner resumes a node killed half-way (the recipes resume from their folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xstilts.console import make_console
from xstilts.evaluation import alignment
from xstilts.evaluation.encode import resolve_layers
from xstilts.models.encoders import load_encoder, weights_hash
from xstilts.orchestration.nodes import FinetuneConfig, IntermediateConfig, ProbeConfig
from xstilts.orchestration.plan import Node
from xstilts.orchestration.spec import Spec
from xstilts.recipes.align import describe
from xstilts.recipes.finetune import CONFIG_FILE, run_finetune
from xstilts.recipes.intermediate import SOURCE_FILE, is_complete, run_intermediate
from xstilts.report.alignment import per_language_table
from xstilts.tasks import get_task
from xstilts.tasks.user import UserTasks


@dataclass(frozen=True)
class RunContext:
    node_dir: Path  # this node's own folder for checkpoints and predictions: <work>/<kind>/<key[:16]>
    data_root: Path | None = None
    store_url: str | None = None  # the study's store (runners return rows; the driver writes them)
    spec: Spec | None = None
    log_with: tuple[str, ...] | None = None  # experiment trackers of the node's training (--log-with)
    user: UserTasks = UserTasks()  # the spec's own tasks as validate resolved them (a Ray worker gets them pickled)


# (node, outputs of its dependencies by key, context) -> JSON-able outputs; a list of result rows
# under "rows" is taken out by `execute.run_node` and written by the driver with the node's done state
RunFn = Callable[[Node, dict[str, dict], RunContext], dict]


@dataclass(frozen=True)
class Runner:
    run: RunFn
    is_valid: Callable[[dict], bool] | None = None  # do a done node's outputs still exist?


def _encoder_of(node: Node, deps: dict[str, dict]) -> str:
    return next((d["encoder"] for d in deps.values() if "encoder" in d), node.typed.model)


def _provenance(node: Node, ctx: RunContext) -> dict[str, Any]:
    """What every row of a node carries to say where it came from (and what the report selects by)."""
    unit = {"unit": node.meta["unit"]} if "unit" in node.meta else {}  # nested fine-tuning seeds: their encoder's seed
    return {"study": ctx.spec.name if ctx.spec else None, "node": node.key, **unit}


def _with_spec_tasks(runner: RunFn) -> RunFn:
    """Runs a node runner with the spec's own tasks in scope (a Ray worker is a fresh process)."""
    def run(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
        with ctx.user.scope():
            return runner(node, deps, ctx)
    return run


def intermediate_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c: IntermediateConfig = node.typed
    sampling, mlm = c.condition.sampling, c.condition.mlm
    encoder = run_intermediate(
        c.model, c.condition.tasks, c.train, out_dir=ctx.node_dir, seed=c.seed, data_root=ctx.data_root,
        sampling=sampling.rule if sampling else "proportional", sampling_cap=sampling.cap if sampling else None,
        sampling_temperature=sampling.temperature if sampling else 1.0, mlm_tasks=mlm.tasks if mlm else (),
        mlm_max_examples=mlm.max_examples if mlm else None, mlm_weight=mlm.weight if mlm else 1.0,
        mlm_fraction=mlm.fraction if mlm else "proportional", resume=True,
    )
    source = json.loads((Path(encoder) / SOURCE_FILE).read_text())
    return {"encoder": str(encoder), "task_shares": source["task_shares"], "mlm_head": (source["mlm"] or {}).get("head"),
            # each task's own dev curve, chance and verdict (report.learning); absent from encoders trained before
            **({"learning": source["learning"], "stopped_early": source["stopped_early"]} if "learning" in source
               else {})}


def probe_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c: ProbeConfig = node.typed
    enc = load_encoder(_encoder_of(node, deps))
    if torch.cuda.is_available():  # the GPU (or share of one) this node holds
        # transformers wraps PreTrainedModel.to in functools.wraps, whose typeshed type has no __get__: mypy binds no self
        enc.model.to("cuda")  # type: ignore[arg-type]
    task, prefix = get_task(c.probe), enc.default_prefix if c.prefix is None else c.prefix
    if c.protocol == "xtreme-r":
        proto = alignment.official_protocol(task, enc.num_layers, prefix, enc.max_tokens)
    else:
        proto = alignment.Protocol(layers=tuple(resolve_layers(c.layers, enc.num_layers)), pooling=c.pooling,
                                   prefix=prefix, scorer=c.scorer)
    rows = alignment.probe(enc, proto, task, langs=c.langs, model_hash=weights_hash(enc),
                           condition=c.condition, data_root=ctx.data_root, max_sentences=c.max_sentences)
    after = {"fine_tuned_on": c.after} if c.after else {}
    for r in rows:  # rows name the study's model; the condition says what trained it
        r.model, r.intermediate, r.seed = c.model, list(c.intermediate_tasks), c.intermediate_seed
        r.protocol.update(_provenance(node, ctx), **after)
    title = f"{c.probe} on {c.condition}" + (f" after {c.after}" if after else "")
    make_console().print(per_language_table(
        [r for r in rows if r.metric == rows[0].metric] if rows else rows, f"{title}: {describe(proto, task)}",
        {"all": c.langs}))
    return {"rows": rows}


def finetune_node(node: Node, deps: dict[str, dict], ctx: RunContext) -> dict:
    c: FinetuneConfig = node.typed
    rows = run_finetune(
        _encoder_of(node, deps), c.task, c.train, seed=c.seed, out_dir=ctx.node_dir,
        data_root=ctx.data_root, store_url=False, resume=True, condition=c.condition,
        intermediate=c.intermediate_tasks, eval_langs=c.langs, model_name=c.model,
        provenance=_provenance(node, ctx),
        keep_weights=ctx.spec.checkpoints.keep_finetuned if ctx.spec else True,
        encoder_out=Path(ctx.node_dir) / "encoder" if c.export_encoder else None,
    )
    config = json.loads((Path(ctx.node_dir) / CONFIG_FILE).read_text())
    exported = {"encoder": str(Path(ctx.node_dir) / "encoder")} if c.export_encoder else {}
    return {"rows": rows, "learning": config["learning"], **exported}  # English dev curve, chance and verdict


RUNNERS: Mapping[str, Runner] = {
    "intermediate": Runner(_with_spec_tasks(intermediate_node), is_valid=lambda out: is_complete(Path(out["encoder"]))),
    "probe": Runner(_with_spec_tasks(probe_node)),
    "finetune": Runner(_with_spec_tasks(finetune_node),
                       is_valid=lambda out: "encoder" not in out or is_complete(Path(out["encoder"]))),
}
