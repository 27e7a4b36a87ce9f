"""Proxy fidelity: how well a short training run ranks models as a longer one would.

Design-space studies train every model briefly (RegNet: 10 epochs; NDS likewise) and trust that
short training orders models, and spaces, as full training would. This module measures that
trust in three ways:

- within a sweep: the rank correlation (Spearman, Kendall) between each epoch's test error and
  the last epoch's, over the models that finished;
- across two sweeps of the same models (same ids: ids are spec hashes) trained at two budgets
  (epochs x training images): the rank correlation of their errors and the mean error at each;
- across spaces: whether two spaces, each trained at both budgets, compare the same way (which
  is better, and whether the KS test calls the difference significant) at both budgets.

Intervals are 95% percentile bootstraps over models (resampled with replacement, seeded).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sweep import SAMPLES_FILE
from .edf import ks
from .load import Sweep, check_metric
from .spec_columns import recipe_dict

RESAMPLES = 1000
BAND = (2.5, 97.5)
MIN_MODELS = 5  # fewer models give no useful rank correlation (and no KS test)
MAX_EPOCHS = 20  # epochs compared with the last one: every one, or this many evenly spaced in longer training
MAX_KENDALL_MODELS = 2000  # the Kendall bootstrap costs resamples x models^2; above this it is left out
SIGNIFICANT = 0.05
STATISTICS = ("spearman", "kendall")


@dataclass(frozen=True)
class Budget:
    """A training budget: epochs x training images (images unknown for pycls and NDS data)."""

    epochs: int
    images: int | None = None

    def __str__(self) -> str:
        return f"{self.epochs} epochs" + (f" x {self.images:,} images" if self.images else "")


@dataclass
class Pair:
    """The same models trained at a short and a long budget: their errors, aligned by id."""

    short: Sweep
    long: Sweep
    short_budget: Budget
    long_budget: Budget
    ids: list[str]
    short_errors: np.ndarray
    long_errors: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.short.name} -> {self.long.name}"


@dataclass
class Fidelity:
    """Everything `proxy_fidelity` found: per-epoch, per-pair and per-space-pair tables, the pairs,
    and notes on what could not be measured and why."""

    epochs: object  # DataFrame: sweep, epoch, last_epoch, models, spearman(_lo, _hi), kendall(_lo, _hi)
    pairs: list[Pair]
    budgets: object  # DataFrame: short, long, short_budget, long_budget, models, correlations, mean errors
    orders: object  # DataFrame: one row per two spaces at the same two budgets
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return len(self.epochs) == 0 and not self.pairs


def proxy_fidelity(sweeps: list[Sweep], metric: str = "best_error", seed: int = 0,
                   resamples: int = RESAMPLES) -> Fidelity:
    """Measure how far short training can be trusted with these sweeps (see the module docstring)."""
    import pandas as pd

    check_metric(sweeps, metric)
    notes, tables = [], []
    for sweep in sweeps:
        table, note = per_epoch_correlations(sweep, metric, seed, resamples)
        tables.append(table)
        notes += [note] if note else []
    epochs = pd.concat(tables, ignore_index=True).infer_objects()  # an empty table's columns are objects
    pairs = budget_pairs(sweeps, metric)
    if not pairs:
        notes.append(_no_pair_note(sweeps))
    budgets = pd.DataFrame([_pair_row(p, seed, resamples) for p in pairs], columns=BUDGET_COLUMNS)
    if any(len(p.ids) > MAX_KENDALL_MODELS for p in pairs) or (epochs["models"] > MAX_KENDALL_MODELS).any():
        notes.append(f"Kendall intervals are left out for more than {MAX_KENDALL_MODELS:,} models "
                     "(their bootstrap grows with the square of the models)")
    return Fidelity(epochs, pairs, budgets, space_orders(pairs), notes)


FORMATS = {"mean_short": ".2f", "mean_long": ".2f", "median_diff_short": "+.2f", "median_diff_long": "+.2f",
           "D_short": ".3f", "D_long": ".3f", "p_short": ".3g", "p_long": ".3g"}  # for display


def readable(table):
    """The table with each correlation and its interval in one text column ('0.912 [0.850, 0.951]'),
    for printing and the report; other numbers keep their values (FORMATS says how to show them)."""
    table = table.copy()
    for name in STATISTICS:
        if name in table:
            bounds = [f"{name}_lo", f"{name}_hi"]
            table[name] = [_interval(*values) for values in zip(table[name], *(table[b] for b in bounds))]
            table = table.drop(columns=bounds)
    return table


def _interval(value: float, lo: float, hi: float) -> str:
    if not np.isfinite(value):
        return "n/a (constant errors)"
    return f"{value:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else "")


# ------------------------------------------------------------------------ correlations
def rank_correlations(x, y, seed: int = 0, resamples: int = RESAMPLES) -> dict:
    """Spearman and Kendall (tau-b) rank correlations of x and y with 95% bootstrap intervals:
    {'spearman': r, 'spearman_lo': .., 'spearman_hi': .., 'kendall': .., ...}. NaN where a ranking
    is constant (every model has the same error)."""
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    with warnings.catch_warnings():  # a constant input gives NaN, which is the answer
        warnings.simplefilter("ignore")
        point = {"spearman": stats.spearmanr(x, y).statistic, "kendall": stats.kendalltau(x, y).statistic}
    kendall = len(x) <= MAX_KENDALL_MODELS
    signs = (np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])).astype(np.float32) if kendall \
        else None
    rng = np.random.default_rng(seed)
    rho, tau = [], []
    for counts in _draw_counts(len(x), resamples, rng):
        (rx, groups_x), (ry, groups_y) = _resampled_ranks(x, counts), _resampled_ranks(y, counts)
        rho.append(_weighted_correlation(rx, ry, counts))
        if kendall:
            tau.append(_tau_b(counts, signs, groups_x, groups_y))
    result = {}
    for name, values in (("spearman", rho), ("kendall", tau)):
        values = np.concatenate(values) if values else np.array([np.nan])
        lo, hi = np.nanpercentile(values, BAND) if np.isfinite(values).any() else (np.nan, np.nan)
        result.update({name: float(point[name]), f"{name}_lo": float(lo), f"{name}_hi": float(hi)})
    return result


CHUNK = 2**22  # resampled models per chunk: bounds the memory of the bootstrap (about 32 MB a matrix)


def _draw_counts(n: int, resamples: int, rng):
    """How often each of n models is drawn in each resample of n with replacement, as chunks of
    (resamples x n) count matrices; the same draws as rng.integers(0, n, (resamples, n)) at once."""
    rows = max(1, CHUNK // n)
    for start in range(0, resamples, rows):
        k = min(rows, resamples - start)
        index = rng.integers(0, n, size=(k, n)) + n * np.arange(k)[:, None]
        yield np.bincount(index.ravel(), minlength=k * n).reshape(k, n).astype(float)


def _resampled_ranks(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the average rank of each model's copies in each resample, the copies per group of tied
    values): the ranks scipy.stats.rankdata gives the resampled values, from one sort and a
    cumulative sum instead of a sort per resample."""
    order = np.argsort(values, kind="stable")
    _, starts, inverse = np.unique(values[order], return_index=True, return_inverse=True)
    groups = np.add.reduceat(counts[:, order], starts, axis=1)
    ranks = np.empty_like(counts)
    ranks[:, order] = (np.cumsum(groups, axis=1) - (groups - 1) / 2)[:, inverse]
    return ranks, groups


