"""`xstilts align`: load an encoder, run the chosen probes, store and print the rows.

Probes are tasks of role "probe" (built in, or a user's YAML file named in `--tasks`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..data.formats import did_you_mean
from ..evaluation import alignment
from ..evaluation.encode import resolve_layers
from ..models.encoders import load_encoder, weights_hash
from ..paths import data_root as resolve_data_root
from ..report.alignment import per_language_table
from ..store import ResultsStore
from ..tasks import all_tasks, get_task
from ..tasks.check import id_aligned
from ..tasks.schema import TaskDef
from ..tasks.user import UserTasks, load_task_file
from xstilts.errors import BadValue

TASK_FILE_SUFFIXES = (".yaml", ".yml")


def probe_names(items: list[str]) -> tuple[list[str], UserTasks]:
    """Probe names from `--tasks`: names as given, and every probe of each YAML task file (loaded,
    and returned: they are known inside its scope)."""
    names, user = [], UserTasks()
    for item in items:
        if item.endswith(TASK_FILE_SUFFIXES):
            loaded = load_task_file(item)
            names += [t.name for t in loaded if "probe" in t.roles]
            user += loaded
        else:
            names.append(item)
    with user.scope():
        probes = [t.name for t in all_tasks("probe")]
    if unknown := [n for n in names if n not in probes]:
        raise BadValue(f"unknown probe(s) {unknown}{did_you_mean(unknown[0], probes)}")
    return names, user


def probe_langs(task: TaskDef, spec: str | None) -> list[str]:
    """A probe's languages: a named group of the task ('all', 'default', 'xtreme', 'low'...), a
    comma list, or None for its default group (all its languages where it has none)."""
    if spec is None:
        spec = "default" if task.group("default") else "all"
    if spec == "all":
        return list(task.languages)
    if group := task.group(spec):
        return list(group)
    langs = [s.strip() for s in spec.split(",") if s.strip()]
    if bad := [lang for lang in langs if lang not in task.languages]:
        raise BadValue(f"unknown {task.name} language(s) {bad}; choose from {', '.join(task.languages)}"
                         + (f" or a group: {', '.join(n for n, _ in task.lang_groups)}" if task.lang_groups else ""))
    return langs


def describe(proto: alignment.Protocol, task: TaskDef) -> str:
    """A table title's account of the protocol."""
    scorer = "ratio margin mining" if "bucc_f1" in task.metrics else proto.scorer
    where = f", {proto.layer_rule}" if proto.layer_rule else ""
    return (f"{proto.name} protocol: {proto.pooling} pooling, prefix {proto.prefix!r}, {scorer}, "
            f"{proto.max_length} tokens{where}")


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


ALIGNMENT_DEFAULTS: dict[str, Any] = {"layers": "last", "pooling": "mean", "scorer": "cosine", "max_length": 128}


def protocols(probes: list[TaskDef], protocol: str, enc, prefix: str | None,
              settings: dict[str, Any]) -> dict[str, alignment.Protocol]:
    """Each probe's protocol: the `alignment` probe with SETTINGS (layers, pooling, scorer,
    max_length; None: ALIGNMENT_DEFAULTS), or `xtreme-r`, which fixes them all (giving one is an error)."""
    prefix = enc.default_prefix if prefix is None else prefix
    if protocol == "xtreme-r":
        if given := [k for k, v in settings.items() if v is not None and k != "margin_k"]:
            raise BadValue(f"--{given[0].replace('_', '-')}: the xtreme-r protocol fixes the layer, pooling, scorer "
                             "and length of each probe; drop it, or use --protocol alignment")
        return {t.name: alignment.official_protocol(t, enc.num_layers, prefix, enc.max_tokens) for t in probes}
    if protocol != "alignment":
        raise BadValue(f"--protocol must be 'alignment' or 'xtreme-r', not {protocol!r}")
    s = {k: ALIGNMENT_DEFAULTS[k] if settings.get(k) is None else settings[k] for k in ALIGNMENT_DEFAULTS}
    proto = alignment.Protocol(layers=tuple(resolve_layers(s["layers"], enc.num_layers)), pooling=s["pooling"],
                               prefix=prefix, scorer=s["scorer"], margin_k=settings.get("margin_k") or 4,
                               max_length=s["max_length"])
    return {t.name: proto for t in probes}


def run_alignment(*, model: str, tasks: list[str], protocol: str = "alignment", layers: str | None = None,
                  pooling: str | None = None, prefix: str | None = None, scorer: str | None = None,
                  margin_k: int | None = None, langs: dict[str, str], pairs: str = "",
                  max_sentences: int | None = None, max_length: int | None = None, device: str = "cpu",
                  data_root: Path | None = None, store_url: str | None = None, json_out: Path | None = None,
                  console: Console) -> list:
    """LANGS: probe name -> its language choice (see probe_langs); PAIRS: 'src:tgt,...' for the
    probes whose texts are aligned by id (FLORES); MAX_SENTENCES caps every probe's sentences;
    PROTOCOL and the settings after it: see `protocols`."""
    names, user = probe_names(tasks)
    with user.scope():  # a task file's probes are known inside
        probes = [get_task(name) for name in names]
        root = resolve_data_root(data_root)
        chosen = {t.name: probe_langs(t, langs.get(t.name)) for t in probes}
        split = [p.split(":") for p in pairs.split(",") if p.strip()]
        if any(len(p) != 2 for p in split):
            raise BadValue(f"--pairs wants 'src:tgt' items, got {pairs!r}")
        extra = [(a, b) for a, b in split]

        with console.status(f"loading {model}"):
            enc = load_encoder(model, device=device)
            model_hash = weights_hash(enc)
        protos = protocols(probes, protocol, enc, prefix, {"layers": layers, "pooling": pooling, "scorer": scorer,
                                                           "max_length": max_length, "margin_k": margin_k})
        store = ResultsStore(store_url)
        all_rows, t0 = [], time.perf_counter()
        with _progress(console) as progress:
            for task in probes:
                proto = protos[task.name]
                rows = alignment.probe(enc, proto, task, langs=chosen[task.name], model_hash=model_hash,
                                       pairs=extra if id_aligned(task) else (), data_root=root, progress=progress,
                                       max_sentences=max_sentences)
                store.add(rows)  # stored per probe: a crash later loses nothing finished
                all_rows += rows
                groups: dict[str, Iterable[str]] = {**{name: g for name, g in task.lang_groups if name != "default"},
                                                    "all": chosen[task.name]}
                progress.console.print(per_language_table(
                    [r for r in rows if r.metric == rows[0].metric] if rows else rows,
                    f"{task.name}: {model}, {describe(proto, task)}", groups))
        console.print(f"{len(all_rows)} rows stored in {store.url} ({time.perf_counter() - t0:.0f} s)")
        if json_out:
            json_out.write_text(json.dumps([r.model_dump(mode="json") for r in all_rows], indent=1))
            console.print(f"rows written to {json_out}")
    return all_rows
