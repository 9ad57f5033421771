"""One entry point for every encoder a study can start from: a hub id
(`xlm-roberta-large`), a local transformers directory, or the bundled `me5-small`."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from safetensors import SafetensorError

from ..errors import CorruptArtefactError, ModelLoadError
from . import checksums, me5
from .available import model_layers

SOURCE_FILE = "xstilts_source.json"  # written by xstilts into every model directory it makes


@dataclass
class Encoder:
    """A loaded encoder with what a result row needs to name it."""

    name: str  # what the user passed
    path: str  # where the weights were read from
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    default_prefix: str
    verified_hash: str | None = None  # the recorded weights hash, once the files were checked against it

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers

    @property
    def max_tokens(self) -> int:
        """The longest input its position embeddings allow (RoBERTa-style models offset positions
        by the padding index + 1, so XLM-R's 514 positions hold 512 tokens)."""
        config = self.model.config
        offset = config.pad_token_id + 1 if config.model_type in ("roberta", "xlm-roberta") else 0
        return config.max_position_embeddings - offset


def resolve(name: str) -> str:
    """The directory or hub id transformers should load for `name`."""
    if name == me5.NAME:
        return str(me5.ensure_me5())
    return name


def load_encoder(name: str, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> Encoder:
    """Load model and tokenizer; a hub id needs the hub (or its local HF cache)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bars speak for long work
    path = resolve(name)
    if not Path(path).is_dir():
        model_layers(name)  # a hub id neither cached nor reachable fails here, at once
    info = _source_info(path)
    if "files" in info:  # written by xstilts: every file is checked, by content, before it is read
        checksums.verify(path, info["files"], **_rebuild(path, info))
    try:
        tokenizer = _tokenizer(path, _stamp(path))
        try:  # the pooler is unused (we pool ourselves); not every architecture has the switch
            model = AutoModel.from_pretrained(path, dtype=dtype or torch.float32, add_pooling_layer=False)
        except TypeError:
            model = AutoModel.from_pretrained(path, dtype=dtype or torch.float32)
    except OSError as e:
        raise ModelLoadError(
            f"could not load encoder '{name}': {e}\n"
            "Pass 'me5-small' (bundled, offline), a local model directory, or a hub id "
            "reachable from this machine (or present in the Hugging Face cache)."
        ) from e
    except SafetensorError as e:  # a folder xstilts did not write (no checksums), damaged
        raise ModelLoadError(f"could not load encoder '{name}': a .safetensors file in {path} is damaged ({e}); "
                             "replace the folder with an intact copy") from None
    model.to(device).eval()
    trusted = "files" in info and (dtype or torch.float32) == torch.float32
    return Encoder(name, path, model, tokenizer, info.get("default_prefix", ""),
                   info.get("weights_sha256") if trusted else None)


def _rebuild(path: str, info: dict) -> dict:
    """How the error for a damaged phase-2 encoder says to fix it: the node that trains it again."""
    if "base_model" not in info:
        return {}
    node = Path(path).parent.name
    return {"rebuild": path, "then": f"the next `xstilts run` of its study trains phase-2 node {node} "
                                     f"({info.get('name', '?')}) again"}


def _stamp(path: str) -> tuple:
    """Size, mtime and ctime of a directory's tokenizer files (a hub id has none): reloads after a
    change, even one that restored the mtime."""
    files = sorted(Path(path).glob("tokenizer*")) + sorted(Path(path).glob("*.model")) if Path(path).is_dir() else []
    return tuple((f.name, (st := f.stat()).st_size, st.st_mtime_ns, st.st_ctime_ns) for f in files)


@functools.lru_cache(maxsize=8)
def _tokenizer(path: str, _stamp: tuple) -> PreTrainedTokenizerBase:
    """Tokenizers are loaded once per process: XLM-R's 250k-piece tokenizer.json takes ~1 s to
    parse, and a study loads the same one in every node."""
    return AutoTokenizer.from_pretrained(path)


def save_encoder(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, source: dict, final: Path) -> Path:
    """Write an encoder directory atomically (a temporary folder renamed into place): weights,
    tokenizer, and SOURCE (what made it) with every file's checksum, which `load_encoder` checks."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".encoder-", dir=final.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        source = {**source, "files": checksums.record(tmp, skip=(SOURCE_FILE,))}
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _source_info(path: str) -> dict:
    """What xstilts recorded about a directory it wrote (me5 conversion, phase-2 encoders):
    its files' checksums, its weights hash and the text prefix its model family expects."""
    meta = Path(path) / SOURCE_FILE
    if not meta.is_file():
        return {}
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError):
        raise CorruptArtefactError(meta, "corrupt (not readable JSON)", path) from None
    if not isinstance(info, dict):
        raise CorruptArtefactError(meta, "corrupt (not a JSON object)", path)
    return info


def weights_hash(encoder: Encoder) -> str:
    """A stable hash of the weights actually loaded, recorded with every result: the hash
    recorded at writing when every file was checked against its checksum on load (so 470 MB
    are not re-hashed each run), else computed from the loaded weights."""
    if encoder.verified_hash:
        return encoder.verified_hash
    from ..provenance import tensor_state_hash

    return tensor_state_hash(encoder.model.state_dict())


# Where transformers' masked-LM classes keep the parts of their LM head that MLMHead has:
# (dense, layer norm, output bias); the decoder itself is tied to the input embeddings.
_LM_HEAD_PARTS = {
    "lm_head": ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias"),  # RoBERTa / XLM-R
    "cls": ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias"),  # BERT
}


def pretrained_mlm_head(encoder: Encoder) -> tuple[dict[str, torch.Tensor] | None, str]:
    """The checkpoint's own LM-head weights in MLMHead's names, or None where it ships none
    (me5-small is a bare BertModel); the second value says which happened, for the record."""
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights were newly initialised" is the expected answer here
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(encoder.path, output_loading_info=True)
    except (OSError, ValueError):
        return None, "new: the checkpoint has no masked-LM class"
    finally:
        hf_logging.set_verbosity(verbosity)
    state = model.state_dict()
    missing = set(info.get("missing_keys", ()))
    for prefix, (dense, norm, bias) in _LM_HEAD_PARTS.items():
        keys = [f"{dense}.weight", f"{dense}.bias", f"{norm}.weight", f"{norm}.bias", bias]
        if all(k in state for k in keys):
            if missing & set(keys):
                return None, f"new: the checkpoint's {prefix} weights are missing"
            return ({"dense.weight": state[keys[0]], "dense.bias": state[keys[1]], "layer_norm.weight": state[keys[2]],
                     "layer_norm.bias": state[keys[3]], "bias": state[keys[4]]},
                    f"pretrained: the checkpoint's {prefix} (decoder tied to the input embeddings)")
    return None, "new: no LM head of a known layout"
