"""Packing: for every task type, a packed batch gives the padded batch's loss and gradients."""

import random

import pytest
import torch
from transformers import XLMRobertaConfig, XLMRobertaModel

from tests.tiny import tiny_encoder
from xstilts.models.heads import task_model
from xstilts.training import Collator, MLMCollator
from xstilts.training.packing import Packed, assign_rows, computed_tokens, pack

PAD = 1


def xlmr_encoder(attn: str = "sdpa") -> XLMRobertaModel:
    """RoBERTa-style positions (from padding_idx + 1): packing must reproduce them."""
    torch.manual_seed(0)
    cfg = XLMRobertaConfig(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=130, pad_token_id=PAD)
    cfg._attn_implementation = attn
    return XLMRobertaModel(cfg, add_pooling_layer=False)


def bert_encoder(attn: str = "sdpa"):
    enc = tiny_encoder()
    enc.config._attn_implementation = attn
    return enc


def seq(rng: random.Random, lo: int = 3, hi: int = 30) -> list[int]:
    return [0, *(rng.randrange(5, 300) for _ in range(rng.randrange(lo, hi))), 2]


def features(task: str, n: int = 9, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if task == "classification":
            out.append({"input_ids": seq(rng), "labels": i % 3})
        elif task == "multiple_choice":  # 2- and 3-choice questions in one batch (padding choices)
            out.append({"input_ids": [seq(rng) for _ in range(2 + i % 2)], "labels": i % 2})
        elif task == "qa":
            ids = seq(rng, 10, 40)
            start = rng.randrange(1, len(ids) - 3)
            out.append({"input_ids": ids, "start_positions": start, "end_positions": start + 2})
        elif task == "tagging":
            ids = seq(rng)
            out.append({"input_ids": ids, "labels": [-100] + [rng.randrange(4) for _ in ids[2:]] + [-100]})
        elif task == "retrieval":
            out.append({"q_input_ids": seq(rng, 2, 10), "p_input_ids": seq(rng, 10, 40)})
        elif task == "mlm":
            out.append({"input_ids": seq(rng)})
    return out


HEAD_ARGS = {"classification": {"num_labels": 3}, "tagging": {"num_labels": 4}}


def loss_and_grads(model, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    loss = model(**batch)["loss"]
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("make_encoder", [bert_encoder, xlmr_encoder, lambda: bert_encoder("eager")],
                         ids=["bert-sdpa", "xlmr-sdpa", "bert-eager"])
@pytest.mark.parametrize("task", ["classification", "multiple_choice", "qa", "tagging", "retrieval", "mlm"])
def test_packed_equals_padded(task, make_encoder):
    model = task_model(make_encoder(), task, **HEAD_ARGS.get(task, {})).eval()  # eval: no dropout, same math
    collate = Collator(pad_id=PAD)
    if task == "mlm":
        collate = MLMCollator(collate, mask_token_id=4, vocab_size=300, special_ids=[0, 1, 2], prob=0.3)
    feats = features(task)
    torch.manual_seed(5)  # MLM masks: the same draws for both layouts
    padded = collate(feats)
    torch.manual_seed(5)
    packed = Packed(collate, pad_id=PAD, row_length=64, multiple=16)(feats)
    assert computed_tokens(packed) < computed_tokens(padded)
    key = "p_input_ids" if task == "retrieval" else "input_ids"
    assert packed[key].shape[0] > 1  # several rows: row boundaries are exercised too
    loss_a, grads_a = loss_and_grads(model, padded)
    loss_b, grads_b = loss_and_grads(model, packed)
    assert torch.isfinite(loss_a)
    torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=1e-6)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 10
    for name, a in grads_a.items():  # sums over many tokens: tolerance relative to the tensor's scale
        torch.testing.assert_close(grads_b[name], a, rtol=1e-4, atol=1e-6 + 1e-5 * float(a.abs().max()), msg=name)


def test_packed_embeddings_equal_padded_for_evaluation():
    model = task_model(xlmr_encoder(), "retrieval").eval()
    feats = [{"input_ids": f["p_input_ids"]} for f in features("retrieval")]
    padded = Collator(pad_id=PAD)(feats)
    with torch.no_grad():
        a = model(**padded)["embeddings"]
        b = model(**pack(padded, pad_id=PAD, row_length=48, multiple=8))["embeddings"]
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_rows_positions_and_segments():
    batch = Collator(pad_id=PAD)([{"input_ids": [0, 7, 2], "labels": 0}, {"input_ids": [0, 5, 6, 7, 8, 2], "labels": 1},
                                  {"input_ids": [0, 2], "labels": 1}])
    out = pack(batch, pad_id=PAD, row_length=8, multiple=4)
    # first-fit decreasing: [6 tokens, 2 tokens] then [3 tokens]; rows padded to 8
    assert out["input_ids"].tolist() == [[0, 5, 6, 7, 8, 2, 0, 2], [0, 7, 2, PAD, PAD, PAD, PAD, PAD]]
    assert out["position_ids"].tolist() == [[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 0, 0, 0, 0, 0]]
    assert out["seq_ids"].tolist() == [[1, 1, 1, 1, 1, 1, 2, 2], [1, 1, 1, 0, 0, 0, 0, 0]]
    flat = out["input_ids"].flatten()
    for i in range(3):  # the unpack index gathers each sequence's tokens back in order
        n = int(batch["attention_mask"][i].sum())
        assert flat[out["unpack_index"][i, :n]].tolist() == batch["input_ids"][i, :n].tolist()
    assert out["attention_mask"] is batch["attention_mask"] and out["labels"] is batch["labels"]


def test_a_sequence_longer_than_a_row_gets_a_row_of_its_own():
    assert assign_rows([10, 3, 4, 2], capacity=6) == [[0], [2, 3], [1]]
    out = pack(Collator(pad_id=PAD)([{"input_ids": list(range(10))}, {"input_ids": [0, 2]}]),
               pad_id=PAD, row_length=6, multiple=4)
    assert out["input_ids"].shape == (2, 12)  # the row capacity grows to the longest sequence


def test_qa_loss_does_not_depend_on_padding():
    model = task_model(tiny_encoder(), "qa").eval()
    feats = features("qa")
    short, long = Collator(pad_id=PAD, pad_to_multiple_of=8)(feats), Collator(pad_id=PAD, fixed_length=96)(feats)
    torch.testing.assert_close(model(**long)["loss"], model(**short)["loss"], rtol=1e-5, atol=1e-6)
