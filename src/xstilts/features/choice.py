"""Multiple-choice features (COPA/XCOPA, SIQA, CommonsenseQA, Cosmos QA, HellaSwag).

Feature: ``{"input_ids": [[...] one list per choice], "labels": int}`` ("labels" omitted when
the example is unlabelled). Each choice is the pair (context + " " + question, choice).
COPA-style questions that are just "cause"/"effect" become "What was the cause?" /
"What was the effect?", as XTREME's third_party/run_xcopa.py writes them
(f"{premise} What was the {question}?").
Only the first segment is truncated, so the choices, which are what the model compares,
stay whole; a choice alone longer than max_length falls back to "longest_first".
"""

from __future__ import annotations

from collections.abc import Sequence

from xstilts.data.examples import ChoiceExample
from xstilts.errors import XstiltsError

VERSION = 2

COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What was the effect?"}


def first_segment(ex: ChoiceExample) -> str:
    question = COPA_QUESTIONS.get(ex.question.strip().lower(), ex.question)
    return " ".join(part for part in (ex.context.strip(), question.strip()) if part)


def _encode(tokenizer, first: str, choice: str, max_length: int) -> list[int]:
    choice_len = len(tokenizer(choice, add_special_tokens=False)["input_ids"])
    fits = choice_len + tokenizer.num_special_tokens_to_add(pair=True) < max_length
    strategy = "only_first" if fits else "longest_first"
    return list(tokenizer(first, choice, truncation=strategy, max_length=max_length)["input_ids"])


def build_choice_features(
    examples: Sequence[ChoiceExample], tokenizer, max_length: int
) -> list[dict]:
    features = []
    for ex in examples:
        first = first_segment(ex)
        feature: dict[str, list[list[int]] | int] = {
            "input_ids": [_encode(tokenizer, first, c, max_length) for c in ex.choices]}
        if ex.label is not None:
            if not 0 <= ex.label < len(ex.choices):
                raise XstiltsError(f"example {ex.uid}: label {ex.label} out of range "
                                   f"for {len(ex.choices)} choices")
            feature["labels"] = ex.label
        features.append(feature)
    return features
