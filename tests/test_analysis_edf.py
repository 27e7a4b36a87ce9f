"""EDFs, the NDS normalization weights, KS tests and random-search curves, against exact values."""

import numpy as np
import pytest
from scipy import stats

import designspace as ds
from designspace.analysis import complexity_weights, edf, effective_size, ks, random_search


def test_edf_unweighted_and_weighted():
    x, y = ds.analysis.edf([3.0, 1.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 3.0] and np.allclose(y, [1 / 3, 2 / 3, 1.0])
    x, y = edf([3.0, 1.0, 2.0], weights=[1.0, 1.0, 2.0])
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [0.25, 0.75, 1.0]


def test_edf_leaves_out_nan_errors_and_their_weights():
    x, y = edf([2.0, np.nan, 1.0], weights=[1.0, 5.0, 3.0])
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [0.75, 1.0]


@pytest.mark.parametrize("errors, weights, message", [
    ([[1.0, 2.0]], None, "expected a 1-D list"),
    ([1.0, 2.0], [1.0], "one weight per error"),
    ([1.0, 2.0], [1.0, -1.0], "finite and non-negative"),
    ([1.0, 2.0], [0.0, 0.0], "no model with a finite error and a positive weight"),
    ([np.nan], None, "no model with a finite error"),
])
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
    with pytest.raises(ValueError, match=r"bin 2 of 3 \(1 to 2\) holds no model \(1 empty bin\); use fewer bins "
                                         r"or a narrower range"):
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
