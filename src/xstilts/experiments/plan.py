"""Spec → a DAG of nodes, each keyed by a hash of everything that can change its result.

Three kinds of node:
- `intermediate`: one per condition that trains (kind != none), trained once with the first
  seed and reused by every target and seed (the paper trains one intermediate model), or once
  per seed with `intermediate_seeds: per-seed`. Output: {"checkpoint": dir}.
- `probe`: each alignment probe on each encoder (the base encoder and every intermediate
  checkpoint). Output: e.g. {"rows": n}.
- `finetune`: each target task x condition x seed, from that condition's encoder with fresh
  heads. Output: e.g. {"rows": n}.

A key hashes the kind, the node's config (with a content hash of the data files it reads),
its dependencies' keys, and the code version: the package version plus a per-kind constant in
CODE_VERSIONS. The git hash is left out on purpose: it would invalidate every finished node on
every commit; bump the kind's constant when a change to its runner can move its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from xstilts.data import catalog
from xstilts.experiments import guard
from xstilts.experiments.spec import ProbeTarget, Spec, SpecError, TaskTarget, load_spec, locate
from xstilts.provenance import package_version, stable_hash

CODE_VERSIONS = {"intermediate": "1", "probe": "1", "finetune": "1"}
# Rough sentences per language a probe encodes (FLORES via SIB-200: 1,004 sentences;
# XQuAD-R: ~1,190 questions + ~1,200 candidate sentences). Tatoeba's are counted.
_PROBE_SENTENCES = {"flores": 1004, "lareqa": 2400}
# Used for the cost only, where neither the spec nor the target's recipe sets them.
_FALLBACK_BATCH, _FALLBACK_LENGTH = 32, 128


@dataclass(frozen=True)
class Throughput:
    """Speeds for the cost estimate; defaults are me5-small on 2 CPU cores (DESIGN.md)."""

    train_tokens_per_s: float = 320.0  # batch 16 x 48 tokens per 2.4 s step, AdamW, fp32
    frozen_train_tokens_per_s: float = 590.0  # the same with word embeddings frozen (1.3 s)
    encode_sentences_per_s: float = 66.0


@dataclass(frozen=True)
class Cost:
    tokens: int | None = None  # padded training tokens (an upper bound: batches pad dynamically)
    encodings: int | None = None  # sentences encoded by a probe
    minutes: float | None = None  # None: unknown (e.g. training length left to a recipe's epochs)


@dataclass(frozen=True)
class Node:
    key: str
    kind: str
    label: str
    config: dict[str, Any]  # what the runner needs; hashed into the key
    deps: tuple[str, ...]
    cost: Cost = Cost()
    meta: dict[str, Any] = field(default_factory=dict)  # names for people; not hashed


@dataclass(frozen=True)
class Plan:
    nodes: dict[str, Node]  # in topological order: every node after its dependencies
    spec: Spec | None = None
    warnings: tuple[str, ...] = ()  # e.g. chance text overlaps the guard tolerated

    @property
    def minutes(self) -> float:
        return sum(n.cost.minutes or 0.0 for n in self.nodes.values())


def node_key(kind: str, config: dict[str, Any], deps: Sequence[str]) -> str:
    return stable_hash({"kind": kind, "config": config, "deps": sorted(deps),
                        "code": [package_version(), CODE_VERSIONS[kind]]})


def data_id(sources: Sequence[guard.TextSource], data_root: str | Path | None) -> str:
    """Content hash of the files the sources read (cached per file by size and mtime); where a
    file is not there yet, the datasets' release versions stand in for it."""
    from xstilts.tasks.data import sources_hash

    try:
        return sources_hash(sources, data_root)
    except OSError:
        versions = sorted({catalog.get_dataset(s.dataset).version for s in sources})
        return stable_hash({"sources": list(sources), "versions": versions, "files": "missing"})


def _train_cost(train: dict[str, Any], speed: Throughput) -> Cost:
    steps = train.get("max_steps")
    if steps is None:
        return Cost()
    tokens = steps * train.get("batch_size", _FALLBACK_BATCH) * train.get("max_length", _FALLBACK_LENGTH)
    per_s = speed.frozen_train_tokens_per_s if train.get("freeze_embeddings") else speed.train_tokens_per_s
    return Cost(tokens=tokens, minutes=tokens / per_s / 60)


