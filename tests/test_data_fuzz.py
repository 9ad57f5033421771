"""Every reader format, fuzzed with mutated slices of real files (tests/fuzzing.py): each input
reads correctly or raises an XstiltsError naming the file (and a line inside it), never
another exception or a silent partial read. A few dozen inputs per format, the same ones on
every run; benchmarks/fuzz_readers.py runs thousands."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fuzzing import fuzz, read, seeds, write
from xstilts.data.formats import FORMATS

EXAMPLES = 30


@pytest.fixture(scope="module")
def all_seeds(data_root):
    return seeds(data_root)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutated_real_files_read_or_fail_naming_the_file(fmt, all_seeds, tmp_path):
    for seed in all_seeds[fmt]:  # the unmutated slices read
        assert read(seed, write(seed, tmp_path / "seed"))
    outcomes = Counter()

    def record(seed, mutation, outcome):
        assert outcome in ("read", "error"), f"{mutation.kind} of {seed.files[mutation.file][0]}: {outcome}"
        outcomes[outcome] += 1

    fuzz(all_seeds[fmt], EXAMPLES, tmp_path, record, derandomize=True)
    assert outcomes["read"] and outcomes["error"]  # the mutations reach both sides
