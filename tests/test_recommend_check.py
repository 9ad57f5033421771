"""The checks behind `xstilts recommend`'s validation: ties, the random ranking, the noise ceiling,
what is held out, and which target examples the transferability signals may encode."""

from __future__ import annotations

import itertools
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from xstilts.data.examples import example_texts
from xstilts.recommend import check
from xstilts.orchestration.plan import build_plan
from xstilts.recommend.signals import _text_hash, feature_examples, phase2_hashes
from xstilts.report.recommendation import load_saved, recommendation_grids, verdict
from xstilts.orchestration.spec import parse_spec
from xstilts.metrics.ranking import ndcg_at_k, regret_at_k, spearman_rho
from xstilts.tasks import get_task
from xstilts.tasks.data import read_sources

COMMITTED = Path(__file__).resolve().parents[1] / "results" / "lowres-vs-english-pilot" / "recommend-xnli+udpos.json"


def _figures(predicted, gains, k):
    return ndcg_at_k(predicted, gains, k), regret_at_k(predicted, gains, 1), regret_at_k(predicted, gains, k), \
        spearman_rho(predicted, gains)


def _over_orderings(predicted, gains, k):
    """The figures averaged over every way of breaking the ties (brute force)."""
    n = len(gains)
    runs = [_figures([p + 1e-6 * tiebreak[i] for i, p in enumerate(predicted)], gains, k)
            for tiebreak in itertools.permutations(range(n))]
    return [statistics.mean(col) for col in zip(*runs)]


@pytest.mark.parametrize("predicted", [[1, 1, 0, 1, 0, 2], [0] * 6, [5, 4, 4, 4, 1, 1], [3, 2, 1, 0, -1, -2]])
@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_ties_score_the_mean_over_their_orderings(predicted, k):
    gains = [3.0, 1.0, 2.5, 0.0, 1.0, -0.5]
    assert _figures(predicted, gains, k) == pytest.approx(_over_orderings(predicted, gains, k), abs=1e-12)


def test_a_constant_signal_scores_a_random_rankings_mean_whatever_the_list_order():
    gains = [4.0, 3.0, 2.0, 1.0, 0.0]  # listed best first: list-order tie-breaking would score it perfectly
    flat = [0.0] * 5
    random = _over_orderings(flat, gains, 3)  # every ordering equally likely = a random ranking
    assert _figures(flat, gains, 3) == pytest.approx(random, abs=1e-12)
    assert _figures(flat, gains[::-1], 3) == pytest.approx(random, abs=1e-12)
    assert ndcg_at_k(flat, gains, 3) < 0.75 and spearman_rho(flat, gains) == 0.0
    assert ndcg_at_k([4, 3, 2, 1, 0], gains, 3) == 1.0  # what list order would have given


def _study(rng, tasks=3, langs=2, n=5):
    candidates = [f"c{i}" for i in range(n)]
    gains = {f"t{t}:l{j}": dict(zip(candidates, rng.normal(0, 2, n))) for t in range(tasks) for j in range(langs)}
    return candidates, gains


def test_random_ranking_mean_and_permutation_p():
    rng = np.random.default_rng(3)
    candidates, gains = _study(rng)
    signals = {"perfect": gains, "constant": {t: {c: 1.0 for c in candidates} for t in gains},
               "reversed": {t: {c: -v for c, v in g.items()} for t, g in gains.items()}}
    out = check.validate_ranking(signals, gains, candidates)
    p, random = out["p"], out["random"]
    assert max(p["perfect"][m] for m in ("spearman", "ndcg@3", "regret@1")) < 0.01
    # regret@3 is 0 whenever the best is among 3 of 5: random rankings often get that too
    assert p["perfect"]["regret@3"] < 0.1 < p["constant"]["regret@3"]
    assert all(0.4 < v < 0.7 for v in p["constant"].values())  # the mean of a skewed distribution: about half
    assert p["reversed"]["spearman"] > 0.99
    assert {m: out["validation"]["constant"][m] for m in random} == random
    assert random["spearman"] == 0.0
    # the drawn random rankings centre on the exact mean
    draws = check.random_draws(gains, candidates, 3)
    for m in check.metric_names(3):
        assert float(draws[m].mean()) == pytest.approx(random[m], abs=0.02)
    # one random ranking per task, shared by its languages: with identical languages the mean over
    # targets varies as much as one target does
    same = {f"t0:l{j}": gains["t0:l0"] for j in range(4)}
    assert check.random_draws(same, candidates, 3)["spearman"].std() == pytest.approx(
        check.random_draws({"t0:l0": gains["t0:l0"]}, candidates, 3)["spearman"].std())


