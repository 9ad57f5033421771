"""What text each node of a study reads, and the guard against leakage between phases.

Leakage hides behind different dataset names: the SQuAD 2.0 dev half shares paragraphs with
XQuAD's English source, SIB-200's sentences are the FLORES sentences of the alignment probe,
and the `mnli` intermediate task reads the MNLI file XNLI fine-tunes on (for XNLI that is more
target training, not an intermediate task). So overlap is checked by content: every text field
of every example is normalised (NFKC, casefold, collapsed whitespace) and hashed, and the hash
set of each condition's phase-2 text is intersected with each target's phase-3 training text
and its evaluated (dev and test) text. A condition may declare the targets it knowingly shares
data with (`declared_overlap`); the overlap is then a warning and the report flags it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xstilts.data import catalog, languages
from xstilts.data.examples import Candidate, example_texts
from xstilts.data.formats import did_you_mean
from xstilts.errors import UnknownName, XstiltsError
from xstilts.orchestration.spec import ProbeTarget, Spec, TaskTarget, locate
from xstilts.tasks.data import normalise
from xstilts.tasks.registry import canonical_name, known_tasks
from xstilts.tasks.schema import Source as TextSource

# Normalised strings shorter than this ("yes", a bare name) match by chance, not by leakage.
MIN_CHARS = 20
# A handful of short common sentences ("Where have you been?" is in MNLI and Tatoeba) is a
# coincidence and only reported; this many shared texts, or any one this long, is leakage.
# Text shared with a target's fine-tuning data leaks by volume only: one Wikipedia paragraph in
# both ANLI and TyDiQA's training data adds nothing phase 3 would not learn anyway.
FATAL_COUNT, FATAL_CHARS = 10, 100
# What a target does with the text a condition trained on (an Overlap's `role`).
FINE_TUNES, EVALUATES = "fine-tunes on", "evaluates on"


# ---- which sources a task or probe reads -----------------------------------------------------


def _dataset_lang(entry: catalog.DatasetEntry, lang: str) -> str:
    """A dataset's file-name code for `lang` given as that code, a lang_Script tag or ISO 639-3."""
    if not lang:
        if len(entry.languages) == 1:
            return entry.languages[0]
        raise UnknownName(f"'{entry.name}' has {len(entry.languages)} languages: name one as '{entry.name}:LANG'")
    for code in entry.languages:
        tag = languages.LANGUAGE_TAGS.get(code, code)
        if lang in (code, tag, tag.split("_")[0]):
            return code
    # suggest codes, not the folder names: the catalog's tasks of this dataset first, then ISO 639-3
    codes = dict.fromkeys([*(n.split(":", 1)[1] for n in known_tasks() if n.startswith(f"{entry.name}:")),
                           *(languages.LANGUAGE_TAGS.get(code, code).split("_")[0] for code in entry.languages)])
    raise UnknownName(f"'{entry.name}' has no language '{lang}'{did_you_mean(lang, codes)}")


def train_sources(name: str) -> tuple[TextSource, ...]:
    """What an intermediate task trains on: a catalog task's training sources, else
    'dataset[:lang]' of the data catalog read from its train split in that language (its first
    split where it has none, e.g. tydiqa:bn → dev). Raises KeyError with "did you mean" for unknown names."""
    registry, name = known_tasks(), canonical_name(name)
    if name in registry:
        return tuple(registry[name].train)
    dataset, _, lang = name.partition(":")
    if dataset not in catalog.datasets():
        known = sorted({*registry, *catalog.datasets()})
        raise UnknownName(f"unknown intermediate task '{name}'{did_you_mean(name, known)}")
    entry = catalog.get_dataset(dataset)
    code = _dataset_lang(entry, lang)
    splits = [f.split for f in entry.files if f.lang == code]
    return (TextSource(dataset, "train" if "train" in splits else splits[0], code),)


# SIB-200 sentences are the FLORES probe's own sentences: never MLM text unless named.
_MLM_EXCLUDED = ("sib200",)


def mlm_tasks_for(languages: Sequence[str]) -> list[str]:
    """The MLM baseline's text: an entry with ':' is a task name; a language code takes the
    training text of every intermediate task in that language (SIB-200 excluded, see above).
    Raises KeyError naming the entry that has no text."""
    registry = known_tasks()
    intermediate = [t for t in registry.values() if "intermediate" in t.roles]
    out = []
    for entry in languages:
        if ":" in entry:
            if entry not in registry:
                raise UnknownName(f"unknown MLM task '{entry}'{did_you_mean(entry, registry)}")
            out.append(entry)
            continue
        found = [t.name for t in intermediate
                 if t.name.split(":")[-1] == entry and t.name.split(":")[0] not in _MLM_EXCLUDED]
        if not found:
            codes = sorted({t.name.split(":")[-1] for t in intermediate if ":" in t.name
                            and t.name.split(":")[0] not in _MLM_EXCLUDED})
            raise UnknownName(f"MLM language '{entry}': no intermediate task has text in it"
                           f"{did_you_mean(entry, codes)} (or name a task such as 'nusax:bug')")
        out += found
    return list(dict.fromkeys(out))


