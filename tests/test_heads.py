"""Heads: output shapes and losses for every task type on the tiny encoder."""

import torch

from tests.tiny import tiny_encoder
from xstilts.models.heads import HeadSpec, TaskModel, mask_tokens, mlm_loss, task_model

B, L, V = 3, 7, 300


def ids(*shape):
    return torch.randint(5, V, shape)


def test_classification():
    out = task_model(tiny_encoder(), "classification", num_labels=4)(
        input_ids=ids(B, L), attention_mask=torch.ones(B, L, dtype=torch.long), labels=torch.tensor([0, 3, 1])
    )
    assert out["logits"].shape == (B, 4) and out["loss"].ndim == 0


def test_multiple_choice():
    out = task_model(tiny_encoder(), "multiple_choice")(input_ids=ids(B, 4, L), labels=torch.tensor([0, 3, 2]))
    assert out["logits"].shape == (B, 4) and torch.isfinite(out["loss"])


def test_qa_ignores_extra_keys_and_out_of_window_positions():
    model = task_model(tiny_encoder(), "qa")
    out = model(input_ids=ids(B, L), start_positions=torch.tensor([1, 2, 99]), end_positions=torch.tensor([2, 4, 99]),
                example_index=torch.tensor([0, 1, 2]))
    assert out["start_logits"].shape == out["end_logits"].shape == (B, L) and torch.isfinite(out["loss"])


def test_tagging_ignores_minus_100():
    model = task_model(tiny_encoder(), "tagging", num_labels=5).eval()
    labels = torch.full((B, L), -100)
    labels[:, 1] = 2
    x = ids(B, L)
    out = model(input_ids=x, labels=labels)
    assert out["logits"].shape == (B, L, 5)
    expected = torch.nn.functional.cross_entropy(out["logits"][:, 1], labels[:, 1])
    assert torch.allclose(out["loss"], expected)


def test_retrieval_loss_and_embeddings():
    model = task_model(tiny_encoder(), "retrieval")
    out = model(q_input_ids=ids(B, L), q_attention_mask=torch.ones(B, L), p_input_ids=ids(B, 5),
                p_attention_mask=torch.ones(B, 5))
    assert out["logits"].shape == (B, B) and out["loss"] > 0
    emb = model(input_ids=ids(B, L), attention_mask=torch.ones(B, L))["embeddings"]
    assert emb.shape == (B, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(B))


def test_mean_pool_ignores_padding():
    model = task_model(tiny_encoder(), "retrieval").eval()
    x = ids(1, 4)
    padded = torch.cat([x, torch.ones(1, 3, dtype=torch.long)], 1)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]])
    a = model(input_ids=x, attention_mask=torch.ones(1, 4))["embeddings"]
    b = model(input_ids=padded, attention_mask=mask)["embeddings"]
    assert torch.allclose(a, b, atol=1e-5)


def test_multitask_state_dict_keys_and_roundtrip():
    enc = tiny_encoder()
    model = TaskModel(enc, {"xnli": HeadSpec("classification", 3), "squad": HeadSpec("qa"), "mlm": HeadSpec("mlm")})
    keys = model.state_dict().keys()
    assert all(k.startswith(("encoder.", "heads.")) for k in keys)
    assert "heads.xnli.out_proj.weight" in keys and "heads.mlm.bias" in keys
    assert not any(k.startswith("heads.mlm.") and "embeddings" in k for k in keys)  # tied matrix stored once
    clone = TaskModel(tiny_encoder(seed=1), model.specs)
    clone.load_state_dict(model.state_dict())
    assert model(task="xnli", input_ids=ids(B, L))["logits"].shape == (B, 3)


def test_mlm_head_tied_and_loss():
    """The decoder is the input embedding matrix: a token absent from the input reaches the logits
    (and gets a gradient) only through the tie, so an untied decoder fails both checks."""
    enc = tiny_encoder()
    model = TaskModel(enc, {"mlm": HeadSpec("mlm")}).eval()
    absent = V - 1
    x = ids(B, L) % absent  # every id below `absent`
    labels = torch.full((B, L), -100)
    labels[0, 2] = absent
    with torch.no_grad():
        before = model(input_ids=x)["logits"]
        enc.get_input_embeddings().weight[absent] += 1.0
        after = model(input_ids=x)["logits"]
    others = [t for t in range(V) if t != absent]
    assert torch.equal(before[..., others], after[..., others])  # the encoder's input did not change
    assert not torch.allclose(before[..., absent], after[..., absent])  # the decoder row did
    loss = mlm_loss(model, x, labels)
    loss.backward()
    grad = enc.get_input_embeddings().weight.grad
    assert loss > 0 and grad[absent].abs().sum() > 0  # only the decoder can have given it one


def test_mask_tokens_80_10_10():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(5, V, (200, 100))
    x[:, 0], x[:, -1] = 0, 2
    masked, labels = mask_tokens(x, mask_token_id=4, vocab_size=V, special_ids=[0, 1, 2], prob=0.15, generator=g)
    target = labels != -100
    assert not target[:, 0].any() and not target[:, -1].any()
    assert abs(target.float().mean().item() - 0.15 * 98 / 100) < 0.01
    assert torch.equal(labels[target], x[target])
    frac_mask = (masked[target] == 4).float().mean().item()
    frac_same = (masked[target] == x[target]).float().mean().item()
    assert abs(frac_mask - 0.8) < 0.02 and abs(frac_same - 0.1) < 0.02
    assert torch.equal(masked[~target], x[~target])


def test_padding_choices_never_win_and_do_not_change_the_loss():
    from xstilts.training import Collator

    torch.manual_seed(0)
    model = task_model(tiny_encoder(), "multiple_choice").eval()
    copa = {"input_ids": [[0, 5, 6, 2], [0, 5, 7, 8, 2]], "labels": 1}
    siqa = {"input_ids": [[0, 9, 2], [0, 9, 10, 2], [0, 11, 2]], "labels": 2}
    mixed = model(**Collator(pad_id=1)([copa, siqa]))
    alone = model(**Collator(pad_id=1)([copa]))
    assert mixed["logits"][0, 2] == float("-inf")  # the padding choice of COPA gets no probability
    assert torch.allclose(mixed["logits"][0, :2], alone["logits"][0], atol=1e-5)
    assert torch.isfinite(mixed["loss"])
