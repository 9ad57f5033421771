"""Spec → a DAG of nodes, each keyed by a hash of everything that can change its result.

Three kinds of node:
- `intermediate`: one per condition that trains (kind != none) and seed (`intermediate_seeds:
  per-seed`, the default: the encoder is the unit of replication), or one trained with the first
  seed and reused by every target and seed (`first`, as the paper). Output: {"encoder": dir}.
- `probe`: each alignment probe on each encoder (the base encoder and every intermediate
  checkpoint); a probe `after: TASK` on each unit's encoder fine-tuned on TASK (that
  finetune node exports it). Output: e.g. {"rows": n}.
- `finetune`: each target task x condition x seed, from that condition's encoder with fresh
  heads; with `finetune_seeds: k`, k runs nested in each unit (phase-2 seed). Output: e.g.
  {"rows": n}, and {"encoder": dir} where a probe scores the fine-tuned encoder.

A key hashes the kind, the node's config (with a content hash of the data files it reads),
its dependencies' keys, and the code version: the package version plus a per-kind constant in
CODE_VERSIONS. The git hash is left out on purpose: it would invalidate every finished node on
every commit; bump the kind's constant when a change to its runner can move its results.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


from xstilts.data import catalog, formats
from xstilts.errors import UnknownName, XstiltsError
from xstilts.orchestration import guard
from xstilts.orchestration.nodes import typed_config
from xstilts.training.hparams import HParams, resolve
from xstilts.orchestration.spec import (ProbeTarget, Spec, TaskTarget, Train, load_spec_tasks)
from xstilts.provenance import package_version, stable_hash
from xstilts.tasks.user import UserTasks

CODE_VERSIONS = {"intermediate": "2", "probe": "2", "finetune": "2"}
NESTED_SEED_STRIDE = 1000  # fine-tuning seeds nested in unit s: s, s + 1000, ...
# Used for the cost only, where neither the spec nor the target's recipe sets them.
_FALLBACK_BATCH, _FALLBACK_LENGTH = 32, 128


# `--smoke`: every node of the spec through the same code paths on a tiny budget (one seed; up to
# SMOKE_UNITS where every seed trains its own phase-2 encoder).
SMOKE_UNITS = 3
SMOKE_INTERMEDIATE = Train(max_steps=2, batch_size=4, max_train_examples=32)
SMOKE_FINETUNE = Train(max_steps=2, batch_size=4, max_train_examples=32, eval_every=2, max_dev_examples=16,
                       max_eval_examples=16)
SMOKE_SENTENCES = 100  # per probe language (Tatoeba pairs, FLORES sentences, LAReQA questions)
SMOKE_MLM_TEXTS = 32

TIMINGS = "timings.jsonl"  # under the cache folder: how long finished nodes took on this machine (executors write it)


@dataclass(frozen=True)
class Throughput:
    """Speeds for the cost estimate; defaults are me5-small on 2 CPU cores (DESIGN.md)."""

    train_tokens_per_s: float = 320.0  # batch 16 x 48 tokens per 2.4 s step, AdamW, fp32
    frozen_train_tokens_per_s: float = 590.0  # the same with word embeddings frozen (1.3 s)
    encode_sentences_per_s: float = 66.0


def scaled_throughput(model: str | None, base: Throughput = Throughput()) -> tuple[Throughput, str]:
    """BASE (me5-small's speeds) scaled to MODEL's size (disk.model_size: known configs, a local
    folder, the Hugging Face cache): compute per token grows with the non-embedding parameters,
    an unfrozen step's optimizer cost with the embedding matrix. BASE where the size is unknown."""
    from xstilts.orchestration import disk
    from xstilts.models import me5

    note = "me5-small speeds on 2 CPU cores (DESIGN.md)"
    if model in (None, me5.NAME):
        return base, note
    try:
        size, ref = disk.model_size(model), disk.model_size(me5.NAME)
    except disk.DiskEstimateError:
        return base, note
    body = (size.params - size.embedding_params) / (ref.params - ref.embedding_params)
    emb = size.embedding_params / ref.embedding_params
    frozen = 1 / base.frozen_train_tokens_per_s * body
    unfrozen = frozen + (1 / base.train_tokens_per_s - 1 / base.frozen_train_tokens_per_s) * emb
    return (Throughput(1 / unfrozen, 1 / frozen, base.encode_sentences_per_s / body),
            f"me5-small speeds on 2 CPU cores scaled to {model}'s size (×{body:.1f} compute per token)")


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

    @functools.cached_property
    def typed(self) -> Any:
        """The config as its kind's model (`nodes.IntermediateConfig`, `ProbeConfig`, `FinetuneConfig`)."""
        return typed_config(self.kind, self.config)


@dataclass(frozen=True)
class Plan:
    nodes: dict[str, Node]  # in topological order: every node after its dependencies
    spec: Spec | None = None
    warnings: tuple[str, ...] = ()  # e.g. chance text overlaps the guard tolerated
    units: tuple[int, ...] | None = None  # a part of the study (`--seeds`): its units; None: all of it
    user: UserTasks = UserTasks()  # the spec's own tasks, resolved once: in scope wherever the plan is used

    @property
    def minutes(self) -> float:
        return sum(n.cost.minutes or 0.0 for n in self.nodes.values())

    @property
    def study(self) -> Spec:
        """The spec, for what only a study's plan has (seeds, conditions, model, folders); a bare DAG
        of nodes (an executor's own test plan) has none."""
        if self.spec is None:
            raise XstiltsError("this plan was built without a spec: it is no study's plan")
        return self.spec


def node_unit(node: Node, first_seed: int) -> int:
    """The unit (phase-2 seed) a node belongs to: its encoder's training seed, a fine-tuning run's
    unit, and the study's first seed for the untrained encoder's probes."""
    c = node.typed
    if node.kind == "intermediate":
        return c.seed
    if node.kind == "probe":
        return first_seed if c.intermediate_seed is None else c.intermediate_seed
    return node.meta.get("unit", c.seed)


def part_of(plan: Plan, units: Sequence[int]) -> Plan:
    """The nodes of PLAN whose unit is in UNITS, with the nodes they depend on: a part of a study
    too long for one sitting, run (`run --seeds`) and published (`report --seeds --publish`) on
    its own; `report --from` merges the parts (orchestration.record)."""
    seeds = list(plan.study.seeds)
    if unknown := [u for u in units if u not in seeds]:
        raise XstiltsError(f"--seeds: {', '.join(map(str, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                           f"a seed of this spec (seeds: {', '.join(map(str, seeds))})")
    keep = {k for k, n in plan.nodes.items() if node_unit(n, seeds[0]) in units}
    if not keep:
        raise XstiltsError(f"--seeds: no node of this plan belongs to seed(s) {', '.join(map(str, units))} (a smoke "
                           "run plans only the first seeds)")
    for key in reversed(list(plan.nodes)):  # topological order reversed: a node before its dependencies
        if key in keep:
            keep.update(plan.nodes[key].deps)
    return replace(plan, nodes={k: n for k, n in plan.nodes.items() if k in keep},
                   units=tuple(sorted(set(units))))


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


def _train_examples(sources: Sequence[guard.TextSource], data_root: str | Path | None) -> int | None:
    """English training examples the sources hold: recorded counts (data/counts.json), else a
    quick count of the files where they are there; None when neither is known."""
    from xstilts.data import integrity

    recorded, total = integrity.load_counts(), 0
    for s in sources:
        n = recorded.get(integrity.count_key(s.dataset, s.split, s.lang))
        if n is None:
            entry, files = catalog.get_dataset(s.dataset), catalog.dataset_files(s.dataset, s.split, s.lang)
            paths = catalog.local_paths(entry, files[0], data_root) if files and not files[0].hf else ()
            if not (paths and all(p.is_file() for p in paths)):
                return None
            n = formats.get_format(entry.format).count(paths)
        total += n
    return total


def _train_cost(hp: HParams, speed: Throughput, examples: int | None = None) -> Cost:
    """Padded tokens (max_length per example: an upper bound) and minutes. A length in epochs is
    turned into steps from EXAMPLES (the training sources' size, capped by max_train_examples)."""
    steps = hp.max_steps
    if steps is None and hp.epochs is not None and examples:
        n = min(examples, hp.max_train_examples or examples)
        steps = math.ceil(hp.epochs * math.ceil(n / hp.batch_size) / hp.grad_accum)
    if steps is None:
        return Cost()
    tokens = steps * hp.batch_size * hp.grad_accum * hp.max_length
    per_s = speed.frozen_train_tokens_per_s if hp.freeze_embeddings else speed.train_tokens_per_s
    return Cost(tokens=tokens, minutes=tokens / per_s / 60)


def _probe_cost(probe: ProbeTarget, langs: Sequence[str], speed: Throughput, data_root: str | Path | None) -> Cost:
    """Sentences a probe encodes: each source's recorded (else quickly counted) examples, capped;
    twice for pairs (both sides; BUCC: its first side's sentences, twice); 1,000 where uncounted."""
    from xstilts.data import integrity
    from xstilts.tasks.check import id_aligned

    task = guard.probe_task(probe)
    mining = "bucc_f1" in task.metrics
    recorded = integrity.load_counts()
    def count(s: guard.TextSource) -> int:
        recorded_n = None if mining else recorded.get(integrity.count_key(s.dataset, s.split, s.lang))
        if recorded_n is not None:
            return recorded_n
        entry, files = catalog.get_dataset(s.dataset), catalog.dataset_files(s.dataset, s.split, s.lang)
        paths = catalog.local_paths(entry, files[0], data_root) if files and not files[0].hf else ()
        usable = paths and all(p.is_file() for p in paths)
        return formats.get_format(entry.format).count(paths) if usable else 1000

    per_lang: dict[str, int] = {}
    for s in guard.target_sources(probe):
        per_lang[s.lang] = per_lang.get(s.lang, 0) + count(s)
    sides = 1 if id_aligned(task) or task.type == "qa_retrieval" else 2
    n = sum(min(c, probe.max_sentences or 10**9) * sides for c in per_lang.values())
    return Cost(encodings=n, minutes=n / speed.encode_sentences_per_s / 60)


def _recipe_of(tasks: Sequence[str]):
    """Phase 2's recipe: its first task's (MLM-only runs take the first text task's)."""
    from xstilts.tasks import get_task

    return get_task(tasks[0]).recipe


def build_plan(spec: Spec, throughput: Throughput = Throughput(), data_root: str | Path | None = None, *,
               smoke: bool = False, user: UserTasks | None = None) -> Plan:
    """The DAG of a spec. Unknown task or language names raise KeyError (see `validate`).
    `data_root` (else the spec's, else $XSTILTS_DATA) only locates files: keys hash their content.
    `smoke` plans every node on the smoke budget and the first seed (different keys, so smoke
    and real results never share a node). USER: the spec's own tasks as `validate` resolved them
    (loaded here when not given)."""
    root = data_root or spec.data_root
    user = load_spec_tasks(spec, root) if user is None else user
    with user.scope():
        return replace(_build_plan(spec, throughput, root, smoke), user=user)


def _build_plan(spec: Spec, throughput: Throughput, root: str | Path | None, smoke: bool) -> Plan:
    from xstilts.tasks import get_task

    nodes: dict[str, Node] = {}
    seeds = study_seeds(spec, smoke)

    def add(kind: str, label: str, config: dict, deps: tuple[str, ...], cost: Cost, **meta: Any) -> str:
        config = {"study": spec.name, **config}  # a study's nodes and rows are its own, even where another's match
        typed_config(kind, config)  # every field its runner reads, of the right type, and nothing else
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
        hp = resolve(_recipe_of(c.tasks), spec.intermediate, c.train, *([SMOKE_INTERMEDIATE] if smoke else []),
                     phase="intermediate")
        mlm = None
        if c.mlm:
            cap = min(c.mlm.max_examples or 10**9, SMOKE_MLM_TEXTS) if smoke else c.mlm.max_examples
            mlm = {**c.mlm.model_dump(mode="json"), "max_examples": cap, "tasks": guard.mlm_tasks_for(c.mlm.languages)}
        sources = [s for t in [*c.tasks, *(mlm["tasks"] if mlm else [])] for s in guard.train_sources(t)]
        cost = _train_cost(hp, throughput, _train_examples(sources, root))
        for seed in seeds if per_seed else seeds[:1]:
            config = {"model": spec.model, "seed": seed, "train": hp.node_config(), "data": data_id(sources, root),
                      "condition": {**c.model_dump(include={"kind", "tasks", "sampling", "translation_of"},
                                                   mode="json"), "mlm": mlm},
                      "smoke": smoke}
            label = c.name + (f" (seed {seed})" if per_seed and len(seeds) > 1 else "")
            key = add("intermediate", label, config, (), cost, condition=c.name,
                      pair=c.pair, hparams=hp)
            trained[c.name, seed] = key
            encoders.append((c.name, c.tasks, seed if per_seed else None, key))

    probes = []
    for p in (p for p in spec.targets if isinstance(p, ProbeTarget)):
        if smoke:
            p = p.model_copy(update={"max_sentences": min(p.max_sentences or 10**9, SMOKE_SENTENCES)})
        probes.append((p, guard.probe_langs(p), data_id(guard.target_sources(p), root)))

    def add_probe(p: ProbeTarget, langs, data, cond: str, tasks: list[str], seed: int | None, dep: str | None) -> None:
        config = {**_probe_settings(p), "langs": list(langs), "model": spec.model, "condition": cond,
                  "intermediate_tasks": tasks, "intermediate_seed": seed, "data": data, "smoke": smoke}
        label = (f"{p.probe}{f' after {p.after}' if p.after else ''} on {cond}"
                 + (f" (seed {seed})" if seed is not None else ""))
        add("probe", label, config, (dep,) if dep else (), _probe_cost(p, langs, throughput, root), condition=cond)

    for cond, tasks, trained_seed, trained_key in encoders:
        for p, langs, data in probes:
            if p.after is None:
                add_probe(p, langs, data, cond, tasks, trained_seed, trained_key)

    exported = {p.after for p, _, _ in probes if p.after}  # fine-tuned encoders a probe scores
    finetuned: dict[tuple[str, str, int], str] = {}
    for t in (t for t in spec.targets if isinstance(t, TaskTarget)):
        task = get_task(t.task)
        sources = [*task.train_first, *task.train, *guard.target_sources(t)]
        data = data_id(sources, root)
        hp = resolve(task.recipe, spec.finetune, t.train, *([SMOKE_FINETUNE] if smoke else []))
        cost = _train_cost(hp, throughput, _train_examples([*task.train_first, *task.train], root))
        for c in spec.conditions:
            for seed, unit in finetune_seeds(spec, seeds, smoke):
                deps = () if c.kind == "none" else (trained[c.name, unit if per_seed else seeds[0]],)
                config = {"task": t.task, "langs": t.langs, "train": hp.node_config(), "seed": seed,
                          "model": spec.model, "condition": c.name, "intermediate_tasks": c.tasks, "data": data,
                          "smoke": smoke, **({"export_encoder": True} if t.task in exported and seed == unit else {})}
                label = f"{t.task} after {c.name} (seed {seed}" + (f", unit {unit})" if seed != unit else ")")
                finetuned[t.task, c.name, seed] = add(
                    "finetune", label, config, deps, cost, condition=c.name, hparams=hp,
                    **({"unit": unit} if spec.finetune_seeds > 1 else {}))

    for p, langs, data in probes:
        if p.after is None:
            continue
        if not any(t.task == p.after for t in spec.targets if isinstance(t, TaskTarget)):
            raise UnknownName(f"probe {p.probe}: after '{p.after}', which is not a target task of this spec "
                              f"(add `- task: {p.after}` to targets)")
        for c in spec.conditions:
            for seed, unit in finetune_seeds(spec, seeds, smoke):
                if seed == unit:  # the unit's first fine-tuning run: one fine-tuned encoder per unit
                    add_probe(p, langs, data, c.name, c.tasks, unit, finetuned[p.after, c.name, seed])
    return Plan(nodes, spec)


def study_seeds(spec: Spec, smoke: bool = False) -> list[int]:
    """The seeds a plan runs: all of them; a smoke run the first, or the first `SMOKE_UNITS` where
    each seed is a phase-2 encoder (so the statistics over units run too)."""
    if not smoke:
        return list(spec.seeds)
    return list(spec.seeds[:SMOKE_UNITS] if spec.intermediate_seeds == "per-seed" else spec.seeds[:1])


def finetune_seeds(spec: Spec, seeds: Sequence[int], smoke: bool = False) -> list[tuple[int, int]]:
    """(fine-tuning seed, unit) of every phase-3 run per condition and target: each unit (phase-2
    seed) nests `finetune_seeds` runs (2 at most in a smoke run), seeded s, s + 1000, s + 2000, ...
    (the first keeps seed s)."""
    nested = min(spec.finetune_seeds, 2) if smoke else spec.finetune_seeds
    return [(s + NESTED_SEED_STRIDE * r, s) for s in seeds for r in range(nested)]


def _probe_settings(p: ProbeTarget) -> dict[str, Any]:
    """A probe's settings as its key holds them. Fields added after records were published enter
    only when set, and `margin_search` only where the margin code changed what a probe scores (the
    k nearest re-scored, was 16; mined pairs scoring <= 0 dropped): cosine probes score as before
    and keep their keys, so published records (results/) still resume and match their nodes."""
    from xstilts.tasks import get_task

    settings = p.model_dump(mode="json", exclude={"protocol", "after"})
    if p.protocol != "alignment":
        settings["protocol"] = p.protocol
    if p.after is not None:
        settings["after"] = p.after
    task = get_task(p.probe)
    if p.protocol == "xtreme-r" or p.scorer == "margin" or "bucc_f1" in task.metrics:
        settings["margin_search"] = "k-nearest, pairs > 0"
    return settings
