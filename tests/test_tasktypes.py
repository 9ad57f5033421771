"""A task type in one place: each type's object answers every question the package asks of a type,
and no module outside `xstilts.tasktypes` compares type names (the probes' protocols excepted)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from xstilts.data.examples import ChoiceExample
from xstilts.tasks import all_tasks, get_task
from xstilts.tasks.user import TaskFile
from xstilts.tasktypes import TYPES, TaskType, head_of, type_of

SRC = Path(__file__).resolve().parents[1] / "src" / "xstilts"
# the alignment probes pick their protocol by type and metric (Tatoeba/FLORES, BUCC mining, LAReQA):
# probe protocols, not task-type behaviour
PROBE_PROTOCOL_SITES = {"evaluation/alignment.py", "orchestration/plan.py"}


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_type_answers_for_itself(name):
    kind = TYPES[name]
    assert kind.name == name and isinstance(kind, TaskType)
    trained = kind.head is not None
    assert trained == (type(kind).train_features is not TaskType.train_features)
    assert trained == (type(kind).decode is not TaskType.decode) == bool(kind.builder[0])
    assert kind.probe or trained  # a type is trained, probed or both
    assert kind.field_kinds or kind.file_formats  # a user's task file can be written in it


def test_every_builtin_task_has_a_known_type_and_its_head():
    for task in all_tasks():
        kind = type_of(task.type)
        if set(task.roles) & {"target", "intermediate"}:
            head, options = head_of(task)
            assert head == kind.head and options == ({"num_labels": len(task.labels)} if kind.labelled else {})
    with pytest.raises(ValueError, match="only probed"):
        head_of(get_task("tatoeba"))
    with pytest.raises(KeyError, match="unknown task type 'regression'"):
        type_of("regression")


def test_chance_levels_by_type():
    assert type_of("sentence-pair").chance(get_task("xnli")) == pytest.approx((100 / 3, math.log(3)))
    three = ChoiceExample("1", "ctx", "why?", ("a", "b", "c"), 0)
    two = ChoiceExample("2", "ctx", "why?", ("a", "b"), 1)
    assert type_of("multiple_choice").chance(get_task("xcopa"), [three, two]) == pytest.approx(
        (100 * (1 / 3 + 1 / 2) / 2, (math.log(3) + math.log(2)) / 2))
    assert type_of("qa").chance(get_task("xquad")) == (0.0, None)


def test_a_user_file_may_name_every_type_and_no_other():
    assert set(TaskFile.model_fields["type"].annotation.__args__) == set(TYPES)


def test_no_module_outside_tasktypes_compares_type_names():
    names = "|".join(re.escape(n) for n in TYPES) + "|retrieval"
    compare = re.compile(rf"\.(type|head)\s*(==|!=|in|not in)\s*[\(\"'].*({names})")
    found = sorted(f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if "tasktypes" not in p.parts
                   for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if compare.search(line))
    assert {f.split(":")[0] for f in found} <= PROBE_PROTOCOL_SITES, found


def test_masked_lm_is_phase_twos_objective_and_no_task_types_name():
    """MLM reads other tasks' unlabelled text: distinct, non-blank texts with a piece to mask, then
    batches masked at its probability; a task entry or user file cannot declare it."""
    import torch

    from tests.tiny import tiny_encoder, tiny_tokenizer
    from xstilts.models.heads import HeadSpec, TaskModel
    from xstilts.tasktypes import MLM
    from xstilts.training import Collator

    assert "mlm" not in TYPES and MLM.head == "mlm" and not MLM.labelled
    tok = tiny_tokenizer()
    texts = ["the cat sat", "", "the cat sat", "   ", "a dog ran", "the dog sat", "cats ran"]
    feats = MLM.text_features(texts, tok, max_length=16, max_examples=3)
    assert [f["input_ids"] for f in feats] == [tok(t)["input_ids"] for t in ("the cat sat", "a dog ran", "the dog sat")]
    torch.manual_seed(0)
    batch = MLM.collate(tok, Collator(tok.pad_token_id), probability=1.0)(feats)
    width = batch["input_ids"].shape[1]
    original = torch.tensor([f["input_ids"] + [tok.pad_token_id] * (width - len(f["input_ids"])) for f in feats])
    targets = ~torch.isin(original, torch.tensor(tok.all_special_ids))
    assert torch.equal(batch["labels"] != -100, targets)  # every non-special token is a target, no other
    assert torch.equal(batch["labels"][targets], original[targets])
    head = TaskModel(tiny_encoder(len(tok)), {"mlm": HeadSpec(type=MLM.head)}).heads["mlm"]
    assert type(head).__name__ == "MLMHead"
