import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from xstilts.report.comparisons import unit_scores
from xstilts.report.stats import (
    Spread,
    compare,
    decide,
    fmt_ci,
    fmt_p,
    holm,
    paired_ttest,
    power,
    spearman,
    stars,
    t_interval,
    units_needed,
    welch_interval,
)


def test_spread_mean_and_sample_std():
    s = Spread.of([1.0, 2.0, 4.0])
    assert s.mean == pytest.approx(7 / 3)
    assert s.std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert str(s) == "+2.33 ± 1.53"
    one = Spread.of([-0.5])
    assert one.std is None and str(one) == "-0.50"


def test_paired_ttest_matches_scipy_and_known_value():
    a, b = [71.0, 74.0, 77.0], [70.0, 72.0, 73.0]  # differences 1, 2, 4
    p = paired_ttest(a, b)
    assert p == pytest.approx(sps.ttest_1samp([1, 2, 4], 0).pvalue)
    assert p == pytest.approx(0.1181, abs=1e-4)  # t = 2.6458, df = 2
    assert paired_ttest([1.0], [0.0]) is None
    assert paired_ttest([2.0, 3.0], [1.0, 2.0]) == 0.0  # constant non-zero difference
    assert paired_ttest([1.0, 2.0], [1.0, 2.0]) == 1.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_ttest([1.0, 2.0], [1.0])


def test_t_interval_by_hand_and_welch_matches_scipy():
    lo, hi = t_interval([1.0, 2.0, 4.0])  # mean 7/3, sd 1.5275, t(2) 4.3027
    half = 4.302653 * 1.527525 / math.sqrt(3)
    assert (lo, hi) == pytest.approx((7 / 3 - half, 7 / 3 + half), abs=1e-4)
    assert t_interval([2.0]) is None and t_interval([3.0, 3.0, 3.0]) == (3.0, 3.0)
    a, b = [70.0, 72.0, 75.0, 71.0], [68.0, 69.0, 66.0]
    res = sps.ttest_ind(a, b, equal_var=False)
    assert welch_interval(a, b) == pytest.approx(tuple(res.confidence_interval(0.95)))


def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_compare_pairs_by_unit_and_uses_shared_languages():
    base = {1: {"en": 80.0, "de": 70.0}, 2: {"en": 82.0, "de": 72.0}, 3: {"en": 90.0, "de": 90.0},
            4: {"en": 60.0, "de": 60.0}}
    cond = {1: {"en": 81.0, "de": 71.0}, 2: {"en": 84.0, "de": 74.0, "sw": 10.0}, 3: {"en": 94.0, "de": 90.0},
            9: {"en": 0.0}}
    c = compare("x", "none", "xnli", cond, base)
    assert c.units == (1, 2, 3) and c.tested and c.paired
    assert c.a_scores == (76.0, 79.0, 92.0) and c.b_scores == (75.0, 77.0, 90.0)  # sw ignored: baseline lacks it
    assert c.gain.mean == pytest.approx(5 / 3) and c.gain.std == pytest.approx(sps.tstd([1, 2, 2]))
    assert set(c.per_language) == {"en", "de"} and c.per_language["en"].mean == pytest.approx(7 / 3)
    assert c.p == pytest.approx(sps.ttest_rel([76.0, 79.0, 92.0], [75.0, 77.0, 90.0]).pvalue)
    assert c.ci == pytest.approx(tuple(sps.ttest_1samp([1.0, 2.0, 2.0], 0).confidence_interval(0.95)))
    assert compare("x", "none", "xnli", {}, base) is None


