"""Retrieval training pairs (answer sentence extraction) and the feature cache."""

from __future__ import annotations

import hashlib
import os
import pickle

from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from tests.tiny import tiny_tokenizer
from xstilts.data.examples import QAExample
from xstilts.features.cache import cache_key, cached_features, tokenizer_fingerprint
from xstilts.features.retrieval import answer_sentence, build_retrieval_pairs, split_sentences

CTX = "The cat sat on the mat. Who barked? The dog barked at 3.5 pm!  Paris is the capital"


def test_sentence_splitter():
    assert [CTX[s:e] for s, e in split_sentences(CTX)] == [
        "The cat sat on the mat.", "Who barked?", "The dog barked at 3.5 pm!", "Paris is the capital"]
    zh = "北京是首都。上海很大！好"
    assert [zh[s:e] for s, e in split_sentences(zh)] == ["北京是首都。", "上海很大！", "好"]
    assert split_sentences("   ") == []


def test_answer_sentence_is_the_one_holding_the_answer_start():
    assert answer_sentence(CTX, CTX.index("dog")) == "The dog barked at 3.5 pm!"
    assert answer_sentence(CTX, 0) == "The cat sat on the mat."
    assert answer_sentence(CTX, CTX.index("capital")) == "Paris is the capital"


def test_pairs_skip_impossible_and_optionally_add_context():
    tok = tiny_tokenizer()
    exs = [
        QAExample("a", "who barked", CTX, (("dog", CTX.index("dog")),)),
        QAExample("b", "who sang", CTX, (), is_impossible=True),
    ]
    pairs = build_retrieval_pairs(exs, tok, 64)
    assert pairs == [{"q_input_ids": tok("who barked")["input_ids"],
                      "p_input_ids": tok("The dog barked at 3.5 pm!")["input_ids"]}]
    with_ctx = build_retrieval_pairs(exs, tok, 20, with_context=True)[0]["p_input_ids"]
    sentence = tok("The dog barked at 3.5 pm!")["input_ids"]
    assert len(with_ctx) == 20 and with_ctx[: len(sentence)] == sentence  # only the context is cut


def test_cache_key_is_canonical_and_tokenizer_sensitive():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    tok = tiny_tokenizer()
    reloaded = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tok.backend_tokenizer.to_str()))
    assert tokenizer_fingerprint(tok) == tokenizer_fingerprint(reloaded)
    assert tokenizer_fingerprint(tok) != tokenizer_fingerprint(tiny_tokenizer(["other words"]))


def test_cached_features_builds_once_and_rebuilds_corrupt_files(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return [{"input_ids": [0, 5, 2], "labels": len(calls)}]

    key = {"data": "abc", "builder": "classification", "version": 1}
    first = cached_features(key, build, tmp_path)
    assert cached_features(key, build, tmp_path) == first and len(calls) == 1
    (path,) = tmp_path.glob("*.pkl")
    digest, _, payload = path.read_bytes().partition(b"\n")
    assert pickle.loads(payload) == first and digest == hashlib.sha256(payload).hexdigest().encode()
    assert not list(tmp_path.glob("*.tmp"))
    path.write_bytes(path.read_bytes()[:10])  # truncated by a crash or a full disk
    assert cached_features(key, build, tmp_path) == [{"input_ids": [0, 5, 2], "labels": 2}]
    assert cached_features(key | {"version": 2}, build, tmp_path)[0]["labels"] == 3


def test_altered_cache_of_the_same_size_and_mtime_is_rebuilt(tmp_path):
    """Features changed in place (same size, mtime kept) no longer match their digest: rebuilt, not used."""
    built = [[{"input_ids": [0, 5, 2], "labels": i % 3} for i in range(20)]]

    def build():
        return built[0]

    key = {"data": "abc", "builder": "classification", "version": 1}
    cached_features(key, build, tmp_path)
    (path,) = tmp_path.glob("*.pkl")
    digest, _, payload = path.read_bytes().partition(b"\n")
    altered = pickle.dumps([{"input_ids": [0, 5, 2], "labels": (i + 1) % 3} for i in range(20)],
                           protocol=pickle.HIGHEST_PROTOCOL)
    assert len(altered) == len(payload) and altered != payload
    st = path.stat()
    path.write_bytes(digest + b"\n" + altered)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    built[0] = [{"input_ids": [9], "labels": 0}]  # what a rebuild returns
    assert cached_features(key, build, tmp_path) == [{"input_ids": [9], "labels": 0}]
