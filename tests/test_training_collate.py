"""Collate: dynamic padding and masks; the length-grouped sampler is deterministic."""

import torch

from xstilts.training import Collator, LengthGroupedSampler, MLMCollator, feature_length, real_tokens


def test_pads_to_longest_with_mask_and_token_labels():
    batch = Collator(pad_id=1)([
        {"input_ids": [0, 5, 2], "labels": [-100, 3, -100], "offset_mapping": [[0, 1]]},
        {"input_ids": [0, 5, 6, 7, 2], "labels": [-100, 1, 2, 3, -100]},
    ])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].tolist() == [[0, 5, 2, 1, 1], [0, 5, 6, 7, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    assert batch["labels"][0].tolist() == [-100, 3, -100, -100, -100]
    assert real_tokens(batch) == 8


def test_multiple_of_and_fixed_length():
    feats = [{"input_ids": [0] * 9, "labels": 1}, {"input_ids": [0] * 3, "labels": 0}]
    assert Collator(pad_id=1, pad_to_multiple_of=8)(feats)["input_ids"].shape == (2, 16)
    batch = Collator(pad_id=1, fixed_length=32)(feats)
    assert batch["input_ids"].shape == (2, 32) and batch["labels"].tolist() == [1, 0]


def test_multiple_choice_nested_and_qa():
    batch = Collator(pad_id=1)([
        {"input_ids": [[0, 2], [0, 5, 5, 2]], "labels": 1},
        {"input_ids": [[0, 7, 2], [0, 2]], "labels": 0},
    ])
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (2, 2, 4)
    assert batch["attention_mask"][1].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
    qa = Collator(pad_id=1)([{"input_ids": [0, 4, 2], "start_positions": 1, "end_positions": 1, "example_index": 0}])
    assert set(qa) == {"input_ids", "attention_mask", "start_positions", "end_positions"}


def test_retrieval_pairs():
    batch = Collator(pad_id=1)([{"q_input_ids": [0, 2], "p_input_ids": [0, 3, 3, 2]},
                                {"q_input_ids": [0, 4, 2], "p_input_ids": [0, 2]}])
    assert batch["q_input_ids"].shape == (2, 3) and batch["p_input_ids"].shape == (2, 4)
    assert batch["p_attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert feature_length({"q_input_ids": [0, 2], "p_input_ids": [0, 3, 3, 2]}) == 6


def test_mlm_collator_masks_only_real_tokens():
    torch.manual_seed(0)
    collate = MLMCollator(Collator(pad_id=1), mask_token_id=4, vocab_size=300, special_ids=[0, 1, 2], prob=0.5)
    batch = collate([{"input_ids": [0] + [9] * 30 + [2]}, {"input_ids": [0, 9, 2]}])
    assert (batch["labels"] != -100).any()
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def test_sampler_deterministic_covers_all_and_groups():
    lengths = [(i * 37) % 101 for i in range(1000)]
    s = LengthGroupedSampler(lengths, batch_size=10, seed=3, mega_batch_mult=5)
    a, b = s.batches(0), s.batches(0)
    assert a == b and a != s.batches(1)
    assert sorted(i for batch in a for i in batch) == list(range(1000)) and len(a) == len(s) == 100
    assert max(lengths[i] for i in a[0]) == max(lengths)  # longest first
    spread = sum(max(lengths[i] for i in x) - min(lengths[i] for i in x) for x in a) / len(a)
    plain = LengthGroupedSampler(lengths, 10, seed=3, group_by_length=False).batches(0)
    plain_spread = sum(max(lengths[i] for i in x) - min(lengths[i] for i in x) for x in plain) / len(plain)
    assert spread < plain_spread / 3


def test_choices_of_different_counts_share_a_batch():
    # a COPA feature (2 choices) beside a SIQA feature (3 choices), as XCOPA's training data mixes them
    copa = {"input_ids": [[0, 5, 6, 2], [0, 5, 7, 8, 2]], "labels": 1}
    siqa = {"input_ids": [[0, 9, 2], [0, 9, 10, 2], [0, 11, 2]], "labels": 2}
    batch = Collator(pad_id=1)([copa, siqa])
    assert batch["input_ids"].shape == (2, 3, 5)
    assert batch["choice_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert batch["input_ids"][0, 2].tolist() == [1, 1, 1, 1, 1]  # the padding choice: pad tokens
    assert batch["attention_mask"][0, 2].tolist() == [1, 0, 0, 0, 0]  # one attended token, never all-masked
    assert batch["labels"].tolist() == [1, 2]
