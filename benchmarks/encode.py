"""Throughput of the sentence-encoding pipeline against a naive baseline, side by side.

Ours: length-sorted batches under a token budget, dynamic padding, inference mode,
every layer from one pass. Baseline: the same model and sentences in fixed batches of 64
padded to 128 tokens, in file order (what a first script usually does).

    python benchmarks/encode.py --langs xtreme            # XTREME's 36 Tatoeba languages, both sides
    python benchmarks/encode.py --langs deu,swh --baseline-sentences 512

Prints sentences/s of each, the ratio, and the wall time of ours over all sentences.
"""

from __future__ import annotations

import argparse
import time

import torch

from xstilts.data import catalog, languages
from xstilts.evaluation.encode import encode
from xstilts.models.encoders import load_encoder


@torch.inference_mode()
def naive_encode(enc, texts, prefix, batch_size=64, max_length=128):
    out = []
    for i in range(0, len(texts), batch_size):
        b = enc.tokenizer([prefix + t for t in texts[i : i + batch_size]], padding="max_length", truncation=True,
                          max_length=max_length, return_tensors="pt")
        h = enc.model(**b).last_hidden_state
        m = b["attention_mask"].unsqueeze(-1).float()
        out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1))
    return torch.cat(out).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--langs", default="xtreme", help="'xtreme' (36) or a comma list of Tatoeba codes")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--baseline-sentences", type=int, default=1024,
                    help="the baseline runs on this many sentences (a sample spread over the set) to save time")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    langs = list(languages.XTREME36) if args.langs == "xtreme" else args.langs.split(",")
    texts = []
    for lang in langs:
        for p in catalog.tatoeba_pairs(lang, args.data_root):
            texts += [p.source, p.target]
    enc = load_encoder(args.model)
    prefix = enc.default_prefix
    step = max(1, len(texts) // args.baseline_sentences)
    sample = texts[::step][: args.baseline_sentences]

    encode(enc, sample[:64], layers=[enc.num_layers], pooling="mean", prefix=prefix)  # warm-up
    t = time.perf_counter()
    naive = naive_encode(enc, sample, prefix)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    ours_sample = encode(enc, sample, layers=[enc.num_layers], pooling="mean", prefix=prefix)[enc.num_layers]
    t_ours_sample = time.perf_counter() - t
    agree = float((naive * ours_sample).sum(1).min())

    t = time.perf_counter()
    encode(enc, texts, layers=[enc.num_layers], pooling="mean", prefix=prefix)
    t_all = time.perf_counter() - t

    naive_rate, ours_rate = len(sample) / t_naive, len(sample) / t_ours_sample
    print(f"model {args.model}, {torch.get_num_threads()} threads, {len(langs)} Tatoeba languages, "
          f"{len(texts)} sentences (both sides)")
    print(f"same {len(sample)} sentences: baseline {naive_rate:.1f} sent/s, ours {ours_rate:.1f} sent/s, "
          f"ratio {ours_rate / naive_rate:.2f}x (min cosine between the two: {agree:.5f})")
    print(f"ours over all {len(texts)} sentences: {t_all:.1f} s = {len(texts) / t_all:.1f} sent/s "
          f"(target: under 180 s)")


if __name__ == "__main__":
    main()
