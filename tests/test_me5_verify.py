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
from xstilts.errors import CorruptArtefactError, ModelLoadError
from xstilts.models import checksums
from xstilts.models.encoders import SOURCE_FILE, load_encoder, weights_hash
from xstilts.models.me5 import ensure_me5
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
    good = {p.name: p.read_bytes() for p in out.iterdir()}
    damage(out)
    assert ensure_me5(src, root=tmp_path / "cache") == out
    err = capsys.readouterr().err.strip()
    assert said in err and err.endswith("re-converting it") and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == good
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # nothing set aside is left behind


def test_cache_without_checksums_is_reconverted(converted, tmp_path, capsys):
    src, out = converted
    meta = json.loads((out / SOURCE_FILE).read_text())
    del meta["files"]
    (out / SOURCE_FILE).write_text(json.dumps(meta))
    ensure_me5(src, root=tmp_path / "cache")
    assert "records no checksums" in capsys.readouterr().err
    assert "files" in json.loads((out / SOURCE_FILE).read_text())


def _keep_mtime(path, change):
    """CHANGE the file, then restore its mtime: the change disk rot or a careless copy makes."""
    st = path.stat()
    change(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def _fresh_process():
    """What a new run starts with: no file hashed yet (the in-process memo of provenance.file_sha256)."""
    from xstilts import provenance

    provenance._HASHED.clear()


@pytest.mark.parametrize("damage", [
    _corrupt_same_size,
    lambda p: p.write_bytes(b"\xff" * 8 + p.read_bytes()[8:]),  # the safetensors header length
])
def test_same_size_same_mtime_change_is_reconverted(converted, tmp_path, capsys, damage):
    """Content, not metadata: a change that kept the size and the mtime is found by the next run
    and re-converted, not loaded (it was once read as intact and scored 0.00)."""
    src, out = converted
    path = out / "model.safetensors"
    good = path.read_bytes()
    ensure_me5(src, root=tmp_path / "cache")  # checked once in this process
    _keep_mtime(path, damage)
    _fresh_process()
    ensure_me5(src, root=tmp_path / "cache")
    err = capsys.readouterr().err
    assert "model.safetensors is corrupt (its sha256 differs" in err and err.strip().endswith("re-converting it")
    assert path.read_bytes() == good


def test_a_change_within_a_process_is_found_too(converted, tmp_path, capsys):
    """The in-process memo is keyed by ctime as well, which no write can keep."""
    src, out = converted
    ensure_me5(src, root=tmp_path / "cache")
    _keep_mtime(out / "model.safetensors", _corrupt_same_size)
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


def test_damaged_phase2_encoder_names_the_node_that_rebuilds_it(written_encoder, tmp_path):
    """A phase-2 encoder (<work>/intermediate/<node>/encoder) damaged with its mtime kept: the error
    names the file and the node the next run trains again; no internal error, no load."""
    node = tmp_path / "work" / "intermediate" / "0123456789abcdef"
    node.mkdir(parents=True)
    enc = shutil.move(written_encoder, node / "encoder")
    info = json.loads((node / "encoder" / SOURCE_FILE).read_text())
    info.update(base_model="me5-small", name="me5-small+xnli")
    (node / "encoder" / SOURCE_FILE).write_text(json.dumps(info))
    _keep_mtime(node / "encoder" / "model.safetensors", lambda p: p.write_bytes(b"\xff" * 8 + p.read_bytes()[8:]))
    _fresh_process()
    with pytest.raises(CorruptArtefactError) as e:
        load_encoder(str(enc))
    assert str(e.value) == (f"file {node}/encoder/model.safetensors is corrupt (its sha256 differs from the one "
                            f"recorded when it was written): delete {node}/encoder to rebuild it; the next `xstilts "
                            "run` of its study trains phase-2 node 0123456789abcdef (me5-small+xnli) again")


def test_damaged_header_of_an_unchecked_folder_is_named(tiny_model_dir, tmp_path):
    """A folder xstilts did not write has no checksums: a broken safetensors header is a one-line
    ModelLoadError naming the folder, not `internal error: SafetensorError`."""
    d = tmp_path / "model"
    shutil.copytree(tiny_model_dir, d)
    p = d / "model.safetensors"
    p.write_bytes(b"\xff" * 8 + p.read_bytes()[8:])
    with pytest.raises(ModelLoadError, match=f"a .safetensors file in {d} is damaged") as e:
        load_encoder(str(d))
    assert not isinstance(e.value, CorruptArtefactError) and "\n" not in str(e.value)


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
