"""A tiny randomly initialised encoder and a word-level tokenizer, for fast unit tests.

The tokenizer is trained in memory on a few sentences (with <unk> for the rest) and
wrapped as a transformers fast tokenizer, so feature code runs the same path as with
XLM-R; the encoder is a 2-layer BERT of hidden size 32.
"""

from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
CORPUS = [
    "the cat sat on the mat",
    "a dog barked at the mailman",
    "the weather is nice today",
    "she went to the market to buy apples",
    "der hund bellt den postboten an",
    "el gato se sentó en la alfombra",
    "who wrote the book about the war",
    "paris is the capital of france",
]


def tiny_tokenizer(corpus: list[str] = CORPUS) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="<unk>", max_input_chars_per_word=50))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=300, special_tokens=SPECIALS))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
    )


def tiny_encoder(vocab_size: int = 300, seed: int = 0) -> BertModel:
    import torch

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, type_vocab_size=2, pad_token_id=1,
    )
    return BertModel(cfg, add_pooling_layer=False)


def hparams(task: str, phase: str = "finetune", **overrides):
    """A task's recipe with OVERRIDES, resolved as a study node would resolve them."""
    from xstilts.training.hparams import resolve
    from xstilts.orchestration.spec import Train
    from xstilts.tasks import get_task

    return resolve(get_task(task).recipe, Train(**overrides), phase=phase)
