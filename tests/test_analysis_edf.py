"""EDFs, the NDS normalization weights, KS tests and random-search curves, against exact values."""

import numpy as np
import pytest
from scipy import stats

import designspace as ds
from designspace.analysis import complexity_weights, edf, effective_size, ks, random_search
from designspace.analysis.edf import dkw_epsilon, edf_band, ks_detectable, ks_interval


def test_edf_unweighted_and_weighted():
    x, y = ds.analysis.edf([3.0, 1.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 3.0] and np.allclose(y, [1 / 3, 2 / 3, 1.0])
    x, y = edf([3.0, 1.0, 2.0], weights=[1.0, 1.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [0.25, 0.75, 1.0]


def test_edf_leaves_out_nan_errors_and_their_weights():
    x, y = edf([2.0, np.nan, 1.0], weights=[1.0, 5.0, 3.0])
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [0.75, 1.0]


@pytest.mark.parametrize(
    "errors, weights, message",
    [
        ([[1.0, 2.0]], None, "expected a 1-D list"),
        ([1.0, 2.0], [1.0], "one weight per error"),
        ([1.0, 2.0], [1.0, -1.0], "finite and non-negative"),
        ([1.0, 2.0], [0.0, 0.0], "no model with a finite error and a positive weight"),
        ([np.nan], None, "no model with a finite error"),
    ],
)
def test_edf_bad_input(errors, weights, message):
    with pytest.raises(ValueError, match=message):
        edf(errors, weights)


def test_complexity_weights_exact():
    # bins [0, 1), [1, 2), [2, 3) hold 1, 2 and 1 models; 0 and 3 are not strictly inside
    w = ds.analysis.complexity_weights([0.5, 1.5, 1.0, 2.5, 0.0, 3.0], bins=3, lo=0, hi=3)
    assert np.allclose(w, [1 / 3, 1 / 6, 1 / 6, 1 / 3, 0, 0]) and np.isclose(w.sum(), 1.0)


def test_complexity_weights_match_the_histogram_recipe():
    """The NDS notebooks' compute_norm_ws: np.histogram over (lo, hi), np.digitize, 1 / hist / k."""
    rng = np.random.default_rng(0)
    c = rng.uniform(0.0, 10.0, 5000)
    lo, hi, k = 1.0, 9.0, 40
    inside = c[(c > lo) & (c < hi)]
    hist, edges = np.histogram(inside, bins=k, range=(lo, hi))
    expected = 1.0 / hist[np.digitize(inside, edges) - 1] / k
    w = complexity_weights(c, k, lo, hi)
    # the same bin for every model (a different bin would change a weight by far more than rounding)
    assert np.allclose(w[(c > lo) & (c < hi)], expected, rtol=1e-12, atol=0)
    assert np.all(w[(c <= lo) | (c >= hi)] == 0)


def test_an_empty_bin_is_an_error_naming_it():
    with pytest.raises(
        ValueError,
        match=r"bin 2 of 3 \(1 to 2\) holds no model \(1 empty bin\); use fewer bins "
        r"or a narrower range",
    ):
        complexity_weights([0.5, 2.5], 3, 0.0, 3.0)
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        complexity_weights([0.5], 0, 0.0, 1.0)
    with pytest.raises(ValueError, match="need a finite range lo < hi"):
        complexity_weights([0.5], 2, 1.0, 1.0)


def test_unweighted_ks_is_scipys():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 200), rng.normal(0.3, 1, 150)
    expected = stats.ks_2samp(a, b)
    assert ds.analysis.ks(a, b) == (expected.statistic, expected.pvalue)


def test_weighted_ks_with_equal_weights_is_the_asymptotic_test():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 300), rng.normal(0.2, 1, 200)
    expected = stats.ks_2samp(a, b, method="asymp")
    d, p = ks(a, b, np.ones(300), np.full(200, 7.0))
    assert d == pytest.approx(expected.statistic, abs=1e-12) and p == pytest.approx(expected.pvalue, rel=1e-9)


def test_weighted_ks_exact_gap_and_effective_sizes():
    # a's weight sits on 6..10, b is uniform on 1.5..10.5: just below 6, F_a = 0 and F_b = 0.5
    a, wa = np.arange(1.0, 11.0), np.r_[np.zeros(5), np.ones(5)]
    b = np.arange(1.5, 11.0)
    d, p = ks(a, b, wa, None)
    assert d == 0.5
    assert effective_size(wa) == 5.0 and effective_size(np.ones(10)) == 10.0
    assert p == stats.kstwo.sf(0.5, round(5 * 10 / 15))


def test_ks_needs_enough_models():
    with pytest.raises(ValueError, match="sample a has 3 .*needs at least 5 per sample"):
        ks([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0])


def test_random_search_exact_small_case():
    table = random_search([4.0, 1.0, 3.0, 2.0], sizes=[1, 2])
    assert table["m"].tolist() == [1, 2]
    # m = 1: uniform over 1..4; m = 2: E[min] over the 16 ordered pairs is 30 / 16
    assert table["mean"].tolist() == pytest.approx([2.5, 1.875])
    assert table["std"].iloc[0] == pytest.approx(np.sqrt(1.25))
    assert table["lo"].tolist() == [1.0, 1.0] and table["hi"].tolist() == [4.0, 4.0]


def test_random_search_matches_simulation_with_weights():
    """NDS's procedure: draw m models with replacement by weight, keep the best, many times."""
    rng = np.random.default_rng(3)
    errors, weights = rng.gamma(3.0, 2.0, 400), rng.uniform(0.2, 1.0, 400)
    table = random_search(errors, weights)
    assert table["m"].tolist() == [2**p for p in range(9)]
    p = weights / weights.sum()
    for m, mean, std in zip(table["m"], table["mean"], table["std"]):
        best = errors[rng.choice(len(errors), size=(20000, m), p=p)].min(axis=1)
        assert mean == pytest.approx(best.mean(), abs=4 * best.std() / np.sqrt(20000) + 1e-9)
        assert std == pytest.approx(best.std(), rel=0.05, abs=1e-3)


# ------------------------------------------------------------------------- how sure they are
def test_dkw_band_width_and_clipping():
    assert dkw_epsilon(100) == pytest.approx(0.1358, abs=1e-4)
    assert dkw_epsilon(500) == pytest.approx(0.0607, abs=1e-4) and dkw_epsilon(100, alpha=0.01) > dkw_epsilon(100)
    band = edf_band(np.arange(100.0)[::-1])
    x, y = edf(np.arange(100.0))
    assert band.n == 100 and band.eps == dkw_epsilon(100) and np.array_equal(band.errors, x)
    assert np.allclose(band.lower, np.maximum(y - band.eps, 0)) and np.allclose(band.upper, np.minimum(y + band.eps, 1))
    assert band.lower[0] == 0 and band.upper[-1] == 1
    # weighted: Kish's effective size (half the weight on no model at all gives n = 50)
    weighted = edf_band(np.arange(100.0), np.r_[np.ones(50), np.zeros(50)])
    assert weighted.n == pytest.approx(50) and weighted.eps == pytest.approx(dkw_epsilon(50))
    with pytest.raises(ValueError, match="positive number of models"):
        dkw_epsilon(0)


def test_dkw_band_holds_the_true_cdf_as_often_as_it_promises():
    rng = np.random.default_rng(4)
    held = []
    for _ in range(2000):
        band = edf_band(rng.normal(size=60))
        true = stats.norm.cdf(band.errors)
        # between errors the EDF is flat, so the true CDF must lie in the band at each error and just before it
        just_before = np.r_[band.eps, band.upper[:-1]]
        held.append(np.all((band.lower <= true) & (true <= just_before)))
    assert 0.94 <= np.mean(held) <= 0.975  # DKW-Massart: at least 95% (seeded: 0.958), and not much more
    band = edf_band(np.random.default_rng(5).normal(size=200))
    assert np.all((band.lower <= stats.norm.cdf(band.errors)) & (stats.norm.cdf(band.errors) <= band.upper))


def test_detectable_d_is_the_asymptotic_critical_value_and_matches_the_exact_test():
    assert ks_detectable(16, 16) == pytest.approx(0.480, abs=1e-3)
    assert ks_detectable(100, 1000) == pytest.approx(1.358 * np.sqrt(1100 / 100_000), rel=1e-3)
    # 16 vs 16: D = 8/16 is significant, D = 7/16 (below 0.48) is not
    a = np.arange(16.0)
    assert ks(a, a + 7.5) == (pytest.approx(0.5), pytest.approx(stats.ks_2samp(a, a + 7.5).pvalue))
    assert ks(a, a + 7.5)[1] < 0.05 and ks(a, a + 6.5)[1] >= 0.05 and ks(a, a + 6.5)[0] < ks_detectable(16, 16)


def test_ks_interval_is_d_plus_minus_both_dkw_half_widths():
    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1, 80), rng.normal(0.8, 1, 60)
    d, _ = ks(a, b)
    margin = dkw_epsilon(80, 0.025) + dkw_epsilon(60, 0.025)
    assert ks_interval(a, b) == (pytest.approx(max(0.0, d - margin)), pytest.approx(min(1.0, d + margin)))
    # it never excludes D, even where a bootstrap of D would (two samples of one distribution)
    same_a, same_b = rng.normal(0, 1, 66), rng.normal(0, 1, 56)
    low, high = ks_interval(same_a, same_b)
    assert low == 0.0 and high >= ks(same_a, same_b)[0]
    # more models, a narrower interval; NaN errors are left out as everywhere
    big_a, big_b = rng.normal(0, 1, 2000), rng.normal(0.8, 1, 2000)
    big_low, big_high = ks_interval(big_a, big_b)
    assert big_high - big_low < 2 * margin / 3
    assert ks_interval(np.r_[a, np.nan], b) == ks_interval(a, b)


def test_ks_interval_of_weighted_edfs_takes_the_effective_sizes():
    rng = np.random.default_rng(7)
    same = rng.normal(0, 1, 50)
    # 50 models of weight 0 far above the rest do not count, in D or in the sizes
    a, wa = np.r_[rng.normal(0, 1, 50), np.full(50, 100.0)], np.r_[np.ones(50), np.zeros(50)]
    assert ks_interval(a, same, wa, None) == pytest.approx(ks_interval(a[:50], same))
    with pytest.raises(ValueError, match="level must be in"):
        ks_interval(a, same, level=1.5)
