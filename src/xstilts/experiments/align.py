"""`xstilts align`: load an encoder, run the chosen retrieval probes, store and print the rows."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..data import catalog
from ..evaluation import alignment
from ..evaluation.encode import resolve_layers
from ..models.encoders import load_encoder, weights_hash
from ..paths import data_root as resolve_data_root
from ..report.alignment import per_language_table
from ..store import ResultsStore

PROBES = ("tatoeba", "flores", "lareqa")
# SIB-200 languages with large Wikipedia/CommonCrawl presence; the rest are the low-resource probe.
FLORES_HIGH = ("arb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "hin_Deva", "ind_Latn", "jpn_Jpan",
               "rus_Cyrl", "spa_Latn", "tur_Latn", "vie_Latn", "zho_Hans")
FLORES_LOW = tuple(lang for lang in catalog.SIB200_LANGS if lang not in FLORES_HIGH)


def _langs(spec: str, named: dict[str, tuple[str, ...]], valid: tuple[str, ...], what: str) -> list[str]:
    if spec in named:
        return list(named[spec])
    langs = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [lang for lang in langs if lang not in valid]
    if bad:
        raise ValueError(f"unknown {what} language(s) {bad}; choose from {', '.join(valid)}")
    return langs


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def run_alignment(*, model: str, tasks: list[str], layers: str, pooling: str, prefix: str | None, scorer: str,
                  margin_k: int, tatoeba_langs: str, flores_langs: str, flores_pairs: str,
                  flores_sentences: int | None, max_length: int, device: str, data_root: Path | None,
                  store_url: str | None, json_out: Path | None, console: Console) -> list:
    unknown = [t for t in tasks if t not in PROBES]
    if unknown:
        raise ValueError(f"unknown probe(s) {unknown}; choose from {', '.join(PROBES)}")
    root = resolve_data_root(data_root)
    t_langs = _langs(tatoeba_langs, {"xtreme": catalog.XTREME36, "all": catalog.TATOEBA_LANGS},
                     catalog.TATOEBA_LANGS, "Tatoeba")
    f_langs = _langs(flores_langs, {"all": catalog.SIB200_LANGS, "low": FLORES_LOW}, catalog.SIB200_LANGS, "FLORES")
    pairs = [tuple(p.split(":")) for p in flores_pairs.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"--flores-pairs wants 'src:tgt' items, got {flores_pairs!r}")

    with console.status(f"loading {model}"):
        enc = load_encoder(model, device=device)
        model_hash = weights_hash(enc)
    proto = alignment.Protocol(
        layers=tuple(resolve_layers(layers, enc.num_layers)), pooling=pooling,  # type: ignore[arg-type]
        prefix=enc.default_prefix if prefix is None else prefix, scorer=scorer,  # type: ignore[arg-type]
        margin_k=margin_k, max_length=max_length,
    )
    store = ResultsStore(store_url)
    all_rows, t0 = [], time.perf_counter()
    with _progress(console) as progress:
        common = dict(model_hash=model_hash, data_root=root, progress=progress)
        for task in tasks:
            if task == "tatoeba":
                rows = alignment.tatoeba(enc, proto, langs=t_langs, **common)
                groups = {"XTREME-36": catalog.XTREME36, "all": t_langs}
            elif task == "flores":
                rows = alignment.flores(enc, proto, langs=f_langs, pairs=pairs, max_sentences=flores_sentences,
                                        **common)
                groups = {"low-resource": FLORES_LOW, "high-resource": FLORES_HIGH, "all": f_langs}
            else:
                rows = alignment.lareqa(enc, proto, **common)
                groups = {"all": catalog.LAREQA_LANGS}
            store.add(rows)  # stored per probe: a crash later loses nothing finished
            all_rows += rows
            progress.console.print(per_language_table(
                rows, f"{task}: {model}, {pooling} pooling, prefix {proto.prefix!r}, {scorer}", groups))
    console.print(f"{len(all_rows)} rows stored in {store.url} ({time.perf_counter() - t0:.0f} s)")
    if json_out:
        json_out.write_text(json.dumps([r.model_dump(mode="json") for r in all_rows], indent=1))
        console.print(f"rows written to {json_out}")
    return all_rows