def _tatoeba_pairs(lang: str, data_root: str | Path | None) -> int:
    """Pairs in a Tatoeba test file (a few KB, so counted), 1,000 where it is not there yet."""
    path = catalog.local_paths("tatoeba", catalog.dataset_files("tatoeba", "test", lang)[0], data_root)[0]
    return sum(1 for _ in path.open("rb")) if path.is_file() else 1000


def _probe_cost(probe: ProbeTarget, langs: Sequence[str], speed: Throughput, data_root: str | Path | None) -> Cost:
    if probe.probe == "tatoeba":
        n = sum(2 * _tatoeba_pairs(lang, data_root) for lang in langs)
    elif probe.probe == "flores":
        langs = [*dict.fromkeys((*langs, guard.FLORES_PIVOT))]
        n = min(_PROBE_SENTENCES["flores"], probe.max_sentences or 10**9) * len(langs)
    else:
        n = _PROBE_SENTENCES["lareqa"] * len(langs)
    return Cost(encodings=n, minutes=n / speed.encode_sentences_per_s / 60)


def build_plan(spec: Spec, throughput: Throughput = Throughput(), data_root: str | Path | None = None) -> Plan:
    """The DAG of a spec. Unknown task or language names raise KeyError (see `validate`).
    `data_root` (else the spec's, else $XSTILTS_DATA) only locates files: keys hash their content."""
    root = data_root or spec.data_root
    nodes: dict[str, Node] = {}

    def add(kind: str, label: str, config: dict, deps: tuple[str, ...], cost: Cost, **meta: Any) -> str:
        key = node_key(kind, config, deps)
        nodes.setdefault(key, Node(key, kind, label, config, deps, cost, meta))
        return key

    base_name = next((c.name for c in spec.conditions if c.kind == "none"), "none")
    per_seed = spec.intermediate_seeds == "per-seed"
    # encoder (condition, its intermediate tasks, seed it was trained with or None, intermediate key or None)
    encoders: list[tuple[str, list[str], int | None, str | None]] = [(base_name, [], None, None)]
    trained: dict[tuple[str, int], str] = {}
    for c in spec.conditions:
        if c.kind == "none":
            continue
        train = spec.intermediate.over(c.train)
        sources = [s for t in c.tasks for s in guard.train_sources(t)]
        for seed in spec.seeds if per_seed else spec.seeds[:1]:
            config = {"model": spec.model, "seed": seed, "train": train, "data": data_id(sources, root),
                      "condition": c.model_dump(include={"kind", "tasks", "sampling", "mlm"}, mode="json")}
            label = c.name + (f" (seed {seed})" if per_seed else "")
            key = add("intermediate", label, config, (), _train_cost(train, throughput), condition=c.name,
                      pair=c.pair)
            trained[c.name, seed] = key
            encoders.append((c.name, c.tasks, seed if per_seed else None, key))

    probes = [(p, guard.probe_langs(p), data_id(guard.target_sources(p), root))
              for p in spec.targets if isinstance(p, ProbeTarget)]
    for cond, tasks, seed, dep in encoders:
        for p, langs, data in probes:
            config = {**p.model_dump(mode="json"), "langs": list(langs), "model": spec.model, "condition": cond,
                      "intermediate_tasks": tasks, "intermediate_seed": seed, "data": data}
            label = f"{p.probe} on {cond}" + (f" (seed {seed})" if seed is not None else "")
            add("probe", label, config, (dep,) if dep else (), _probe_cost(p, langs, throughput, root), condition=cond)

    for t in (t for t in spec.targets if isinstance(t, TaskTarget)):
        sources = [*guard.task_registry()[t.task].train, *guard.target_sources(t)]
        data = data_id(sources, root)
        train = spec.finetune.over(t.train)
        for c in spec.conditions:
            for seed in spec.seeds:
                dep = () if c.kind == "none" else (trained[c.name, seed if per_seed else spec.seeds[0]],)
                config = {"task": t.task, "langs": t.langs, "train": train, "seed": seed, "model": spec.model,
                          "condition": c.name, "intermediate_tasks": c.tasks, "data": data}
                add("finetune", f"{t.task} after {c.name} (seed {seed})", config, dep,
                    _train_cost(train, throughput), condition=c.name)
    return Plan(nodes, spec)


