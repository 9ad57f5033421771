"""Fine-tuning throughput of xstilts' training step against transformers' example-script
defaults, side by side in one process, on real English text (XNLI dev pairs + SST-2).

    .venv/bin/python benchmarks/train_throughput.py --arch me5-small --steps 3 --batch-size 16
    python benchmarks/train_throughput.py --arch xlm-roberta-base,xlm-roberta-large --seconds 10 \\
        --sample benchmarks/sample --concurrent 1,2,4,8 --json out.json      # on a GPU (gpu_check.sh)

baseline:  padding to max_length=128, random order, fp32, unfused AdamW (run_glue.py defaults)
xstilts:   packed rows of 128 (no padding computed; random order) + bf16 autocast and fused
           AdamW on CUDA; "+compile" adds torch.compile (its warm-up time is the compile time);
           "xstilts-padded" pads length-grouped batches to their longest (multiple of 8) instead

All run the same step (forward, backward, clipping, AdamW, and a loss.item() as a training
loop logs it) on the same randomly initialised model of the chosen shape. Throughput counts
real (non-padding) tokens. MFU = 6 × non-embedding parameters × real tokens / time / peak
(embeddings are lookups, no matmul FLOPs). Timed batches are spread evenly over an epoch's
order, so length grouping is measured on representative batches. `--concurrent` starts that
many separate processes of the xstilts variant at once and sums their real tokens/s.
Needs only torch and transformers (no rich, no data root with `--sample`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import AutoModel, BertConfig, XLMRobertaConfig

from xstilts.models.heads import task_model
from xstilts.training.collate import Collator, LengthGroupedSampler, feature_length, real_tokens
from xstilts.training.packing import Packed, computed_tokens

XLMR = dict(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1)
ARCHS = {
    "tiny": lambda: XLMRobertaConfig(**XLMR, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=128),
    "me5-small": lambda: BertConfig(
        vocab_size=250037, hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536,
        max_position_embeddings=512, type_vocab_size=2, pad_token_id=1,
    ),
    "xlm-roberta-base": lambda: XLMRobertaConfig(**XLMR, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                                 intermediate_size=3072),
    "xlm-roberta-large": lambda: XLMRobertaConfig(**XLMR, hidden_size=1024, num_hidden_layers=24,
                                                  num_attention_heads=16, intermediate_size=4096),
}
VARIANTS = ("baseline", "xstilts-padded", "xstilts", "xstilts+compile")
GPU_PEAK = 989e12  # dense bf16, H100 SXM and H200; the fp32 baseline is measured against the same number
CPU_PEAK_PER_CORE = 0.08e12  # ~2.5 GHz × 32 fp32 FLOPs/cycle (two AVX2 FMA units): a rough estimate


def load_rows(sample: Path | None, data_root: Path | None, limit: int) -> tuple[list[tuple[str, str | None]], Path]:
    """Examples (first, second-or-None) and the tokenizer folder: from an exported sample
    (benchmarks/export_sample.py) or from the data root and the bundled me5-small."""
    if sample is not None:
        lines, tokenizer_dir = (sample / "sentences.txt").read_text(encoding="utf-8").splitlines()[:limit], sample / "tokenizer"
    else:  # needs the data root and the project's dependencies
        from export_sample import sample_rows
        from xstilts.models.me5 import ensure_me5
        from xstilts.paths import data_root as resolve_root

        lines, tokenizer_dir = sample_rows(resolve_root(data_root), limit), ensure_me5()
    return [tuple(line.split("\t")) if "\t" in line else (line, None) for line in lines], tokenizer_dir


def features(tokenizer_dir: Path, rows, max_length: int) -> tuple[list[dict], int]:
    """Tokenised features (label = index mod 3) and the pad id, with `tokenizers` alone."""
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tok.enable_truncation(max_length)
    encoded = tok.encode_batch([(a, b) if b is not None else a for a, b in rows])
    return [{"input_ids": e.ids, "labels": i % 3} for i, e in enumerate(encoded)], tok.token_to_id("<pad>")


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


def non_embedding_params(model: torch.nn.Module) -> int:
    embedded = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embedded)


def run(arch, feats, order, *, collate, bf16, fused, compile, steps, seconds, warmup, device, seed,
        ready=None) -> dict:
    """Warm-up steps (compilation happens here), then `steps` steps or `seconds` of steps.
    `ready` (concurrent workers) is called between the two and blocks until all may start."""
    cuda = device.type == "cuda"
    torch.manual_seed(seed)
    with torch.device(device):
        model = task_model(AutoModel.from_config(ARCHS[arch](), add_pooling_layer=False), "classification",
                           num_labels=3)
    model.train()
    if compile:
        model.encoder.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, fused=fused)
    tokens = computed = done = 0
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def step(idx: list[int]) -> dict:
        batch = collate([feats[j] for j in idx])
        on_device = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**on_device)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()  # a training loop logs the loss: one sync per step
        return batch

    with PeakRSS() as rss:
        started = time.perf_counter()
        for i in range(warmup):
            step(order[i % len(order)])
        warmup_s = time.perf_counter() - started
        if ready is not None:
            ready()
        started = time.perf_counter()
        while (done < steps) if seconds is None else (time.perf_counter() - started < seconds):
            batch = step(order[done % len(order)])  # the same batches for every variant
            tokens, computed, done = tokens + real_tokens(batch), computed + computed_tokens(batch), done + 1
        elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) if cuda else rss.peak
    return {"real_tok_s": tokens / elapsed, "computed_tok_s": computed / elapsed, "padding": 1 - tokens / computed,
            "step_s": elapsed / done, "steps": done, "warmup_s": warmup_s, "warmup_steps": warmup,
            "peak_gib": peak / 2**30, "flop_s": 6 * non_embedding_params(model) * tokens / elapsed}


def spread(batches: list[list[int]], n: int) -> list[list[int]]:
    """n batches evenly spaced over an epoch, in epoch order."""
    return [batches[round(i * (len(batches) - 1) / max(n - 1, 1))] for i in range(n)]


def variant_kwargs(name: str, feats, pad_id: int, args, cuda: bool) -> dict:
    lengths = [feature_length(f) for f in feats]
    n = args.steps if args.seconds is None else 64  # timed batches spread over the whole epoch
    if name == "baseline":
        order = LengthGroupedSampler(lengths, args.batch_size, seed=args.seed, group_by_length=False).batches(0)
        return dict(collate=Collator(pad_id, fixed_length=args.max_length), order=spread(order, n),
                    bf16=False, fused=False, compile=False)
    packed = name != "xstilts-padded"  # packing fills rows best from mixed lengths: random order
    order = LengthGroupedSampler(lengths, args.batch_size, seed=args.seed, group_by_length=not packed).batches(0)
    collate = Collator(pad_id, pad_to_multiple_of=8)
    if packed:
        collate = Packed(collate, pad_id, args.pack_length, args.bucket)
    return dict(collate=collate, order=spread(order, n), bf16=cuda, fused=cuda, compile=name.endswith("+compile"))


def measure(name: str, arch: str, feats, pad_id: int, args, device, ready=None) -> dict:
    cuda = device.type == "cuda"
    warmup = args.warmup if args.warmup is not None else (4 if name.endswith("+compile") else 1)
    result = run(arch, feats, steps=args.steps, seconds=args.seconds, warmup=warmup, device=device, seed=args.seed,
                 ready=ready, **variant_kwargs(name, feats, pad_id, args, cuda))
    if cuda:
        torch.cuda.empty_cache()
    torch._dynamo.reset()
    return {"variant": name, "arch": arch, **result, "mfu": result["flop_s"] / args.peak}


def worker(args, feats, pad_id, device) -> None:
    """One of `--concurrent` processes: warm up, say ready, wait for the go file, measure."""
    go = Path(args.worker) / "go"

    def ready():
        (Path(args.worker) / f"ready-{os.getpid()}").touch()
        while not go.exists():
            time.sleep(0.05)

    result = measure(args.variant, args.arch[0], feats, pad_id, args, device, ready=ready)
    (Path(args.worker) / f"result-{os.getpid()}.json").write_text(json.dumps(result))


def concurrent(n: int, args) -> dict:
    """Sum of real tokens/s of n separate processes timed over the same window."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, __file__, "--worker", tmp, "--arch", args.concurrent_arch, "--variant",
                args.concurrent_variant, "--seconds", str(args.concurrent_seconds), "--peak", str(args.peak),
                "--batch-size", str(args.batch_size), "--device", args.device, "--threads", str(args.threads)]
        argv += ["--sample", str(args.sample)] if args.sample else []
        argv += ["--data-root", str(args.data_root)] if args.data_root else []
        procs = [subprocess.Popen(argv) for _ in range(n)]
        while len(list(Path(tmp).glob("ready-*"))) < n:
            if any(p.poll() not in (None, 0) for p in procs):
                raise RuntimeError(f"a concurrent worker failed (n={n})")
            time.sleep(0.1)
        (Path(tmp) / "go").touch()
        if any(p.wait() != 0 for p in procs):
            raise RuntimeError(f"a concurrent worker failed (n={n})")
        runs = [json.loads(f.read_text()) for f in Path(tmp).glob("result-*.json")]
    total = sum(r["real_tok_s"] for r in runs)
    return {"processes": n, "arch": args.concurrent_arch, "variant": args.concurrent_variant,
            "real_tok_s": total, "mfu": sum(r["mfu"] for r in runs), "per_process_tok_s": [r["real_tok_s"] for r in runs],
            "peak_gib_each": max(r["peak_gib"] for r in runs)}


