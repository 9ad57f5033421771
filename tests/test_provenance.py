"""Hashes that key results and plan nodes: stable across calls, sensitive to what matters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from xstilts import provenance
from xstilts.provenance import canonical_json, file_sha256, files_sha256, stable_hash, tensor_state_hash

OLD_NS = 1_600_000_000 * 10**9  # a timestamp well in the past


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


def test_canonical_json_sorts_keys_and_keeps_float_repr():
    assert canonical_json({"b": 1, "a": [0.1, 1e-05, "é"]}) == '{"a":[0.1,1e-05,"é"],"b":1}'
    assert stable_hash({"x": 1, "y": 2}) == stable_hash({"y": 2, "x": 1})
    assert stable_hash({"x": 1}) != stable_hash({"x": 1.0})


def test_canonical_json_rejects_unknown_types():
    with pytest.raises(TypeError, match="object"):
        canonical_json({"x": object()})


def test_file_hash_is_of_the_content_even_when_size_and_mtime_are_kept(tmp_path):
    provenance._HASHED.clear()  # earlier tests of this process hashed other files
    f = tmp_path / "train.tsv"
    f.write_bytes(b"hello\tworld\n")
    os.utime(f, ns=(OLD_NS, OLD_NS))
    first = file_sha256(f)
    assert file_sha256(f) == first and len(provenance._HASHED) == 1  # remembered while its stat holds
    # Same size and mtime, new bytes: the write changed ctime, so it is hashed again.
    f.write_bytes(b"HELLO\tworld\n")
    os.utime(f, ns=(OLD_NS, OLD_NS))
    second = file_sha256(f)
    assert second != first
    # A new process (nothing remembered) streams every file again: nothing persists between runs.
    provenance._HASHED.clear()
    assert file_sha256(f) == second
    assert not (tmp_path / "cache").exists()


def test_files_hash_ignores_order_and_location(tmp_path):
    for root in (tmp_path / "a", tmp_path / "b"):
        (root / "de").mkdir(parents=True)
        (root / "en.txt").write_text("one")
        (root / "de" / "de.txt").write_text("eins")
    a, b = tmp_path / "a", tmp_path / "b"
    assert files_sha256([a / "en.txt", a / "de" / "de.txt"]) == files_sha256([b / "de" / "de.txt", b / "en.txt"])
    assert files_sha256([a]) == files_sha256([b])
    (b / "de" / "de.txt").write_text("zwei")
    assert files_sha256([a]) != files_sha256([b])
    with pytest.raises(FileNotFoundError):
        files_sha256([a / "missing.txt"])


def test_tensor_hash_changes_with_one_weight():
    state = {"w": torch.randn(4, 3), "b": torch.zeros(3, dtype=torch.bfloat16), "n": torch.tensor(5)}
    h = tensor_state_hash(state)
    assert h == tensor_state_hash(dict(reversed(state.items())))
    changed = {k: v.clone() for k, v in state.items()}
    changed["w"][2, 1] += 1e-3
    assert tensor_state_hash(changed) != h
    changed = {k: v.clone() for k, v in state.items()}
    changed["b"][0] = 1.0
    assert tensor_state_hash(changed) != h
    # Same bytes, other shape or dtype: a different model.
    assert tensor_state_hash({**state, "w": state["w"].reshape(3, 4)}) != h
    assert tensor_state_hash({**state, "b": torch.zeros(3, dtype=torch.float16)}) != h


def test_tensor_hash_reads_non_contiguous_tensors():
    w = torch.randn(3, 5)
    assert tensor_state_hash({"w": w.t()}) == tensor_state_hash({"w": w.t().contiguous()})


def test_git_hash_and_version_never_fail(monkeypatch):
    assert provenance.package_version() != ""
    provenance.git_hash.cache_clear()
    monkeypatch.setenv("PATH", "")
    assert provenance.git_hash() == "unknown"
    provenance.git_hash.cache_clear()


def test_source_hash_follows_the_code_that_makes_rows_not_the_report(tmp_path):
    import shutil

    import xstilts
    from xstilts.provenance import code_hash, source_hash

    package = tmp_path / "xstilts"
    shutil.copytree(Path(xstilts.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_hash(package)
    assert before == code_hash()  # where the package lives does not matter
    (package / "report" / "html.py").write_text("# how a report is drawn\n", encoding="utf-8")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert source_hash(package) == before
    for changed in (package / "report" / "learning.py", package / "recipes" / "finetune.py",
                    package / "data" / "checksums.json"):
        text = changed.read_text(encoding="utf-8")
        changed.write_text(text + "\n", encoding="utf-8")
        assert source_hash(package) != before, changed
        changed.write_text(text, encoding="utf-8")
    assert source_hash(package) == before
