"""QA windows, training labels and span decoding, with hand-made logits and round trips."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from tests.tiny import SPECIALS, tiny_tokenizer
from xstilts.data.examples import QAExample
from xstilts.features.qa import build_qa_eval_features, build_qa_train_features, decode_qa

MULTILINGUAL = [
    "The café in Zürich opened in 1921, near the old station.",
    "قرأت الكتاب في المكتبة الوطنية يوم الأحد.",
    "北京是中国的首都，有很多人口。",
    "Où est la gare? Elle est à côté du musée.",
    "The cat sat on the mat (quietly), then left!",
]


def unigram_tokenizer() -> PreTrainedTokenizerFast:
    """XLM-R-like: NFKC normaliser, Metaspace pre-tokeniser, Unigram model."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(MULTILINGUAL, trainers.UnigramTrainer(
        vocab_size=150, special_tokens=SPECIALS, unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")


def qa(uid: str, context: str, answer: str | None, question: str = "who", nth: int = 0) -> QAExample:
    if answer is None:
        return QAExample(uid, question, context, (), is_impossible=True)
    start = -1
    for _ in range(nth + 1):
        start = context.index(answer, start + 1)
    return QAExample(uid, question, context, ((answer, start),))


W16 = dict(max_length=16, doc_stride=4, max_query_length=4)
CTX = "the cat sat on the mat . the dog barked at the mailman . she went to the market ."


def token_at(feature: dict, char: int) -> int:
    return next(t for t, o in enumerate(feature["offsets"]) if o is not None and o[0] <= char < o[1])


def logits_for(features, peaks: dict[tuple[int, int], float]):
    """Zero logits everywhere except peaks {(feature, token): value}, on start and end alike."""
    rows = [np.zeros(len(f["input_ids"]) + 3) for f in features]  # +3: padded rows are fine
    for (i, t), v in peaks.items():
        rows[i][t] = v
    return rows


def test_windows_overlap_and_question_is_masked():
    tok = tiny_tokenizer()
    ex = qa("a", CTX, "mailman")
    feats = build_qa_eval_features([ex], tok, **W16)
    assert len(feats) > 2 and all(len(f["input_ids"]) <= 16 for f in feats)
    assert all(f["example_index"] == 0 for f in feats)
    for f in feats:
        assert f["offsets"][:4] == [None] * 4  # <s> who </s> </s>
        assert f["offsets"][-1] is None
    first, second = [[o for o in f["offsets"] if o] for f in feats[:2]]
    assert first[-4:] == second[:4]  # doc_stride = overlap in tokens


def test_question_truncated_to_max_query_length():
    tok = tiny_tokenizer()
    ex = qa("a", CTX, "cat", question="who wrote the book about the war")
    feat = build_qa_eval_features([ex], tok, max_length=40, doc_stride=4, max_query_length=3)[0]
    first_context = next(t for t, o in enumerate(feat["offsets"]) if o is not None)
    assert first_context == 6  # <s> who wrote the </s> </s>
    assert feat["input_ids"][1:4] == tok("who wrote the")["input_ids"][1:4]
    with pytest.raises(ValueError, match="doc_stride"):
        build_qa_eval_features([ex], tok, max_length=16, doc_stride=12, max_query_length=3)


def test_training_labels_point_at_answer_or_cls():
    tok = tiny_tokenizer()
    ex = qa("a", CTX, "the mailman")
    train = build_qa_train_features([ex, qa("b", CTX, None)], tok, **W16)
    evals = build_qa_eval_features([ex], tok, **W16)
    start_char = CTX.index("the mailman")
    inside = [i for i, f in enumerate(evals) if any(o and o[0] == start_char for o in f["offsets"])
              and any(o and o[1] == start_char + 11 for o in f["offsets"])]
    assert inside and len(inside) < len(evals)
    for i, f in enumerate(evals):
        labels = (train[i]["start_positions"], train[i]["end_positions"])
        want = (token_at(f, start_char), token_at(f, start_char + 10)) if i in inside else (0, 0)
        assert labels == want
    impossible = train[len(evals):]
    assert impossible and all(f["start_positions"] == f["end_positions"] == 0 for f in impossible)