def table(results: list[dict]) -> str:
    head = f"{'arch':18} {'variant':16} {'real tok/s':>11} {'padding':>8} {'s/step':>8} {'warm-up s':>9} {'peak GiB':>8} {'MFU':>6}"
    lines = [head]
    for r in results:
        lines.append(f"{r['arch']:18} {r['variant']:16} {r['real_tok_s']:>11,.0f} {r['padding']:>8.0%} "
                     f"{r['step_s']:>8.3f} {r['warmup_s']:>9.1f} {r['peak_gib']:>8.2f} {r['mfu']:>6.1%}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="me5-small", help=f"comma-separated, of {', '.join(ARCHS)}")
    ap.add_argument("--variants", default="baseline,xstilts", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant (unless --seconds)")
    ap.add_argument("--seconds", type=float, default=None, help="time each variant for this long instead")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 1; 4 when compiled)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--pack-length", type=int, default=128)
    ap.add_argument("--bucket", type=int, default=64)
    ap.add_argument("--max-examples", type=int, default=4000)
    ap.add_argument("--sample", type=Path, default=None, help="exported sample folder (export_sample.py)")
    ap.add_argument("--data-root", type=Path, default=None, help="without --sample: default $XSTILTS_DATA")
    ap.add_argument("--peak", type=float, default=None, help="peak FLOP/s for MFU (default 989e12 on CUDA)")
    ap.add_argument("--concurrent", default="", help="e.g. 1,2,4,8: processes run at once")
    ap.add_argument("--concurrent-arch", default=None, help="default: the first --arch")
    ap.add_argument("--concurrent-seconds", type=float, default=10.0, help="timed window of the concurrent runs")
    ap.add_argument("--concurrent-variant", default="xstilts", choices=VARIANTS)
    ap.add_argument("--json", type=Path, default=None, help="write the results here (after every measurement)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="xstilts", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.arch = args.arch.split(",")
    args.concurrent_arch = args.concurrent_arch or args.arch[0]
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.peak is None:
        args.peak = GPU_PEAK if device.type == "cuda" else (os.cpu_count() or 1) * CPU_PEAK_PER_CORE
    rows, tokenizer_dir = load_rows(args.sample, args.data_root, args.max_examples)
    feats, pad_id = features(tokenizer_dir, rows, args.max_length)
    if args.worker:
        return worker(args, feats, pad_id, device)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    report = {"device": name, "peak_flop_s": args.peak, "batch_size": args.batch_size, "examples": len(feats),
              "torch": torch.__version__, "runs": [], "ratios": {}, "concurrent": []}

    def save() -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2))

    print(f"{name}: batch {args.batch_size}, {len(feats)} examples, MFU against {args.peak:.3g} FLOP/s", flush=True)
    for arch in args.arch:
        for variant in args.variants.split(","):
            report["runs"].append(measure(variant, arch, feats, pad_id, args, device))
            print(table(report["runs"][-1:]).splitlines()[-1], flush=True)
            save()
        base = next((r for r in report["runs"] if r["arch"] == arch and r["variant"] == "baseline"), None)
        for r in report["runs"]:
            if base and r["arch"] == arch and r is not base:
                report["ratios"][f"{arch}: {r['variant']} / baseline"] = r["real_tok_s"] / base["real_tok_s"]
        save()
    for n in [int(x) for x in args.concurrent.split(",") if x]:
        report["concurrent"].append(concurrent(n, args))
        c = report["concurrent"][-1]
        print(f"{n} concurrent {c['arch']} {c['variant']}: {c['real_tok_s']:,.0f} real tok/s in all, "
              f"MFU {c['mfu']:.1%}, peak {c['peak_gib_each']:.2f} GiB each", flush=True)
        save()
    print("\n" + table(report["runs"]))
    for key, ratio in report["ratios"].items():
        print(f"{key}: {ratio:.2f}× real tokens/s")


if __name__ == "__main__":
    main()
