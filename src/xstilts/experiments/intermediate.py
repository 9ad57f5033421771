"""Phase 2: intermediate-task training of an encoder on one task or many, optionally with
multilingual MLM kept on (the paper's first baseline); the result is an encoder directory
that phase 3 and the alignment probes load like any other model.

Top to bottom: tasks → training features (cached) → a TaskModel with one head per task
(+ a tied MLM head) → the training loop sampling tasks per step → the encoder, saved as a
transformers directory with what trained it (written to a temporary directory, then renamed).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console

from xstilts.data.examples import example_texts
from xstilts.experiments.finetune import cached_train_features, head_options, train_config
from xstilts.experiments.hparams import HParams, resolve as resolve_hparams
from xstilts.models import checksums
from xstilts.models.encoders import load_encoder, pretrained_mlm_head, weights_hash
from xstilts.models.heads import HeadSpec, TaskModel
from xstilts.paths import data_root as resolve_data_root
from xstilts.provenance import tensor_state_hash
from xstilts.tasks import get_task
from xstilts.tasks.data import read_sources, sources_hash
from xstilts.training import Collator, MLMCollator, train
from xstilts.console import make_console

MLM_TASK = "mlm"
SOURCE_FILE = "xstilts_source.json"
CODE_VERSION = "2"  # bump when phase-2 outputs can change for the same inputs


def mlm_features(task_names: Sequence[str], tokenizer, root: Path, max_length: int, max_examples: int | None
                 ) -> list[dict]:
    """Unlabelled text of the given tasks' training data, tokenised for MLM."""
    texts = [t for name in task_names for ex in read_sources(get_task(name).train, root)
             for t in example_texts(ex) if t.strip()]
    texts = list(dict.fromkeys(texts))[:max_examples]
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return [{"input_ids": x} for x in ids if len(x) > 2]


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
    task's recipe). Returns OUT_DIR/encoder, a transformers directory whose xstilts_source.json
    records what trained it, including each loss's share of batches and final value."""
    console = console or make_console()
    root = resolve_data_root(data_root)
    out = Path(out_dir)
    final = out / "encoder"
    if is_complete(final):
        return final
    defs = [get_task(name) for name in tasks]
    if not defs and not mlm_tasks:
        raise ValueError("intermediate training needs at least one task (or MLM text)")
    hp = hp or resolve_hparams((defs[0] if defs else get_task(mlm_tasks[0])).recipe, phase="intermediate")
    started = time.perf_counter()
    with console.status(f"loading {model}"):
        enc = load_encoder(model)
        base_hash = weights_hash(enc)

    feats, heads, collate, data_hashes = {}, {}, {}, {}
    pad = Collator(enc.tokenizer.pad_token_id, pad_to_multiple_of=8)
    for t in defs:
        with console.status(f"building {t.name} features"):
            examples = read_sources(t.train, root, hp.max_train_examples)
            data_hashes[t.name] = sources_hash(t.train, root, hp.max_train_examples)
            feats[t.name] = cached_train_features(t, enc.tokenizer, examples, data_hashes[t.name], hp.max_length)
        heads[t.name] = HeadSpec(type=t.head, **head_options(t))
        collate[t.name] = pad
    mlm_head, mlm_record = None, None
    if mlm_tasks:
        tok = enc.tokenizer
        feats[MLM_TASK] = mlm_features(mlm_tasks, tok, root, hp.max_length, mlm_max_examples)
        heads[MLM_TASK] = HeadSpec(type="mlm")
        collate[MLM_TASK] = MLMCollator(pad, tok.mask_token_id, len(tok), list(tok.all_special_ids), mlm_probability)
        data_hashes[MLM_TASK] = sources_hash([s for n in mlm_tasks for s in get_task(n).train], root, mlm_max_examples)
        with console.status("looking for the checkpoint's own masked-LM head"):
            mlm_head, mlm_head_source = pretrained_mlm_head(enc)
        mlm_record = {"tasks": list(mlm_tasks), "texts": len(feats[MLM_TASK]), "weight": mlm_weight,
                      "fraction": mlm_fraction, "probability": mlm_probability, "head": mlm_head_source}

    total = hp.max_steps or math.ceil(hp.epochs * sum(math.ceil(len(f) / hp.batch_size) for f in feats.values())
                                      / hp.grad_accum)
    cfg = train_config(hp, seed, progress, save_every=max(1, total // 4), task_sampling=sampling,
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
    result = train(tm, feats if multi else next(iter(feats.values())), config=cfg,
                   collate=collate if multi else next(iter(collate.values())), out_dir=out / "train", resume=resume)
    shares = result.tasks if multi else {(tasks[0] if tasks else MLM_TASK): v for v in result.tasks.values()}
    console.print("  " + "; ".join(f"{t}: {v['share']:.0%} of batches, final loss {v['final_loss']}"
                                   for t, v in shares.items()))

    source = {
        "name": f"{model}+{'+'.join(tasks) or MLM_TASK}", "base_model": model, "base_hash": base_hash,
        "tasks": list(tasks), "mlm": mlm_record, "mlm_tasks": list(mlm_tasks), "seed": seed,
        "hparams": hp.model_dump(), "train": cfg.model_dump(), "data_hashes": data_hashes,
        "default_prefix": enc.default_prefix, "steps": result.step, "last_loss": result.last_loss,
        "task_shares": shares, "code_version": CODE_VERSION, "seconds": round(time.perf_counter() - started, 1),
        "weights_sha256": tensor_state_hash(enc.model.state_dict()),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".encoder-", dir=out))
    try:
        enc.model.save_pretrained(tmp)
        enc.tokenizer.save_pretrained(tmp)
        source["files"] = checksums.record(tmp, skip=(SOURCE_FILE,))  # checked by load_encoder before use
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(out / "train" / "last", ignore_errors=True)  # optimizer state is no longer needed
    console.print(f"intermediate encoder saved to {final} ({source['seconds']:.0f} s)")
    return final
