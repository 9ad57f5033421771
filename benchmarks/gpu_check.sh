#!/usr/bin/env bash
# GPU throughput check (issue 12): the transformers example-script configuration (pad to 128,
# fp32, random order, unfused AdamW) against xstilts (packed rows, bf16, fused AdamW, compile) on
# xlm-roberta-base and -large shapes (random init from config, nothing downloaded), then 1, 2, 4
# and 8 concurrent xstilts runs of the base shape. Prints tables, writes OUT/gpu_check.json (and
# gpu_check_compile.json for the compiled runs; OUT defaults to $OUT, then out/gpu_check).
#
# Once, where the data root is (writes benchmarks/sample/, git-ignored; carry it to the GPU):
#   .venv/bin/python benchmarks/export_sample.py --data-root ../shared/data
# On the GPU machine (torch, transformers, accelerate; no data root, no network), under 8 minutes:
#   bash benchmarks/gpu_check.sh [--peak 989e12] [--out DIR]   # peak: dense bf16 FLOP/s (H100 SXM, H200: 989e12)
# Reduced version on CPU (tiny shape, a few steps): bash benchmarks/gpu_check.sh --cpu
set -euo pipefail
cd "$(dirname "$0")/.."
peak=989e12 out="${OUT:-out/gpu_check}" cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --peak) peak="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cpu) cpu=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ! -f benchmarks/sample/sentences.txt ]; then
  echo "benchmarks/sample/ is missing: run benchmarks/export_sample.py first (top of this script)" >&2
  exit 2
fi
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if [ "$cpu" = 1 ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; fi
fi
mkdir -p "$out"
started=$(date +%s)

# the project from this checkout, without dependencies (offline: the environment's setuptools)
if ! "$PYTHON" -c "import xstilts" 2>/dev/null; then
  if ! "$PYTHON" -m pip install --quiet --no-deps --no-build-isolation -e . ; then
    echo "pip could not install the checkout; importing it from src/ instead"
    shim=$(mktemp -d)
    mkdir -p "$shim/xstilts-0.1.0.dist-info"
    printf 'Metadata-Version: 2.1\nName: xstilts\nVersion: 0.1.0\n' > "$shim/xstilts-0.1.0.dist-info/METADATA"
    export PYTHONPATH="$PWD/src:$shim${PYTHONPATH:+:$PYTHONPATH}"
  fi
fi
"$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"

common=(--sample benchmarks/sample --batch-size 32)
if [ "$cpu" = 1 ]; then
  timeout 1800 "$PYTHON" benchmarks/train_throughput.py "${common[@]}" --device cpu --threads 1 --arch tiny \
    --variants baseline,xstilts-padded,xstilts,xstilts+compile --steps 10 --concurrent 1,2,4,8 \
    --concurrent-seconds 5 --peak 0.08e12 --json "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.txt"
else
  # the eager configurations and the concurrent runs first, compiling last (its minutes are the
  # least certain); the whole check within 8 minutes, each JSON written as it goes
  timeout $((400 - $(date +%s) + started)) "$PYTHON" benchmarks/train_throughput.py "${common[@]}" --device cuda \
    --arch xlm-roberta-base,xlm-roberta-large --variants baseline,xstilts-padded,xstilts --seconds 10 \
    --concurrent 1,2,4,8 --concurrent-arch xlm-roberta-base --concurrent-seconds 10 --peak "$peak" \
    --json "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.txt" || echo "cut short"
  timeout $((470 - $(date +%s) + started)) "$PYTHON" benchmarks/train_throughput.py "${common[@]}" --device cuda \
    --arch xlm-roberta-base,xlm-roberta-large --variants xstilts+compile --seconds 10 --peak "$peak" \
    --json "$out/gpu_check_compile.json" 2>&1 | tee "$out/gpu_check_compile.txt" || echo "compiled runs cut short"
fi
echo "wrote $out/gpu_check*.json and .txt in $(( $(date +%s) - started )) s"
