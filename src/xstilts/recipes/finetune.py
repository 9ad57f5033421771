"""Phase 3: fine-tune an encoder on a task's English data, then evaluate zero-shot in every language.

Top to bottom: task and encoder → English training features (cached) → TaskModel with the
task's head → the training loop with model selection on English dev → best weights →
zero-shot evaluation of every language → rows in the results store and a per-language table.
The effective config is saved as `<out_dir>/finetune.json`; weights are in `<out_dir>/train/`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from rich.console import Console
from rich.table import Table

from xstilts.evaluation.zero_shot import EvalData, RunInfo, evaluate, load_eval_data
from xstilts.errors import XstiltsError
from xstilts.evaluation.dev import dev_eval_fn
from xstilts.features.train import cached_train_features
from xstilts.training.config import train_config
from xstilts.training.hparams import HParams, resolve as resolve_hparams
from xstilts.models.encoders import load_encoder, save_encoder, weights_hash
from xstilts.models.heads import TaskModel, task_model
from xstilts.paths import cache_dir, data_root as resolve_data_root, user_dir
from xstilts.provenance import tensor_state_hash
from xstilts.report.learning import chance_level, learning_entry
from xstilts.store import ResultRow, ResultsStore
from xstilts.tasks import TaskDef, get_task
from xstilts.tasktypes import head_of
from xstilts.tasks.data import read_sources, sources_hash
from xstilts.training import train
from xstilts.training.checkpoint import drop_optimizer_state, is_resumable, load_weights
from xstilts.console import make_console

CONFIG_FILE = "finetune.json"
def default_run_dir(model: str, task: str, condition: str, seed: int) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.rstrip("/")).strip("_")[-60:]
    return user_dir() / "runs" / task / f"{slug}-{condition}-seed{seed}"


def _load_best(model: TaskModel, train_dir: Path) -> str:
    """Loads the selected weights (best on dev, else the last step); returns which."""
    for name in ("best", ".best.old", "last", ".last.old"):
        if (train_dir / name / "meta.json").is_file():
            load_weights(model, train_dir / name)  # checks the files against their checksums first
            return name.strip(".").removesuffix(".old")
    raise XstiltsError(f"{train_dir}: no checkpoint (best/ or last/) to evaluate; a study keeps fine-tuned "
                       "weights only with `checkpoints: {keep_finetuned: true}` in its spec")


def _stage_features(t: TaskDef, sources, tokenizer, root: Path, hp: HParams) -> tuple[list, list[dict], str]:
    examples = read_sources(sources, root, hp.max_train_examples)
    data_hash = sources_hash(sources, root, hp.max_train_examples)
    return examples, cached_train_features(t, tokenizer, examples, data_hash, hp.max_length), data_hash


def run_finetune(
    model: str, task: str, hp: HParams | None = None, *, seed: int = 0, out_dir: Path | None = None,
    data_root: Path | None = None, store_url: str | None | bool = None, resume: bool = False, condition: str = "none",
    intermediate: Sequence[str] = (), eval_langs: Sequence[str] | None = None,
    train_options: Mapping[str, Any] | None = None, progress: bool = True, console: Console | None = None,
    model_name: str | None = None, provenance: Mapping[str, Any] | None = None, keep_weights: bool = True,
    encoder_out: Path | None = None,
) -> list[ResultRow]:
    """Fine-tune MODEL on TASK's English training data, then evaluate zero-shot in every language.

    MODEL is 'me5-small', a hub id or a local transformers directory (e.g. a phase-2 checkpoint).
    HP are the resolved hyper-parameters (`orchestration.hparams.resolve`; None: the task's XTREME
    recipe). A task with `train_first` data trains on it in a stage of its own first (XCOPA: SIQA,
    then COPA), each stage with HP's length. The model is selected on English dev every
    `eval_every` steps (default: five times per run) and the best weights are evaluated on every
    language (or EVAL_LANGS). RESUME continues a killed run from OUT_DIR/train/last. Rows go to
    the results store at STORE_URL (None: the user's; False: none, a study's driver stores them), each carrying HP and PROVENANCE (e.g. the study and node that made it);
    the effective config is saved in OUT_DIR/finetune.json with the dev curve and whether the
    run learned (`learning`, `report.learning`), predictions in OUT_DIR/predictions/.
    MODEL_NAME names the model in result rows when MODEL is a phase-2 checkpoint of it. Once
    every language is stored the optimizer state is dropped (`drop_checkpoints`); KEEP_WEIGHTS
    False drops the selected weights too (a study's default: its rows are what it needs).
    ENCODER_OUT: where to save the selected weights' encoder as an encoder directory (XTREME-R
    scores Tatoeba on the encoder fine-tuned on English QA); it records `fine_tuned_on`.
    """
    console = console or make_console()
    t = get_task(task)
    head, head_options = head_of(t)
    hp = hp or resolve_hparams(t.recipe)
    root = resolve_data_root(data_root)
    out = Path(out_dir) if out_dir else default_run_dir(model, t.name, condition, seed)
    started = time.perf_counter()

    with console.status(f"loading {model}"):
        enc = load_encoder(model)
        encoder_hash = weights_hash(enc)
    with console.status(f"building {t.name} training features"):
        stages = [(f"first-{s.dataset}", _stage_features(t, (s,), enc.tokenizer, root, hp)) for s in t.train_first]
        examples, feats, train_hash = _stage_features(t, t.train, enc.tokenizer, root, hp)

    total = hp.max_steps or math.ceil((hp.epochs or 0) * math.ceil(len(feats) / hp.batch_size) / hp.grad_accum)
    every = hp.eval_every or max(1, total // 5)
    cfg = train_config(hp, seed, progress, eval_every=every, save_every=every, **(train_options or {}))
    config = {
        "model": model_name or model, "encoder_path": enc.path, "encoder_hash": encoder_hash, "task": t.name,
        "task_version": t.version, "condition": condition, "intermediate": list(intermediate), "seed": seed,
        "head": {"type": head, **head_options}, "max_length": hp.max_length, "hparams": hp.recorded(),
        "train": cfg.model_dump(), "train_sources": [s.__dict__ for s in t.train],
        "train_first": [{"sources": [s.__dict__ for s in t.train_first[i:i + 1]], "examples": len(st[0]),
                         "features": len(st[1]), "data_hash": st[2]} for i, (_, st) in enumerate(stages)],
        "max_train_examples": hp.max_train_examples, "train_examples": len(examples), "train_features": len(feats),
        "train_data_hash": train_hash, "dev": t.dev.__dict__ if t.dev else None,
        "max_dev_examples": hp.max_dev_examples, "provenance": dict(provenance or {}),
    }
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("RANK", "0") == "0":  # the first process of a data-parallel launch (before one exists)
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str))

    torch.manual_seed(seed)  # the new head's initialisation is part of what the seed fixes
    tm = task_model(enc.model, head, name=t.name, **head_options)
    for name, (stage_examples, stage_feats, _) in stages:  # no model selection here, as XTREME's first run
        stage = out / f"train-{name}"
        if resume and (stage / "last" / "meta.json").is_file() and not is_resumable(stage / "last"):
            load_weights(tm, stage / "last")  # finished before the kill: its weights go on
            continue
        console.print(f"[bold]{t.name}[/] stage {name}: {len(stage_examples):,} examples → {len(stage_feats):,} "
                      f"features; {hp.describe()}")
        train(tm, stage_feats, config=train_config(hp, seed, progress, **(train_options or {})),
              out_dir=stage, resume=resume)
        drop_optimizer_state(stage / "last")  # while the next stage runs only its weights are needed
    console.print(f"[bold]{t.name}[/]: {len(examples):,} English examples → {len(feats):,} features; "
                  f"{hp.describe()}{'' if hp.max_steps else f' = {total} steps'}, dev every {every} steps → {out}")
    result = train(tm, feats, config=cfg,
                   eval_fn=dev_eval_fn(t, enc.tokenizer, root, hp.max_length, hp.max_dev_examples),
                   out_dir=out / "train", resume=resume)
    if not PartialState().is_main_process:  # data parallel: the first process evaluates, stores and cleans up
        return []
    losses = result.tasks.get("train", {})
    config["result"] = {"step": result.step, "best_score": result.best_score, "best_metrics": result.best_metrics,
                        "last_loss": result.last_loss, "train_seconds": round(time.perf_counter() - started, 1)}
    config["learning"] = {t.name: learning_entry(
        t.main_score if t.dev else None, *chance_level(t, examples), [(e["step"], e["score"]) for e in result.evals],
        losses.get("first_loss"), losses.get("final_loss"), selected_score=result.best_score)}
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str))
    selected = _load_best(tm, out / "train")
    if encoder_out is not None:
        save_encoder(tm.encoder, enc.tokenizer, {
            "name": f"{model_name or model}+{t.name}", "base_model": model_name or model, "base_hash": encoder_hash,
            "fine_tuned_on": t.name, "selected": selected, "seed": seed, "default_prefix": enc.default_prefix,
            "weights_sha256": tensor_state_hash(tm.encoder.state_dict())}, Path(encoder_out))
    rows = _evaluate_checkpoint(tm, enc.tokenizer, t, out, config, selected, root=root, store_url=store_url,
                                eval_langs=eval_langs, max_eval_examples=hp.max_eval_examples, console=console)
    drop_checkpoints(out, keep_weights=keep_weights)
    return rows


def drop_checkpoints(out: Path, *, keep_weights: bool) -> None:
    """What a finished fine-tuning run no longer needs: earlier stages' checkpoints (their weights
    went on into the last stage) and the optimizer state; with KEEP_WEIGHTS False every
    checkpoint. The selected weights stay (`best/`, or `last/` for a task with no dev set), as do
    logs, predictions and finetune.json."""
    def remove(train_dir: Path, names: Sequence[str]) -> None:
        for name in names:
            for path in (train_dir / name, train_dir / f".{name}.old"):
                shutil.rmtree(path, ignore_errors=True)

    for stage in out.glob("train-first-*"):
        remove(stage, ("last", "best"))
    train_dir = out / "train"
    if not keep_weights:
        remove(train_dir, ("last", "best"))
    elif (train_dir / "best" / "meta.json").is_file():
        remove(train_dir, ("last",))
    else:
        drop_optimizer_state(train_dir / "last")


def run_evaluate(
    checkpoint_dir: Path, task: str | None = None, *, data_root: Path | None = None, store_url: str | None = None,
    eval_langs: Sequence[str] | None = None, max_eval_examples: int | None = None, console: Console | None = None,
) -> list[ResultRow]:
    """Evaluate a checkpoint written by `finetune` (its OUT_DIR) zero-shot in every language of TASK
    (default: the task it was trained on), store the rows and print the per-language table."""
    console = console or make_console()
    out = Path(checkpoint_dir)
    if not (out / CONFIG_FILE).is_file():
        raise XstiltsError(f"{out}: not a fine-tuning output directory (no {CONFIG_FILE})")
    config = json.loads((out / CONFIG_FILE).read_text())
    t = get_task(task or config["task"])
    head, head_options = head_of(t)
    if head != config["head"]["type"] or head_options != {k: v for k, v in config["head"].items() if k != "type"}:
        raise XstiltsError(f"{out / CONFIG_FILE}: field 'head': a {config['head']} head cannot be evaluated on "
                           f"task '{t.name}' ({t.type})")
    with console.status(f"loading {config['model']}"):
        enc = load_encoder(config["encoder_path"])
        tm = task_model(enc.model, head, name=config["task"], **head_options)
        selected = _load_best(tm, out / "train")
    if t.name != config["task"]:  # e.g. an XQuAD model scored on MLQA: the head answers to the new name
        tm.heads[t.name] = tm.heads.pop(config["task"])
        tm.specs[t.name] = tm.specs.pop(config["task"])
    return _evaluate_checkpoint(tm, enc.tokenizer, t, out, config, selected, root=resolve_data_root(data_root),
                                store_url=store_url, eval_langs=eval_langs, max_eval_examples=max_eval_examples,
                                console=console)


def _evaluate_checkpoint(tm: TaskModel, tokenizer, t: TaskDef, out: Path, config: dict, selected: str, *,
                         root: Path, store_url: str | None | bool, eval_langs, max_eval_examples,
                         console: Console) -> list[ResultRow]:
    tm.eval()
    run = RunInfo(
        model=config["model"], model_hash=tensor_state_hash(tm.state_dict()), seed=config["seed"],
        condition=config["condition"], intermediate=tuple(config["intermediate"]),
        protocol={"trained_on": config["task"], "encoder_hash": config["encoder_hash"], "selected": selected,
                  "hparams": config.get("hparams"), "train_data_hash": config["train_data_hash"],
                  **({"train_first_hashes": [s["data_hash"] for s in config["train_first"]]}
                     if config.get("train_first") else {}),
                  **config.get("provenance", {})},
    )
    data: EvalData = load_eval_data(t, root, eval_langs, max_eval_examples)
    store = None if store_url is False else ResultsStore(store_url if isinstance(store_url, str) else None)
    started = time.perf_counter()
    with console.status(f"evaluating {t.name}") as status:
        def stored(lang, rows):  # stored per language: a crash later loses nothing finished
            if store is not None:
                store.add(rows)
            status.update(f"evaluating {t.name}: {lang} done")

        rows = evaluate(tm, tokenizer, t, data, run, predictions_dir=out / "predictions",
                        max_length=config["max_length"],
                        cache_dir=cache_dir() / "features", on_language=stored)
    console.print(language_table(rows, t, f"{t.name} zero-shot: {config['model']} ({selected} weights, "
                                           f"seed {config['seed']}, {time.perf_counter() - started:.0f} s)"))
    console.print(f"{len(rows)} rows {f'stored in {store.url}' if store else 'made'}; predictions in "
                  f"{out / 'predictions'}")
    return rows


def language_table(rows: Sequence[ResultRow], task: TaskDef, title: str) -> Table:
    """Languages down (the training language, English for XTREME-R, marked), metric keys across;
    the mean of the other languages and the transfer gap (training language minus that mean)."""
    en = task.train[0].lang if task.train else "en"
    metrics = list(dict.fromkeys(r.metric for r in rows))
    cell = {(r.language, r.metric): r.value for r in rows}
    langs = sorted({r.language for r in rows}, key=lambda lang: (lang != en, lang))
    table = Table(title=title)
    table.add_column("language")
    for m in metrics:
        table.add_column(m, justify="right")
    for lang in langs:
        table.add_row(f"{en} (train)" if lang == en else lang,
                      *(f"{cell[lang, m]:.1f}" if (lang, m) in cell else "" for m in metrics))
    others = [lang for lang in langs if lang != en]
    if others:
        means = {m: sum(cell[lang, m] for lang in others) / len(others) for m in metrics}
        table.add_row(f"[bold]mean non-{en} ({len(others)})[/]", *(f"[bold]{means[m]:.1f}[/]" for m in metrics),
                      end_section=en not in langs)
        if en in langs:
            table.add_row(f"[bold]gap {en} − mean[/]", *(f"{cell[en, m] - means[m]:.1f}" for m in metrics))
    return table
