#!/usr/bin/env bash
# GPU throughput check (issue 12): the transformers example-script configuration (pad to 128,
# fp32, random order, unfused AdamW) against xstilts (packed rows, bf16, fused AdamW, compile) on
# xlm-roberta-base and -large shapes (random init from config, nothing downloaded), then 1, 2, 4
# and 8 concurrent xstilts runs of the base shape. Prints a table, writes OUT/gpu_check.json.
#
# Once, where the data root is (writes benchmarks/sample/, git-ignored; carry it to the GPU):
#   .venv/bin/python benchmarks/export_sample.py --data-root ../shared/data
# On the GPU machine (torch, transformers, accelerate; no data root, no network), under 8 minutes:
#   bash benchmarks/gpu_check.sh [--peak 989e12] [--out DIR]   # peak: dense bf16 FLOP/s (H100 SXM, H200: 989e12)
# Reduced version on CPU (tiny shape, a few steps): bash benchmarks/gpu_check.sh --cpu
set -euo pipefail
cd "$(dirname "$0")/.."
peak=989e12 out="${OUT:-benchmarks/out}" cpu=0
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

if [ "$cpu" = 1 ]; then
  args=(--device cpu --threads 1 --arch tiny --variants baseline,xstilts-padded,xstilts,xstilts+compile --steps 10
        --concurrent 1,2,4,8 --concurrent-seconds 5 --peak 0.08e12)
  limit=1800
else
  args=(--device cuda --arch xlm-roberta-base,xlm-roberta-large --variants baseline,xstilts-padded,xstilts,xstilts+compile
        --seconds 10 --concurrent 1,2,4,8 --concurrent-arch xlm-roberta-base --concurrent-variant xstilts
        --concurrent-seconds 10 --peak "$peak")
  limit=$((470 - $(date +%s) + started))  # the whole check within 8 minutes; JSON is written as it goes
fi
timeout "$limit" "$PYTHON" benchmarks/train_throughput.py --sample benchmarks/sample --batch-size 32 \
  --json "$out/gpu_check.json" "${args[@]}" 2>&1 | tee "$out/gpu_check.txt"
echo "wrote $out/gpu_check.json and $out/gpu_check.txt in $(( $(date +%s) - started )) s"