def _weighted_correlation(rx: np.ndarray, ry: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson's r of the ranks of every resample (Spearman's rho), each model counted as often as drawn."""
    middle = (counts.sum(axis=1, keepdims=True) + 1) / 2  # the mean rank
    dx, dy = rx - middle, ry - middle
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts * dx * dy).sum(axis=1) / np.sqrt((counts * dx**2).sum(axis=1) * (counts * dy**2).sum(axis=1))


def _tau_b(counts: np.ndarray, signs: np.ndarray, groups_x: np.ndarray, groups_y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of every resample, as a quadratic form in how often each model was drawn.

    With c the draw counts and signs[i, j] = sign(x_i - x_j) sign(y_i - y_j), concordant minus
    discordant ordered pairs of a resample number c' signs c (copies of one model tie), and
    ordered pairs untied in x number N^2 - sum of squared tie-group sizes; so one matrix product
    serves all resamples instead of a loop.
    """
    total = counts.sum(axis=1) ** 2
    score = ((counts.astype(np.float32) @ signs) * counts).sum(axis=1)  # float32 sums of small integers: exact
    with np.errstate(invalid="ignore", divide="ignore"):
        return score / np.sqrt((total - (groups_x**2).sum(axis=1)) * (total - (groups_y**2).sum(axis=1)))