def validate(path: str | Path, *, overlap: bool = True, data_root: str | Path | None = None,
             throughput: Throughput = Throughput()) -> Plan:
    """`xstilts validate`: parse the spec, resolve every task and language name, build the plan
    and (with `overlap`, which reads the data) run the overlap guard. Runs nothing."""
    spec = load_spec(path)
    problems = []
    for i, c in enumerate(spec.conditions):
        for j, name in enumerate(c.tasks):
            try:
                guard.train_sources(name)
            except KeyError as e:
                problems.append((locate(path, ("conditions", i, "tasks", j)), f"conditions.{i}.tasks.{j}", e.args[0]))
    for i, t in enumerate(spec.targets):
        try:
            guard.target_sources(t)
        except KeyError as e:
            field = "probe" if isinstance(t, ProbeTarget) else "task"
            field = "langs" if "language" in e.args[0] else field
            problems.append((locate(path, ("targets", i, field)), f"targets.{i}.{field}", e.args[0]))
    if problems:
        raise SpecError(path, problems)
    plan = build_plan(spec, throughput, data_root)
    if overlap:
        chance = guard.check_spec(spec, data_root)
        plan = replace(plan, warnings=tuple(f"tolerated overlap: {o.message()}" for o in chance))
    return plan


# ---- the view `xstilts plan` prints -------------------------------------------------------

_STATUS = {"done": "[green]done[/]", "failed": "[red]failed[/]", "running": "[yellow]running[/]",
           None: "[dim]pending[/]"}


def _fmt_cost(cost: Cost) -> str:
    parts = []
    if cost.tokens is not None:
        parts.append(f"{cost.tokens / 1e6:.2f}M tok")
    if cost.encodings is not None:
        parts.append(f"{cost.encodings:,} enc")
    parts.append("? min" if cost.minutes is None else f"~{cost.minutes:.1f} min")
    return ", ".join(parts)


def render_plan(plan: Plan, store: Any | None = None) -> Group:
    """A tree: the base encoder and each intermediate checkpoint, with the probes and
    fine-tuning runs that use it; each node with its store status, cost and short key."""
    status = {n.key: n.status for n in store.nodes()} if store is not None else {}

    def line(n: Node) -> str:
        return (f"{_STATUS.get(status.get(n.key), status.get(n.key))} [bold]{n.kind}[/] {n.label}  "
                f"[cyan]{_fmt_cost(n.cost)}[/]  [dim]{n.key[:10]}[/]")

    by_dep: dict[str | None, list[Node]] = {}
    for n in plan.nodes.values():
        by_dep.setdefault(n.deps[0] if n.deps else None, []).append(n)
    name = plan.spec.name if plan.spec else "plan"
    tree = Tree(f"[bold]{name}[/]: {len(plan.nodes)} nodes, ~{plan.minutes:.0f} min of known cost")
    base = tree.add("[bold]base encoder[/]" + (f" {plan.spec.model}" if plan.spec else ""))
    for n in by_dep.get(None, []):
        if n.kind == "intermediate":
            branch = tree.add(line(n))
            for child in by_dep.get(n.key, []):
                branch.add(line(child))
        else:
            base.add(line(n))
    pending = [n for n in plan.nodes.values() if status.get(n.key) != "done"]
    unknown = sum(n.cost.minutes is None for n in pending)
    left = sum(n.cost.minutes or 0.0 for n in pending)
    summary = Text.from_markup(f"{len(plan.nodes) - len(pending)} done, {len(pending)} to run, ~{left:.0f} min"
                               + (f" (+{unknown} of unknown length)" if unknown else ""))
    return Group(tree, summary, *(Text(w, style="yellow") for w in plan.warnings))
