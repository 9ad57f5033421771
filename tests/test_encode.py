"""Sentence encoding: layer selection, length-sorted batching, padding invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tiny import tiny_encoder, tiny_tokenizer
from xstilts.evaluation.encode import encode, length_sorted_batches, resolve_layers
from xstilts.models.encoders import Encoder


@pytest.fixture(scope="module")
def enc():
    tok = tiny_tokenizer()
    return Encoder("tiny", "tiny", tiny_encoder(len(tok)).eval(), tok, "")


def test_resolve_layers():
    assert resolve_layers("all", 12) == list(range(13))
    assert resolve_layers("last", 12) == [12]
    assert resolve_layers("middle,last,-1,0", 12) == [0, 6, 12]
    with pytest.raises(ValueError, match="outside 0..12"):
        resolve_layers("13", 12)
    with pytest.raises(ValueError, match="not 'all'"):
        resolve_layers("top", 12)


def test_batches_cover_every_index_once_and_respect_the_token_budget():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=500).tolist()
    batches = length_sorted_batches(lengths, max_tokens=400, max_batch=32)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(500))
    for b in batches:
        assert len(b) <= 32
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 400
    # sorted: padding waste is small compared with random batches of the same sizes
    waste = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    assert waste < 0.1 * sum(lengths)


def test_batched_encoding_equals_one_by_one(enc):
    texts = ["the cat sat on the mat", "a dog", "paris is the capital of france and the weather is nice today",
             "der hund", "who wrote the book"]
    batched = encode(enc, texts, layers=[0, 1, 2], pooling="mean", prefix="", max_tokens=64)
    for i, t in enumerate(texts):
        single = encode(enc, [t], layers=[0, 2], pooling="mean", prefix="")
        for layer in (0, 2):
            np.testing.assert_allclose(batched[layer][i], single[layer][0], atol=1e-5)
    assert np.allclose(np.linalg.norm(batched[2], axis=1), 1, atol=1e-5)


def test_mean_and_cls_pooling_by_hand(enc):
    ids = enc.tokenizer(["the cat"])["input_ids"]
    with torch.inference_mode():
        h = enc.model(input_ids=torch.tensor(ids), output_hidden_states=True).hidden_states[1][0]
    mean = torch.nn.functional.normalize(h.mean(0), dim=0).numpy()
    cls = torch.nn.functional.normalize(h[0], dim=0).numpy()
    np.testing.assert_allclose(encode(enc, ["the cat"], layers=[1], pooling="mean", prefix="")[1][0], mean, atol=1e-5)
    np.testing.assert_allclose(encode(enc, ["the cat"], layers=[1], pooling="cls", prefix="")[1][0], cls, atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        encode(enc, ["x"], layers=[1], pooling="max", prefix="")  # type: ignore[arg-type]
