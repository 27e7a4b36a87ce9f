"""Error EDFs, the NDS complexity normalization, two-sample KS tests and random-search curves.

An error EDF is the fraction of models whose error is below e. Comparing design spaces by their
EDFs rather than by their best model is what makes the comparison robust (NDS 2019); matching
the complexity distributions first (weights that make each population uniform over a common
complexity range) removes the part of a gap that is due to one space having larger models.
Errors that are NaN (diverged or failed models) are left out everywhere here; the report counts
them.
"""

from __future__ import annotations

import warnings

import numpy as np

MIN_TEST_MODELS = 5  # per sample: below this a KS p-value says nothing


def _errors(errors, name="errors") -> np.ndarray:
    values = np.asarray(errors, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D list of errors, got shape {values.shape}")
    return values


def _weights(weights, n: int, name="weights") -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"{name}: expected one weight per error ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name}: weights must be finite and non-negative")
    return w


def _kept(errors, weights, name: str):
    """Errors without NaN and their weights (ones when none are given), normalized to sum 1."""
    e = _errors(errors, name)
    w = np.ones(len(e)) if weights is None else _weights(weights, len(e), f"{name} weights")
    keep = ~np.isnan(e)
    e, w = e[keep], w[keep]
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name}: no model with a finite error and a positive weight")
    return e, w / total


def edf(errors, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """(errors sorted ascending, cumulative fraction of models up to each).

    Unweighted, the fraction after the i-th smallest error is i/n (as pycls plots it); with
    weights (normalized to sum 1) it is the cumulative sum of the weights in error order, the
    normalized EDF of NDS. NaN errors are left out.
    """
    e, w = _kept(errors, weights, "edf")
    order = np.argsort(e, kind="stable")
    return e[order], np.cumsum(w[order])


def complexity_weights(values, bins: int, lo: float, hi: float) -> np.ndarray:
    """NDS weights that make a population's complexity uniform over (lo, hi).

    The range is cut into `bins` equal-width (linear) bins; a model in bin j, which holds m_j
    models, gets 1 / (bins * m_j), so every bin carries the same total weight. Models outside
    lo < c < hi (strictly) get weight 0. An empty bin cannot be given its share, so it is an
    error: use fewer bins or a narrower range.
    """
    c = np.asarray(values, dtype=float)
    if c.ndim != 1:
        raise ValueError(f"complexity_weights: expected a 1-D list of values, got shape {c.shape}")
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"complexity_weights: bins must be a positive integer, got {bins!r}")
    bins = int(bins)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"complexity_weights: need a finite range lo < hi, got ({lo}, {hi})")
    edges = np.linspace(lo, hi, bins + 1)
    inside = (c > lo) & (c < hi)
    index = np.searchsorted(edges, c[inside], side="right") - 1  # the bin np.histogram puts it in
    counts = np.bincount(index, minlength=bins)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        j = empty[0]
        raise ValueError(
            f"complexity_weights: bin {j + 1} of {bins} ({edges[j]:.6g} to {edges[j + 1]:.6g}) holds no model "
            f"({len(empty)} empty bin{'s' if len(empty) > 1 else ''}); use fewer bins or a narrower range"
        )
    weights = np.zeros(len(c))
    weights[inside] = 1.0 / (bins * counts[index])
    return weights


def ks(errors_a, errors_b, weights_a=None, weights_b=None) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: (D, p).

    D is the largest vertical gap between the two EDFs. Unweighted this is scipy's ks_2samp;
    with weights, D is measured between the weighted EDFs and p comes from the KS distribution
    at the effective sample sizes n_eff = (sum w)^2 / sum w^2 (scipy's asymptotic rule).
    """
    from scipy import stats

    a, wa = _kept(errors_a, weights_a, "ks sample a")
    b, wb = _kept(errors_b, weights_b, "ks sample b")
    n_a, n_b = effective_size(wa), effective_size(wb)
    for label, n in (("a", n_a), ("b", n_b)):
        if round(n, 9) < MIN_TEST_MODELS:
            raise ValueError(f"ks: sample {label} has {n:.3g} (effective) models; the test needs at least "
                             f"{MIN_TEST_MODELS} per sample")
    if weights_a is None and weights_b is None:
        with warnings.catch_warnings():  # scipy falls back to the asymptotic p-value on ties; that is fine
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ks_2samp(a, b)
        return float(result.statistic), float(result.pvalue)
    points = np.union1d(a, b)
    d = float(np.max(np.abs(_cdf_at(a, wa, points) - _cdf_at(b, wb, points))))
    n = round(n_a * n_b / (n_a + n_b))
    return d, float(np.clip(stats.kstwo.sf(d, max(n, 1)), 0.0, 1.0))


def effective_size(weights) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: n for equal weights, fewer otherwise."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2))


def _cdf_at(e: np.ndarray, w: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The weighted EDF of (e, w) evaluated at points (weight of errors <= point)."""
    sorted_e, cum = edf(e, w)
    index = np.searchsorted(sorted_e, points, side="right")
    return np.where(index > 0, cum[np.maximum(index - 1, 0)], 0.0)


def random_search(errors, weights=None, sizes=None, band=(2.5, 97.5)):
    """Expected best error of an experiment of m models drawn at random, for each size m.

    NDS estimates this by simulation (draw m models with replacement, by weight, keep the best,
    repeat). Here it is computed exactly from the EDF: the best of m draws is at least the i-th
    smallest error with probability (1 - F_{i-1})^m, which gives its mean, standard deviation and
    percentiles (`band`) with no sampling noise. Sizes default to 1, 2, 4, ... up to n.
    Returns a DataFrame with columns m, mean, std, lo, hi.
    """
    import pandas as pd

    e, cum = edf(errors, weights)
    if sizes is None:
        sizes = 2 ** np.arange(int(np.log2(len(e))) + 1)
    m = np.asarray(sizes, dtype=float)
    if m.ndim != 1 or len(m) == 0 or np.any(m < 1):
        raise ValueError(f"random_search: sizes must be a list of positive experiment sizes, got {sizes!r}")
    above = np.clip(1.0 - cum, 0.0, 1.0)  # weight of errors beyond each sorted error
    survival = above[None, :] ** m[:, None]  # P(best of m is above the i-th error)
    probability = -np.diff(np.hstack([np.ones((len(m), 1)), survival]), axis=1)
    mean = probability @ e
    std = np.sqrt(np.maximum(probability @ e**2 - mean**2, 0.0))
    reached = 1.0 - survival  # P(best of m <= i-th error)
    lo, hi = (e[np.minimum(np.argmax(reached >= q / 100 - 1e-12, axis=1), len(e) - 1)] for q in band)
    return pd.DataFrame({"m": m.astype(int), "mean": mean, "std": std, "lo": lo, "hi": hi})
