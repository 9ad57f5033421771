"""The overlap guard on the real data: leakage found by content, under any dataset name."""

from __future__ import annotations

import pytest

from xstilts.experiments.guard import (Overlap, OverlapError, check_spec, find_overlaps, normalise, target_sources,
                                       train_sources)
from xstilts.experiments.spec import ProbeTarget, TaskTarget, parse_spec
from xstilts.tasks import get_task
from xstilts.tasks.schema import Source


def test_normalise_and_names():
    assert normalise("  Ｈｅｌｌｏ\u00a0 WORLD\n") == "hello world"
    # catalog tasks train on their training sources
    assert train_sources("nusax:bug") == (Source("nusax", "train", "buginese"),)
    assert train_sources("sib200:quy_Latn") == (Source("sib200", "train", "quy_Latn"),)
    assert train_sources("udpos")[0].dataset == "ud"
    # other 'dataset[:lang]' names: the train split (else the first), languages by code or ISO 639-3
    assert train_sources("copa") == (Source("copa", "train", "en"),)
    assert train_sources("tydiqa:bn") == (Source("tydiqa", "dev", "bn"),)
    assert train_sources("nusax_mt:jav") == (Source("nusax_mt", "train", "javanese"),)
    with pytest.raises(KeyError, match="did you mean 'nusax:bug'"):
        train_sources("nusaxx:bug")
    with pytest.raises(KeyError, match="name one as 'nusax:LANG'"):
        train_sources("nusax")


def test_squad_dev_half_leaks_into_xquad(data_root):
    xquad = target_sources(TaskTarget(task="xquad", langs=["en"]))
    [o] = find_overlaps({"squad": [Source("squad_v2", "dev", "en")]}, {"xquad": xquad}, data_root)
    assert (o.condition, o.target, o.train_datasets, o.eval_datasets) == \
        ("squad", "xquad", ("squad_v2/dev/en",), ("xquad/test/en",))
    assert o.count > 100 and len(o.examples) == 2 and o.fatal
    # the catalog's squad_v2 task (and xquad's own training data) drop those paragraphs and questions
    lareqa = target_sources(ProbeTarget(probe="lareqa", langs=["en"]))
    clean = {"squad_v2": train_sources("squad_v2"), "xquad-train": get_task("xquad").train}
    assert find_overlaps(clean, {"xquad": xquad, "lareqa": lareqa}, data_root) == []


def test_sib200_training_is_the_flores_probe(data_root):
    spec = parse_spec("""
name: leak
conditions:
  - {name: sib-quy, kind: low-resource, tasks: ["sib200:quy_Latn"]}
  - {name: nusax-bug, kind: low-resource, tasks: ["nusax:bug"]}
targets:
  - {probe: flores, langs: [quy_Latn, bug_Latn], max_sentences: 100}
  - {probe: tatoeba, langs: [jav]}
""")
    with pytest.raises(OverlapError) as info:
        check_spec(spec, data_root)
    [o] = info.value.overlaps  # NusaX is not FLORES text: only the SIB-200 condition leaks
    assert (o.condition, o.target, o.train_datasets) == ("sib-quy", "probe:flores", ("sib200/train/quy_Latn",))
    assert o.count == 701
    msg = str(info.value)
    assert "condition 'sib-quy' trains on 701 text(s) that target 'probe:flores' evaluates on" in msg
    assert "sib200/train/quy_Latn vs sib200/train/quy_Latn" in msg and "e.g. '" in msg


def test_a_few_short_sentences_are_tolerated():
    chance = Overlap("mnli", "probe:tatoeba", ("mnli/dev_matched/en",), ("tatoeba/test/ita",), 2,
                     ("Where have you been?", "She loves her children."))
    assert not chance.fatal
    assert Overlap("c", "t", (), (), 2, ("x" * 120, "y")).fatal  # a long text does not repeat by chance
    assert Overlap("c", "t", (), (), 10, ("a" * 25, "b" * 25)).fatal
