"""Comparing populations: checks that they can be compared, plain and complexity-normalized EDF
curves, and KS tests between every pair.

Normalization follows NDS: a common complexity range (by default from the largest of the
populations' minima to the smallest of their maxima, so that every population covers all of it),
linear bins, and weights that make each population uniform over the range.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .edf import (ALPHA, MIN_TEST_MODELS, complexity_weights, effective_size, ks, ks_detectable,
                  ks_interval)
from ..complexity import COMPLEXITY
from .load import Sweep, check_metric

MAX_AUTO_BINS = 20
MIN_PER_BIN = 5  # automatic bins: the most bins that give every population this many models per bin


@dataclass
class Curve:
    name: str
    errors: np.ndarray
    weights: np.ndarray | None = None
    complexity: np.ndarray | None = None  # the normalizing metric, when normalized


@dataclass
class Normalization:
    metric: str
    bins: int
    lo: float
    hi: float
    inside: dict  # sweep name -> models strictly inside (lo, hi)


def check_comparable(sweeps: list[Sweep]) -> list[str]:
    """ValueError when errors cannot be compared (different datasets); notes on lesser mismatches."""
    datasets = {s.name: sorted(set(s.frame["dataset"].dropna().astype(str))) for s in sweeps if "dataset" in s.frame}
    if len({d for ds in datasets.values() for d in ds}) > 1:
        raise ValueError("the sweeps were trained on different datasets (" + "; ".join(
            f"{n}: {', '.join(d)}" for n, d in datasets.items()) + "); their errors are not comparable")
    notes = []
    epochs = {s.name: int(s.frame["epochs"].max()) for s in sweeps
              if "epochs" in s.frame and s.frame["epochs"].notna().any()}
    if len(set(epochs.values())) > 1:
        notes.append("the sweeps were trained for different numbers of epochs (" + ", ".join(
            f"{n}: {e}" for n, e in epochs.items()) + "); longer training lowers errors by itself")
    return notes


def curves(sweeps: list[Sweep], metric: str = "best_error") -> list[Curve]:
    """The usable errors of each sweep (diverged and failed models left out)."""
    check_metric(sweeps, metric)
    result = []
    for s in sweeps:
        errors = s.usable(metric)[metric].to_numpy(float)
        if len(errors) == 0:
            raise ValueError(f"{s.name}: no model has a finite {metric}"
                             + (f" ({s.excluded_text(metric)})" if s.excluded_text(metric) else ""))
        result.append(Curve(s.name, errors))
    return result


def normalized_curves(sweeps: list[Sweep], metric: str = "best_error", by: str = "flops", bins: int | None = None,
                      lo: float | None = None, hi: float | None = None) -> tuple[list[Curve], Normalization]:
    """Curves weighted so that every sweep's `by` distribution is uniform over a common range."""
    if by not in COMPLEXITY:
        raise ValueError(f"cannot normalize by {by!r}; use one of {', '.join(COMPLEXITY)}")
    frames = [s.usable(metric) for s in sweeps]
    values = []
    for s, frame in zip(sweeps, frames):
        if by not in frame.columns or not np.isfinite(frame[by].to_numpy(float)).any():
            raise ValueError(f"{s.name}: no {by} column to normalize by")
        values.append(frame[by].to_numpy(float))
    lo = max(np.nanmin(v) for v in values) if lo is None else float(lo)
    hi = min(np.nanmax(v) for v in values) if hi is None else float(hi)
    if not lo < hi:
        raise ValueError(f"the {by} ranges of the sweeps do not overlap (" + ", ".join(
            f"{s.name}: {np.nanmin(v):.4g} to {np.nanmax(v):.4g}" for s, v in zip(sweeps, values))
            + "); normalization needs a common range")
    inside = {s.name: int(((v > lo) & (v < hi)).sum()) for s, v in zip(sweeps, values)}
    bins = _auto_bins(values, lo, hi, sweeps, by) if bins is None else bins
    result = []
    for s, frame, v in zip(sweeps, frames, values):
        try:
            weights = complexity_weights(v, bins, lo, hi)
        except ValueError as e:
            raise ValueError(f"{s.name}: normalizing by {by}: {str(e).removeprefix('complexity_weights: ')}") from None
        result.append(Curve(s.name, frame[metric].to_numpy(float), weights, v))
    return result, Normalization(by, bins, lo, hi, inside)


def _auto_bins(values, lo, hi, sweeps, by) -> int:
    """The most bins (up to MAX_AUTO_BINS) giving every sweep MIN_PER_BIN models in every bin."""
    for k in range(MAX_AUTO_BINS, 0, -1):
        counts = [np.histogram(v[(v > lo) & (v < hi)], bins=k, range=(lo, hi))[0] for v in values]
        if min(c.min() for c in counts) >= MIN_PER_BIN:
            return k
    few = min(zip(sweeps, values), key=lambda sv: ((sv[1] > lo) & (sv[1] < hi)).sum())
    raise ValueError(f"{few[0].name}: only {int(((few[1] > lo) & (few[1] < hi)).sum())} models have {by} strictly "
                     f"inside the common range {lo:.4g} to {hi:.4g}; normalization needs at least {MIN_PER_BIN}")


def ks_table(curve_list: list[Curve]):
    """KS test between every pair of curves (weighted when the curves are), with how sure it is.

    A DataFrame with a, b, n_a, n_b (effective sizes when weighted), D, D_low and D_high (the 95%
    interval of the true distance, edf.ks_interval), p, D_detectable (the smallest D
    these sizes can detect at p < 0.05) and the verdict; pairs too small for the test say so in
    the verdict.
    """
    import pandas as pd

    rows = []
    for a, b in itertools.combinations(curve_list, 2):
        n_a, n_b = _size(a), _size(b)
        if round(min(n_a, n_b), 9) < MIN_TEST_MODELS:
            rows.append((a.name, b.name, n_a, n_b, np.nan, np.nan, np.nan, np.nan, np.nan,
                         f"too few models: the test needs at least {MIN_TEST_MODELS} per sweep"))
            continue
        d, p = ks(a.errors, b.errors, a.weights, b.weights)
        low, high = ks_interval(a.errors, b.errors, a.weights, b.weights)
        detectable = ks_detectable(n_a, n_b)
        weighted = a.weights is not None or b.weights is not None
        rows.append((a.name, b.name, n_a, n_b, d, low, high, p, detectable,
                     _verdict(p, n_a, n_b, detectable, weighted)))
    return pd.DataFrame(rows, columns=["a", "b", "n_a", "n_b", "D", "D_low", "D_high", "p", "D_detectable", "verdict"])


def _verdict(p: float, n_a: float, n_b: float, detectable: float, weighted: bool) -> str:
    """'differ (p < 0.05)', or no evidence of a difference with the size of gap these n could see."""
    if p < ALPHA:
        return f"differ (p < {ALPHA:g})"
    sizes = f"{n_a:.3g} per side" if f"{n_a:.3g}" == f"{n_b:.3g}" else f"{n_a:.3g} and {n_b:.3g}"
    return (f"no evidence of a difference; at {'effective ' if weighted else ''}n = {sizes} only D > "
            f"{detectable:.2f} is detectable at p < {ALPHA:g}")


def _size(curve: Curve) -> float:
    return float(len(curve.errors)) if curve.weights is None else effective_size(curve.weights)