# ------------------------------------------------------------------------ within a sweep
def per_epoch_correlations(sweep: Sweep, metric: str = "best_error", seed: int = 0,
                           resamples: int = RESAMPLES):
    """(table, note): the rank correlation of each epoch's test error (up to MAX_EPOCHS of them,
    evenly spaced) with the last epoch's, over the usable models with a complete, finite curve; an
    empty table and a note saying why when the sweep cannot tell."""
    import pandas as pd

    curves, dropped = _curves(sweep, metric)
    rows = []
    note = ""
    if curves.shape[1] < 2:
        note = (f"{sweep.name}: the within-sweep check needs per-epoch errors of at least 2 epochs "
                f"({sweep.name} has {curves.shape[1]})")
    elif len(curves) < MIN_MODELS:
        note = (f"{sweep.name}: the within-sweep check needs at least {MIN_MODELS} models with per-epoch errors "
                f"({sweep.name} has {len(curves)})")
    else:
        last = curves.shape[1]
        for epoch in np.unique(np.linspace(1, last - 1, min(last - 1, MAX_EPOCHS)).round().astype(int)):
            rows.append({"sweep": sweep.name, "epoch": int(epoch), "last_epoch": last, "models": len(curves),
                         **rank_correlations(curves[:, epoch - 1], curves[:, -1], seed, resamples)})
        if dropped:
            note = f"{sweep.name}: {dropped} model(s) without a complete, finite per-epoch curve left out"
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS), note


EPOCH_COLUMNS = ["sweep", "epoch", "last_epoch", "models", *(f"{s}{e}" for s in STATISTICS for e in ("", "_lo", "_hi"))]


def _curves(sweep: Sweep, metric: str) -> tuple[np.ndarray, int]:
    """(models x epochs test errors of the usable models with the longest complete curve, how many
    usable models were left out for a shorter or non-finite curve)."""
    from .plot import per_epoch

    frame = sweep.usable(metric)
    lists = [per_epoch(v) for v in frame["test_error"]] if "test_error" in frame else []
    length = max((len(v) for v in lists), default=0)
    complete = [v for v in lists if len(v) == length and np.isfinite(v).all()]
    return np.array(complete, float).reshape(len(complete), length), len(frame) - len(complete)


# ------------------------------------------------------------------------- across budgets
def budget(sweep: Sweep) -> Budget:
    """The sweep's budget: the recipe's epochs (else the most epochs trained) x its training images."""
    frame = sweep.frame
    epochs = [recipe_dict(r).get("epochs") for r in set(frame["recipe"].dropna())] if "recipe" in frame else []
    epochs = [int(e) for e in epochs if e]
    if not epochs and "epochs" in frame and frame["epochs"].notna().any():
        epochs = [int(frame["epochs"].max())]
    images = frame["train_images"].dropna() if "train_images" in frame else []
    return Budget(max(epochs, default=0), int(images.mode().iloc[0]) if len(images) else None)


def _longer(a: Budget, b: Budget) -> int:
    """1 when a is the larger budget, -1 when b is, 0 when they are the same size (images count
    only when both sweeps record them)."""
    size_a, size_b = ((a.epochs * a.images, b.epochs * b.images) if a.images and b.images else (a.epochs, b.epochs))
    return int(np.sign(size_a - size_b))


def budget_pairs(sweeps: list[Sweep], metric: str = "best_error") -> list[Pair]:
    """Every two sweeps with at least MIN_MODELS usable models in common and different budgets,
    ordered (short, long), with the common models' errors aligned by id."""
    frames = {s.name: s.usable(metric).drop_duplicates("id").set_index("id")[metric] for s in sweeps}
    budgets = {s.name: budget(s) for s in sweeps}
    pairs = []
    for a, b in itertools.combinations(sweeps, 2):
        order = _longer(budgets[a.name], budgets[b.name])
        ids = frames[a.name].index.intersection(frames[b.name].index, sort=False)
        if order == 0 or len(ids) < MIN_MODELS:
            continue
        short, long = (b, a) if order > 0 else (a, b)
        pairs.append(Pair(short, long, budgets[short.name], budgets[long.name], list(ids),
                          frames[short.name][ids].to_numpy(float), frames[long.name][ids].to_numpy(float)))
    return pairs


