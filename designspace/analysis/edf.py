"""Error EDFs and their confidence bands, the NDS complexity normalization, two-sample KS tests
(with an interval of D and the smallest D the sizes can detect) and random-search curves.

An error EDF is the fraction of models whose error is below e. Comparing design spaces by their
EDFs rather than by their best model is what makes the comparison robust (NDS 2019); matching
the complexity distributions first (weights that make each population uniform over a common
complexity range) removes the part of a gap that is due to one space having larger models. A
finding is only as sure as its sample is large, so every EDF gets a DKW band and every KS test
an interval of D and the D these sizes could detect at all.
Errors that are NaN (diverged or failed models) are left out everywhere here; the report counts
them.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

MIN_TEST_MODELS = 5  # per sample: below this a KS p-value says nothing
SMALL_POPULATION = 30  # below this many usable models a population gets a visible warning in reports
ALPHA = 0.05  # the DKW bands are 1 - ALPHA bands; KS differences are detectable at p < ALPHA


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


class Band(NamedTuple):
    """An EDF with its DKW band: the sorted errors, the band's lower and upper edge after each
    error, its half-width eps and the (effective) number of models n it was computed at."""

    errors: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    eps: float
    n: float


def dkw_epsilon(n: float, alpha: float = ALPHA) -> float:
    """Half-width of the Dvoretzky-Kiefer-Wolfowitz band of an EDF of n models: with probability
    1 - alpha the true CDF lies within +-eps of it at every error at once (Massart's constant),
    eps = sqrt(ln(2 / alpha) / (2 n)); 0.136 at n = 100 for a 95% band."""
    if not n > 0:
        raise ValueError(f"dkw_epsilon: needs a positive number of models, got {n}")
    return float(np.sqrt(np.log(2.0 / alpha) / (2.0 * n)))


def edf_band(errors, weights=None, alpha: float = ALPHA) -> Band:
    """The EDF with its 1 - alpha DKW band, clipped to [0, 1].

    With weights the band is taken at Kish's effective size, as the weighted KS test is: an
    approximation, since DKW holds for n equally weighted independent draws.
    """
    e, w = _kept(errors, weights, "edf_band")
    x, y = edf(e, w)
    n = float(len(e)) if weights is None else effective_size(w)
    eps = dkw_epsilon(n, alpha)
    return Band(x, np.clip(y - eps, 0.0, 1.0), np.clip(y + eps, 0.0, 1.0), eps, n)


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


def ks_detectable(n_a: float, n_b: float, alpha: float = ALPHA) -> float:
    """The smallest KS distance D that these (effective) sizes can detect at p < alpha:
    c(alpha) sqrt((n_a + n_b) / (n_a n_b)) with c(alpha) = sqrt(ln(2 / alpha) / 2), 1.358 at 0.05,
    which is the root of the sum of the two DKW half-widths squared.

    This asymptotic value lies at or above the critical D of both tests `ks` runs (scipy's exact
    two-sample test unweighted, the kstwo rule at the effective sizes weighted), so a D that `ks`
    finds not significant is always below it.
    """
    return float(np.hypot(dkw_epsilon(n_a, alpha), dkw_epsilon(n_b, alpha)))


def ks_interval(errors_a, errors_b, weights_a=None, weights_b=None, level: float = 1 - ALPHA) -> tuple[float, float]:
    """A `level` confidence interval of the distance D between the two populations' true CDFs.

    Each EDF lies within its DKW band (taken at 1 - (1 - level) / 2, at the effective size when
    weighted) of its true CDF everywhere with that probability, so with probability at least
    `level` the true distance is within eps_a + eps_b of the observed D. Distribution-free and
    never excluding D, unlike a bootstrap of D, which is biased upward for populations that
    barely differ; conservative, so a narrow interval needs many models.
    """
    if not 0 < level < 1:
        raise ValueError(f"ks_interval: level must be in (0, 1), got {level}")
    a, wa = _kept(errors_a, weights_a, "ks_interval sample a")
    b, wb = _kept(errors_b, weights_b, "ks_interval sample b")
    points = np.union1d(a, b)
    d = float(np.max(np.abs(_cdf_at(a, wa, points) - _cdf_at(b, wb, points))))
    margin = sum(dkw_epsilon(effective_size(w), (1 - level) / 2) for w in (wa, wb))
    return max(0.0, d - margin), min(1.0, d + margin)


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
