"""Exports the text sample and tokenizer that benchmarks/gpu_check.sh reads on a machine with no
data root and no network: all 2,490 XNLI English dev pairs, then SST-2 training sentences, to
4,000 lines, plus the bundled me5-small tokenizer (XLM-R's 250,002-token vocabulary).

    .venv/bin/python benchmarks/export_sample.py [--data-root ../shared/data] [--out benchmarks/sample]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers import AutoTokenizer

from xstilts.models.me5 import ensure_me5
from xstilts.paths import data_root


def sample_rows(root: Path, limit: int) -> list[str]:
    """Tab-separated pairs (XNLI) and single sentences (SST-2), one example a line."""
    rows = ["\t".join(line.split("\t")[:2]) for line in (root / "xnli" / "dev-en.tsv").read_text("utf-8").splitlines()]
    for line in (root / "sst2" / "train.tsv").read_text("utf-8").splitlines()[1:]:
        if len(rows) >= limit:
            break
        rows.append(line.split("\t")[0])
    return rows[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=None, help="default $XSTILTS_DATA")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "sample")
    ap.add_argument("--examples", type=int, default=4000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = sample_rows(data_root(args.data_root), args.examples)
    (args.out / "sentences.txt").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    AutoTokenizer.from_pretrained(ensure_me5()).save_pretrained(args.out / "tokenizer")
    print(f"{len(rows)} examples and the tokenizer → {args.out}")


if __name__ == "__main__":
    main()
