"""The one training loop (single- and multi-task), spelled out top to bottom on accelerate,
and `predict` for evaluation code.

Resume is exact: a checkpoint holds the weights, optimizer, scheduler, each task's sampler
position, the task sampler and every RNG, so a killed run that is resumed ends with the same
weights as one that never stopped.

Under several processes (`accelerate launch`), `batch_size` stays the global batch: every
process draws the same batches and tasks and runs its `shard` of each, with its loss weighted
by its share of the batch's loss terms, so the averaged gradient is the one-process gradient.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, broadcast_object_list, gather_object
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from transformers import get_linear_schedule_with_warmup

from ..errors import BadValue, XstiltsError
from . import tracking
from .checkpoint import (
    atomic_dir,
    is_resumable,
    load_checkpoint,
    load_weights,
    resolve,
    rng_state,
    save_checkpoint,
    save_weights,
    seed_everything,
    set_rng_state,
)
from .collate import Collator, LengthGroupedSampler, feature_length, loss_terms, real_tokens, shard, split_by_tokens
from .config import TrainConfig
from .packing import Packed
from .sampling import BatchStream, TaskSampler, task_probabilities

# may differ between a run and its resume (these change speed, not the recipe: the global batch
# stays `batch_size` whatever the number of processes)
RUN_ONLY = {"stop_after_steps", "progress", "device", "compile", "gradient_checkpointing", "world_size", "log_with"}
# what a checkpoint written before these options existed ran with (it resumes as it was)
BEFORE_PACKING = {"packing": False, "token_budget": None, **{k: TrainConfig.model_fields[k].default
                                                            for k in ("pack_length", "bucket", "select_best", "stop_at")}}
Collate = Callable[[list[dict]], dict[str, torch.Tensor]]
EvalFn = Callable[[nn.Module], tuple[float, dict]]


class NonFiniteLossError(XstiltsError):
    """Loss or gradient norm became NaN/inf; the last checkpoint on disk is the last good one."""


class TrainingInterrupted(RuntimeError):
    """Raised by `stop_after_steps` to simulate a killed process in tests."""


@dataclass
class TrainResult:
    step: int
    best_score: float | None
    best_metrics: dict = field(default_factory=dict)
    last_loss: float | None = None
    tasks: dict = field(default_factory=dict)  # per task: batches, share of batches, first and final loss
    evals: list = field(default_factory=list)  # every evaluation: {"step", "score", "eval"}, from the log
    stopped: bool = False  # ended early: an evaluation reached `stop_at`


def eval_curve(log_path: Path) -> list[dict]:
    """Every evaluation of a run, from its log ({"step", "score", "eval"}; resumed runs included)."""
    if not Path(log_path).is_file():
        return []
    return [r for r in map(json.loads, Path(log_path).read_text().splitlines()) if "score" in r]


def task_summary(log_path: Path) -> dict[str, dict]:
    """What each task (loss) got over a whole run, from its log: micro-batches drawn, their share,
    and the first and final loss (the mean of the task's losses over the first and the last tenth
    of the steps it was drawn in: a final loss far above the first says the run diverged)."""
    steps = [r for r in map(json.loads, Path(log_path).read_text().splitlines()) if "task_batches" in r]
    if not steps:
        return {}
    counts: dict[str, int] = {}
    for r in steps:
        for t, n in r["task_batches"].items():
            counts[t] = counts.get(t, 0) + n
    total = sum(counts.values())

    def mean(losses: list[float]) -> float:
        return round(sum(losses) / len(losses), 4)

    out = {}
    for t, n in counts.items():
        losses = [r["task_loss"][t] for r in steps if t in r["task_loss"]]
        tenth = max(1, len(losses) // 10)
        out[t] = {"batches": n, "share": round(n / total, 4), "first_loss": mean(losses[:tenth]),
                  "final_loss": mean(losses[-tenth:])}
    return out


def encoder_of(model: nn.Module) -> nn.Module:
    """The transformers encoder inside a TaskModel (or the model itself)."""
    return getattr(model, "encoder", model)


def checkpoint_activations(encoder: nn.Module) -> None:
    """Activation (gradient) checkpointing, non-reentrant: the kind that works with frozen inputs
    and with DDP's unused heads. transformers 5 renamed the switch; 4.x only has the old name."""
    kwargs = {"use_reentrant": False}
    if hasattr(encoder, "activation_checkpointing_enable"):
        encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on biases and LayerNorm weights (the 1-D parameters), as BERT/transformers."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def _truncate_log(path: Path, step: int) -> None:
    """Drops log lines past the resumed step (steps the killed run did after its checkpoint)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))


def train(
    model: nn.Module,
    train_features: Sequence[dict] | Mapping[str, Sequence[dict]],
    *,
    config: TrainConfig,
    collate: Collate | Mapping[str, Collate] | None = None,
    eval_fn: EvalFn | None = None,
    out_dir: Path,
    resume: bool = False,
) -> TrainResult:
    """Trains `model` (a TaskModel) in place; returns where it ended.

    `train_features` is a list (single task, `model(**batch)`) or {task: list} (multi-task,
    `model(task=..., **batch)`, one batch per micro-step from a sampled task). `collate`
    (one, or one per task) defaults to dynamic padding with the encoder's pad id.
    `eval_fn(model) -> (score, metrics)`, higher is better, runs every `eval_every` steps and
    at the end; the best weights go to out_dir/best/ (`select_best`), and a score reaching
    `stop_at` ends the run there. out_dir/last/ is the resumable
    checkpoint and out_dir/log.jsonl the per-step log. Under several processes every one calls
    `train` alike; eval_fn, the log and the checkpoints are the main process's.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    multi = isinstance(train_features, Mapping)
    tasks = dict(train_features) if multi else {"train": train_features}
    if not all(tasks.values()):
        raise BadValue(f"no training features for task(s) {[t for t, f in tasks.items() if not f]}")

    # --- device, precision and trackers ----------------------------------------------
    bf16 = torch.cuda.is_available() if config.bf16 is None else config.bf16
    log_with = tracking.active(config.log_with)
    accelerator = Accelerator(
        **({"log_with": tracking.trackers(log_with, out_dir), "project_dir": out_dir} if log_with else {}),
        mixed_precision="bf16" if bf16 else "no",
        # several processes without a GPU: accelerate only sets up gloo on the CPU when told to
        cpu=int(os.environ.get("WORLD_SIZE", 1)) > 1 and not torch.cuda.is_available(),
        # a multi-task micro-step uses one head: DDP must not wait for the others' gradients
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    main = accelerator.is_main_process
    seed_everything(config.seed + rank)  # dropout and masking differ between processes

    # --- data: one resumable batch stream per task, a seeded task sampler ---------------
    packing = device.type == "cuda" if config.packing is None else config.packing
    collates = {t: collate.get(t) if isinstance(collate, Mapping) else collate for t in tasks}
    if None in collates.values():
        default = Collator(pad_id=encoder_of(model).config.pad_token_id, pad_to_multiple_of=config.pad_to_multiple_of)
        collates = {t: c or default for t, c in collates.items()}
    if packing:
        pad_id = encoder_of(model).config.pad_token_id
        collates = {t: Packed(c, pad_id, config.pack_length, config.bucket) for t, c in collates.items()}
    grouped = not packing if config.group_by_length is None else config.group_by_length
    streams = {
        t: BatchStream(LengthGroupedSampler(
            [feature_length(f) for f in feats], config.batch_size, seed=config.seed + i,
            group_by_length=grouped,
        ))
        for i, (t, feats) in enumerate(tasks.items())
    }
    probabilities = task_probabilities(
        {t: len(f) for t, f in tasks.items()}, config.task_sampling, config.sampling_cap, config.sampling_temperature,
        config.task_shares,
    )
    task_sampler = TaskSampler(probabilities, seed=config.seed)
    batches_per_epoch = sum(len(s.sampler) for s in streams.values())
    total_steps = config.max_steps or math.ceil(config.epochs * batches_per_epoch / config.grad_accum)
    warmup_steps = int(config.warmup_ratio * total_steps)

    # --- model and optimizer ---------------------------------------------------------
    if config.freeze_embeddings:
        encoder_of(model).get_input_embeddings().weight.requires_grad_(False)
    if config.gradient_checkpointing:
        checkpoint_activations(encoder_of(model))
    model.to(device)
    if config.compile:
        encoder_of(model).compile()  # in place: state dict keys stay as they are
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr, fused=device.type == "cuda")
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    effective = {
        **config.model_dump(), "bf16": bf16, "packing": packing, "group_by_length": grouped, "device": str(device),
        "world_size": world, "total_steps": total_steps,
        "warmup_steps": warmup_steps, "task_probabilities": probabilities,
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "log_with": list(log_with),
    }

    # --- resume ----------------------------------------------------------------------
    step, best_score, best_metrics, stopped = 0, None, {}, False
    checkpoint = resolve(out_dir / "last") if resume else None
    if checkpoint is not None and not is_resumable(checkpoint):
        checkpoint = None  # a finished run's weights without optimizer state: asked again, it trains afresh
    if checkpoint is not None:
        state, meta = load_checkpoint(checkpoint, model)
        saved = {**BEFORE_PACKING, **meta["config"]}
        changed = {k for k in effective if k not in RUN_ONLY and saved.get(k) != effective[k]}
        if changed:
            raise XstiltsError(f"{checkpoint}: cannot resume, the config changed in {sorted(changed)}")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        for t, s in streams.items():
            s.load_state_dict(state["streams"][t])
        task_sampler.load_state_dict(state["task_sampler"])
        rngs = state.get("rng_ranks", [state["rng"]])  # another world size resumes with the main process's
        set_rng_state(rngs[rank] if len(rngs) == world else rngs[0])
        step, best_score, best_metrics = meta["step"], meta["best_score"], meta["best_metrics"]
        stopped = meta.get("stopped", False)
    log_path = out_dir / "log.jsonl"
    if main:
        _truncate_log(log_path, step)

    def save_last() -> None:
        """Written by the main process, with every process's RNG state; the others wait for it."""
        rngs = gather_object([rng_state()])
        if main:
            state = {
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "streams": {t: s.state_dict() for t, s in streams.items()}, "task_sampler": task_sampler.state_dict(),
                "rng_ranks": rngs,
            }
            meta = {"step": step, "epoch": epoch(), "best_score": best_score, "best_metrics": best_metrics,
                    "stopped": stopped, "config": effective}
            save_checkpoint(out_dir / "last", accelerator.unwrap_model(model), state, meta)
        accelerator.wait_for_everyone()

    def global_counts(terms: int, parts: int) -> tuple[int, int]:
        """Loss terms of the whole global batch, and the most parts any process runs of it."""
        if world == 1:
            return terms, parts
        counts = accelerator.gather(torch.tensor([[terms, parts]], device=device)).tolist()
        return sum(t for t, _ in counts), max(p for _, p in counts)

    def evaluate(unwrapped: nn.Module) -> tuple[float, dict]:
        """eval_fn on the main process only (it may write caches); every process gets its result."""
        result = [None]
        if main:
            unwrapped.eval()
            with torch.inference_mode():
                result = [eval_fn(unwrapped)]
            unwrapped.train()
        return broadcast_object_list(result)[0]

    def epoch() -> float:
        return round(sum(s.progress() * len(s.sampler) for s in streams.values()) / batches_per_epoch, 4)

    # the scheduler stays unprepared: accelerate would step it once per process per step, as if
    # each process's batches made steps of their own (here every process runs every step)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    progress = Progress(
        TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} lr {task.fields[lr]:.2e} {task.fields[tps]:,.0f} tok/s"),
        TimeRemainingColumn(), disable=not (config.progress and main),
    )
    bar = progress.add_task("train", total=total_steps, completed=step, loss=float("nan"), lr=0.0, tps=0.0)
    loss_value = None
    if log_with:  # the run's config (its context's, e.g. a study node's, and the effective training settings)
        accelerator.init_trackers(tracking.current()["project"] or "xstilts", config=tracking.flat(
            {**tracking.current()["config"], "train": effective, "out_dir": str(out_dir), "resumed_at": step}))

    # --- the loop --------------------------------------------------------------------
    with progress, (log_path.open("a") if main else open(os.devnull, "w")) as log, _finishing(accelerator):
        while step < total_steps and not stopped:
            started, tokens = time.perf_counter(), 0
            picked, batch_losses = [], []
            for _ in range(config.grad_accum):
                task = task_sampler.pick() if multi else "train"
                feats = [tasks[task][i] for i in streams[task].next()]
                mine = shard(feats, rank, world)
                split = split_by_tokens(mine, config.token_budget, packed=packing) if mine else []
                parts = [collates[task](f) for f in split]
                terms = [loss_terms(b) for b in parts]
                total, passes = global_counts(sum(terms), len(parts))
                # a part's share of the global batch's loss; DDP averages over processes, hence `world`
                shares = [n / total if total else 1 / (world * len(parts)) for n in terms]
                # DDP pairs the backward passes of all processes: one with fewer parts repeats one unweighted
                filler = parts[-1] if parts else collates[task](feats[:1])
                runs = [*zip(parts, shares), *[(filler, 0.0)] * (passes - len(parts))]
                weight = config.task_loss_weights.get(task, 1.0)
                tokens += sum(real_tokens(b) for b in parts)
                batch_loss = 0.0
                for batch, share in runs:
                    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                    loss = (model(task=task, **batch) if multi else model(**batch))["loss"]
                    accelerator.backward(loss * weight * share * world / config.grad_accum)
                    batch_loss = batch_loss + loss.detach().float() * share
                picked.append(task)
                batch_losses.append(batch_loss)
            # each process holds its share of every global batch's loss: their sum is the batch's loss
            *losses, tokens = accelerator.reduce(
                torch.stack([*batch_losses, torch.tensor(float(tokens), device=device)]), "sum").tolist()
            tokens = int(tokens)
            loss_value = sum(losses) / len(losses)
            task_losses = {t: [l for l, u in zip(losses, picked) if u == t] for t in dict.fromkeys(picked)}
            grad_norm = None
            if config.max_grad_norm:
                grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm))
            if not math.isfinite(loss_value) or (grad_norm is not None and not math.isfinite(grad_norm)):
                last = resolve(out_dir / "last")
                raise NonFiniteLossError(
                    f"non-finite {'loss' if not math.isfinite(loss_value) else 'gradient norm'} at step {step + 1} "
                    f"(loss {loss_value}, grad norm {grad_norm}); stopped before updating weights. "
                    + (f"Last good checkpoint: {last}" if last else "No checkpoint was saved yet.")
                )
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            elapsed = time.perf_counter() - started
            lr = scheduler.get_last_lr()[0]
            record = {"step": step, "epoch": epoch(), "loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                      "tokens": tokens, "tokens_per_s": tokens / elapsed,
                      "task_loss": {t: sum(ls) / len(ls) for t, ls in task_losses.items()},
                      "task_batches": {t: len(ls) for t, ls in task_losses.items()}}
            log.write(json.dumps(record) + "\n")
            progress.update(bar, completed=step, loss=loss_value, lr=lr, tps=tokens / elapsed)
            if log_with:
                accelerator.log({"train/loss": loss_value, "train/lr": lr, "train/epoch": record["epoch"],
                                 "train/tokens_per_s": record["tokens_per_s"],
                                 **({"train/grad_norm": grad_norm} if grad_norm is not None else {}),
                                 **(tracking.numbers(record["task_loss"], "train/task_loss") if multi else {})},
                                step=step)

            if eval_fn is not None and (step == total_steps or (config.eval_every and step % config.eval_every == 0)):
                unwrapped = accelerator.unwrap_model(model)
                score, metrics = evaluate(unwrapped)
                log.write(json.dumps({"step": step, "eval": metrics, "score": score}) + "\n")
                if log_with:
                    accelerator.log({"dev/score": float(score), **tracking.numbers(metrics, "dev")}, step=step)
                stopped = config.stop_at is not None and score >= config.stop_at
                if best_score is None or score > best_score:
                    best_score, best_metrics = float(score), dict(metrics)
                    if main and config.select_best:
                        with atomic_dir(out_dir / "best") as tmp:
                            save_weights(unwrapped, tmp)
                            (tmp / "meta.json").write_text(json.dumps({"step": step, "score": best_score, "metrics": metrics}, default=str))
                    accelerator.wait_for_everyone()
            if step == total_steps or stopped or (config.save_every and step % config.save_every == 0):
                log.flush()
                save_last()
            if config.stop_after_steps == step and step < total_steps and not stopped:
                raise TrainingInterrupted(f"stop_after_steps={step}")

    accelerator.wait_for_everyone()  # the main process has closed the log
    if eval_fn is not None and config.load_best and resolve(out_dir / "best") is not None:
        load_weights(accelerator.unwrap_model(model), out_dir / "best")
    return TrainResult(step=step, best_score=best_score, best_metrics=best_metrics, last_loss=loss_value,
                       tasks=task_summary(log_path), evals=eval_curve(log_path), stopped=stopped)


