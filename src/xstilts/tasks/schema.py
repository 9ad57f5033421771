"""What a task is: frozen data naming its files, labels, metrics and recipe (STYLE rule 2).

Behaviour comes from `type` (its object in `xstilts.tasktypes`: feature builder, head, decoder),
never from per-task code, so adding a task means adding an entry to a family file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from xstilts.errors import UnknownName

ROLES = ("target", "intermediate", "probe")


@dataclass(frozen=True)
class Source:
    """One split of one language of a catalog dataset.

    `answerable_only` keeps SQuAD 2.0's answerable questions. `exclude_contexts_of` names a
    (dataset, split, lang) whose paragraphs are dropped from this source: SQuAD 2.0 dev shares
    paragraphs with XQuAD (and so XQuAD-R/LAReQA), which must not leak into training.
    `exclude_texts_of` drops every example sharing a (normalised) text with that source:
    MNLI dev_matched shares premises with XNLI test.
    `half` keeps one fixed half of the examples (by a hash of their ids): where English dev is
    both the model-selection set and the only English evaluation set (TyDiQA-GoldP), selection
    reads "select" and the English score "heldout", so the reported English number is untouched.
    """

    dataset: str
    split: str
    lang: str = "en"
    answerable_only: bool = False
    exclude_contexts_of: tuple[str, str, str] | None = None
    exclude_texts_of: tuple[str, str, str] | None = None
    half: Literal["select", "heldout"] | None = None

    @property
    def split_name(self) -> str:
        """The split as result rows name it ('dev:heldout' for a half)."""
        return f"{self.split}:{self.half}" if self.half else self.split


@dataclass(frozen=True)
class Recipe:
    """Fine-tuning defaults, after XTREME's scripts (scripts/train_<task>.sh)."""

    lr: float = 2e-5
    batch_size: int = 32
    grad_accum: int = 1
    epochs: float = 5.0
    max_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    doc_stride: int = 128  # QA: overlap of context windows
    max_query_length: int = 64  # QA: question tokens kept
    max_answer_length: int = 30  # QA decoding, in tokens
    n_best: int = 20  # QA decoding: top start/end tokens tried per window


@dataclass(frozen=True)
class TaskDef:
    """A task: English training data, English dev (model selection), evaluation per language.

    `metrics` are registered metric names; `main_score` is the one used for model selection
    and headline numbers. `metric_lang` passes the evaluation language to the metric (MLQA's
    per-language normalisation). Bump `version` whenever a change can move a score.
    `train_first` is English data trained on in a stage of its own before `train` (XCOPA:
    SIQA, then COPA, as XTREME's scripts/train_xcopa.sh). `translation_of` names the task
    whose text this task's training text translates (XNLI German ← XNLI English).

    Probes (role "probe") are scored on the encoder itself. A bitext probe pairs each language
    with `pivot`: its sources give aligned pairs (two files, two columns), or texts with ids
    that are joined with the pivot language's texts (FLORES via SIB-200). Several `eval`
    sources of one language are read as one (SIB-200's three splits). `lang_groups` name
    language lists (the group "default" is what a probe without `langs` scores).
    """

    name: str
    type: str  # a task type: its object in xstilts.tasktypes
    train: tuple[Source, ...]
    dev: Source | None
    eval: tuple[Source, ...]
    metrics: tuple[str, ...]
    main_score: str
    version: str
    labels: tuple[str, ...] = ()
    metric_lang: bool = False
    recipe: Recipe = field(default_factory=Recipe)
    roles: tuple[str, ...] = ("target",)
    notes: str = ""
    train_first: tuple[Source, ...] = ()
    translation_of: str | None = None
    pivot: str | None = None
    lang_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    origin: str = ""  # where the data comes from (a URL, a citation, a Hugging Face id)
    licence: str = ""

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.lang for s in self.eval))

    def group(self, name: str) -> tuple[str, ...] | None:
        return dict(self.lang_groups).get(name)

    def eval_sources(self, lang: str) -> tuple[Source, ...]:
        """Every evaluation source of one language (a probe may read several splits as one)."""
        found = tuple(s for s in self.eval if s.lang == lang)
        if not found:
            raise UnknownName(f"task '{self.name}' has no language '{lang}' (languages: {', '.join(self.languages)})",
                              field="langs")
        return found

    def eval_source(self, lang: str) -> Source:
        for s in self.eval:
            if s.lang == lang:
                return s
        raise UnknownName(f"task '{self.name}' has no evaluation language '{lang}' "
                          f"(languages: {', '.join(self.languages)})", field="langs")
