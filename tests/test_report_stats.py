import math

import pytest
from scipy import stats as sps

from xstilts.report.stats import (
    Spread,
    compare,
    fmt_p,
    holm,
    paired_ttest,
    sign_flip_test,
    spearman,
    stars,
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


def test_sign_flip_exact():
    # all 9 differences positive: only the all-plus and all-minus patterns are as extreme
    assert sign_flip_test([1, 1, 1, 2, 2, 2, 4, 4, 4]) == pytest.approx(2 / 2 ** 9)
    # differences +1, -1: every sign pattern has |mean| 0 or 1 → p = 1
    assert sign_flip_test([1.0, -1.0]) == pytest.approx(1.0)
    assert sign_flip_test([3.0]) is None
    assert sign_flip_test([0.0, 0.0, 0.0]) == 1.0
    # Monte Carlo above 16 differences is seeded: same call, same p
    big = [0.5 * (-1) ** i + 0.3 for i in range(30)]
    assert sign_flip_test(big) == sign_flip_test(big)


def test_holm_known_values():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_compare_pairs_by_seed_and_uses_shared_languages():
    base = {1: {"en": 80.0, "de": 70.0}, 2: {"en": 82.0, "de": 72.0}, 3: {"en": 90.0, "de": 90.0}}
    cond = {1: {"en": 81.0, "de": 71.0}, 2: {"en": 84.0, "de": 74.0, "sw": 10.0}, 9: {"en": 0.0}}
    c = compare("x", "none", "xnli", cond, base)
    assert c.seeds == (1, 2)
    assert c.a_scores == (76.0, 79.0) and c.b_scores == (75.0, 77.0)  # sw ignored: baseline lacks it
    assert c.gain.mean == pytest.approx(1.5) and c.gain.std == pytest.approx(math.sqrt(0.5))
    assert set(c.per_language) == {"en", "de"} and c.per_language["de"].mean == pytest.approx(1.5)
    assert c.p_ttest == pytest.approx(sps.ttest_rel([76.0, 79.0], [75.0, 77.0]).pvalue)
    assert c.p_flip == pytest.approx(2 / 16)  # differences 1, 1, 2, 2
    assert compare("x", "none", "xnli", {5: {"en": 1.0}}, base) is None


def test_single_seed_is_reported_as_not_available():
    c = compare("x", "none", "xnli", {1: {"en": 81.0, "de": 73.0}}, {1: {"en": 80.0, "de": 70.0}})
    assert c.p_ttest is None and c.gain.std is None
    assert c.p_primary == c.p_flip
    assert fmt_p(c.p_ttest, len(c.seeds)) == "n/a (1 seed)"
    assert fmt_p(0.0123) == "0.012" and fmt_p(2e-5) == "2.0e-05"


def test_stars_and_spearman():
    assert [stars(p) for p in (None, 0.2, 0.04, 0.009, 0.0001)] == ["", "", "*", "**", "***"]
    rho, p = spearman([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0])
    expected = sps.spearmanr([1, 2, 3, 4], [2, 1, 4, 3])
    assert rho == pytest.approx(0.6) and p == pytest.approx(expected.pvalue)
    assert spearman([1.0, 2.0], [1.0, 2.0]) is None
    assert spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
