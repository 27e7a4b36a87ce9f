"""fit(): exact, readable parameters for generated RegNet widths; least e_fit for any other list."""

import numpy as np
import pytest
from grid_fit import grid_e_fit
from pycls_zoo import REGNETS

from designspace.regnet import fit, generate


def _log_uniform(rng, low, high, step):
    """pycls's sampler: log-uniform on [low, high], rounded up to a multiple of step."""
    return step * np.ceil(np.exp(rng.uniform(np.log(low), np.log(high))) / step)


def _draws(seed, n, wa_low, wm_low, wm_high, depths):
    rng = np.random.default_rng(seed)
    return [
        (
            int(_log_uniform(rng, 8, 256, 8)),
            float(_log_uniform(rng, wa_low, 256, 0.1)),
            float(_log_uniform(rng, wm_low, wm_high, 0.001)),
            int(rng.integers(depths[0], depths[1] + 1)),
        )
        for _ in range(n)
    ]


def _decimals(x):
    return next(d for d in range(20) if round(x, d) == x)


def _e_fit(pred, widths):
    return float(np.mean(np.abs(np.log(np.divide(pred, widths)))))


def _check_result(result, widths, q=8):
    """The returned parameters are valid and reproduce the returned widths and e_fit."""
    assert result["depth"] == len(widths) and result["w0"] % q == 0
    pred = generate(result["w0"], result["wa"], result["wm"], len(widths), q)["block_widths"]
    assert result["block_widths"] == pred
    assert result["e_fit"] == _e_fit(pred, widths)


def _fit_generated(draws):
    """(exact rate, readable rate) of fits to the widths of these (w0, wa, wm, depth)."""
    exact = readable = 0
    for w0, wa, wm, depth in draws:
        widths = generate(w0, wa, wm, depth)["block_widths"]
        result = fit(widths)
        _check_result(result, widths)
        if result["e_fit"] == 0.0:
            assert result["block_widths"] == widths
            exact += 1
            readable += _decimals(result["wm"]) + _decimals(result["wa"]) <= 4  # as the sampler's
    return exact / len(draws), readable / len(draws)


def test_pycls_sampler_regnets_are_recovered_exactly():
    exact, readable = _fit_generated(_draws(0, 1000, 8, 2, 3, (12, 28)))
    assert exact >= 0.99
    assert readable >= 0.99


def test_small_wa_low_wm_any_depth_regnets_are_recovered_exactly():
    exact, _ = _fit_generated(_draws(1, 300, 0.5, 1.5, 3, (1, 64)))
    assert exact >= 0.99


@pytest.mark.parametrize("q", [1, 4, 16, 32])
def test_other_quanta_are_recovered_exactly(q):
    rng = np.random.default_rng(q)
    for _ in range(20):
        w0 = q * int(rng.integers(1, 256 // q + 2))
        depth = int(rng.integers(1, 30))
        wa, wm = float(rng.uniform(1, 100)), float(rng.uniform(1.5, 3))
        widths = generate(w0, wa, wm, depth, q)["block_widths"]
        result = fit(widths, q)
        assert result["e_fit"] == 0.0 and result["block_widths"] == widths


@pytest.mark.parametrize("row", REGNETS, ids=[row[0] for row in REGNETS])
def test_zoo_generated_widths_are_recovered_exactly(row):
    _, depth, w0, wa, wm = row[:5]
    widths = generate(w0, wa, wm, depth)["block_widths"]
    result = fit(widths)
    assert result["e_fit"] == 0.0 and result["block_widths"] == widths


def _built_widths(row):
    stage_depths, stage_widths = row[7], row[8]
    return [w for w, n in zip(stage_widths, stage_depths) for _ in range(n)]


@pytest.mark.parametrize("row", REGNETS, ids=[row[0] for row in REGNETS])
def test_zoo_built_widths_fit_no_worse_than_their_own_parameters(row):
    """Compatibility-adjusted widths are no RegNet; the fit beats the generating parameters."""
    _, depth, w0, wa, wm = row[:5]
    widths = _built_widths(row)
    result = fit(widths)
    _check_result(result, widths)
    assert result["e_fit"] <= _e_fit(generate(w0, wa, wm, depth)["block_widths"], widths)
    assert result["e_fit"] < 0.075  # measured: at most 0.0714 (RegNetY-4.0GF)


def test_zoo_built_widths_fit_well_on_average():
    e_fits = [fit(_built_widths(row))["e_fit"] for row in REGNETS]
    assert np.mean(e_fits) < 0.02  # measured: 0.0181


@pytest.mark.parametrize(
    "widths",
    [
        [256, 256, 256, 64, 64, 64, 64, 512],  # non-monotone, AnyNet-like stages
        [13, 27, 55, 101, 250, 251],  # not multiples of 8
        [48, 104, 104, 200, 208, 440, 448, 880],  # nearly a RegNet
    ],
)
def test_general_lists_fit_at_least_as_well_as_a_grid(widths):
    result = fit(widths)
    _check_result(result, widths)
    assert result["e_fit"] <= grid_e_fit(widths) + 1e-12


def test_widths_off_the_quantum_get_their_least_e_fit():
    # 0.204754...: found by a brute-force search over w0, wm (step 0.01) and wa (step 0.1)
    assert fit([13, 27, 55, 101, 250, 251])["e_fit"] == pytest.approx(0.2047542748601, abs=1e-12)


def test_constant_lists():
    exact = fit([96] * 6)
    assert exact["e_fit"] == 0.0 and exact["wa"] == 0.0 and exact["block_widths"] == [96] * 6
    off = fit([100] * 5)
    _check_result(off, [100] * 5)
    assert len(set(off["block_widths"])) == 1
    assert off["e_fit"] == pytest.approx(np.log(104 / 100))


def test_depth_one():
    exact = fit([64])
    assert exact == {"w0": 64, "wa": 0.0, "wm": 2.0, "depth": 1, "e_fit": 0.0, "block_widths": [64]}
    single = fit([100])
    _check_result(single, [100])
    assert single["w0"] == 104 and single["e_fit"] == pytest.approx(np.log(1.04))


@pytest.mark.parametrize(
    "widths, q, message",
    [
        ([], 8, "empty"),
        ([8, 12.5], 8, "integers"),
        ([8, "16"], 8, "integers"),
        ([8, True], 8, "integers"),
        ([8, float("nan")], 8, "integers"),
        ([8, -8], 8, "positive"),
        ([0], 8, "positive"),
        (None, 8, "list"),
        (8, 8, "list"),
        ([8], 0, "q"),
        ([8], 2.5, "q"),
        ([8], True, "q"),
    ],
)
def test_bad_input(widths, q, message):
    with pytest.raises(ValueError, match=message):
        fit(widths, q)