def test_answer_straddling_a_window_edge_is_labelled_only_where_whole():
    tok = tiny_tokenizer()
    evals = build_qa_eval_features([qa("a", CTX, "cat")], tok, **W16)
    last_of_first = max(o[1] for o in evals[0]["offsets"] if o)
    # an answer that begins inside window 0 and ends after it
    begin = max(o[0] for o in evals[0]["offsets"] if o)
    answer = CTX[begin:last_of_first + 4].strip()
    train = build_qa_train_features([QAExample("s", "who", CTX, ((answer, begin),))], tok, 16, 4, 4)
    assert (train[0]["start_positions"], train[0]["end_positions"]) == (0, 0)
    assert any(f["start_positions"] > 0 for f in train[1:])


def test_decode_best_span_in_second_window_and_no_cross_window_span():
    tok = tiny_tokenizer()
    ex = qa("a", CTX, "market")
    feats = build_qa_eval_features([ex], tok, **W16)
    dog, market = CTX.index("dog"), CTX.index("market")
    w_dog = next(i for i, f in enumerate(feats) if any(o and o[0] == dog for o in f["offsets"]))
    w_market = len(feats) - 1
    assert w_market > w_dog
    start = logits_for(feats, {(w_dog, token_at(feats[w_dog], dog)): 9.0,
                               (w_market, token_at(feats[w_market], market)): 5.0})
    end = logits_for(feats, {(w_market, token_at(feats[w_market], market)): 5.0})
    # dog→market would score 14 but spans two windows; within-window best is "market" (10)
    assert decode_qa([ex], feats, start, end, max_answer_length=30) == {"a": "market"}


def test_decode_rejects_question_tokens_reversed_and_too_long_spans():
    tok = tiny_tokenizer()
    ex = qa("a", "the cat sat on the mat", "cat")
    feats = build_qa_eval_features([ex], tok, max_length=32, doc_stride=4, max_query_length=8)
    f = feats[0]
    cat, mat, sat = (token_at(f, ex.context.index(w)) for w in ("cat", "mat", "sat"))
    start = logits_for(feats, {(0, 1): 50.0, (0, mat): 8.0, (0, cat): 6.0})  # token 1 = question
    end = logits_for(feats, {(0, 1): 50.0, (0, cat): 8.0, (0, mat): 5.0, (0, sat): 4.0})
    # question token (100) and mat→cat (reversed, 16) are rejected; cat→cat (14) beats mat→mat (13)
    assert decode_qa([ex], feats, start, end) == {"a": "cat"}
    start = logits_for(feats, {(0, 1): 50.0, (0, cat): 6.0})
    end = logits_for(feats, {(0, mat): 9.0, (0, sat): 4.0})
    assert decode_qa([ex], feats, start, end, max_answer_length=5) == {"a": "cat sat on the mat"}
    assert decode_qa([ex], feats, start, end, max_answer_length=4) == {"a": "cat sat"}


def test_null_answer_wins_or_loses_by_threshold_and_v1_never_empty():
    tok = tiny_tokenizer()
    ex = qa("a", CTX, "dog")
    feats = build_qa_eval_features([ex], tok, **W16)
    w = next(i for i, f in enumerate(feats) if any(o and o[0] == CTX.index("dog") for o in f["offsets"]))
    dog = token_at(feats[w], CTX.index("dog"))
    start = logits_for(feats, {(w, dog): 3.0} | {(i, 0): 4.0 for i in range(len(feats))})
    end = logits_for(feats, {(w, dog): 3.0} | {(i, 0): 4.0 for i in range(len(feats))})
    start[-1][0] = 2.5  # null = min over windows = 2.5 + 4 = 6.5; span = 6
    assert decode_qa([ex], feats, start, end, null_threshold=0.0) == {"a": ""}
    assert decode_qa([ex], feats, start, end, null_threshold=1.0) == {"a": "dog"}
    assert decode_qa([ex], feats, start, end, null_threshold=None) == {"a": "dog"}
    start[-1][0] = 1.0  # null 5 < span 6
    assert decode_qa([ex], feats, start, end, null_threshold=0.0) == {"a": "dog"}


