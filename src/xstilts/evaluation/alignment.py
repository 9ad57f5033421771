"""Alignment probes: how close are translations in the encoder's space, per language and layer.

- Tatoeba (XTREME protocol): each sentence retrieves its translation among all sentences
  of the other side, accuracy, both directions.
- FLORES (SIB-200's 1,004 sentences per language, aligned by index_id): xx->eng, eng->xx,
  and any xx->yy: the low-resource probe.
- LAReQA (XQuAD-R): questions retrieve answer sentences from the pooled candidates of
  every language, mAP@20.

Each probe encodes every sentence once for all layers and returns result rows carrying
the whole protocol; they never average (the report does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.progress import Progress

from ..data import catalog
from ..metrics import get_metric
from ..models.encoders import Encoder
from ..provenance import files_sha256
from ..store import ResultRow
from .encode import Pooling, encode
from .retrieval import Scorer, search

TASK_VERSION = "1"


@dataclass(frozen=True)
class Protocol:
    """Everything that can move a retrieval score; recorded with every row."""

    layers: tuple[int, ...]
    pooling: Pooling
    prefix: str
    scorer: Scorer
    margin_k: int = 4
    max_length: int = 128

    def row(self, enc: Encoder, model_hash: str, condition: str, **fields) -> ResultRow:
        return ResultRow(model=enc.name, model_hash=model_hash, condition=condition, pooling=self.pooling,
                         scorer=self.scorer, prefix=self.prefix,
                         protocol={"margin_k": self.margin_k, "max_length": self.max_length}, **fields)


def _data_hash(dataset: str, split: str | None, langs: Iterable[str], data_root) -> str:
    paths = [p for lang in langs for f in catalog.dataset_files(dataset, split, lang)
             for p in catalog.local_paths(dataset, f, data_root)]
    return files_sha256(paths)


def _bitext_rows(enc, proto, model_hash, condition, src_emb, tgt_emb, *, task, dataset, split,
                 language, src_name, tgt_name, data_hash) -> list[ResultRow]:
    """Accuracy in both directions for one aligned pair of embedding sets, every layer."""
    acc = get_metric("tatoeba_accuracy")
    rows = []
    for layer in proto.layers:
        for a, b, direction in ((src_emb, tgt_emb, f"{src_name}->{tgt_name}"),
                                (tgt_emb, src_emb, f"{tgt_name}->{src_name}")):
            top1 = search(a[layer], b[layer], scorer=proto.scorer, margin_k=proto.margin_k)[:, 0]
            value = acc(top1.tolist(), list(range(len(top1))))["accuracy"]
            rows.append(proto.row(enc, model_hash, condition, task=task, task_version=TASK_VERSION,
                                  dataset=dataset, split=split, language=language, direction=direction,
                                  layer=layer, metric="accuracy", value=value, data_hash=data_hash))
    return rows


def _encode(enc, proto, texts, progress, description):
    return encode(enc, texts, layers=proto.layers, pooling=proto.pooling, prefix=proto.prefix,
                  max_length=proto.max_length, progress=progress, description=description)


def _record_cap(rows: list[ResultRow], max_sentences: int | None) -> list[ResultRow]:
    """A capped probe scores a different test: the cap is part of every row's protocol (and key)."""
    for r in rows:
        r.protocol["max_sentences"] = max_sentences
    return rows


def tatoeba(enc: Encoder, proto: Protocol, *, langs: Sequence[str], model_hash: str, condition: str = "none",
            max_sentences: int | None = None, data_root=None, progress: Progress | None = None) -> list[ResultRow]:
    """Each language's first MAX_SENTENCES pairs (all by default) against their English side."""
    rows = []
    for lang in langs:
        pairs = catalog.tatoeba_pairs(lang, data_root)[:max_sentences]
        xx = _encode(enc, proto, [p.source for p in pairs], progress, f"tatoeba {lang}")
        en = _encode(enc, proto, [p.target for p in pairs], progress, f"tatoeba {lang}-eng (eng)")
        rows += _bitext_rows(enc, proto, model_hash, condition, xx, en, task="tatoeba", dataset="tatoeba",
                             split="test", language=lang, src_name=lang, tgt_name="eng",
                             data_hash=_data_hash("tatoeba", "test", [lang], data_root))
    return _record_cap(rows, max_sentences)


def flores(enc: Encoder, proto: Protocol, *, langs: Sequence[str], model_hash: str, condition: str = "none",
           pivot: str = "eng_Latn", pairs: Sequence[tuple[str, str]] = (), max_sentences: int | None = None,
           data_root=None, progress: Progress | None = None) -> list[ResultRow]:
    """Each language against `pivot` (both directions), plus explicit (xx, yy) pairs."""
    wanted = sorted({*langs, pivot, *(x for p in pairs for x in p)})
    sents = catalog.flores_sentences(data_root, wanted)
    ids = sorted(set.intersection(*(set(sents[lang]) for lang in wanted)))[:max_sentences]
    emb = {lang: _encode(enc, proto, [sents[lang][i] for i in ids], progress, f"flores {lang}")
           for lang in wanted}
    data_hash = _data_hash("sib200", None, wanted, data_root)
    todo = [(lang, pivot) for lang in langs if lang != pivot] + list(pairs)
    rows = []
    for a, b in todo:
        rows += _bitext_rows(enc, proto, model_hash, condition, emb[a], emb[b], task="flores", dataset="sib200",
                             split="all", language=f"{a}-{b}" if b != pivot else a, src_name=a, tgt_name=b,
                             data_hash=data_hash)
    return _record_cap(rows, max_sentences)


def lareqa(enc: Encoder, proto: Protocol, *, model_hash: str, condition: str = "none",
           langs: Sequence[str] = catalog.LAREQA_LANGS, passage_prefix: str | None = None,
           max_sentences: int | None = None, data_root=None, progress: Progress | None = None) -> list[ResultRow]:
    """XTREME-R LAReQA: each language's questions (the first MAX_SENTENCES) against the candidates
    of all languages."""
    questions, cands = catalog.lareqa_pool(data_root, langs)
    pprefix = proto.prefix if passage_prefix is None else passage_prefix
    cand_emb = encode(enc, [c.sentence for c in cands], layers=proto.layers, pooling=proto.pooling,
                      prefix=pprefix, max_length=proto.max_length, progress=progress,
                      description="lareqa candidates")
    position = {c.uid: j for j, c in enumerate(cands)}
    data_hash = _data_hash("lareqa", None, langs, data_root)
    map20 = get_metric("map_at_20")
    rows = []
    for lang, qs in questions.items():
        qs = qs[:max_sentences]
        q_emb = _encode(enc, proto, [q.question for q in qs], progress, f"lareqa {lang} questions")
        relevant = [{position[a] for a in q.answer_ids if a in position} for q in qs]
        for layer in proto.layers:
            ranked = search(q_emb[layer], cand_emb[layer], scorer=proto.scorer, top=20, margin_k=proto.margin_k)
            value = map20(ranked.tolist(), relevant)["map_at_20"]
            row = proto.row(enc, model_hash, condition, task="lareqa", task_version=TASK_VERSION,
                            dataset="lareqa", split="test", language=lang, direction=f"{lang}->all",
                            layer=layer, metric="map_at_20", value=value, data_hash=data_hash)
            row.protocol["passage_prefix"] = pprefix
            rows.append(row)
    return _record_cap(rows, max_sentences)

