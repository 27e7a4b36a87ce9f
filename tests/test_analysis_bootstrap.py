"""The bootstrap good range: the exact order-statistic draw against pycls's procedure."""

import numpy as np
import pandas as pd
import pytest

from designspace.analysis import best_of_resamples, good_range, good_ranges
from designspace.analysis.bootstrap import informative
from designspace.analysis.edf import SMALL_POPULATION

# errors with a tie at the best value (models 1 and 3); resamples of int(6 * 0.5) = 3 models
ERRORS = np.array([5.0, 1.0, 3.0, 1.0, 4.0, 2.0])


def exact_probabilities():
    """P(model i is kept): the best group is at least error e_k with prob ((n - C_{k-1}) / n)^m,
    and the first drawn of a tied group is uniform over it."""
    n, m = 6, 3
    beyond = lambda k: ((n - k) / n) ** m  # noqa: E731  P(no draw among the k best)
    by_error = {
        1.0: (beyond(0) - beyond(2)) / 2,
        2.0: beyond(2) - beyond(3),
        3.0: beyond(3) - beyond(4),
        4.0: beyond(4) - beyond(5),
        5.0: beyond(5),
    }
    return np.array([by_error[e] for e in ERRORS])


def pycls_procedure(errors, fraction, resamples, rng):
    """pycls's get_filters draw: indices with replacement, argmin (first occurrence) per resample."""
    m = max(1, int(len(errors) * fraction))
    samples = rng.integers(0, len(errors), size=(resamples, m))
    return samples[np.arange(resamples), np.argmin(errors[samples], axis=1)]


def test_the_kept_models_have_pycls_distribution():
    resamples = 200_000
    ours = np.bincount(best_of_resamples(ERRORS, 0.5, resamples, seed=0), minlength=6) / resamples
    theirs = np.bincount(pycls_procedure(ERRORS, 0.5, resamples, np.random.default_rng(1)), minlength=6) / resamples
    exact = exact_probabilities()
    assert exact.sum() == pytest.approx(1.0)
    tolerance = 5 * np.sqrt(exact * (1 - exact) / resamples)
    assert np.all(np.abs(ours - exact) <= tolerance)
    assert np.all(np.abs(theirs - exact) <= tolerance)


def test_good_range_percentiles_and_reproducibility():
    # the 50 best models all have value 10: a resample of 25 misses all of them with prob 2^-25
    errors = np.arange(100, dtype=float)
    values = np.r_[np.full(50, 10.0), np.full(50, 20.0)]
    assert good_range(values, errors, seed=0) == (10.0, 10.0, 10.0)
    rng = np.random.default_rng(5)
    errors, values = rng.normal(size=1000), rng.normal(size=1000)
    assert good_range(values, errors, seed=3) == good_range(values, errors, seed=3)
    picks = best_of_resamples(errors, seed=3)
    assert not np.array_equal(picks, best_of_resamples(errors, seed=4))
    assert len(picks) == 2500
    assert good_range(values, errors, seed=3) == tuple(np.percentile(values[picks], [2.5, 50, 97.5]))


def test_models_without_a_value_are_left_out():
    errors = np.array([1.0, 2.0, 3.0, 4.0])
    values = np.array([np.nan, 7.0, 8.0, 9.0])
    low, best, high = good_range(values, errors, fraction=1.0, resamples=50_000)
    assert low == 7.0 and best == 7.0 and high in (8.0, 9.0)


def test_good_ranges_table():
    frame = pd.DataFrame(
        {
            "best_error": np.arange(40.0),
            "a": np.r_[np.ones(20), np.zeros(20)],
            "b": np.r_[np.full(20, 3.0), np.zeros(20)],
        }
    )
    table = good_ranges(frame, ["a", "b"])
    assert table.to_dict("list") == {
        "column": ["a", "b"],
        "low": [1.0, 3.0],
        "best": [1.0, 3.0],
        "high": [1.0, 3.0],
        "informative": [True, True],
    }


def test_a_good_range_is_uninformative_when_it_spans_the_sample_or_the_sample_is_small():
    values = np.arange(40.0)
    assert informative(values, (3.0, 5.0, 20.0))
    assert not informative(values, (0.0, 5.0, 39.0))  # the whole sampled range
    assert not informative(values[: SMALL_POPULATION - 1], (3.0, 5.0, 20.0))  # narrow, but on too few models
    assert not informative(np.r_[values[:20], np.full(20, np.nan)], (3.0, 5.0, 10.0))  # NaN: not sampled
    # 6 models: each resample of 25% is one model drawn at random, so the range is the whole sample
    frame = pd.DataFrame({"best_error": np.arange(6.0), "depth": [4.0, 9.0, 6.0, 12.0, 5.0, 7.0]})
    row = good_ranges(frame, ["depth"]).iloc[0]
    assert (row["low"], row["high"], row["informative"]) == (4.0, 12.0, False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"errors": []}, "non-empty"),
        ({"errors": [1.0, np.nan]}, "1 errors are NaN"),
        ({"errors": [1.0], "fraction": 0}, "fraction must be in"),
        ({"errors": [1.0], "resamples": 0}, "resamples must be a positive integer"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        best_of_resamples(**kwargs)
    with pytest.raises(ValueError, match="3 values but 2 errors"):
        good_range([1, 2, 3], [1, 2])
