"""Fit RegNet parameters (w0, wa, wm) to a list of block widths (DDS §3.3).

The paper scores how well widths follow the quantized linear rule by e_fit, the mean
|log(pred/obs)| of the best fit, but publishes no fitting code, and a grid over all three
parameters is slow and inexact. Here wa is never gridded: for fixed (w0, wm) each block's predicted
width is a step function of wa, so the best wa follows exactly from a sweep over the steps. Widths
a RegNet really generated are solved first in closed form (w0 is the first width, stage widths pin
wm to intervals, stage boundaries pin wa), which gives an exact, readable answer in a few ms.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .generate import generate, quantized_levels, quantized_widths

WM_MIN = 1.01  # smallest wm searched; nearer 1 every width is a level and wm says little
WM_MAX = 4.0  # largest wm of the general search (exact fits follow the widths)
WM_DECIMALS = 2  # general search: wm grid of 0.01, refined twice by 10x around the best
REFINE = 10  # general search: how many w0 (at their best wm) get their wm refined
SPAN = 25  # refinement: wm +- SPAN steps of 0.001, then of 0.0001 around the best
MAX_DECIMALS = 8  # finest resolution tried for readable wm / wa


def fit(block_widths, q=8) -> dict:
    """The (w0, wa, wm) whose generated widths best match block_widths (least e_fit).

    Exactly generated lists come back exact (e_fit 0) with few decimals; other lists get the
    least e_fit found over w0 (multiples of q), wm in [WM_MIN, WM_MAX] and the exact best wa.
    """
    obs = _checked(block_widths, q)
    w0, wa, wm = _fit_exact(obs, q) or _fit_general(obs, q)
    pred = generate(w0, wa, wm, len(obs), q)["block_widths"]
    return {
        "w0": int(w0),
        "wa": float(wa),
        "wm": float(wm),
        "depth": len(obs),
        "e_fit": float(np.mean(np.abs(np.log(np.divide(pred, obs))))),
        "block_widths": pred,
    }


def _checked(block_widths, q):
    """block_widths as an int64 array, or ValueError."""
    if isinstance(q, bool) or not isinstance(q, numbers.Integral) or q < 1:
        raise ValueError(f"fit: q must be a positive integer, got {q!r}")
    try:
        values = list(block_widths)
    except TypeError:
        raise ValueError(f"fit: block_widths must be a list, got {block_widths!r}") from None
    if not values:
        raise ValueError("fit: block_widths is empty")
    for w in values:
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not float(w).is_integer():
            raise ValueError(f"fit: block widths must be integers, got {w!r}")
        if w <= 0:
            raise ValueError(f"fit: block widths must be positive, got {w!r}")
    return np.array(values, dtype=np.int64)


def _roundings(x):
    """x rounded to 0, 1, ..., MAX_DECIMALS decimals (last axis)."""
    return np.stack([np.round(x, d) for d in range(MAX_DECIMALS + 1)], axis=-1)


def _inside(values, lo, hi):
    """Whether values lie strictly inside (lo, hi), clear of float noise at the ends."""
    margin = 1e-9 * np.abs(hi)
    return (values > lo + margin) & (values < hi - margin)


def _readable(lo, hi):
    """Per interval (lo, hi): the value inside with the fewest decimals, nearest the middle, and
    that count (MAX_DECIMALS + 1 if none).

    Rounding the midpoint to d decimals gives the d-decimal value nearest the middle, and it is
    inside whenever any d-decimal value is.
    """
    values = _roundings((lo + hi) / 2)
    fits = _inside(values, lo[..., None], hi[..., None])
    decimals = np.where(fits.any(axis=-1), fits.argmax(axis=-1), MAX_DECIMALS + 1)
    value = np.take_along_axis(values, np.minimum(decimals, MAX_DECIMALS)[..., None], -1)[..., 0]
    return value, decimals


# Exact fits -------------------------------------------------------------------------------


def _fit_exact(obs, q):
    """Readable (w0, wa, wm) that regenerate obs exactly, or None.

    Block 0 always has width w0, and levels and widths never decrease along the blocks, so obs
    must be a non-decreasing list of multiples of q starting at w0. Candidates are, per feasible
    wm interval, its midpoint rounded to 0, 1, 2, ... decimals; each gets the most readable wa of
    its interval, and the fewest decimals in wm and wa together win, then the most slack in wa.
    """
    w0 = int(obs[0])
    if np.any(obs % q) or np.any(np.diff(obs) < 0):
        return None
    widths, first = np.unique(obs, return_index=True)
    if len(widths) == 1:
        return w0, 0.0, 2.0
    last = np.r_[first[1:] - 1, len(obs) - 1]
    wm_lo, wm_hi = _feasible_wm(w0, widths, first, last, q)
    wm = _roundings((wm_lo + wm_hi) / 2)
    inside = _inside(wm, wm_lo[:, None], wm_hi[:, None])
    wm, wm_decimals = wm[inside], np.nonzero(inside)[1]
    wa_lo, wa_hi = _wa_bounds(w0, wm, widths, first, last, q)
    wa, wa_decimals = _readable(wa_lo, wa_hi)
    ok = (wa_lo < wa_hi) & (wa_decimals <= MAX_DECIMALS)
    ok[ok] = _regenerates(obs, w0, wa[ok], wm[ok], q)
    decimals = wm_decimals + wa_decimals
    wa, wm, wa_lo, wa_hi, decimals = (x[ok] for x in (wa, wm, wa_lo, wa_hi, decimals))
    slack = np.minimum(wa - wa_lo, wa_hi - wa) / wa
    for i in np.lexsort((-slack, decimals)):
        if generate(w0, wa[i], wm[i], len(obs), q)["block_widths"] == obs.tolist():
            return w0, float(wa[i]), float(wm[i])
    return None


def _levels(w0, wm, widths, q):
    """Per wm (rows) and stage width (columns), the levels [lo, hi] that quantize to it."""
    log_wm = np.log(wm)[:, None]
    lo = np.maximum(np.ceil(np.log((widths - q / 2) / w0) / log_wm), 0)
    hi = np.floor(np.log((widths + q / 2) / w0) / log_wm)
    return lo, hi


def _wa_bounds(w0, wm, widths, first, last, q):
    """Per wm, the open interval (lo, hi) of wa putting each block on its width (lo >= hi: none)."""
    level_lo, level_hi = _levels(w0, wm, widths, q)
    lo, hi = _bounds(w0, wm, level_lo, level_hi, first, last)
    hi[np.any(level_lo > level_hi, axis=1)] = 0.0
    return lo, hi


def _bounds(w0, wm, level_lo, level_hi, first, last):
    """wa bounds for given stage levels; both grow with wm.

    Stage i's first block f_i must reach its lowest level, wa > w0 (wm^(lo_i - 1/2) - 1) / f_i,
    and its last block l_i stay within its highest, wa < w0 (wm^(hi_i + 1/2) - 1) / l_i.
    """
    wm, ends = wm[:, None], last > 0
    lo = np.max(w0 * (wm ** (level_lo[:, 1:] - 0.5) - 1) / first[1:], axis=1)
    hi = np.min(w0 * (wm ** (level_hi[:, ends] + 0.5) - 1) / last[ends], axis=1)
    return np.maximum(lo, 0.0), hi


def _feasible_wm(w0, widths, first, last, q):
    """Intervals (lo, hi) of wm >= WM_MIN in which some wa regenerates the stage widths.

    The wm axis is cut where a stage's set of levels changes, at ((W_i -+ q/2) / w0)^(1/k). In a
    cell the bounds of _bounds have fixed exponents, and each pair (x^p - 1) / f < (x^r - 1) / n
    holds on one side of a single crossing ((x^p - 1) / (x^r - 1) is monotone in x), so the
    feasible part of a cell is an interval, found by bisection.
    """
    k = np.arange(1, int(np.log((widths[-1] + q / 2) / w0) / np.log(WM_MIN)) + 1)
    cuts = ((widths[:, None] + [-q / 2, q / 2]) / w0)[..., None] ** (1 / k)
    cuts = np.unique(np.r_[WM_MIN, cuts[cuts > WM_MIN]])
    lo, hi = cuts[:-1], cuts[1:]
    level_lo, level_hi = _levels(w0, (lo + hi) / 2, widths, q)
    # each stage has a level, and (bounds grow with wm) lower bound at lo < upper bound at hi
    cells = np.all(level_lo <= level_hi, axis=1) & (
        _bounds(w0, lo, level_lo, level_hi, first, last)[0] < _bounds(w0, hi, level_lo, level_hi, first, last)[1]
    )
    lo, hi, level_lo, level_hi = lo[cells], hi[cells], level_lo[cells], level_hi[cells]

    ends = last > 0  # pairs: lower bound of stage i (axis 1) under upper bound of stage j (axis 2)
    p, f = (level_lo[:, 1:] - 0.5)[:, :, None], first[1:, None]
    r, n = (level_hi[:, ends] + 0.5)[:, None, :], last[ends]
    shape = np.broadcast_shapes(p.shape, r.shape)
    a, b = np.broadcast_to(lo[:, None, None], shape), np.broadcast_to(hi[:, None, None], shape)
    at_lo, at_hi = _holds(a, p, f, r, n), _holds(b, p, f, r, n)
    for _ in range(40):  # 2^-40 of a cell: far finer than the 10^-MAX_DECIMALS steps tried
        mid = (a + b) / 2
        same = _holds(mid, p, f, r, n) == at_lo
        a, b = np.where(same, mid, a), np.where(same, b, mid)
    lower = np.max(np.where(at_hi & ~at_lo, b, lo[:, None, None]), axis=(1, 2))
    upper = np.min(np.where(at_lo & ~at_hi, a, hi[:, None, None]), axis=(1, 2))
    feasible = ~np.any(~at_lo & ~at_hi, axis=(1, 2)) & (lower < upper)
    return lower[feasible], upper[feasible]


def _holds(x, p, f, r, n):
    """Whether w0 (x^p - 1) / f < w0 (x^r - 1) / n, elementwise."""
    return n * (x**p - 1) < f * (x**r - 1)


def _regenerates(obs, w0, wa, wm, q):
    """Whether each (wa, wm) regenerates obs with w0 (generate's expressions, batched)."""
    _, levels = quantized_levels(float(w0), wa[:, None], wm[:, None], np.arange(len(obs)))
    return np.all(quantized_widths(float(w0), wm[:, None], levels, q) == obs, axis=1)


# General fits -----------------------------------------------------------------------------


def _fit_general(obs, q):
    """Least-e_fit (w0, wa, wm): exact wa, w0 over multiples of q, wm on a grid refined twice.

    w0 runs over multiples of q up to max(256, 2 max(obs)), skipping those whose _monotone_floor
    cannot beat the best fit of the two most promising ones.
    """
    log_obs = np.log(obs)
    w0s = q * np.arange(1, -(-max(256, 2 * obs.max()) // q) + 1)
    if len(obs) == 1:
        return int(w0s[np.argmin(np.abs(np.log(w0s) - log_obs[0]))]), 0.0, 2.0
    scale = 10**WM_DECIMALS
    wms = np.arange(round(WM_MIN * scale), round(WM_MAX * scale) + 1) / scale
    floor = _monotone_floor(log_obs, w0s) / len(obs)
    bound = _least_costs(obs, q, w0s[np.argsort(floor)[:2]], wms).min()
    w0s = w0s[floor <= bound + 1e-9]
    costs = _least_costs(obs, q, w0s, wms)
    per_w0 = np.argmin(costs, axis=1)
    least = costs[np.arange(len(w0s)), per_w0]
    top = np.argsort(least)[:REFINE]
    best = min(_refined(obs, q, least[i], w0s[i], wms[per_w0[i]], WM_DECIMALS + 1) for i in top)
    _, w0, wm = _refined(obs, q, *best, WM_DECIMALS + 2)
    steps = _steps(obs, w0, np.array([wm]))
    stretch = np.argmin(_stretch_costs(steps, obs, q, w0)[0])
    wa, _ = _readable(w0 * steps.r_lo[stretch], w0 * steps.r_hi[stretch])
    return int(w0), float(wa), float(wm)


def _monotone_floor(log_obs, w0s):
    """Per w0, the least sum of |log(p_j / obs_j)| over non-decreasing p with p_0 = w0 <= p_j.

    Every RegNet prediction is such a p, so this bounds e_fit * depth from below. It is an L1
    isotonic regression, whose optimum takes values among log w0 and the observed logs; a dynamic
    program over those values (per block: its cost plus the least cost of a lower or equal value
    before it) solves it for all w0 at once.
    """
    start = np.log(w0s)[:, None]
    values = np.hstack([start, np.tile(np.unique(log_obs), (len(w0s), 1))])
    values[values < start] = np.inf
    cost = np.where(values == start, np.abs(start - log_obs[0]), np.inf)
    for target in log_obs[1:]:
        cost = np.abs(values - target) + np.minimum.accumulate(cost, axis=1)
    return cost.min(axis=1)


def _refined(obs, q, cost, w0, wm, decimals):
    """(cost, w0, wm) after trying wm +- SPAN steps of 10^-decimals around wm (>= WM_MIN)."""
    finer = np.round(wm + np.arange(-SPAN, SPAN + 1) / 10**decimals, decimals)
    finer = finer[finer >= WM_MIN]
    finer_costs = _least_costs(obs, q, np.array([w0]), finer)[0]
    if finer_costs.min() < cost - 1e-12:
        cost, wm = finer_costs.min(), finer[np.argmin(finer_costs)]
    return cost, w0, wm


class _Steps(NamedTuple):
    """The stretches of wa between steps, for every w0 at once (in r = wa / w0), grouped by wm."""

    wm: np.ndarray  # per row of the width table: its wm and level
    level: np.ndarray
    move: np.ndarray  # per step: index of its cost change in the (table row, distinct width) table
    starts: np.ndarray  # per wm: its first stretch
    r_lo: np.ndarray  # per stretch: [r_lo, r_hi), the stretch just before each step
    r_hi: np.ndarray
    penalty: np.ndarray  # per stretch: 0, or inf if it is empty


def _steps(obs, w0_min, wms):
    """Every step of every wm: block j moves from level k to k + 1 at r = (wm^(k + 1/2) - 1) / j.

    In r the steps are the same for every w0. Levels stop so that the last block of the smallest
    w0 goes at most one level past the first level reaching max(obs).
    """
    d = len(obs)
    distinct, which = np.unique(obs, return_inverse=True)
    n_levels = np.maximum(np.ceil(np.log(obs.max() / w0_min) / np.log(wms)).astype(np.int64) + 2, 1)
    group = np.repeat(np.arange(len(wms)), n_levels)
    level = np.arange(len(group)) - np.repeat(np.cumsum(n_levels) - n_levels, n_levels)
    r = (wms[group] ** (level + 0.5) - 1)[:, None] / np.arange(1, d)
    r_cap = r[np.cumsum(n_levels) - 1, -1]  # the last block reaching the top level
    row, block = np.nonzero(r <= r_cap[group][:, None])
    r, group, row, block = r[row, block], group[row], row, block + 1
    order = np.argsort(group + r / r_cap[group] / 2)
    r, group, row, block = r[order], group[order], row[order], block[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    r_lo = np.r_[0.0, r[:-1]]
    r_lo[starts] = 0.0
    rows = n_levels + 1  # the width table has levels 0..n_levels per wm
    table_group = np.repeat(np.arange(len(wms)), rows)
    return _Steps(
        wm=wms[table_group],
        level=np.arange(len(table_group)) - np.repeat(np.cumsum(rows) - rows, rows),
        move=(row + group) * len(distinct) + which[block],
        starts=starts,
        r_lo=r_lo,
        r_hi=r,
        penalty=np.where(r - r_lo > 1e-9 * r, 0.0, np.inf),
    )


def _stretch_costs(steps, obs, q, w0):
    """For one w0, the sum over blocks of |log(pred/obs)| per stretch, as (costs, per-wm offset)."""
    log_obs = np.log(obs)
    log_widths = np.log(quantized_widths(float(w0), steps.wm, steps.level, q))
    cost = np.abs(log_widths[:, None] - np.unique(log_obs))
    moves = (cost[1:] - cost[:-1]).ravel()[steps.move]  # a wm's top row never starts a move
    before = np.cumsum(moves) - moves  # moves before each stretch, over all wm in a row
    return before + steps.penalty, np.sum(np.abs(np.log(w0) - log_obs)) - before[steps.starts]


def _least_costs(obs, q, w0s, wms):
    """e_fit minimized over wa, for every w0 (rows) and wm (columns)."""
    steps = _steps(obs, w0s.min(), wms)
    least = []
    for w0 in w0s:
        costs, offset = _stretch_costs(steps, obs, q, w0)
        least.append(np.minimum.reduceat(costs, steps.starts) + offset)
    return np.array(least) / len(obs)