def test_a_fixed_reference_is_compared_with_every_unit_and_disjoint_units_by_welch():
    untrained = {None: {"sw": 50.0, "de": 60.0}}
    trained = {1: {"sw": 52.0, "de": 61.0}, 2: {"sw": 51.0, "de": 60.0}, 3: {"sw": 55.0, "de": 62.0}}
    c = compare("x", "none", "tatoeba", trained, untrained)
    assert c.paired and c.units == (1, 2, 3) and c.b_scores == (55.0, 55.0, 55.0)
    assert c.p == pytest.approx(sps.ttest_1samp([1.5, 0.5, 3.5], 0).pvalue)
    other = {7: {"sw": 50.0, "de": 60.0}, 8: {"sw": 49.0, "de": 58.0}, 9: {"sw": 51.0, "de": 61.0}}
    w = compare("x", "y", "tatoeba", trained, other)
    assert not w.paired and w.p == pytest.approx(sps.ttest_ind(w.a_scores, w.b_scores, equal_var=False).pvalue)


def test_fewer_than_three_units_make_no_claim():
    c = compare("x", "none", "xnli", {1: {"en": 81.0, "de": 73.0}, 2: {"en": 82.0, "de": 74.0}},
                {1: {"en": 80.0, "de": 70.0}, 2: {"en": 80.0, "de": 71.0}})
    decide([c])
    assert not c.tested and c.p_holm is None and c.verdict == "no claim"
    assert c.gain.mean == pytest.approx(2.25) and c.ci[0] <= 2.25 <= c.ci[1]  # t interval over 2 units
    one = compare("x", "none", "xnli", {1: {"en": 81.0, "de": 73.0}}, {1: {"en": 80.0, "de": 70.0}})
    assert one.gain.std is None and one.ci is None and fmt_ci(one.ci) == "n/a (1 unit)"
    assert holm([c.p_holm, 0.01]) == [None, 0.01]  # untested comparisons stay out of the family
    assert fmt_p(c.p_holm, len(c.units)) == "n/a (2 units)" and fmt_p(None, 1) == "n/a (1 unit)"
    assert fmt_p(0.0123) == "0.012" and fmt_p(2e-5) == "2.0e-05"
    assert fmt_ci((-0.5, 1.25)) == "[-0.50, +1.25]"


def _pair(diffs, base=70.0):
    return ({u: {"sw": base + d} for u, d in enumerate(diffs)}, {u: {"sw": base} for u in range(len(diffs))})


def test_verdicts_different_equivalent_inconclusive():
    big = compare("a", "b", "t1", *_pair([3.0, 3.2, 2.9, 3.1, 3.0]))
    tight = compare("a", "b", "t2", *_pair([0.1, -0.1, 0.05, 0.0, -0.05]))
    noisy = compare("a", "b", "t3", *_pair([4.0, -3.0, 2.5, -4.0, 1.0]))
    decide([big, tight, noisy], margin=1.0, alpha=0.05)
    assert big.verdict == "different" and "a higher" in big.verdict_text()
    assert tight.verdict == "equivalent" and tight.p_equiv < 0.05
    d = np.array([0.1, -0.1, 0.05, 0.0, -0.05])
    assert tight.p_tost == pytest.approx(ttost_paired(d + 70.0, np.full(5, 70.0), -1.0, 1.0)[0])
    assert noisy.verdict == "inconclusive" and "power" in noisy.verdict_text()
    sd = float(np.std([4.0, -3.0, 2.5, -4.0, 1.0], ddof=1))
    assert noisy.power == pytest.approx(TTestPower().power(effect_size=1.0 / sd, nobs=5, alpha=0.05))
    assert [big.p_holm, tight.p_holm, noisy.p_holm] == pytest.approx(holm([big.p, tight.p, noisy.p]))


def test_power_and_units_needed_agree():
    assert power(0.85, 8, 1.0) >= 0.8 > power(0.85, 7, 1.0)  # the pilot's UD-POS sd: 8 units for 1 point
    # the same as statsmodels' where it is defined, and a number where statsmodels gives NaN
    for sd, n in ((0.5, 3), (0.7, 5), (1.5, 12)):
        assert power(sd, n, 1.0) == pytest.approx(TTestPower().power(effect_size=1.0 / sd, nobs=n, alpha=0.05))
    assert np.isnan(TTestPower().power(effect_size=1.0 / 0.3, nobs=8, alpha=0.05))
    assert 0.999 < power(0.3, 8, 1.0) <= 1.0
    assert units_needed(0.85, 1.0) == 8
    assert units_needed(None, 1.0) is None and power(None, 5, 1.0) is None and power(1.0, 1, 1.0) is None
    assert units_needed(2.0, 1.0) > units_needed(1.0, 1.0)


