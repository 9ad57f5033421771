"""Verified caches and artefacts: a converted me5 cache, a phase-2 encoder directory and a
fine-tuning checkpoint are checked against the checksums recorded when they were written; the
weights hash of a row is the hash of what was loaded."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from torch import nn

from tests.test_me5_conversion import write_e5s1
from xstilts.errors import CorruptArtefactError
from xstilts.models import checksums
from xstilts.models.encoders import SOURCE_FILE, load_encoder, weights_hash
from xstilts.models.me5 import ensure_me5, me5_dir
from xstilts.provenance import tensor_state_hash
from xstilts.training.checkpoint import load_weights, save_checkpoint


def _corrupt_same_size(path, at=0.5):
    raw = bytearray(path.read_bytes())
    i = int(len(raw) * at)
    raw[i:i + 64] = os.urandom(64)
    path.write_bytes(bytes(raw))


@pytest.fixture
def converted(tmp_path):
    write_e5s1(tmp_path / "m.bin")
    out = ensure_me5(tmp_path / "m.bin", root=tmp_path / "cache")
    return tmp_path / "m.bin", out


@pytest.mark.parametrize("damage, said", [
    (lambda d: _corrupt_same_size(d / "model.safetensors"), "model.safetensors is corrupt (its sha256 differs"),
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:-1000]),
     "bytes were written: truncated or replaced"),
    (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json is missing"),
])
def test_damaged_me5_cache_is_reconverted_with_one_line(converted, tmp_path, capsys, damage, said):
    src, out = converted
    good = {p.name: p.read_bytes() for p in out.iterdir() if p.name != checksums.SIDECAR}
    damage(out)
    assert ensure_me5(src, root=tmp_path / "cache") == out
    err = capsys.readouterr().err.strip()
    assert said in err and err.endswith("re-converting it") and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != checksums.SIDECAR} == good
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # nothing set aside is left behind


def test_cache_without_checksums_is_reconverted(converted, tmp_path, capsys):
    src, out = converted
    meta = json.loads((out / SOURCE_FILE).read_text())
    del meta["files"]
    (out / SOURCE_FILE).write_text(json.dumps(meta))
    ensure_me5(src, root=tmp_path / "cache")
    assert "records no checksums" in capsys.readouterr().err
    assert "files" in json.loads((out / SOURCE_FILE).read_text())


def test_unchanged_files_are_not_rehashed(converted, tmp_path, capsys):
    """The cheap path: a file whose size and mtime match the last check is trusted, so a change
    that hides its mtime goes unnoticed, and one that does not is found."""
    src, out = converted
    path = out / "model.safetensors"
    st = path.stat()
    _corrupt_same_size(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    ensure_me5(src, root=tmp_path / "cache")
    assert capsys.readouterr().err == ""
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    ensure_me5(src, root=tmp_path / "cache")
    assert "model.safetensors is corrupt" in capsys.readouterr().err


@pytest.fixture
def written_encoder(tiny_model_dir, tmp_path):
    """A directory as phase 2 writes it: weights, tokenizer, and xstilts_source.json with checksums."""
    d = tmp_path / "encoder"
    shutil.copytree(tiny_model_dir, d)
    model = load_encoder(str(tiny_model_dir)).model
    source = {"weights_sha256": tensor_state_hash(model.state_dict()), "default_prefix": "",
              "files": checksums.record(d, skip=(SOURCE_FILE,))}
    (d / SOURCE_FILE).write_text(json.dumps(source))
    return d


def test_verified_encoder_reports_its_recorded_hash(written_encoder):
    enc = load_encoder(str(written_encoder))
    recorded = json.loads((written_encoder / SOURCE_FILE).read_text())["weights_sha256"]
    assert enc.verified_hash == recorded == weights_hash(enc) == tensor_state_hash(enc.model.state_dict())


@pytest.mark.parametrize("damage, name, problem", [
    (lambda d: _corrupt_same_size(d / "model.safetensors"), "model.safetensors", "corrupt (its sha256"),
    (lambda d: (d / "model.safetensors").write_bytes(b"{}"), "model.safetensors", "corrupt (2 bytes, "),
    (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json", "missing"),
    (lambda d: (d / SOURCE_FILE).write_text("{\"files\": "), SOURCE_FILE, "corrupt (not readable JSON)"),
])
def test_damaged_encoder_dir_fails_naming_the_file(written_encoder, damage, name, problem):
    damage(written_encoder)
    with pytest.raises(CorruptArtefactError) as e:
        load_encoder(str(written_encoder))
    assert str(e.value) == f"file {written_encoder / name} is {e.value.problem}: delete {written_encoder} to rebuild it"
    assert e.value.problem.startswith(problem)


def test_unverified_directory_hash_is_computed_not_read(written_encoder):
    """Without checksums the recorded hash could describe other weights: it is never trusted."""
    (written_encoder / SOURCE_FILE).write_text(json.dumps({"weights_sha256": "0" * 64}))
    enc = load_encoder(str(written_encoder))
    assert enc.verified_hash is None
    assert weights_hash(enc) == tensor_state_hash(enc.model.state_dict()) != "0" * 64


def test_corrupt_checkpoint_names_the_file_and_the_training_folder(tmp_path):
    model = nn.Linear(64, 64)
    save_checkpoint(tmp_path / "train" / "best", model, {}, {"step": 3})
    other = nn.Linear(64, 64)
    load_weights(other, tmp_path / "train" / "best")
    assert torch.equal(other.weight, model.weight)
    _corrupt_same_size(tmp_path / "train" / "best" / "model.safetensors", at=0.9)
    with pytest.raises(CorruptArtefactError, match=r"best/model\.safetensors is corrupt .*: delete .*/train to"):
        load_weights(other, tmp_path / "train" / "best")


def test_checkpoint_without_checksums_still_fails_naming_the_file(tmp_path):
    """Checkpoints written before checksums existed: an unreadable file is still named."""
    save_checkpoint(tmp_path / "train" / "best", nn.Linear(8, 8), {}, {"step": 1})
    (tmp_path / "train" / "best" / "checksums.json").unlink()
    path = tmp_path / "train" / "best" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(CorruptArtefactError, match=r"model\.safetensors is corrupt \(.*\): delete .*/train to"):
        load_weights(nn.Linear(8, 8), tmp_path / "train" / "best")