def _unit_gains(rng, effect_sd, targets=40, n=6, units=6):
    candidates = [f"c{i}" for i in range(n)]
    out = {}
    for t in range(targets):
        true = rng.normal(0, effect_sd, n)
        out[f"t{t // 2}:l{t % 2}"] = {c: {str(u): float(true[i] + rng.normal(0, 1)) for u in range(units)}
                                      for i, c in enumerate(candidates)}
    return candidates, out


def test_noise_ceiling():
    rng = np.random.default_rng(0)
    candidates, noise = _unit_gains(rng, effect_sd=0.0)
    ceiling = check.noise_ceiling(noise, candidates, 3)
    assert abs(ceiling["spearman"]) < 0.1 and ceiling["units"] == 6 and ceiling["splits"] == 20
    assert "this check is uninformative" in verdict(ceiling)

    candidates, real = _unit_gains(rng, effect_sd=3.0)
    ceiling = check.noise_ceiling(real, candidates, 3)
    assert ceiling["spearman"] > 0.8 and ceiling["regret@1"] < ceiling["ndcg@3"]
    assert "The gains reproduce" in verdict(ceiling)

    one = {t: {c: {"1": by_u["1"]} for c, by_u in g.items()} for t, g in real.items()}
    assert check.noise_ceiling(one, candidates, 3) == {"units": 1}
    assert "cannot be measured" in verdict({"units": 1})


def test_the_blend_is_held_out_by_whole_task_only():
    rng = np.random.default_rng(1)
    candidates, gains = _study(rng)
    signals = {"a": {t: dict(zip(candidates, rng.normal(size=5))) for t in gains},
               "b": {t: dict(zip(candidates, rng.normal(size=5))) for t in gains}}
    held = check.held_out_blend(signals, gains, candidates)
    # the prediction for t0:l0 does not move when its own task's gains do, and does when another task's do
    same_task = {**gains, "t0:l0": {c: 10 * v for c, v in gains["t0:l0"].items()},
                 "t0:l1": {c: -v for c, v in gains["t0:l1"].items()}}
    assert check.held_out_blend(signals, same_task, candidates)["t0:l0"] == pytest.approx(held["t0:l0"])
    other_task = {**gains, "t1:l0": {c: -v for c, v in gains["t1:l0"].items()}}
    assert check.held_out_blend(signals, other_task, candidates)["t0:l0"] != pytest.approx(held["t0:l0"])
    assert set(check.validate_ranking(signals, gains, candidates)["validation"]) == {"a", "b", check.HELD_OUT}
    one_task = {t: g for t, g in gains.items() if t.startswith("t0:")}
    assert set(check.validate_ranking(signals, one_task, candidates)["validation"]) == {"a", "b"}


def test_a_record_saved_before_the_checks_still_loads(tmp_path):
    shutil.copy(COMMITTED, tmp_path / COMMITTED.name)
    (rec,) = load_saved(tmp_path)
    assert rec.ceiling == {} and rec.p == {} and rec.unit_gains == {} and rec.draws == 0
    assert "fitted (leave one target out)" not in rec.validation  # not held out: no longer shown as such
    assert rec.validation["fitted (leave one task out)"]["ndcg@3"] == 0.725
    ranked, checked = recommendation_grids(rec)
    assert len(ranked.rows) == 6 and "predates the noise-ceiling and random-ranking checks" in checked.caption
    assert all("(p " not in cell for row in checked.rows for cell in row)


def test_features_skip_examples_a_phase2_encoder_trained_on(data_root):
    spec = parse_spec("""\
name: skip
model: me5-small
seeds: [1]
conditions:
  - {name: none, kind: none}
  - {name: mnli, kind: english, tasks: [mnli]}
  - {name: nusax-jav, kind: low-resource, tasks: ["nusax:jav"]}
intermediate: {max_steps: 8, max_train_examples: 40}
targets:
  - {task: udpos, langs: [en, yo]}
""")
    seen = phase2_hashes(build_plan(spec, data_root=data_root), data_root)
    trained = read_sources(get_task("mnli").train, data_root, 40)  # what the mnli node reads
    assert {_text_hash(t) for ex in trained for t in example_texts(ex)} - {None} <= seen

    kept, skipped = feature_examples("xnli", data_root, seen)  # XNLI's English training set is MNLI
    assert len(kept) == 500 and skipped >= 40
    assert not any(_text_hash(t) in seen for ex in kept for t in example_texts(ex))
    assert {ex.uid for ex in kept}.isdisjoint(ex.uid for ex in trained)
    everything, none = feature_examples("xnli", data_root, set())
    assert none == 0 and everything[0].uid == trained[0].uid
    assert feature_examples("udpos", data_root, seen)[1] == 0  # nothing trains on English UD