@pytest.mark.parametrize("n_units", [3, 5, 10])
def test_t_intervals_keep_their_coverage_on_the_engines_variance_structure(n_units):
    """Simulated studies: phase-2 (encoder) variance, phase-3 seeds nested in each encoder, fixed
    language effects and language-by-run noise, a true difference of 1.5 points; the engine's own
    path (runs averaged into units by `unit_scores`, then `compare`) must cover the truth 93-97% of the
    time, and the interval must exclude 0 exactly when p < 0.05."""
    rng = np.random.default_rng(n_units)
    langs = ["sw", "ur", "hi", "th", "ar"]
    lang_effect = dict(zip(langs, rng.normal(0, 5, len(langs))))
    truth, sims, covered = 1.5, 1500, 0
    for sim in range(sims):
        scores = {}
        for cond, shift in (("a", truth), ("b", 0.0)):
            for unit in range(n_units):
                encoder = rng.normal(0, 2.0)  # phase-2 variance
                for rep in range(2):  # nested phase-3 seeds
                    run = rng.normal(0, 1.0)
                    scores[(cond, unit * 1000 + rep, "xnli")] = {
                        lang: 60 + shift + lang_effect[lang] + encoder + run + rng.normal(0, 0.5) for lang in langs}
        units = unit_scores(scores, {(c, s): s // 1000 for (c, s, _t) in scores})
        c = compare("a", "b", "xnli", units["a"]["xnli"], units["b"]["xnli"])
        covered += c.ci[0] <= truth <= c.ci[1]
        assert (c.ci[0] > 0 or c.ci[1] < 0) == (c.p < 0.05), sim
    assert 0.93 <= covered / sims <= 0.97


def test_stars_and_spearman():
    assert [stars(p) for p in (None, 0.2, 0.04, 0.009, 0.0001)] == ["", "", "*", "**", "***"]
    rho, p = spearman([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0])
    assert rho == pytest.approx(0.6) and p == pytest.approx(_exact_p([2, 1, 4, 3]))
    # four conditions in perfect inverse order: 2 of the 24 orderings are as extreme (the t
    # approximation, which the report used to print, says p = 0)
    rho, p = spearman([1.0, 2.0, 3.0, 4.0], [0.4, 0.3, 0.2, 0.1])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 24) and sps.spearmanr([1, 2, 3, 4], [4, 3, 2, 1]).pvalue < 1e-6
    big = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.5, 3.5]  # past 8 points: the t approximation
    assert spearman(list(range(10)), big)[1] == pytest.approx(sps.spearmanr(range(10), big).pvalue)
    assert spearman([1.0, 2.0], [1.0, 2.0]) is None
    assert spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None


def _exact_p(ranks: list[int]) -> float:
    """Two-sided exact p of Spearman's rho for ranks against 1..n, by enumerating every ordering."""
    import itertools

    n = len(ranks)

    def rho(r):
        return 1 - 6 * sum((i + 1 - x) ** 2 for i, x in enumerate(r)) / (n * (n * n - 1))

    seen = abs(rho(ranks))
    perms = list(itertools.permutations(range(1, n + 1)))
    return sum(abs(rho(q)) >= seen - 1e-12 for q in perms) / len(perms)


def test_declared_verdicts_carry_their_power():
    a = {u: {"all": 10.0 + 0.3 * (u % 2)} for u in range(1, 6)}
    b = {u: {"all": 1.0} for u in range(1, 6)}
    c = compare("a", "b", "x", a, b)
    decide([c])
    assert c.verdict == "different" and "power" not in c.verdict_text()
    assert c.verdict_text(with_power=True).endswith(f"5 units, power {c.power:.0%} for ±1)")
    assert c.power == pytest.approx(power(float(np.std([a[u]["all"] - 1.0 for u in a], ddof=1)), 5, 1.0))
