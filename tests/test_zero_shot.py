"""Zero-shot evaluation of a tiny random model on tiny in-memory examples of every task type."""

import json

import pytest
import torch

from tests.tiny import tiny_encoder, tiny_tokenizer
from xstilts.tasktypes import head_of
from xstilts.data.examples import Candidate, ChoiceExample, QAExample, RetrievalQAExample, TaggingExample, TextExample
from xstilts.evaluation.zero_shot import RunInfo, evaluate, in_memory
from xstilts.models.heads import task_model
from xstilts.tasks import get_task

CTX = "paris is the capital of france. the cat sat on the mat."


def examples(head: str, lang: str) -> list:
    if head == "classification":
        return [TextExample(f"{lang}{i}", "the cat sat on the mat", "a dog barked", label)
                for i, label in enumerate(["entailment", "neutral", "contradiction", "neutral"])]
    if head == "multiple_choice":
        return [ChoiceExample(f"{lang}{i}", "the cat sat", "cause", ("the mat", "the dog"), i % 2) for i in range(4)]
    if head == "qa":
        return [QAExample(f"{lang}0", "what is the capital of france", CTX, (("paris", 0),)),
                QAExample(f"{lang}1", "who sat on the mat", CTX, (("the cat", 32),))]
    if head == "tagging":
        return [TaggingExample(f"{lang}{i}", ("the", "cat", "sat"), ("DET", "NOUN", "VERB")) for i in range(3)]
    return [RetrievalQAExample(f"q{i}", q, (f"{lang}:0:{i}",))
            for i, q in enumerate(["what is the capital of france", "who sat on the mat"])]


CANDIDATES = [Candidate(f"{lang}:0:{i}", s, CTX) for lang in ("en", "de")
              for i, s in enumerate(["paris is the capital of france.", "the cat sat on the mat."])]
EXPECTED = {"xnli": {"accuracy"}, "xcopa": {"accuracy"}, "xquad": {"f1", "exact_match"},
            "mlqa": {"f1", "exact_match"}, "udpos": {"f1", "precision", "recall", "accuracy"},
            "wikiann": {"f1", "precision", "recall"}, "lareqa": {"map_at_20"}}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rows_per_language_and_metric(name, tmp_path):
    task = get_task(name)
    tok = tiny_tokenizer()
    head, options = head_of(task)
    model = task_model(tiny_encoder(), head, name=task.name, **options)
    if name == "wikiann":
        data = in_memory(task, {lang: [TaggingExample("s", ("paris", "is"), ("B-LOC", "O"))] for lang in ("en", "de")})
    else:
        cands = CANDIDATES if head == "retrieval" else ()
        data = in_memory(task, {lang: examples(head, lang) for lang in ("en", "de")}, cands)
    run = RunInfo(model="tiny", model_hash="h", seed=1, protocol={"lr": 1e-3})
    rows = evaluate(model, tok, task, data, run, predictions_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert {(r.language, r.metric) for r in rows} == {(lang, m) for lang in ("en", "de") for m in EXPECTED[name]}
    assert all(0 <= r.value <= 100 for r in rows)
    assert all(r.task == name and r.task_version == task.version and r.seed == 1 and r.protocol["lr"] == 1e-3
               for r in rows)
    assert len({r.key() for r in rows}) == len(rows)
    scorer = {r.metric: r.protocol.get("metric_implementation") for r in rows}
    if head == "tagging":  # the official scorer, named in the row
        assert scorer["f1"] == "xtreme: seqeval 0.0.12 rules (xstilts.metrics.tagging)"
    records = [json.loads(line) for line in (tmp_path / f"{name}.de.jsonl").read_text().splitlines()]
    assert len(records) == len(data.examples["de"]) and {"uid", "prediction", "gold"} <= set(records[0])
    # cached features give the same numbers
    again = evaluate(model, tok, task, data, run, cache_dir=tmp_path / "cache")
    assert [r.value for r in again] == [r.value for r in rows]


def test_unlabelled_examples_are_refused():
    task = get_task("xnli")
    model = task_model(tiny_encoder(), "classification", name="xnli", num_labels=3)
    data = in_memory(task, {"en": [TextExample("1", "a", "b", None)]})
    with pytest.raises(ValueError, match="no gold label"):
        evaluate(model, tiny_tokenizer(), task, data, RunInfo(model="m", model_hash="h", seed=0))


def test_sentence_longer_than_the_limit_has_every_word_predicted_by_the_model(tmp_path):
    task = get_task("wikiann")
    head, options = head_of(task)
    model = task_model(tiny_encoder(), head, name=task.name, **options)
    with torch.no_grad():  # the model never predicts tag 0 ("O"): a word filled in would show as "O"
        model.heads[task.name].classifier.bias[0] = -1e4
    words = ("the cat sat on the mat " * 12).split()  # 72 words, 74 tokens with specials
    gold = tuple(("B-LOC", "I-LOC", "O")[i % 3] for i in range(len(words)))
    data = in_memory(task, {"en": [TaggingExample("long", tuple(words), gold)]})
    run = RunInfo(model="tiny", model_hash="h", seed=1)
    rows = evaluate(model, tiny_tokenizer(), task, data, run, predictions_dir=tmp_path, max_length=16)
    [record] = [json.loads(line) for line in (tmp_path / "wikiann.en.jsonl").read_text().splitlines()]
    assert len(record["prediction"]) == len(words) == len(record["gold"])
    assert "O" not in record["prediction"]
    assert {r.protocol["max_length"] for r in rows} == {16}