BUDGET_COLUMNS = ["short", "long", "short_budget", "long_budget", "models",
                  *(f"{s}{e}" for s in STATISTICS for e in ("", "_lo", "_hi")), "mean_short", "mean_long"]


def _pair_row(pair: Pair, seed: int, resamples: int) -> dict:
    return {"short": pair.short.name, "long": pair.long.name, "short_budget": str(pair.short_budget),
            "long_budget": str(pair.long_budget), "models": len(pair.ids),
            **rank_correlations(pair.short_errors, pair.long_errors, seed, resamples),
            "mean_short": float(pair.short_errors.mean()), "mean_long": float(pair.long_errors.mean())}


def _no_pair_note(sweeps: list[Sweep]) -> str:
    """Why no budget pair was found, and the command that makes one from the first sweep."""
    base = sweeps[0]
    epochs = budget(base).epochs or 1
    samples = Path(base.source) / SAMPLES_FILE
    if base.format == "designspace" and samples.is_file():
        longer = Path(base.source).parent / f"{Path(base.source).name}_{2 * epochs}ep"
        command = " ".join(["designspace sweep --samples", str(samples), *_data_flags(base),
                            "--epochs", str(2 * epochs), "-o", str(longer)])
    else:
        command = "designspace sweep --samples DIR/samples.jsonl --epochs N -o DIR_long"
    return (f"no two sweeps share at least {MIN_MODELS} models at different budgets (epochs x training images); "
            f"to make a pair, train the same models at another budget: {command}")


def _data_flags(sweep: Sweep) -> list[str]:
    """The dataset, data options and non-default recipe of a designspace sweep (its sweep.json)."""
    from .suggest import base_value, data_and_recipe_flags

    definition = sweep.definition or {}
    dataset = definition.get("dataset") or {}
    name = dataset.get("name") or base_value(sweep, "dataset")
    return (["--dataset", str(name)] if name else []) + data_and_recipe_flags(dataset, definition.get("recipe") or {})


# ---------------------------------------------------------------------- across spaces
ORDER_COLUMNS = ["a", "b", "short_budget", "long_budget", "models_a", "models_b", "median_diff_short", "D_short",
                 "p_short", "median_diff_long", "D_long", "p_long", "order", "significance"]


def space_orders(pairs: list[Pair]):
    """For every two spaces (different space names or model sets) trained at the same two budgets:
    the median error difference (a - b) and the KS test at each budget, over each space's models
    common to both budgets, and whether the order and the significance stay the same."""
    import pandas as pd

    rows = []
    for p, q in itertools.combinations(pairs, 2):
        same_budgets = (p.short_budget, p.long_budget) == (q.short_budget, q.long_budget)
        shared_sweep = {p.short.name, p.long.name} & {q.short.name, q.long.name}
        if not same_budgets or shared_sweep or (_space(p) == _space(q) and set(p.ids) == set(q.ids)):
            continue
        a, b = (_space(p), _space(q)) if _space(p) != _space(q) else (p.label, q.label)
        short, long = (_compare(x, y) for x, y in ((p.short_errors, q.short_errors), (p.long_errors, q.long_errors)))
        rows.append([a, b, str(p.short_budget), str(p.long_budget), len(p.ids), len(q.ids), *short, *long,
                     _order(a, b, short[0], long[0]), _significance(short[2], long[2])])
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def _space(pair: Pair) -> str:
    frame = pair.short.frame
    names = sorted(frame["space"].dropna().astype(str).unique()) if "space" in frame else []
    return ", ".join(names) or pair.short.name


def _compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    d, p = ks(a, b)
    return float(np.median(a) - np.median(b)), d, p


def _order(a: str, b: str, short: float, long: float) -> str:
    better = {-1: a, 1: b}
    at_short, at_long = int(np.sign(short)), int(np.sign(long))
    if not at_short or not at_long:
        return "tie at " + ("both budgets" if at_short == at_long else "the short budget" if not at_short
                            else "the long budget")
    if at_short == at_long:
        return f"kept: {better[at_short]} better"
    return f"flipped: {better[at_short]} better short, {better[at_long]} long"


def _significance(p_short: float, p_long: float) -> str:
    short, long = p_short < SIGNIFICANT, p_long < SIGNIFICANT
    if short == long:
        return f"same: {'differ' if short else 'no evidence of a difference'} at both"
    return f"changed: p < {SIGNIFICANT} only at the {'short' if short else 'long'} budget"
