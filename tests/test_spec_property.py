"""A spec that validates, runs: generated specs, half of them with one field pushed to an edge (a
boolean for a number, an infinity, NaN, a negative or huge seed, an empty list, a layer beyond the
model, a length of 1), are either refused by `validate` with a SpecError at a line and field, or run
every node of every kind (phase 2, probes, fine-tuning) to the end with no failed node. Tiny model
and budgets: a node takes seconds."""

from __future__ import annotations

import io
import math

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rich.console import Console

from xstilts.orchestration.validate import validate
from xstilts.orchestration.spec import SpecError
from xstilts.orchestration.study import run_study

EDGES = st.sampled_from([True, False, math.inf, -math.inf, math.nan, -1, 0, 1, 2**32, 99, -99, [], "", 1e-12])
# where a generated spec is pushed to an edge: (section, key) or (section, index, key)
FIELDS = [("intermediate", "max_steps"), ("intermediate", "lr"), ("intermediate", "warmup_ratio"),
          ("intermediate", "weight_decay"), ("intermediate", "batch_size"), ("intermediate", "max_length"),
          ("intermediate", "freeze_embeddings"), ("finetune", "max_length"), ("finetune", "eval_every"),
          ("seeds",), ("targets", 0, "langs"), ("targets", 0, "layers"), ("targets", 0, "max_sentences"),
          ("targets", 1, "langs"), ("targets", 1, "max_eval_examples")]


@st.composite
def specs(draw) -> dict:
    spec = {
        "name": "prop",
        "seeds": draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=2, unique=True)),
        "intermediate_seeds": "first",
        "conditions": [{"name": "none", "kind": "none"}, {"name": "eng", "kind": "english", "tasks": ["nusax:eng"]}],
        "intermediate": {"max_steps": draw(st.integers(1, 3)), "batch_size": draw(st.integers(1, 4)),
                         "max_train_examples": 8, "lr": draw(st.floats(1e-6, 1e-2)),
                         "warmup_ratio": draw(st.floats(0, 0.99)), "max_length": draw(st.integers(8, 48)),
                         "freeze_embeddings": draw(st.booleans())},
        "finetune": {"max_steps": 2, "batch_size": 4, "max_train_examples": 8, "max_dev_examples": 8,
                     "max_length": draw(st.integers(8, 48))},
        "targets": [
            {"probe": "tatoeba", "langs": draw(st.lists(st.sampled_from(["jav", "tel"]), min_size=1, unique=True)),
             "layers": draw(st.sampled_from(["last", "middle", "all", [1, -1], [0]])),
             "pooling": draw(st.sampled_from(["mean", "cls"])), "scorer": draw(st.sampled_from(["cosine", "margin"])),
             "max_sentences": draw(st.integers(2, 20))},
            {"task": draw(st.sampled_from(["xnli", "udpos"])), "langs": ["en"], "train": {"max_eval_examples": 8}},
        ],
    }
    if draw(st.booleans()):
        *where, key = draw(st.sampled_from(FIELDS))
        node = spec
        for part in where:
            node = node[part]
        if key == "max_eval_examples":
            node = node["train"]
        node[key] = draw(EDGES) if key != "seeds" else [draw(EDGES)]
    return spec


@pytest.mark.slow
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs())
def test_every_spec_validate_accepts_runs_every_node_kind(spec, tiny_model_dir, data_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump({**spec, "model": str(tiny_model_dir)}, sort_keys=False))
    try:
        plan = validate(path, data_root=data_root, overlap=False)
    except SpecError as e:
        assert all(p[0] is not None and p[1] for p in e.problems), e.problems  # refused at a line and field
        event("refused by validate")
        return
    event("validated: ran")
    _, summary = run_study(path, data_root=data_root, store_url=f"sqlite:///{tmp / 'r.sqlite'}", work_dir=tmp / "w",
                           html=tmp / "r.html", console=Console(file=io.StringIO(), width=200))
    assert not summary.failed and not summary.blocked, (spec, summary.failed)
    assert {plan.nodes[k].kind for k in summary.done} == {"intermediate", "probe", "finetune"}