@contextmanager
def _finishing(accelerator: Accelerator):
    """Trackers flush and close when the loop ends, however it ends (a killed run's events stay)."""
    try:
        yield
    finally:
        for tracker in accelerator.trackers:
            tracker.finish()
        accelerator.trackers = []


def _stack(arrays: list[np.ndarray], fill: float) -> np.ndarray:
    """Stacks per-example arrays whose first axis (sequence length) may differ, padding with `fill`."""
    if all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    length = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def predict(
    model: nn.Module, features: Sequence[dict], collate: Collate, batch_size: int = 64, *, task: str | None = None,
) -> dict[str, np.ndarray]:
    """Model outputs (all but "loss") per feature, in the original order, as float32 arrays.

    Batches are sorted by length so little is padded. For token-level heads (qa, tagging)
    positions past a feature's own length are -inf, never picked by an argmax, whatever
    batch it landed in.
    """
    device = next(model.parameters()).device
    specs = getattr(model, "specs", {})
    head_type = (specs.get(task) if task else next(iter(specs.values()), None)) if specs else None
    token_level = getattr(head_type, "type", None) in ("qa", "tagging")
    order = sorted(range(len(features)), key=lambda i: -feature_length(features[i]))
    per_example: dict[str, list[np.ndarray]] = {}
    was_training = model.training
    model.eval()
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for start in range(0, len(order), batch_size):
            batch = collate([features[i] for i in order[start : start + batch_size]])
            lengths = batch["attention_mask"].sum(-1).tolist() if token_level else None
            batch = {k: v.to(device) for k, v in batch.items()}
            out = model(**batch) if task is None else model(task=task, **batch)
            for key, value in out.items():
                if key == "loss" or value.ndim == 0:
                    continue
                rows = list(value.float().cpu().numpy())
                if lengths is not None:
                    rows = [r[:n] for r, n in zip(rows, lengths, strict=True)]
                per_example.setdefault(key, []).extend(rows)
    model.train(was_training)
    inverse = np.argsort(order)
    return {k: _stack([v[j] for j in inverse], fill=-np.inf) for k, v in per_example.items()}
