"""Typed examples: what every reader yields, whatever the file format.

Readers turn official formats into these; feature builders turn these into model inputs.
They are plain frozen dataclasses so they hash, compare and pickle cheaply.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TextExample:
    """Sentence or sentence-pair classification (NLI, sentiment, topic, paraphrase)."""

    uid: str
    text_a: str
    text_b: str | None
    label: str | None  # None where the split carries no labels


@dataclass(frozen=True)
class ChoiceExample:
    """Multiple choice (COPA/XCOPA, SIQA, CommonsenseQA, Cosmos QA, HellaSwag)."""

    uid: str
    context: str
    question: str
    choices: tuple[str, ...]
    label: int | None


@dataclass(frozen=True)
class QAExample:
    """Extractive QA in SQuAD form; answers are (text, char start) pairs."""

    uid: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]
    is_impossible: bool = False
    title: str = ""


@dataclass(frozen=True)
class TaggingExample:
    """Token tagging (POS, NER): one tag per word."""

    uid: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class BitextExample:
    """Two sides of a translation pair (Tatoeba, FLORES via SIB-200, NusaX MT)."""

    uid: str
    source: str
    target: str


@dataclass(frozen=True)
class RetrievalQAExample:
    """LAReQA: a question and the id of the sentence that answers it, within a pool of
    candidate sentences (each with the paragraph it came from)."""

    uid: str
    question: str
    answer_ids: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """One LAReQA candidate answer sentence with its context paragraph."""

    uid: str
    sentence: str
    context: str = field(default="")


_TEXT_FIELDS = {
    TextExample: ("text_a", "text_b"), ChoiceExample: ("context", "question", "choices"),
    QAExample: ("context", "question"), TaggingExample: ("tokens",), BitextExample: ("source", "target"),
    RetrievalQAExample: ("question",), Candidate: ("sentence", "context"),
}


def example_texts(example: object) -> Iterator[str]:
    """Every natural-text field of a typed example (tokens joined by spaces): what the overlap
    guard hashes and what MLM reads as unlabelled text."""
    try:
        names = _TEXT_FIELDS[type(example)]
    except KeyError:
        raise TypeError(f"no text fields known for {type(example).__name__}") from None
    for name in names:
        value = getattr(example, name)
        if name == "tokens":
            yield " ".join(value)
        elif isinstance(value, tuple):
            yield from value
        elif value:
            yield value
