import itertools
import math

import numpy as np
import pytest

from designspace.distributions import make_distribution

N = 200_000


def frequencies(draws, values):
    return np.array([(draws == v).mean() for v in values])


def pycls_log_uniform(rng, low, high, q, n):
    """pycls's procedure: log f ~ U(log(low - q*), log high], then ceil to q."""
    q_star = min(q, low / 2)
    f = np.exp(rng.uniform(math.log(low - q_star), math.log(high), n))
    return np.ceil(f / q) * q


@pytest.mark.parametrize("low, high, step", [(1, 16, 1), (8, 1024, 8), (8.0, 256.0, 0.1)])
def test_log_uniform_table_is_pyclss_quantized_log_uniform(low, high, step):
    dist = make_distribution("x", {"distribution": "log_uniform", "low": low, "high": high, "step": step})
    rng = np.random.default_rng(0)
    reference = np.round(pycls_log_uniform(rng, low, high, step, N), 6)
    ours = dist.sample(rng, N)
    # compare the CDFs at every table value
    cdf_ref = np.searchsorted(np.sort(reference), np.round(dist.values, 6), side="right") / N
    assert np.abs(cdf_ref - np.cumsum(dist.probabilities)).max() < 0.006
    assert (
        np.abs(np.searchsorted(np.sort(ours), dist.values, side="right") / N - np.cumsum(dist.probabilities)).max()
        < 0.006
    )
    assert ours.min() >= low and ours.max() <= high


def test_quantized_floats_are_the_intended_decimals():
    dist = make_distribution("wa", {"distribution": "log_uniform", "low": 8.0, "high": 256.0, "step": 0.1})
    assert 36.4 in dist.values.tolist() and 8.3 in dist.values.tolist() and len(dist.values) == 2481


@pytest.mark.parametrize("low, high, step", [(1, 32, 8), (8, 128, 8)])
def test_power2_or_log_uniform_is_pyclss_sampler(low, high, step):
    dist = make_distribution("g", {"distribution": "power2_or_log_uniform", "low": low, "high": high, "step": step})
    rng = np.random.default_rng(1)
    exponents = np.floor(rng.uniform(math.log2(low), math.log2(high) + 1, N))
    values = 2.0**exponents
    large = values >= step
    values[large] = pycls_log_uniform(rng, max(low, step), high, min(high, step), int(large.sum()))
    expected = frequencies(values, dist.values)
    assert np.abs(expected - dist.probabilities).max() < 0.006
    assert abs(expected.sum() - 1) < 1e-9  # the table covers every value pycls can draw


def test_non_decreasing_sequences_follow_the_conditional_distribution():
    dist = make_distribution("d", {"values": [1, 2, 3, 5]})
    dist = type(dist)(dist.values, np.array([0.1, 0.2, 0.3, 0.4]), "skewed")
    draws = dist.sample_non_decreasing(np.random.default_rng(2), N, 3)
    assert (np.diff(draws, axis=1) >= 0).all()
    p = dict(zip(dist.values.tolist(), dist.probabilities))
    allowed = [s for s in itertools.product(p, repeat=3) if list(s) == sorted(s)]
    weights = np.array([p[a] * p[b] * p[c] for a, b, c in allowed])
    weights /= weights.sum()
    observed = np.array([np.all(draws == s, axis=1).mean() for s in allowed])
    assert np.abs(observed - weights).max() < 0.005


def test_uniform_and_fixed_values():
    assert make_distribution("d", {"distribution": "uniform", "low": 12, "high": 28}).values.tolist() == list(
        range(12, 29)
    )
    fixed = make_distribution("b", 1.0)
    assert fixed.values.tolist() == [1.0] and fixed.probabilities.tolist() == [1.0]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"distribution": "gaussian", "low": 1, "high": 2}, "not one of"),
        ({"distribution": "uniform", "low": 3, "high": 2}, "above high"),
        ({"distribution": "log_uniform", "low": 0, "high": 2}, "low > 0"),
        ({"distribution": "uniform", "low": 1, "high": 10, "step": 4}, "multiples of step"),
        ({"distribution": "uniform", "low": 1, "high": 10, "steps": 1}, "unknown key"),
        ({"values": []}, "non-empty list"),
        ({"values": [1, 1]}, "twice"),
        ("wide", "expected a number or a table"),
    ],
)
def test_bad_distributions_are_clear_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        make_distribution("width", spec)
