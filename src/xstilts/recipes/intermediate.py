"""Phase 2: intermediate-task training of an encoder on one task or many, optionally with
multilingual MLM kept on (the paper's first baseline); the result is an encoder directory
that phase 3 and the alignment probes load like any other model.

Top to bottom: tasks → training features (cached) → a TaskModel with one head per task
(+ a tied MLM head) → the training loop sampling tasks per step, scoring each task on its own
dev set now and then (its learning curve; `until` stops there once every task reaches a target)
→ the encoder, saved as a transformers directory with what trained it and how well it learned
(written to a temporary directory, then renamed).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console

from xstilts.data.examples import example_texts
from xstilts.errors import BadValue, XstiltsError
from xstilts.evaluation.dev import dev_eval_fn
from xstilts.features.train import cached_train_features
from xstilts.training.config import train_config
from xstilts.training.hparams import (PHASE2_DEV_EVALS, PHASE2_MAX_DEV_EXAMPLES, HParams,
                                         resolve as resolve_hparams)
from xstilts.models import encoders
from xstilts.models.encoders import load_encoder, pretrained_mlm_head, save_encoder, weights_hash
from xstilts.models.heads import HeadSpec, TaskModel
from xstilts.paths import data_root as resolve_data_root
from xstilts.provenance import tensor_state_hash
from xstilts.report.learning import chance_level, learning_entry
from xstilts.tasks import get_task
from xstilts.tasktypes import MLM, head_of
from xstilts.tasks.data import read_sources, sources_hash
from xstilts.training import Collator, train
from xstilts.training.collate import Collate
from xstilts.console import make_console

MLM_TASK = MLM.name  # its head's name in the TaskModel and its entry in task_shares
SOURCE_FILE = encoders.SOURCE_FILE
CODE_VERSION = "2"  # bump when phase-2 outputs can change for the same inputs


def mlm_features(task_names: Sequence[str], tokenizer, root: Path, max_length: int, max_examples: int | None
                 ) -> list[dict]:
    """Unlabelled text of the given tasks' training data, tokenised for MLM."""
    texts = (t for name in task_names for ex in read_sources(get_task(name).train, root) for t in example_texts(ex))
    return MLM.text_features(texts, tokenizer, max_length, max_examples)


def own_dev_eval(defs: Sequence, tokenizer, root: Path, max_length: int, max_dev_examples: int):
    """eval_fn for phase 2: each task's main score on its own dev set (a task without one is left
    out; None when none has one). The run's score is the lowest, so `until` waits for every task."""
    fns = {t.name: fn for t in defs if (fn := dev_eval_fn(t, tokenizer, root, max_length, max_dev_examples))}
    if not fns:
        return None

    def eval_fn(model):
        scores = {name: fn(model)[0] for name, fn in fns.items()}
        return min(scores.values()), scores

    return eval_fn


def is_complete(encoder_dir: Path) -> bool:
    return (Path(encoder_dir) / SOURCE_FILE).is_file()


