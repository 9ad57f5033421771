import math

import numpy as np
import pytest
from scipy import stats as sps

from xstilts.report.stats import (
    Spread,
    compare,
    fmt_ci,
    fmt_p,
    hierarchical_bootstrap,
    holm,
    paired_ttest,
    seed_flip_test,
    spearman,
    stars,
)


def scipy_flip_p(a, b):
    """scipy's exact paired permutation test (swaps within pairs = flips the sign of a seed's difference)."""
    res = sps.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                               n_resamples=np.inf, vectorized=False)
    return res.pvalue


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


def test_seed_flip_test_exact_by_hand():
    # differences 1, 2, 4: of the 8 sign patterns only +++ and --- reach |sum| 7
    assert seed_flip_test([1.0, 2.0, 4.0]) == pytest.approx(2 / 8)
    # differences 1, -1, 2: sums 2, 0, 4, -2, 2, -4, 0, -2 -> 6 of 8 reach |sum| >= 2
    assert seed_flip_test([1.0, -1.0, 2.0]) == pytest.approx(6 / 8)
    assert seed_flip_test([3.0, 3.0, 3.0]) == pytest.approx(2 / 8)  # equal differences: never 0
    assert seed_flip_test([0.0, 0.0, 0.0]) == 1.0
    assert seed_flip_test([]) is None


def test_seed_flip_test_matches_scipy_permutation_test():
    rng = np.random.default_rng(3)
    for n in (3, 4, 6, 9):
        a = rng.normal(70, 2, n)
        b = a - rng.normal(0.5, 1, n)
        assert seed_flip_test(a - b) == pytest.approx(scipy_flip_p(a, b)), n


def test_seed_flip_test_monte_carlo_is_never_zero_and_seeded():
    diffs = [1.0] * 20  # exact p would be 2 / 2**20
    p = seed_flip_test(diffs, exact_up_to=16, n_resamples=999)
    k = round(p * 1000) - 1
    assert p == pytest.approx((k + 1) / 1000) and k >= 0 and p >= 1 / 1000
    assert seed_flip_test(diffs, exact_up_to=16, n_resamples=999) == p  # same seed, same p
    rng = np.random.default_rng(5)
    d = rng.normal(0.4, 1, 12)
    exact = seed_flip_test(d)
    approx = seed_flip_test(d, exact_up_to=8, n_resamples=20_000)
    assert approx == pytest.approx(exact, abs=0.015) and approx != exact


def test_hierarchical_bootstrap_by_hand():
    # one seed, languages 0 and 2: a replicate is the mean of two draws, 0 / 1 / 2 with p 1/4, 1/2, 1/4
    assert hierarchical_bootstrap([[0.0, 2.0]]) == (0.0, 2.0)
    # two seeds whose languages agree (1 and 3): seed draws give 1 / 2 / 3 with p 1/4, 1/2, 1/4
    assert hierarchical_bootstrap([[1.0, 1.0, 1.0], [3.0, 3.0]]) == (1.0, 3.0)
    assert hierarchical_bootstrap([[2.5], [2.5], [2.5]]) == pytest.approx((2.5, 2.5))
    with pytest.raises(ValueError, match="at least one language"):
        hierarchical_bootstrap([[1.0], []])


def test_hierarchical_bootstrap_is_deterministic_and_brackets_the_mean():
    groups = [[0.5, 1.5, 2.0], [1.0, 3.0, 2.5], [-0.5, 1.0, 0.0], [2.0, 2.0, 1.0]]
    lo, hi = hierarchical_bootstrap(groups)
    assert (lo, hi) == hierarchical_bootstrap(groups)
    assert lo < np.mean([np.mean(g) for g in groups]) < hi
    lo90, hi90 = hierarchical_bootstrap(groups, confidence=0.90)
    assert lo <= lo90 < hi90 <= hi


def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_compare_pairs_by_seed_and_uses_shared_languages():
    base = {1: {"en": 80.0, "de": 70.0}, 2: {"en": 82.0, "de": 72.0}, 3: {"en": 90.0, "de": 90.0},
            4: {"en": 60.0, "de": 60.0}}
    cond = {1: {"en": 81.0, "de": 71.0}, 2: {"en": 84.0, "de": 74.0, "sw": 10.0}, 3: {"en": 94.0, "de": 90.0},
            9: {"en": 0.0}}
    c = compare("x", "none", "xnli", cond, base)
    assert c.seeds == (1, 2, 3) and c.tested
    assert c.a_scores == (76.0, 79.0, 92.0) and c.b_scores == (75.0, 77.0, 90.0)  # sw ignored: baseline lacks it
    assert c.gain.mean == pytest.approx(5 / 3) and c.gain.std == pytest.approx(sps.tstd([1, 2, 2]))
    assert set(c.per_language) == {"en", "de"} and c.per_language["en"].mean == pytest.approx(7 / 3)
    assert c.p_ttest == pytest.approx(sps.ttest_rel([76.0, 79.0, 92.0], [75.0, 77.0, 90.0]).pvalue)
    assert c.p_perm == pytest.approx(2 / 8)  # seed differences 1, 2, 2: only +++ and ---
    assert c.p_perm == pytest.approx(scipy_flip_p(np.array(c.a_scores), np.array(c.b_scores)))
    assert c.ci == hierarchical_bootstrap([[1.0, 1.0], [2.0, 2.0], [4.0, 0.0]])
    assert compare("x", "none", "xnli", {5: {"en": 1.0}}, base) is None


def test_fewer_than_three_seeds_make_no_claim():
    c = compare("x", "none", "xnli", {1: {"en": 81.0, "de": 73.0}, 2: {"en": 82.0, "de": 74.0}},
                {1: {"en": 80.0, "de": 70.0}, 2: {"en": 80.0, "de": 71.0}})
    assert not c.tested and c.p_ttest is None and c.p_perm is None
    assert c.gain.mean == pytest.approx(2.25) and c.ci[0] <= 2.25 <= c.ci[1]  # seeds: 2.0, 2.5
    one = compare("x", "none", "xnli", {1: {"en": 81.0, "de": 73.0}}, {1: {"en": 80.0, "de": 70.0}})
    assert one.gain.std is None and one.p_ttest is None and one.ci == (1.0, 3.0)
    assert holm([c.p_ttest, 0.01]) == [None, 0.01]  # untested comparisons stay out of the family
    assert fmt_p(c.p_ttest, len(c.seeds)) == "n/a (2 seeds)" and fmt_p(one.p_perm, 1) == "n/a (1 seed)"
    assert fmt_p(0.0123) == "0.012" and fmt_p(2e-5) == "2.0e-05"
    assert fmt_ci((-0.5, 1.25)) == "[-0.50, +1.25]"


def test_stars_and_spearman():
    assert [stars(p) for p in (None, 0.2, 0.04, 0.009, 0.0001)] == ["", "", "*", "**", "***"]
    rho, p = spearman([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0])
    expected = sps.spearmanr([1, 2, 3, 4], [2, 1, 4, 3])
    assert rho == pytest.approx(0.6) and p == pytest.approx(expected.pvalue)
    assert spearman([1.0, 2.0], [1.0, 2.0]) is None
    assert spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
