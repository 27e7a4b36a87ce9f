"""Where do the best models lie? The empirical bootstrap of DDS section 3.1 (footnote 4).

Resample a fraction (25%) of the models with replacement, keep the one with the lowest error,
repeat (pycls: 2,500 times), and report the 2.5th, 50th and 97.5th percentiles of a statistic of
the kept models: a 95% interval of good values and the likely best value.

The best of a resample is determined by the smallest error rank drawn, and the smallest of m
uniform draws from n ranks has a closed-form distribution, P(min >= k) = ((n - k) / n)^m. So each
resample needs one uniform number instead of m draws, which makes the bootstrap exact and
O(resamples) after a sort. Models with equal errors are resolved as the index draws resolve
them: the kept model is the first drawn among the tied best, which is uniform over them.
"""

from __future__ import annotations

import numpy as np

from .edf import SMALL_POPULATION

FRACTION = 0.25
RESAMPLES = 2500
PERCENTILES = (2.5, 50.0, 97.5)


def best_of_resamples(errors, fraction: float = FRACTION, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Indices (into errors) of the best model of each resample of max(1, int(fraction * n)) models."""
    e = np.asarray(errors, dtype=float)
    if e.ndim != 1 or len(e) == 0:
        raise ValueError("bootstrap: needs a non-empty 1-D list of errors")
    if np.isnan(e).any():
        raise ValueError(f"bootstrap: {int(np.isnan(e).sum())} errors are NaN; leave diverged or failed models out")
    if not 0 < fraction <= 1:
        raise ValueError(f"bootstrap: fraction must be in (0, 1], got {fraction}")
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError(f"bootstrap: resamples must be a positive integer, got {resamples!r}")
    n, m = len(e), max(1, int(len(e) * fraction))
    order = np.argsort(e, kind="stable")
    _, starts, sizes = np.unique(e[order], return_index=True, return_counts=True)
    rng = np.random.default_rng(seed)
    u, v = rng.random((2, int(resamples)))
    rank = np.minimum(np.floor(-n * np.expm1(np.log(u) / m)).astype(np.int64), n - 1)  # smallest rank drawn
    group = np.searchsorted(starts, rank, side="right") - 1  # its group of tied errors
    return order[starts[group] + np.floor(v * sizes[group]).astype(np.int64)]


def good_range(values, errors, fraction: float = FRACTION, resamples: int = RESAMPLES, seed: int = 0,
               percentiles=PERCENTILES) -> tuple[float, float, float]:
    """(low, best, high): the percentiles of `values` over the best model of each resample.

    Models whose value or error is NaN are left out (a parameter that does not apply to them).
    """
    x, e = np.asarray(values, dtype=float), np.asarray(errors, dtype=float)
    if x.shape != e.shape:
        raise ValueError(f"good_range: {len(x)} values but {len(e)} errors; give one value per model")
    keep = ~(np.isnan(x) | np.isnan(e))
    if not keep.any():
        raise ValueError("good_range: no model has both a value and an error")
    picks = best_of_resamples(e[keep], fraction, resamples, seed)
    low, best, high = np.percentile(x[keep][picks], percentiles)
    return float(low), float(best), float(high)


def informative(values, good) -> bool:
    """Whether a good range (low, best, high) of these values says where the good models lie.

    It does not when it spans the whole sampled range (the bootstrap could not narrow it down),
    nor below SMALL_POPULATION models, where the best model of a resample is one of the very few
    best and a narrow range is chance. NaN values (models the parameter does not apply to) are
    left out.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    low, _, high = good
    return len(x) >= SMALL_POPULATION and not (low <= x.min() and high >= x.max())


def good_ranges(frame, columns, metric: str = "best_error", **options):
    """good_range of every column against frame[metric], as a DataFrame (column, low, best, high,
    informative)."""
    import pandas as pd

    errors = frame[metric].to_numpy(float)
    rows = []
    for c in columns:
        values = frame[c].to_numpy(float)
        good = good_range(values, errors, **options)
        rows.append((c, *good, informative(values[~np.isnan(errors)], good)))
    return pd.DataFrame(rows, columns=["column", "low", "best", "high", "informative"])
