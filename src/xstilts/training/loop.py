"""The one training loop (single- and multi-task), spelled out top to bottom on accelerate
(`predict`, for evaluation code, is in inference.py).

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
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, cast

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
from .collate import (Collate, Collator, LengthGroupedSampler, feature_length, loss_terms, real_tokens, shard,
                      split_by_tokens)
from .config import TrainConfig
from .packing import Packed
from .runlog import eval_curve, task_summary, truncate_log
from .sampling import BatchStream, TaskSampler, task_probabilities

if TYPE_CHECKING:
    from transformers import PreTrainedModel

# may differ between a run and its resume (these change speed, not the recipe: the global batch
# stays `batch_size` whatever the number of processes)
RUN_ONLY = {"stop_after_steps", "progress", "device", "compile", "gradient_checkpointing", "world_size", "log_with"}
# what a checkpoint written before these options existed ran with (it resumes as it was)
BEFORE_PACKING = {"packing": False, "token_budget": None, **{k: TrainConfig.model_fields[k].default
                                                            for k in ("pack_length", "bucket", "select_best", "stop_at")}}
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


def encoder_of(model: nn.Module) -> PreTrainedModel:
    """The transformers encoder inside a TaskModel (or the model itself, which then is one)."""
    return cast("PreTrainedModel", getattr(model, "encoder", model))


def checkpoint_activations(encoder: PreTrainedModel) -> None:
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
    tasks = dict(train_features) if isinstance(train_features, Mapping) else {"train": train_features}
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
    given = {t: collate.get(t) if isinstance(collate, Mapping) else collate for t in tasks}
    collates: dict[str, Collate] = {t: c for t, c in given.items() if c is not None}
    if len(collates) < len(tasks):
        default = Collator(pad_id=encoder_of(model).config.pad_token_id, pad_to_multiple_of=config.pad_to_multiple_of)
        collates = {t: collates.get(t, default) for t in tasks}
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
    if config.max_steps is not None:
        total_steps = config.max_steps
    else:
        assert config.epochs is not None  # the config holds exactly one of max_steps and epochs
        total_steps = math.ceil(config.epochs * batches_per_epoch / config.grad_accum)
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
        truncate_log(log_path, step)

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

    def evaluate(fn: EvalFn, unwrapped: nn.Module) -> tuple[float, dict]:
        """eval_fn on the main process only (it may write caches); every process gets its result."""
        result: list[tuple[float, dict] | None] = [None]
        if main:
            unwrapped.eval()
            with torch.inference_mode():
                result = [fn(unwrapped)]
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
                batch_loss = torch.zeros((), device=device)
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
                score, metrics = evaluate(eval_fn, unwrapped)
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