def run_intermediate(
    model: str, tasks: Sequence[str], hp: HParams | None = None, *, out_dir: Path, seed: int = 0,
    data_root: Path | None = None, sampling: str = "proportional", sampling_cap: int | None = None,
    sampling_temperature: float = 1.0, mlm_tasks: Sequence[str] = (), mlm_max_examples: int | None = None,
    mlm_weight: float = 1.0, mlm_fraction: float | str = "proportional", mlm_probability: float = 0.15,
    resume: bool = False, progress: bool = True, console: Console | None = None,
) -> Path:
    """Train MODEL on the intermediate TASKS (one, or several sharing the encoder with a head
    each, sampled per batch); with MLM_TASKS, masked-LM on those tasks' unlabelled text is one
    more sampled task: its loss scaled by MLM_WEIGHT, its share of batches MLM_FRACTION (a number)
    or the sampling rule's ('proportional'). HP: the resolved hyper-parameters (None: the first
    task's recipe); each task is scored on its own dev set every `eval_every` steps (default: five
    times a run) and at the end, and `until` ends the run once every task reaches that score.
    Returns OUT_DIR/encoder, a transformers directory whose xstilts_source.json records what
    trained it, including each loss's share of batches and first and final value, and each
    task's `learning` (dev curve, chance, verdict: `report.learning`)."""
    console = console or make_console()
    root = resolve_data_root(data_root)
    out = Path(out_dir)
    final = out / "encoder"
    if is_complete(final):
        return final
    defs = [get_task(name) for name in tasks]
    if not defs and not mlm_tasks:
        raise BadValue("intermediate training needs at least one task (or MLM text)")
    hp = hp or resolve_hparams((defs[0] if defs else get_task(mlm_tasks[0])).recipe, phase="intermediate")
    blind = [t.name for t in defs if t.dev is None] or ([] if defs else [MLM_TASK])
    if hp.until is not None and blind:
        raise XstiltsError(f"until: {', '.join(blind)} has no dev set to reach {hp.until:g} points on; "
                           "train it for max_steps or epochs instead")
    started = time.perf_counter()
    with console.status(f"loading {model}"):
        enc = load_encoder(model)
        base_hash = weights_hash(enc)

    feats: dict[str, list[dict]] = {}
    heads: dict[str, HeadSpec] = {}
    collate: dict[str, Collate] = {}  # a task's batches: padded, or masked for MLM
    data_hashes: dict[str, str] = {}
    chances: dict[str, tuple[float | None, float | None]] = {}
    pad = Collator(enc.tokenizer.pad_token_id, pad_to_multiple_of=8)
    for t in defs:
        with console.status(f"building {t.name} features"):
            examples = read_sources(t.train, root, hp.max_train_examples)
            data_hashes[t.name] = sources_hash(t.train, root, hp.max_train_examples)
            feats[t.name] = cached_train_features(t, enc.tokenizer, examples, data_hashes[t.name], hp.max_length)
        chances[t.name] = chance_level(t, examples)
        head, options = head_of(t)
        heads[t.name] = HeadSpec(type=head, **options)
        collate[t.name] = pad
    mlm_head, mlm_record = None, None
    if mlm_tasks:
        tok = enc.tokenizer
        feats[MLM_TASK] = mlm_features(mlm_tasks, tok, root, hp.max_length, mlm_max_examples)
        heads[MLM_TASK] = HeadSpec(type=MLM.head)
        collate[MLM_TASK] = MLM.collate(tok, pad, mlm_probability)
        data_hashes[MLM_TASK] = sources_hash([s for n in mlm_tasks for s in get_task(n).train], root, mlm_max_examples)
        with console.status("looking for the checkpoint's own masked-LM head"):
            mlm_head, mlm_head_source = pretrained_mlm_head(enc)
        mlm_record = {"tasks": list(mlm_tasks), "texts": len(feats[MLM_TASK]), "weight": mlm_weight,
                      "fraction": mlm_fraction, "probability": mlm_probability, "head": mlm_head_source}

    total = hp.max_steps or math.ceil((hp.epochs or 0) * sum(math.ceil(len(f) / hp.batch_size) for f in feats.values())
                                      / hp.grad_accum)
    cfg = train_config(hp, seed, progress, save_every=max(1, total // 4), task_sampling=sampling,
                       eval_every=hp.eval_every or max(1, total // PHASE2_DEV_EVALS), select_best=False,
                       stop_at=hp.until,
                       sampling_cap=sampling_cap, sampling_temperature=sampling_temperature,
                       task_shares={MLM_TASK: mlm_fraction} if mlm_tasks and mlm_fraction != "proportional" else {},
                       task_loss_weights={MLM_TASK: mlm_weight} if mlm_tasks else {})
    torch.manual_seed(seed)  # new heads' initialisation is part of what the seed fixes
    tm = TaskModel(enc.model, heads)
    if mlm_head is not None:
        tm.heads[MLM_TASK].load_state_dict(mlm_head)
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in feats.items())
    console.print(f"[bold]intermediate[/] {'+'.join(list(tasks) + ([MLM_TASK] if mlm_tasks else []))}: "
                  f"features {sizes}; {hp.describe()} → {out}"
                  + (f"\n  MLM head {mlm_record['head']}; loss weight {mlm_weight:g}, share of batches "
                     f"{mlm_fraction}" if mlm_record else ""))
    multi = len(feats) > 1
    eval_fn = own_dev_eval(defs, enc.tokenizer, root, hp.max_length, hp.max_dev_examples or PHASE2_MAX_DEV_EXAMPLES)
    result = train(tm, feats if multi else next(iter(feats.values())), config=cfg, eval_fn=eval_fn,
                   collate=collate if multi else next(iter(collate.values())), out_dir=out / "train", resume=resume)
    shares = result.tasks if multi else {(tasks[0] if tasks else MLM_TASK): v for v in result.tasks.values()}
    learning = {t.name: learning_entry(
        t.main_score if t.dev else None, *chances[t.name],
        [(e["step"], e["eval"][t.name]) for e in result.evals if t.name in e["eval"]],
        shares.get(t.name, {}).get("first_loss"), shares.get(t.name, {}).get("final_loss")) for t in defs}
    console.print("  " + "; ".join(f"{t}: {v['share']:.0%} of batches, final loss {v['final_loss']}"
                                   for t, v in shares.items())
                  + "".join(f"\n  {t} learned: {'yes' if e['learned'] else '[red]NO[/]'} ({e['why']})"
                            for t, e in learning.items())
                  + (f"\n  stopped at step {result.step}: every task reached {hp.until:g}" if result.stopped else ""))

    source = {
        "name": f"{model}+{'+'.join(tasks) or MLM_TASK}", "base_model": model, "base_hash": base_hash,
        "tasks": list(tasks), "mlm": mlm_record, "mlm_tasks": list(mlm_tasks), "seed": seed,
        "hparams": hp.recorded(), "train": cfg.model_dump(), "data_hashes": data_hashes,
        "default_prefix": enc.default_prefix, "steps": result.step, "last_loss": result.last_loss,
        "task_shares": shares, "learning": learning, "stopped_early": result.stopped, "code_version": CODE_VERSION,
        "seconds": round(time.perf_counter() - started, 1),
        "weights_sha256": tensor_state_hash(enc.model.state_dict()),
    }
    save_encoder(enc.model, enc.tokenizer, source, final)
    shutil.rmtree(out / "train" / "last", ignore_errors=True)  # optimizer state is no longer needed
    console.print(f"intermediate encoder saved to {final} ({source['seconds']:.0f} s)")
    return final