def probe_task(target: ProbeTarget):
    """The task a probe target names; KeyError with "did you mean" unless it is a probe."""
    probes = [name for name, t in known_tasks().items() if "probe" in t.roles]
    if target.probe not in probes:
        raise UnknownName(f"unknown probe '{target.probe}'{did_you_mean(target.probe, probes)}")
    return known_tasks()[target.probe]


def probe_langs(target: ProbeTarget) -> tuple[str, ...]:
    """The languages a probe target scores: its own list, else the task's default group, else all."""
    task = probe_task(target)
    valid = task.languages
    langs = tuple(target.langs) if target.langs is not None else (task.group("default") or valid)
    for lang in langs:
        if lang not in valid:
            raise UnknownName(f"{target.probe} has no language '{lang}'{did_you_mean(lang, valid)}", field="langs")
    return langs


def target_sources(target: ProbeTarget | TaskTarget) -> tuple[TextSource, ...]:
    """The text a target evaluates on: probe sentences, or a task's evaluation and dev sets."""
    if isinstance(target, ProbeTarget):
        from xstilts.tasks.check import id_aligned

        task = probe_task(target)
        langs = probe_langs(target)
        if id_aligned(task):  # the pivot's texts are read (and evaluated) too
            langs = tuple(dict.fromkeys((*langs, task.pivot)))
        return tuple(s for lang in langs for s in task.eval_sources(lang))
    registry = known_tasks()
    if registry is None:
        raise UnknownName(f"target task '{target.task}' cannot be resolved: the task catalog is not importable")
    targets = [name for name, t in registry.items() if "target" in t.roles]
    if target.task not in targets:
        raise UnknownName(f"unknown target task '{target.task}'{did_you_mean(target.task, targets)}")
    task = registry[target.task]
    sources = [task.eval_source(lang) for lang in (target.langs or task.languages)]
    return tuple(sources + ([task.dev] if task.dev else []))


def target_phases(target: ProbeTarget | TaskTarget) -> dict[str, tuple[TextSource, ...]]:
    """A target's text by what phase 3 does with it: the English data a task fine-tunes on,
    and the text every target evaluates on (probe sentences, a task's dev and test sets)."""
    evaluated = {EVALUATES: target_sources(target)}
    if isinstance(target, ProbeTarget):
        return evaluated
    task = known_tasks()[target.task]
    return {FINE_TUNES: (*task.train_first, *task.train), **evaluated}


# ---- content hashes -----------------------------------------------------------------------


def _hashes(source: TextSource, data_root: Path | None) -> dict[bytes, str]:
    """Hash → one original text, over a source's examples; each source is read once per process
    (per registration of its dataset: a user's task file loaded again may name other files)."""
    return _hashes_of(source, data_root, catalog.get_dataset(source.dataset))


@functools.lru_cache(maxsize=512)
def _hashes_of(source: TextSource, data_root: Path | None, entry: catalog.DatasetEntry) -> dict[bytes, str]:
    from xstilts.tasks.data import read_source

    fmt = entry.format
    if fmt == "lareqa-json":  # the candidate sentences and paragraphs are evaluated text too
        questions, candidates = catalog.lareqa(source.lang, data_root, source.dataset)
        examples: list = [*questions, *candidates]
    elif fmt == "bucc-tsv":  # every sentence of both sides is mined, not only the gold pairs'
        src, tgt, _ = catalog.bucc(source.lang, source.split, data_root, source.dataset)
        examples = [Candidate(i, text) for side in (src, tgt) for i, text in side.items()]
    else:
        examples = read_source(source, data_root)
    out: dict[bytes, str] = {}
    for ex in examples:
        for text in example_texts(ex):
            norm = normalise(text)
            if len(norm) >= MIN_CHARS:
                out.setdefault(hashlib.blake2b(norm.encode(), digest_size=16).digest(), text)
    return out


# ---- the guard ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    condition: str
    target: str
    train_datasets: tuple[str, ...]  # 'dataset/split/lang' of the training side that overlaps
    eval_datasets: tuple[str, ...]
    count: int
    examples: tuple[str, ...]  # the two longest shared texts
    role: str = EVALUATES  # what the target does with the shared text (FINE_TUNES or EVALUATES)

    @property
    def fatal(self) -> bool:
        long = self.role == EVALUATES and any(len(normalise(t)) >= FATAL_CHARS for t in self.examples)
        return self.count >= FATAL_COUNT or long

    def message(self) -> str:
        shown = "; ".join(repr(t[:100] + ("…" if len(t) > 100 else "")) for t in self.examples)
        return (f"condition '{self.condition}' trains on {self.count:,} text(s) that target '{self.target}' "
                f"{self.role} ({', '.join(self.train_datasets)} vs {', '.join(self.eval_datasets)}), e.g. {shown}")


