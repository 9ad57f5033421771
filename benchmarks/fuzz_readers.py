"""Fuzz every reader format with many mutated slices of real files, and count the outcomes.

The CI test (tests/test_data_fuzz.py) runs a few dozen inputs per format; this reruns the
same fuzzing (tests/fuzzing.py: truncation, byte flips, wrong delimiters, other encodings,
empty files, huge lines, dropped or repeated lines, CRLF, BOM) with many more.

    python benchmarks/fuzz_readers.py --examples 3000            # every format
    python benchmarks/fuzz_readers.py --examples 500 --formats squad-json,conllu

Prints, per format, the inputs tried, correct reads, XstiltsErrors and unexpected outcomes
(another exception, an error not naming the file, a silent partial read), then a line with
the totals; exits 1 if any outcome was unexpected, showing a few.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fuzzing.py is shared with the CI test

from tests.fuzzing import fuzz, seeds  # noqa: E402
from xstilts.paths import data_root as default_data_root  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=1000, help="inputs per format")
    ap.add_argument("--formats", default="", help="comma list of formats (default: all)")
    ap.add_argument("--data-root", type=Path, default=None, help="default: $XSTILTS_DATA")
    args = ap.parse_args()

    all_seeds = seeds(default_data_root(args.data_root))
    formats = args.formats.split(",") if args.formats else sorted(all_seeds)
    counts: dict[str, Counter] = defaultdict(Counter)
    unexpected: list[str] = []
    start = time.time()
    print(f"{'format':<18}{'inputs':>8}{'read':>8}{'error':>8}{'unexpected':>12}{'seconds':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in formats:
            t0 = time.time()

            def record(seed, mutation, outcome, fmt=fmt):
                kind = "unexpected" if outcome.startswith("unexpected") else outcome
                counts[fmt][kind] += 1
                if kind == "unexpected":
                    unexpected.append(f"{fmt} [{mutation.kind} of {seed.files[mutation.file][0]}]: {outcome}")

            fuzz(all_seeds[fmt], args.examples, Path(tmp) / fmt, record)
            c = counts[fmt]
            print(f"{fmt:<18}{c.total():>8}{c['read']:>8}{c['error']:>8}{c['unexpected']:>12}{time.time() - t0:>9.1f}",
                  flush=True)
    total = sum((counts[f] for f in formats), Counter())
    for line in unexpected[:10]:
        print(line)
    print(f"total: {len(formats)} formats, {total.total()} inputs, {total['read']} correct reads, "
          f"{total['error']} XstiltsErrors, {total['unexpected']} unexpected ({time.time() - start:.0f} s)")
    return 1 if total["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
