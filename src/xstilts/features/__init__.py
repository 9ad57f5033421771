"""Typed examples → model features (plain dicts of ints/lists, unpadded), and back.

One module per task type. Builders take a transformers *fast* tokenizer (offsets are
needed) and a max_length; padding is the training loop's job. Each module has a
``VERSION`` to put in cache keys: bump it whenever its output for the same input can change.
"""

from xstilts.features.cache import cached_features, tokenizer_fingerprint
from xstilts.features.choice import build_choice_features
from xstilts.features.classification import build_classification_features
from xstilts.features.qa import build_qa_eval_features, build_qa_train_features, decode_qa
from xstilts.features.retrieval import build_retrieval_pairs, split_sentences
from xstilts.features.tagging import align_predictions, build_tagging_features

__all__ = [
    "align_predictions", "build_choice_features", "build_classification_features",
    "build_qa_eval_features", "build_qa_train_features", "build_retrieval_pairs",
    "build_tagging_features", "cached_features", "decode_qa", "split_sentences",
    "tokenizer_fingerprint",
]