class OverlapError(XstiltsError):
    def __init__(self, overlaps: Sequence[Overlap]):
        self.overlaps = list(overlaps)
        super().__init__("phase-2 training would see text phase 3 trains or evaluates on (if the spec means it, "
                         "list the target under the condition's declared_overlap):\n  "
                         + "\n  ".join(o.message() for o in self.overlaps))


def _name(s: TextSource) -> str:
    return f"{s.dataset}/{s.split}/{s.lang}"


def find_overlaps(train: Mapping[str, Sequence[TextSource]], evaluate: Mapping[str, Sequence[TextSource]],
                  data_root: str | Path | None = None, role: str = EVALUATES) -> list[Overlap]:
    """Every (training side, target side) pair that shares normalised text; ROLE says what the
    target side does with its text."""
    root = Path(data_root) if data_root else None
    found = []
    for cond, train_srcs in train.items():
        train_sets = {s: _hashes(s, root) for s in train_srcs}
        for target, eval_srcs in evaluate.items():
            shared: dict[bytes, str] = {}
            hit_train, hit_eval = set(), set()
            for es in eval_srcs:
                eval_set = _hashes(es, root)
                for ts, train_set in train_sets.items():
                    common = train_set.keys() & eval_set.keys()
                    if common:
                        hit_train.add(_name(ts))
                        hit_eval.add(_name(es))
                        shared.update((h, train_set[h]) for h in common)
            if shared:
                longest = tuple(sorted(shared.values(), key=len, reverse=True)[:2])
                found.append(Overlap(cond, target, tuple(sorted(hit_train)), tuple(sorted(hit_eval)), len(shared),
                                     longest, role))
    return found


def target_name(target: ProbeTarget | TaskTarget) -> str:
    return f"probe:{target.probe}" if isinstance(target, ProbeTarget) else target.task


def _declared_name(target: ProbeTarget | TaskTarget) -> str:
    """How `declared_overlap` names a target: its task or probe name."""
    return target.probe if isinstance(target, ProbeTarget) else target.task


def declared_overlaps(spec: Spec) -> dict[str, tuple[str, ...]]:
    """Condition → the targets it declares sharing data with: the comparisons a report flags."""
    return {c.name: tuple(c.declared_overlap) for c in spec.conditions if c.declared_overlap}


def declaration_problems(spec: Spec) -> list[tuple[int | None, str, str]]:
    """(line, field, message) for each declared name that is not a target of the spec."""
    names = sorted({_declared_name(t) for t in spec.targets})
    out = []
    for i, c in enumerate(spec.conditions):
        for j, name in enumerate(c.declared_overlap):
            if name not in names:
                where = ("conditions", i, "declared_overlap", j)
                out.append((locate(spec._path, where) if spec._path else None, ".".join(map(str, where)),
                            f"'{name}' is not a target of this spec ({', '.join(names)})"
                            f"{did_you_mean(name, names)}"))
    return out


def check_spec(spec: Spec, data_root: str | Path | None = None) -> list[str]:
    """Raise OverlapError when a condition's phase-2 text (its tasks' training data, the MLM
    baseline's unlabelled text included) is text a target fine-tunes or evaluates on, unless the
    condition declares that target. Return warnings: declared overlaps, declarations that found
    no overlap, and chance overlaps (a few short sentences)."""
    train = {c.name: [s for t in [*c.tasks, *(mlm_tasks_for(c.mlm.languages) if c.mlm else [])]
                      for s in train_sources(t)] for c in spec.conditions if c.tasks}
    phases: dict[str, dict[str, list[TextSource]]] = {}  # role → target name → sources
    for t in spec.targets:  # a probe listed twice (other layers or scorer) reads the union
        for role, sources in target_phases(t).items():
            phases.setdefault(role, {}).setdefault(target_name(t), []).extend(sources)
    root = data_root or spec.data_root
    overlaps = [o for role, targets in phases.items()
                for o in find_overlaps(train, {n: list(dict.fromkeys(s)) for n, s in targets.items()}, root, role)]
    declared = {(c, name) for c, names in declared_overlaps(spec).items() for name in names}
    named = {target_name(t): _declared_name(t) for t in spec.targets}
    is_declared = [(o.condition, named[o.target]) in declared for o in overlaps]
    if fatal := [o for o, d in zip(overlaps, is_declared) if o.fatal and not d]:
        raise OverlapError(fatal)
    warnings = [f"{'declared' if d and o.fatal else 'tolerated'} overlap: {o.message()}"
                for o, d in zip(overlaps, is_declared)]
    leaking = {(o.condition, named[o.target]) for o in overlaps if o.fatal}
    warnings += [f"condition '{c}' declares overlap with target '{name}', but shares no more than chance text "
                 "with it: the declaration is not needed" for c, name in sorted(declared - leaking)]
    return warnings
