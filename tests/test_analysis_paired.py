"""Paired comparisons of twin models (the same architecture in two sweeps)."""

import json

import numpy as np
import pandas as pd
import pytest

from designspace.analysis.paired import twins


def frame(widths, errors, activation="relu"):
    specs = [json.dumps({"depths": [1], "widths": [w], "activation": activation}) for w in widths]
    return pd.DataFrame({"spec": specs, "best_error": errors})


def test_twins_match_by_spec_without_the_factor_keys():
    relu = frame([8, 16, 24, 32, 40, 48], [30.0, 31, 32, 33, 34, 35])
    silu = frame([48, 40, 32, 24, 16, 8, 99], [34.0, 33, 32, 31, 30, 29, 10], activation="silu")
    paired = twins(relu, silu, "best_error", factor_keys=("activation",))
    assert paired.n == 6  # width 99 has no twin
    np.testing.assert_array_equal(paired.errors_b - paired.errors_a, [-1.0] * 6)
    assert paired.b_better == 6 and paired.a_better == 0
    assert paired.median_difference == -1.0
    assert paired.p < 0.05
    assert "silu better in 6, relu in 0" in paired.describe("relu", "silu")


def test_the_factor_key_must_be_left_out_to_match():
    relu, silu = frame([8, 16], [30.0, 31]), frame([8, 16], [29.0, 30], activation="silu")
    assert twins(relu, silu, "best_error") is None
    assert twins(relu, silu, "best_error", ("activation",)).n == 2


def test_mixed_differences_are_not_significant_and_few_pairs_get_no_test():
    rng = np.random.default_rng(0)
    base = rng.uniform(20, 40, 40)
    noise = rng.normal(0, 1, 40)
    paired = twins(frame(range(40), base), frame(range(40), base + noise), "best_error")
    assert paired.p > 0.05
    few = twins(frame([1, 2, 3], [1.0, 2, 3]), frame([1, 2, 3], [0.0, 1, 2]), "best_error")
    assert np.isnan(few.p) and "too few for a test" in few.describe("a", "b")


@pytest.mark.parametrize("column", ["spec", None])
def test_no_specs_means_no_twins(column):
    a = frame([8], [1.0])
    b = a.drop(columns="spec") if column is None else frame([16], [2.0])
    assert twins(a, b, "best_error") is None
