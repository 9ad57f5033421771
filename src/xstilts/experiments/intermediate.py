"""Phase 2: intermediate-task training of an encoder on one task or many, optionally with
multilingual MLM kept on (the paper's first baseline); the result is an encoder directory
that phase 3 and the alignment probes load like any other model.

Top to bottom: tasks → training features (cached) → a TaskModel with one head per task
(+ a tied MLM head) → the training loop sampling tasks per step → the encoder, saved as a
transformers directory with what trained it (written to a temporary directory, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console

from xstilts.data.examples import example_texts
from xstilts.experiments.finetune import cached_train_features, head_options
from xstilts.models.encoders import load_encoder, weights_hash
from xstilts.models.heads import HeadSpec, TaskModel
from xstilts.paths import data_root as resolve_data_root
from xstilts.provenance import tensor_state_hash
from xstilts.tasks import get_task
from xstilts.tasks.data import read_sources, sources_hash
from xstilts.training import Collator, MLMCollator, TrainConfig, train
from xstilts.console import make_console

MLM_TASK = "mlm"
SOURCE_FILE = "xstilts_source.json"
CODE_VERSION = "1"  # bump when phase-2 outputs can change for the same inputs


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
    model: str, tasks: Sequence[str], *, out_dir: Path, seed: int = 0, data_root: Path | None = None,
    max_steps: int = 1000, lr: float | None = None, batch_size: int | None = None, max_length: int = 128,
    max_train_examples: int | None = None, freeze_embeddings: bool = False,
    sampling: str = "proportional", sampling_cap: int | None = None, sampling_temperature: float = 1.0,
    mlm_tasks: Sequence[str] = (), mlm_max_examples: int | None = None, mlm_probability: float = 0.15,
    resume: bool = False, progress: bool = True, console: Console | None = None,
) -> Path:
    """Train MODEL on the intermediate TASKS (one, or several sharing the encoder with a head
    each, sampled per step); with MLM_TASKS, masked-LM on those tasks' unlabelled text is one
    more sampled task. Returns OUT_DIR/encoder, a transformers directory."""
    console = console or make_console()
    root = resolve_data_root(data_root)
    out = Path(out_dir)
    final = out / "encoder"
    if is_complete(final):
        return final
    defs = [get_task(name) for name in tasks]
    if not defs and not mlm_tasks:
        raise ValueError("intermediate training needs at least one task (or MLM text)")
    started = time.perf_counter()
    with console.status(f"loading {model}"):
        enc = load_encoder(model)
        base_hash = weights_hash(enc)

    feats, heads, collate, data_hashes = {}, {}, {}, {}
    pad = Collator(enc.tokenizer.pad_token_id, pad_to_multiple_of=8)
    for t in defs:
        with console.status(f"building {t.name} features"):
            examples = read_sources(t.train, root, max_train_examples)
            data_hashes[t.name] = sources_hash(t.train, root, max_train_examples)
            feats[t.name] = cached_train_features(t, enc.tokenizer, examples, data_hashes[t.name], max_length)
        heads[t.name] = HeadSpec(type=t.type, **head_options(t))
        collate[t.name] = pad
    if mlm_tasks:
        tok = enc.tokenizer
        feats[MLM_TASK] = mlm_features(mlm_tasks, tok, root, max_length, mlm_max_examples)
        heads[MLM_TASK] = HeadSpec(type="mlm")
        collate[MLM_TASK] = MLMCollator(pad, tok.mask_token_id, len(tok), list(tok.all_special_ids), mlm_probability)
        data_hashes[MLM_TASK] = sources_hash([s for n in mlm_tasks for s in get_task(n).train], root, mlm_max_examples)

    first = defs[0].recipe if defs else get_task(mlm_tasks[0]).recipe
    cfg = TrainConfig(lr=lr or first.lr, batch_size=batch_size or first.batch_size, max_steps=max_steps,
                      warmup_ratio=first.warmup_ratio, weight_decay=first.weight_decay, seed=seed,
                      save_every=max(1, max_steps // 4), freeze_embeddings=freeze_embeddings,
                      task_sampling=sampling, sampling_cap=sampling_cap,  # type: ignore[arg-type]
                      sampling_temperature=sampling_temperature, progress=progress)
    torch.manual_seed(seed)  # new heads' initialisation is part of what the seed fixes
    tm = TaskModel(enc.model, heads)
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in feats.items())
    console.print(f"[bold]intermediate[/] {'+'.join(list(tasks) + ([MLM_TASK] if mlm_tasks else []))}: "
                  f"features {sizes}; {max_steps} steps of {cfg.batch_size} → {out}")
    multi = len(feats) > 1
    result = train(tm, feats if multi else next(iter(feats.values())), config=cfg,
                   collate=collate if multi else next(iter(collate.values())), out_dir=out / "train", resume=resume)

    source = {
        "name": f"{model}+{'+'.join(tasks) or MLM_TASK}", "base_model": model, "base_hash": base_hash,
        "tasks": list(tasks), "mlm_tasks": list(mlm_tasks), "seed": seed, "train": cfg.model_dump(),
        "max_length": max_length, "max_train_examples": max_train_examples, "data_hashes": data_hashes,
        "default_prefix": enc.default_prefix, "steps": result.step, "last_loss": result.last_loss, "code_version": CODE_VERSION,
        "seconds": round(time.perf_counter() - started, 1),
        "weights_sha256": tensor_state_hash(enc.model.state_dict()),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".encoder-", dir=out))
    try:
        enc.model.save_pretrained(tmp)
        enc.tokenizer.save_pretrained(tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(out / "train" / "last", ignore_errors=True)  # optimizer state is no longer needed
    console.print(f"intermediate encoder saved to {final} ({source['seconds']:.0f} s)")
    return final
