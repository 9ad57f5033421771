"""Alignment probes: how close are translations in the encoder's space, per language and layer.

A probe is a task (role "probe", tasks/families/probes.py or a user's YAML); its type and
metric pick what is done, never its name:
- bitext, aligned pairs (Tatoeba, a user's two text files): each sentence retrieves its
  translation among all sentences of the other side, accuracy, both directions;
- bitext, texts aligned by id (FLORES via SIB-200): each language against the pivot (and any
  extra pairs), on the ids all of them share, both directions;
- bitext scored by `bucc_f1` (BUCC): ratio-margin mining over every sentence of both sides, F1
  at the threshold best on the gold pairs (an oracle's: the only gold is dev's), labelled so;
- qa_retrieval (LAReQA): questions retrieve answer sentences from the pooled candidates of
  every language, mAP@20.
Margin scoring re-scores the k nearest by cosine over the same k (k = 4), as XTREME.

Each probe encodes every sentence once for all layers and returns result rows carrying the
whole protocol; they never average (the report does).

Two protocols, named in every row (`protocol.name`):
- `alignment`: the probe as an alignment measure, any layers, both directions;
- `xtreme-r`: the benchmark's own protocol (google-research/xtreme, scripts/run_tatoeba.sh,
  run_bucc2018.sh, run_eval_lareqa.sh and third_party/evaluate_retrieval.py), whose Tatoeba rows
  feed the XTREME-R retrieval category (`official_protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from rich.progress import Progress

from ..data import catalog
from ..metrics import get_metric
from ..metrics.retrieval import bucc_extract, bucc_f1, bucc_optimize
from ..models.encoders import Encoder
from ..store import ResultRow
from ..tasks.check import id_aligned
from ..tasks.data import common_ids, files_hash, id_texts, read_source
from ..tasks.schema import TaskDef
from .encode import Pooling, encode
from .retrieval import Scorer, mine, search
from xstilts.errors import BadValue


@dataclass(frozen=True)
class Protocol:
    """Everything that can move a retrieval score; recorded with every row."""

    layers: tuple[int, ...]
    pooling: Pooling
    prefix: str
    scorer: Scorer
    margin_k: int = 4
    max_length: int = 128
    name: Literal["alignment", "xtreme-r"] = "alignment"
    queries: Literal["both", "pivot"] = "both"  # bitext: which side retrieves; XTREME-R's Tatoeba: English
    candidate_context: bool = False  # LAReQA: a candidate is its sentence followed by its paragraph
    candidate_max_length: int | None = None  # LAReQA candidates (None: max_length)
    layer_rule: str | None = None  # how the layer was chosen, where the settings chose it

    def row(self, enc: Encoder, model_hash: str, condition: str, **fields) -> ResultRow:
        extra: dict[str, Any] = {"layer_rule": self.layer_rule} if self.layer_rule else {}
        if self.candidate_context or self.candidate_max_length:
            extra |= {"candidate_context": self.candidate_context, "candidate_max_length": self.candidate_max_length}
        return ResultRow(model=enc.name, model_hash=model_hash, condition=condition, pooling=self.pooling,
                         scorer=self.scorer, prefix=self.prefix,
                         protocol={"name": self.name, "margin_k": self.margin_k,
                                   "max_length": self.max_length, **extra}, **fields)


# XTREME-R's layer, as our index (0 = embeddings): evaluate_retrieval.py pools
# hidden_states[-num_layers:][specific_layer], i.e. our specific_layer + 1. run_tatoeba.sh sets 7
# for 12-layer models and 13 for XLM-R (24 layers); run_bucc2018.sh sets 7 for every model.
OFFICIAL_LAYERS = {"tatoeba": {12: 8, 24: 14}, "bucc": {12: 8, 24: 8}}


def _official_layer(kind: str, num_layers: int) -> tuple[int, str]:
    """(layer, rule): the script's layer for the depths it names, else extrapolated and said so."""
    if num_layers in OFFICIAL_LAYERS[kind]:
        return OFFICIAL_LAYERS[kind][num_layers], f"official ({kind} script, {num_layers} layers)"
    layer = min(num_layers, num_layers // 2 + 2 if kind == "tatoeba" else 8)
    return layer, (f"extrapolated: the official scripts name 12 and 24 layers only; "
                   f"{'L//2 + 2' if kind == 'tatoeba' else '8'} (at most L) for L = {num_layers}")


def official_protocol(task: TaskDef, num_layers: int, prefix: str, max_tokens: int = 512) -> Protocol:
    """XTREME-R's protocol for a probe task, by what the task is:
    - aligned bitext (Tatoeba): English sentences retrieve their translation, cosine, mean pooling
      of layer 7 of 12 / 13 of 24 (`OFFICIAL_LAYERS`), 512 tokens;
    - mined bitext (BUCC): ratio-margin mining (k = 4), CLS pooling of layer 7, 512 tokens (the
      threshold: `_mining`);
    - QA retrieval (LAReQA): questions (96 tokens) against candidates encoded with their paragraph
      (256 tokens), mean pooling of the last layer, cosine. The benchmark scores a dual encoder
      fine-tuned on SQuAD (our `lareqa` target); as a probe, the encoder is scored as it is.
    Texts aligned by id (FLORES) are no XTREME-R task and have no such protocol. A model whose
    positions hold fewer than 512 tokens (MAX_TOKENS) is scored at its own limit, recorded."""
    base = Protocol(layers=(), pooling="mean", prefix=prefix, scorer="cosine", max_length=min(512, max_tokens),
                    name="xtreme-r")
    if task.type == "qa_retrieval":
        return replace(base, layers=(num_layers,), max_length=min(96, max_tokens), candidate_context=True,
                       candidate_max_length=min(256, max_tokens),
                       layer_rule="last (the benchmark scores a fine-tuned dual encoder's output)")
    if task.type == "bitext" and "bucc_f1" in task.metrics:
        layer, rule = _official_layer("bucc", num_layers)
        return replace(base, layers=(layer,), pooling="cls", layer_rule=rule)
    if task.type == "bitext" and not id_aligned(task):
        layer, rule = _official_layer("tatoeba", num_layers)
        return replace(base, layers=(layer,), queries="pivot", layer_rule=rule)
    raise BadValue(f"probe '{task.name}' has no XTREME-R settings (XTREME-R scores Tatoeba, BUCC and LAReQA); "
                     "use the 'alignment' protocol")


def _where(task: TaskDef, langs: Sequence[str]) -> dict:
    """Dataset and split the rows name (several splits read as one are 'all')."""
    sources = [s for lang in langs for s in task.eval_sources(lang)]
    splits = {s.split for s in sources}
    return {"task": task.name, "task_version": task.version, "dataset": sources[0].dataset,
            "split": splits.pop() if len(splits) == 1 else "all"}


def _bitext_rows(enc, proto, model_hash, condition, src_emb, tgt_emb, *, src_name, tgt_name, language,
                 data_hash, where) -> list[ResultRow]:
    """Accuracy in both directions for one aligned pair of embedding sets, every layer."""
    acc = get_metric("tatoeba_accuracy")
    directions = [(src_emb, tgt_emb, f"{src_name}->{tgt_name}"), (tgt_emb, src_emb, f"{tgt_name}->{src_name}")]
    rows = []
    for layer in proto.layers:
        for a, b, direction in directions if proto.queries == "both" else directions[1:]:
            top1 = search(a[layer], b[layer], scorer=proto.scorer, margin_k=proto.margin_k)[:, 0]
            value = acc(top1.tolist(), list(range(len(top1))))["accuracy"]
            rows.append(proto.row(enc, model_hash, condition, **where, language=language, direction=direction,
                                  layer=layer, metric="accuracy", value=value, data_hash=data_hash))
    return rows


def _encode(enc, proto, texts, progress, description):
    return encode(enc, texts, layers=proto.layers, pooling=proto.pooling, prefix=proto.prefix,
                  max_length=proto.max_length, progress=progress, description=description)


def _aligned(enc, proto, task, langs, common, max_sentences, data_root, progress) -> list[ResultRow]:
    """Pairs as the files give them (line i translates line i), each language against the pivot."""
    rows = []
    for lang in langs:
        sources = task.eval_sources(lang)
        pairs = [ex for s in sources for ex in read_source(s, data_root)][:max_sentences]
        xx = _encode(enc, proto, [p.source for p in pairs], progress, f"{task.name} {lang}")
        yy = _encode(enc, proto, [p.target for p in pairs], progress, f"{task.name} {lang}-{task.pivot} ({task.pivot})")
        rows += _bitext_rows(enc, proto, **common, src_emb=xx, tgt_emb=yy, src_name=lang, tgt_name=task.pivot,
                             language=lang, data_hash=files_hash(sources, data_root), where=_where(task, [lang]))
    return rows


def _by_id(enc, proto, task, langs, pairs, common, max_sentences, data_root, progress) -> list[ResultRow]:
    """Texts joined by id: each language against the pivot, plus explicit (xx, yy) pairs."""
    pivot = task.pivot
    wanted = sorted({*langs, pivot, *(x for p in pairs for x in p)})
    texts = {lang: id_texts(task.eval_sources(lang), data_root) for lang in wanted}
    ids = common_ids(list(texts.values()))[:max_sentences]
    emb = {lang: _encode(enc, proto, [texts[lang][i] for i in ids], progress, f"{task.name} {lang}") for lang in wanted}
    data_hash = files_hash([s for lang in wanted for s in task.eval_sources(lang)], data_root)
    rows = []
    for a, b in [(lang, pivot) for lang in langs if lang != pivot] + list(pairs):
        rows += _bitext_rows(enc, proto, **common, src_emb=emb[a], tgt_emb=emb[b], src_name=a, tgt_name=b,
                             language=f"{a}-{b}" if b != pivot else a, data_hash=data_hash,
                             where=_where(task, wanted))
    return rows


def _mining_order(side: dict[str, str], gold_ids: Sequence[str]) -> list[str]:
    """A side's ids, gold sentences first (so a cap of N keeps gold pairs and N minus them distractors)."""
    gold = list(dict.fromkeys(gold_ids))
    return gold + [i for i in side if i not in set(gold)]


def _unique(ids: Sequence[str], side: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """XTREME's unification: each distinct sentence once; a sentence given under several ids maps
    to none of them (utils_retrieve.read_sent2id), so it can never be a correct pair."""
    count: dict[str, int] = {}
    for i in ids:
        count[side[i]] = count.get(side[i], 0) + 1
    sentences = list(dict.fromkeys(side[i] for i in ids))
    return sentences, {side[i]: i for i in ids if count[side[i]] == 1}


def _mined(enc, proto, task, source, max_sentences, data_root, progress) -> tuple[dict, list]:
    """One BUCC source mined by ratio margin: ({layer: {(src id, tgt id): score}}, the gold pairs
    whose sentences the cap keeps)."""
    lang = source.lang
    src, tgt, gold = catalog.bucc(lang, source.split, data_root, source.dataset)
    src_ids = _mining_order(src, [a for a, _ in gold])[:max_sentences]
    tgt_ids = _mining_order(tgt, [b for _, b in gold])[:max_sentences]
    kept = set(src_ids), set(tgt_ids)
    gold = [(a, b) for a, b in gold if a in kept[0] and b in kept[1]]
    (xs, x_id), (ys, y_id) = _unique(src_ids, src), _unique(tgt_ids, tgt)
    x = _encode(enc, proto, xs, progress, f"{task.name} {lang} {source.split}")
    y = _encode(enc, proto, ys, progress, f"{task.name} {task.pivot} {source.split}")
    scores = {layer: {(x_id[xs[i]], y_id[ys[j]]): score
                      for i, j, score in mine(x[layer], y[layer], margin_k=proto.margin_k)
                      if xs[i] in x_id and ys[j] in y_id} for layer in proto.layers}
    return scores, gold


def _mining(enc, proto, task, langs, common, max_sentences, data_root, progress) -> list[ResultRow]:
    """BUCC: mine every sentence pair by ratio margin, F1 at the threshold best on the scored gold.
    XTREME applies dev's best threshold to test, whose gold it deleted (test is scored by its
    server); with gold only for dev, the threshold is an oracle's, and every row says so
    (`threshold_from: oracle-dev`)."""
    rows = []
    for lang in langs:
        source = task.eval_sources(lang)[0]
        scores, gold = _mined(enc, proto, task, source, max_sentences, data_root, progress)
        for layer in proto.layers:
            threshold, _ = bucc_optimize(scores[layer], gold)
            values = bucc_f1(bucc_extract(scores[layer], threshold), gold)
            for metric, value in values.items():
                row = proto.row(enc, model_hash=common["model_hash"], condition=common["condition"],
                                **_where(task, [lang]), language=lang, direction=f"{lang}<->{task.pivot}",
                                layer=layer, metric=metric, value=value, data_hash=files_hash([source], data_root))
                row.scorer = "margin"
                row.protocol.update(threshold=threshold, threshold_from=f"oracle-{source.split}",
                                    gold_pairs=len(gold), mining="ratio margin, max, score > 0")
                rows.append(row)
    return rows


def _qa_retrieval(enc, proto, task, langs, common, max_sentences, data_root, progress,
                  passage_prefix: str | None = None) -> list[ResultRow]:
    """XTREME-R LAReQA: each language's questions (the first MAX_SENTENCES) against the candidates
    of all the task's languages (with their paragraph, as evaluate_retrieval.py joins them, where
    the protocol says so)."""
    pool_langs = task.languages
    questions, cands = catalog.lareqa_pool(data_root, pool_langs, task.eval[0].dataset)
    pprefix = proto.prefix if passage_prefix is None else passage_prefix
    texts = [(c.sentence + c.context).replace("\n", "") if proto.candidate_context else c.sentence for c in cands]
    cand_emb = encode(enc, texts, layers=proto.layers, pooling=proto.pooling,
                      prefix=pprefix, max_length=proto.candidate_max_length or proto.max_length, progress=progress,
                      description=f"{task.name} candidates")
    position = {c.uid: j for j, c in enumerate(cands)}
    data_hash = files_hash(task.eval, data_root)
    map20 = get_metric("map_at_20")
    rows = []
    for lang in langs:
        qs = questions[lang][:max_sentences]
        q_emb = _encode(enc, proto, [q.question for q in qs], progress, f"{task.name} {lang} questions")
        relevant = [{position[a] for a in q.answer_ids if a in position} for q in qs]
        for layer in proto.layers:
            ranked = search(q_emb[layer], cand_emb[layer], scorer=proto.scorer, top=20, margin_k=proto.margin_k)
            value = map20(ranked.tolist(), relevant)["map_at_20"]
            row = proto.row(enc, **common, **_where(task, [lang]), language=lang, direction=f"{lang}->all",
                            layer=layer, metric="map_at_20", value=value, data_hash=data_hash)
            row.protocol["passage_prefix"] = pprefix
            rows.append(row)
    return rows


def probe(enc: Encoder, proto: Protocol, task: TaskDef, *, langs: Sequence[str], model_hash: str,
          condition: str = "none", pairs: Sequence[tuple[str, str]] = (), max_sentences: int | None = None,
          data_root=None, progress: Progress | None = None) -> list[ResultRow]:
    """Score TASK (a probe) on the encoder in LANGS; PAIRS adds xx->yy pairs to an id-aligned bitext
    task. A capped probe scores a different test: the cap is part of every row's protocol (and key)."""
    common = {"model_hash": model_hash, "condition": condition}
    if task.type == "qa_retrieval":
        rows = _qa_retrieval(enc, proto, task, langs, common, max_sentences, data_root, progress)
    elif task.type != "bitext":
        raise BadValue(f"task '{task.name}' ({task.type}) is not a probe: probes are bitext or qa_retrieval")
    elif "bucc_f1" in task.metrics:
        rows = _mining(enc, proto, task, langs, common, max_sentences, data_root, progress)
    elif id_aligned(task):
        rows = _by_id(enc, proto, task, langs, pairs, common, max_sentences, data_root, progress)
    else:
        if pairs:
            raise BadValue(f"task '{task.name}' gives pairs with {task.pivot} only; extra pairs need texts aligned by id")
        rows = _aligned(enc, proto, task, langs, common, max_sentences, data_root, progress)
    for r in rows:
        r.protocol["max_sentences"] = max_sentences
    return rows
