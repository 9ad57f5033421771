"""Fine-tuning throughput of xstilts' training setup against transformers' example-script
defaults, side by side in one process, on real English text (XNLI dev pairs + SST-2).

    .venv/bin/python benchmarks/train_throughput.py --arch me5-small --steps 3 --batch-size 16
    .venv/bin/python benchmarks/train_throughput.py --arch xlm-roberta-large --steps 50   # on a GPU

ours:      dynamic padding (multiple of 8) + length-grouped batches + bf16 autocast (CUDA) + fused AdamW (CUDA)
baseline:  padding to max_length=128, random order, fp32, unfused AdamW (run_glue.py defaults)

Both run the same step (forward, backward, clipping, AdamW) on the same randomly initialised
model of the chosen shape; only the four knobs differ. Throughput counts real (non-padding)
tokens. MFU = 6 × non-embedding parameters × real tokens / time / peak FLOPs: the word
embedding matrix (96M of me5-small's 118M) is a lookup and does no matmul FLOPs.
Timed batches are spread evenly over an epoch's order, so length grouping is measured on
representative batches, not only on the (longest-first) opening ones.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from transformers import AutoModel, AutoTokenizer, BertConfig, XLMRobertaConfig

from xstilts.models.heads import task_model
from xstilts.paths import data_root
from xstilts.training.collate import Collator, LengthGroupedSampler, feature_length, real_tokens

ARCHS = {
    "me5-small": lambda: BertConfig(
        vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536,
        max_position_embeddings=512, type_vocab_size=2, pad_token_id=1,
    ),
    "xlm-roberta-base": lambda: XLMRobertaConfig(
        vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
    ),
    "xlm-roberta-large": lambda: XLMRobertaConfig(
        vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
        max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
    ),
}
# dense bf16 tensor-core peaks; the fp32 baseline is measured against the same number
GPU_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0, "V100": 125.0}
CPU_TFLOPS_PER_CORE = 0.08  # ~2.5 GHz × 32 fp32 FLOPs/cycle (two AVX2 FMA units): a rough estimate


def default_peak_tflops(device: torch.device) -> float:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return next((v for k, v in GPU_PEAK_TFLOPS.items() if k in name), 100.0)
    return (os.cpu_count() or 1) * CPU_TFLOPS_PER_CORE


def read_text(root: Path, limit: int) -> list[tuple[str, str | None]]:
    """XNLI English dev sentence pairs, then SST-2 training sentences, up to `limit` in all."""
    rows: list[tuple[str, str | None]] = []
    for line in (root / "xnli" / "dev-en.tsv").read_text(encoding="utf-8").splitlines():
        premise, hypothesis, *_ = line.split("\t")
        rows.append((premise, hypothesis))
    for line in (root / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        rows.append((line.split("\t")[0], None))
        if len(rows) >= limit:
            break
    return rows[:limit]


def features(tokenizer, rows, max_length: int) -> list[dict]:
    firsts, seconds = [a for a, _ in rows], [b for _, b in rows]
    pairs = [i for i, b in enumerate(seconds) if b is not None]
    singles = [i for i, b in enumerate(seconds) if b is None]
    ids: dict[int, list[int]] = {}
    if pairs:
        enc = tokenizer([firsts[i] for i in pairs], [seconds[i] for i in pairs], truncation=True, max_length=max_length)
        ids.update(zip(pairs, enc["input_ids"], strict=True))
    if singles:
        enc = tokenizer([firsts[i] for i in singles], truncation=True, max_length=max_length)
        ids.update(zip(singles, enc["input_ids"], strict=True))
    return [{"input_ids": ids[i], "labels": i % 3} for i in range(len(rows))]


class PeakRSS:
    """Peak resident memory while a block runs (CPU), sampled from /proc every 20 ms."""

    def __enter__(self):
        self.peak, self._stop = self._rss(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(name, cfg, feats, *, collate, order, bf16, fused, steps, warmup, device, seed, freeze=False) -> dict:
    torch.manual_seed(seed)
    model = task_model(AutoModel.from_config(cfg, add_pooling_layer=False), "classification", num_labels=3).to(device)
    model.train()
    model.encoder.get_input_embeddings().weight.requires_grad_(not freeze)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-5, fused=fused)
    n_params = sum(p.numel() for p in model.parameters()) - model.encoder.get_input_embeddings().weight.numel()
    tokens = padded = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with PeakRSS() as rss:
        for i, idx in enumerate(order[: warmup + steps]):
            if i == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                started = time.perf_counter()
            batch = collate([feats[j] for j in idx])
            if i >= warmup:
                tokens += real_tokens(batch)
                padded += batch["input_ids"].numel()
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch)["loss"]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else rss.peak
    return {"name": name, "tokens_per_s": tokens / elapsed, "padded_per_s": padded / elapsed,
            "pad_fraction": 1 - tokens / padded, "step_s": elapsed / steps, "peak_gib": peak / 2**30,
            "flops_per_s": 6 * n_params * tokens / elapsed}


def spread(batches: list[list[int]], n: int) -> list[list[int]]:
    """n batches evenly spaced over an epoch, in epoch order."""
    return [batches[round(i * (len(batches) - 1) / max(n - 1, 1))] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), default="me5-small")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 3 on CPU, 50 on GPU)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--batch-size", type=int, default=None, help="default 16 on CPU, 32 on GPU")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--max-examples", type=int, default=8000)
    ap.add_argument("--data-root", type=Path, default=None, help="default $XSTILTS_DATA")
    ap.add_argument("--tokenizer", default="me5-small", help="me5-small (bundled XLM-R vocabulary) or a local dir")
    ap.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: per device)")
    ap.add_argument("--freeze-embeddings", action="store_true", help="also time ours with frozen word embeddings")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (50 if cuda else 3)
    batch_size = args.batch_size or (32 if cuda else 16)
    peak = (args.peak_tflops or default_peak_tflops(device)) * 1e12
    if args.tokenizer == "me5-small":
        from xstilts.models.me5 import ensure_me5

        tokenizer = AutoTokenizer.from_pretrained(ensure_me5())
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    feats = features(tokenizer, read_text(data_root(args.data_root), args.max_examples), args.max_length)
    lengths = [feature_length(f) for f in feats]
    cfg = ARCHS[args.arch]()
    n = args.warmup + steps

    grouped = LengthGroupedSampler(lengths, batch_size, seed=args.seed).batches(0)
    shuffled = LengthGroupedSampler(lengths, batch_size, seed=args.seed, group_by_length=False).batches(0)
    ours = dict(collate=Collator(tokenizer.pad_token_id, pad_to_multiple_of=8), order=spread(grouped, n),
                bf16=cuda, fused=cuda)
    variants = [
        ("baseline (examples)", dict(collate=Collator(tokenizer.pad_token_id, fixed_length=args.max_length),
                                     order=spread(shuffled, n), bf16=False, fused=False)),
        ("xstilts", ours),
    ]
    if args.freeze_embeddings:
        variants.append(("xstilts, frozen emb.", {**ours, "freeze": True}))
    results = [run(name, cfg, feats, steps=steps, warmup=args.warmup, device=device, seed=args.seed, **kw)
               for name, kw in variants]

    console = Console()
    table = Table(title=f"{args.arch} on {torch.cuda.get_device_name(device) if cuda else f'CPU ({os.cpu_count()} cores)'}"
                        f" — batch {batch_size}, {steps} timed steps, {len(feats)} real sentences")
    for col in ("variant", "real tok/s", "padded tok/s", "padding", "s/step", "peak GiB", "MFU"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for r in results:
        table.add_row(r["name"], f"{r['tokens_per_s']:,.0f}", f"{r['padded_per_s']:,.0f}", f"{r['pad_fraction']:.0%}",
                      f"{r['step_s']:.3f}", f"{r['peak_gib']:.2f}", f"{r['flops_per_s'] / peak:.1%}")
    console.print(table)
    base = results[0]["tokens_per_s"]
    for r in results[1:]:
        console.print(f"{r['name']} / baseline: [bold]{r['tokens_per_s'] / base:.2f}×[/bold] real tokens/s")
    console.print(f"MFU against a peak of {peak / 1e12:.2f} TFLOP/s"
                  + ("" if args.peak_tflops else " (default for this device; set --peak-tflops)"))


if __name__ == "__main__":
    main()