def test_v1_falls_back_when_top_n_candidates_are_all_invalid():
    tok = tiny_tokenizer()
    ex = qa("a", "the cat sat", "sat")
    feats = build_qa_eval_features([ex], tok, max_length=32, doc_stride=4, max_query_length=8)
    sat = token_at(feats[0], ex.context.index("sat"))
    start = logits_for(feats, {(0, 0): 9.0, (0, 1): 8.0, (0, sat): 1.0})
    end = logits_for(feats, {(0, 0): 9.0, (0, 1): 8.0, (0, sat): 1.0})
    assert decode_qa([ex], feats, start, end, n_best=2) == {"a": "sat"}
    assert decode_qa([ex], feats, start, end, n_best=2, null_threshold=100.0) == {"a": ""}


ROUND_TRIP = [
    qa("lead", "   Le café de Zürich (ouvert en 1921), près de la gare.", "Zürich"),
    qa("punct", "Where? Here: the cat sat on the mat (quietly), then left!", "quietly"),
    qa("paren", "The cat sat on the mat (quietly), then left!", "(quietly),"),
    qa("ar", "قرأت الكتاب في المكتبة الوطنية يوم الأحد.", "المكتبة الوطنية"),
    qa("zh", "北京是中国的首都，有很多人口。", "中国的首都"),
    qa("nfd", "Le cafe\u0301 de la gare, pre\u0300s du muse\u0301e.", "cafe\u0301"),
    qa("nfd2", "Le cafe\u0301 de la gare, pre\u0300s du muse\u0301e.", "muse\u0301e"),
    qa("long", " ".join(["Où est la gare? Elle est à côté du musée."] * 6) + " 北京是首都。", "北京", nth=0),
    qa("long2", " ".join(["The cat sat on the mat."] * 8), "the mat", nth=5),
    qa("first", "Zürich is old.", "Zürich"),
]


def me5_tokenizer():
    from transformers import AutoTokenizer

    from xstilts.models.me5 import ensure_me5

    return AutoTokenizer.from_pretrained(ensure_me5())


# A tokenizer whose piece spans an answer edge can only give the piece back (a superset): the
# word-level tiny tokenizer keeps a CJK run as one token, and me5 has the piece "是中国".
@pytest.mark.parametrize(("make_tok", "superset"), [
    (unigram_tokenizer, set()), (tiny_tokenizer, {"zh", "long"}),
    pytest.param(me5_tokenizer, {"zh"}, marks=pytest.mark.integration),
])
def test_gold_positions_decode_back_to_gold_text(make_tok, superset):
    tok = make_tok()
    kw = dict(max_length=24, doc_stride=6, max_query_length=8)
    train = build_qa_train_features(ROUND_TRIP, tok, **kw)
    evals = build_qa_eval_features(ROUND_TRIP, tok, **kw)
    assert [f["input_ids"] for f in train] == [f["input_ids"] for f in evals]
    assert len(evals) > len(ROUND_TRIP) + 3  # several examples span many windows
    found = set()
    for tr, ev in zip(train, evals):
        if tr["start_positions"] == 0:
            continue
        ex = ROUND_TRIP[ev["example_index"]]
        start = logits_for([ev], {(0, tr["start_positions"]): 10.0})
        end = logits_for([ev], {(0, tr["end_positions"]): 10.0})
        pred = decode_qa([ex], [ev | {"example_index": 0}], start, end, max_answer_length=50)
        gold = ex.answers[0][0]
        assert (gold in pred[ex.uid] and gold != pred[ex.uid]) if ex.uid in superset else pred[ex.uid] == gold
        found.add(ex.uid)
    assert found == {ex.uid for ex in ROUND_TRIP}
