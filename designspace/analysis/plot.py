"""Figures of the analysis, drawn with matplotlib's object API (no pyplot, no global state).

Every function returns a matplotlib Figure; `save` writes PNG or SVG by extension and
`data_uri` embeds a PNG in HTML. matplotlib is imported inside the functions so that importing
designspace.analysis stays fast. Legends sit outside the axes or below them so that they never
cover a curve, and every axis names its unit.
"""

from __future__ import annotations

import base64
import io
import math
import re
from pathlib import Path

import numpy as np

from .edf import ALPHA, edf, edf_band

DPI = 100
PANEL = (3.6, 2.8)  # inches per small panel
ERROR_LABELS = {"best_error": "top-1 test error, best epoch (%)", "final_error": "top-1 test error, final epoch (%)"}
PARAMETER_LABELS = {
    "depth": "depth (blocks)", "total_depth": "depth (blocks)", "w0": "w0 (channels)", "wa": "wa (channels per block)",
    "wm": "wm (width ratio)", "width": "width (channels)", "group_width": "group width g (channels)",
    "g": "group width g (channels)", "bottleneck_ratio": "bottleneck ratio b", "b": "bottleneck ratio b",
    "num_groups": "groups", "cardinality": "cardinality (groups)", "drop_path": "drop-path rate",
    "lr": "learning rate", "wd": "weight decay", "e_fit": "e_fit (mean |log ratio|)",
}


# --------------------------------------------------------------------------------- labels
def error_label(metric: str) -> str:
    return ERROR_LABELS.get(metric, f"{metric} (%)")


def axis(column: str, values=None) -> tuple[str, float]:
    """(axis label with unit, scale to multiply values by) for a column."""
    if column in ("flops", "params", "acts"):
        values = np.asarray(values if values is not None else [], float)
        largest = float(np.nanmax(values)) if np.isfinite(values).any() else 1e9
        if column == "flops":
            return ("flops (GF)", 1e-9) if largest >= 2e9 else ("flops (MF)", 1e-6)
        name = "params" if column == "params" else "activations"
        return (f"{name} (k)", 1e-3) if largest < 1e5 else (f"{name} (M)", 1e-6)
    match = re.fullmatch(r"(?:sample\.)?([^\[]+)(\[\d+\])?", column)
    base, stage = match.group(1), match.group(2) or ""
    label = PARAMETER_LABELS.get(base, base)
    if stage:
        label = label.replace(" (", f"{stage} (", 1) if " (" in label else label + stage  # "width w[2] (channels)"
    return label, 1.0


def error_limits(*error_arrays) -> tuple[float, float, bool]:
    """y (or x) limits for errors: the whole range unless a few models (bad or untrained ones) sit
    far above the rest; then the axis stops at the 99th percentile. The bool says so."""
    errors = np.concatenate([np.asarray(e, float) for e in error_arrays if len(e)])
    lo, hi, top = errors.min(), errors.max(), np.percentile(errors, 99)
    clipped = hi - lo > 0 and (hi - top) > 0.5 * (top - lo)
    hi = top if clipped else hi
    pad = 0.04 * (hi - lo) or 0.5
    return lo - pad, hi + pad, bool(clipped)


def _colors(n: int) -> list:
    import matplotlib

    palette = matplotlib.colormaps["tab10"].colors
    return [palette[i % len(palette)] for i in range(n)]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _grid(n: int, columns: int = 4, panel=PANEL):
    """A figure with n panels on a grid; unused axes removed."""
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    fig = _figure(panel[0] * columns, panel[1] * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def _legend_right(ax, **kwargs):
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False, **kwargs)


def _legend_below(ax, **kwargs):
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False, fontsize=8, **kwargs)


def _log2(ax, which="x"):
    """A base-2 log axis with plain numbers as tick labels."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    getattr(ax, f"set_{which}scale")("log", base=2)
    axis_ = getattr(ax, f"{which}axis")
    axis_.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis_.set_minor_locator(NullLocator())  # unlabelled minor ticks between powers of 2 only add clutter


def _log_if_wide(ax, values, which="x"):
    """Log scale for positive values spanning more than 3 octaves (widths, flops)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) and values.min() > 0 and values.max() / values.min() >= 8:
        _log2(ax, which)


def per_epoch(value) -> np.ndarray:
    """A per-epoch list cell as floats (None, the null of a diverged epoch, becomes NaN); empty when absent."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.array([np.nan if v is None else v for v in value], dtype=float)
    return np.array([])


def summary_label(name: str, errors, weights=None) -> str:
    """'name: n=100 | min 8.12 | mean 12.40' (weighted mean, and n of weighted models, when weighted)."""
    errors = np.asarray(errors, float)
    if weights is not None:
        weights = np.asarray(weights, float)
        keep = weights > 0
        errors, mean = errors[keep], float(np.average(errors[keep], weights=weights[keep]))
    else:
        mean = float(errors.mean())
    return f"{name}: n={len(errors)} | min {errors.min():.2f} | mean {mean:.2f}"


BAND = f"{1 - ALPHA:.0%} DKW band"


def band_label(name: str, errors, weights=None) -> str:
    """summary_label and the half-width of the EDF's DKW band: 'rx: n=100 | min 8.12 | mean 12.40 | ±0.136'."""
    return f"{summary_label(name, errors, weights)} | ±{edf_band(errors, weights).eps:.3f}"


def band_caption(curves) -> str:
    """What the shaded bands of these (name, errors, weights) curves are, for a caption."""
    widths = []
    for name, errors, weights in curves:
        band = edf_band(errors, weights)
        widths.append(f"±{band.eps:.3f} at {'effective ' if weights is not None else ''}n = {band.n:.4g} ({name})")
    return (f"Shaded: {BAND}, {', '.join(widths)}; the population's true EDF lies inside its band at every error "
            f"with {1 - ALPHA:.0%} confidence.")


# ----------------------------------------------------------------------------------- EDFs
def _edf_axes(ax, curves, metric: str, ylabel: str, band: bool = False):
    """EDF steps, each with its DKW band shaded when `band`."""
    colors = _colors(len(curves))
    for (name, errors, weights), color in zip(curves, colors):
        x, y = edf(errors, weights)
        label = summary_label(name, errors, weights)
        if band:
            shaded = edf_band(errors, weights)
            ax.fill_between(np.r_[x[0], x], np.r_[0.0, shaded.lower], np.r_[min(shaded.eps, 1.0), shaded.upper],
                            step="post", color=color, alpha=0.15, lw=0)
            label = band_label(name, errors, weights)
        ax.step(np.r_[x[0], x], np.r_[0.0, y], where="post", color=color, lw=1.8, label=label)
    lo, hi, clipped = error_limits(*(e for _, e, _ in curves))
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(error_label(metric) + (" (axis ends at the 99th percentile)" if clipped else ""))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def edf_figure(curves, metric: str = "best_error"):
    """Error EDFs, one curve per (name, errors, weights or None), each with its DKW band shaded;
    legend n | min | mean | band half-width."""
    fig = _figure(10, 4.4)
    ax = fig.subplots()
    weighted = any(w is not None for _, _, w in curves)
    _edf_axes(ax, curves, metric, "cumulative weight (normalized EDF)" if weighted else "fraction of models", band=True)
    _legend_right(ax, title=f"n | min error | mean error | ±: {BAND} (shaded)")
    return fig


def normalized_figure(curves, metric: str, complexity: str, values, lo: float, hi: float, bins: int):
    """Complexity-normalized EDFs: the weighted complexity EDFs (left; matched, nearly straight
    lines) and the normalized error EDFs with their DKW bands (right, at the effective sizes).
    values[i] are curve i's complexity values."""
    fig = _figure(12.5, 4.4)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.15])
    label, scale = axis(complexity, np.concatenate(values))
    for (_, _, weights), c, color in zip(curves, values, _colors(len(curves))):
        x, y = edf(np.asarray(c, float) * scale, weights)
        left.step(np.r_[x[0], x], np.r_[0.0, y], where="post", color=color, lw=1.8)
    left.set_xlim(lo * scale, hi * scale)
    left.set_ylim(0, 1.02)
    left.set_xlabel(label)
    left.set_ylabel("cumulative weight")
    left.set_title(f"{complexity}: {bins} linear bins, {lo * scale:.4g} to {hi * scale:.4g}", fontsize=10)
    left.grid(alpha=0.3)
    _edf_axes(right, curves, metric, "cumulative weight (normalized EDF)", band=True)
    right.set_title(f"error EDF normalized by {complexity}", fontsize=10)
    _legend_right(right, title=f"n | min error | weighted mean | ±: {BAND} (shaded)")
    return fig


def random_search_figure(curves, metric: str = "best_error"):
    """Expected best error of m random models against m, with a 95% band: (name, DataFrame) pairs."""
    fig = _figure(10, 4.2)
    ax = fig.subplots()
    for (name, table), color in zip(curves, _colors(len(curves))):
        ax.plot(table["m"], table["mean"], "-o", ms=3, color=color, label=name)
        ax.fill_between(table["m"], table["lo"], table["hi"], color=color, alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("experiment size m (models drawn at random)")
    ax.set_ylabel("expected best " + error_label(metric))
    ax.grid(alpha=0.3)
    _legend_right(ax, title="mean; band: 2.5-97.5%")
    return fig


# ------------------------------------------------------------------------------- scatter
def _scatter(ax, x, errors, n_total: int):
    size = 14 if n_total <= 300 else 5 if n_total <= 3000 else 2
    ax.scatter(x, errors, s=size, alpha=0.55 if n_total <= 3000 else 0.25, color="#4c72b0", lw=0, rasterized=True)


def _good_range(ax, good, scale=1.0, label=True):
    low, best, high = (v * scale for v in good)
    ax.axvspan(low, high, color="#4c9be8", alpha=0.22, lw=0, label="95% good range" if label else None)
    ax.axvline(best, color="black", lw=1.2, label="best (median)" if label else None)


def values_figure(frame, columns, metric: str, ranges: dict, title: str):
    """Error against each column (parameters, complexity) with its bootstrap good range shaded."""
    fig, axes = _grid(len(columns), columns=4)
    errors = frame[metric].to_numpy(float)
    lo, hi, clipped = error_limits(errors)
    for i, (ax, column) in enumerate(zip(axes, columns)):
        values = frame[column].to_numpy(float)
        label, scale = axis(column, values)
        _scatter(ax, values * scale, errors, len(frame))
        if column in ranges:
            _good_range(ax, ranges[column], scale, label=i == 0)
        _log_if_wide(ax, values * scale)
        ax.set_xlabel(label)
        ax.set_ylim(lo, hi)
        ax.grid(alpha=0.3)
        if i % 4 == 0:
            ax.set_ylabel(error_label(metric))
    fig.suptitle(title + (" (error axis ends at the 99th percentile)" if clipped else ""), fontsize=11)
    if len(columns):
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False)
    return fig


def trends_figure(names: list[str], columns: list[str], stats: dict):
    """Per column, across sweeps: full range (grey), good range (blue) and best (black).

    stats[(name, column)] = (min, low, best, high, max).
    """
    fig, axes = _grid(len(columns), columns=4, panel=(3.4, 3.0))
    x = np.arange(len(names))
    for i, (ax, column) in enumerate(zip(axes, columns)):
        rows = np.array([stats.get((n, column), (np.nan,) * 5) for n in names], float)
        label, scale = axis(column, rows.ravel())
        rows = rows * scale
        ax.vlines(x, rows[:, 0], rows[:, 4], color="#bbbbbb", lw=8, label="full range" if i == 0 else None)
        ax.vlines(x, rows[:, 1], rows[:, 3], color="#4c9be8", lw=8, label="95% good range" if i == 0 else None)
        ax.plot(x, rows[:, 2], "_", color="black", ms=16, mew=2, label="best (median)" if i == 0 else None)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(names) - 0.4)
        _log_if_wide(ax, rows[:, [0, 4]].ravel(), "y")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    if len(columns):
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, frameon=False)
    return fig


# --------------------------------------------------------------------------- best models
def curves_figure(best, worst, metric: str, title: str):
    """Test error and training loss per epoch of the best and worst models (frames of rows)."""
    import matplotlib

    fig = _figure(12.5, 4.2)
    test_ax, loss_ax = fig.subplots(1, 2)
    shades = {"best": matplotlib.colormaps["Blues"], "worst": matplotlib.colormaps["Reds"]}
    for kind, rows, style in (("best", best, "-"), ("worst", worst, "--")):
        for k, row in enumerate(rows.itertuples(index=False)):
            color = shades[kind](0.9 - 0.5 * k / max(len(rows) - 1, 1))
            label = f"{kind} #{k + 1}: {getattr(row, metric):.2f}% ({row.id})"
            for ax, column in ((test_ax, "test_error"), (loss_ax, "train_loss")):
                values = per_epoch(getattr(row, column))
                if len(values):
                    ax.plot(np.arange(1, len(values) + 1), values, style, color=color, lw=1.5,
                            label=label if ax is loss_ax else None)
    test_ax.set_ylabel("top-1 test error (%)")
    loss_ax.set_ylabel("training loss")
    for ax in (test_ax, loss_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    _legend_right(loss_ax, fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig


def widths_figure(fits, title: str, columns: int = 3):
    """Per-block widths of the best models (dots), their fitted quantized-linear widths (dashed)
    and the continuous line u_j = w0 + wa * j (dotted); one panel per model."""
    fig, axes = _grid(len(fits), columns=columns, panel=(3.8, 3.0))
    for k, (ax, row) in enumerate(zip(axes, fits.itertuples(index=False))):
        j = np.arange(len(row.observed))
        ax.plot(j, row.observed, "o", ms=4, color="#1f4e79", label="model's block widths" if k == 0 else None)
        ax.step(j, row.fitted, "--", where="mid", color="#d62728", lw=1.4,
                label="fitted quantized linear" if k == 0 else None)
        ax.plot(j, row.w0 + row.wa * j, ":", color="#555555", lw=1.2, label="w0 + wa * j" if k == 0 else None)
        _log2(ax, "y")
        ax.set_title(f"#{k + 1}  {row.error:.2f}%  e_fit {row.e_fit:.3f}", fontsize=9)
        ax.text(0.03, 0.97, f"d={row.depth} w0={row.w0}\nwa={row.wa:.1f} wm={row.wm:.2f}", transform=ax.transAxes,
                va="top", fontsize=8, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        ax.set_xlabel("block index j")
        if k % columns == 0:
            ax.set_ylabel("width (channels)")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    if len(fits):
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, frameon=False)
    return fig


def efit_figure(fits_by_sweep: list[tuple[str, object]], metric: str):
    """Error against e_fit per sweep: a random sample of models (grey) and the best ones (red)."""
    fig, axes = _grid(len(fits_by_sweep), columns=3, panel=(4.0, 3.2))
    lo, hi, _ = error_limits(*(f["error"].to_numpy(float) for _, f in fits_by_sweep))
    for i, (ax, (name, fits)) in enumerate(zip(axes, fits_by_sweep)):
        for group, color, size in (("random", "#888888", 10), ("best", "#d62728", 16)):
            part = fits[fits["group"] == group]
            ax.scatter(part["e_fit"], part["error"], s=size, color=color, alpha=0.7, lw=0,
                       label=f"{'random sample' if group == 'random' else 'best models'} (mean e_fit "
                             f"{part['e_fit'].mean():.3f})" if len(part) else None)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(PARAMETER_LABELS["e_fit"])
        ax.set_ylim(lo, hi)
        if i % 3 == 0:
            ax.set_ylabel(error_label(metric))
        ax.grid(alpha=0.3)
        _legend_below(ax)
    return fig


def ablation_figure(result, metric: str):
    """One EDF panel per comparison of an ablation, then error against the factor per sweep."""
    n = len(result.comparisons) + len(result.scatter)
    fig, axes = _grid(n, columns=3, panel=(4.0, 3.6))
    for ax, comparison in zip(axes, result.comparisons):
        _edf_axes(ax, [(g.label, g.errors, None) for g in comparison.groups], metric, "fraction of models")
        ax.set_title(comparison.label, fontsize=10)
        ax.xaxis.label.set_fontsize(9)
        _legend_below(ax)
    for ax, (name, x, errors, good) in zip(axes[len(result.comparisons):], result.scatter):
        label, _ = axis(result.factor.column, x)
        _scatter(ax, x, errors, len(x))
        _good_range(ax, good)
        _log_if_wide(ax, x)
        lo, hi, _ = error_limits(errors)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(label)
        ax.set_ylabel(error_label(metric), fontsize=9)
        ax.set_title(f"{name}: error against {label.split(' (')[0]}", fontsize=10)
        ax.grid(alpha=0.3)
        _legend_below(ax, ncols=2)
    return fig


# ----------------------------------------------------------------------------------- output
def figure_format(path) -> str:
    """'png' or 'svg' from the extension; a ValueError otherwise (checked before any plotting)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"{path}: use .png or .svg as the extension")
    return fmt


def save(fig, path) -> Path:
    """Write the figure as PNG or SVG, chosen by the extension."""
    path, fmt = Path(path), figure_format(path)
    from ..output_files import atomic_write

    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=DPI * 1.5 if fmt == "png" else DPI))


def data_uri(fig) -> str:
    """The figure as a base64 PNG data URI, for a self-contained HTML page."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def fidelity_figure(result, metric: str):
    """Proxy fidelity (a fidelity.Fidelity): left, the rank correlation of each epoch's test error
    with the last epoch's, per sweep, with 95% bands (Spearman solid, Kendall dashed); right, each
    budget pair's errors at the short against the long budget, with rho and tau in the legend."""
    epochs, pairs = result.epochs, result.pairs
    panels = [name for name, shown in (("epochs", len(epochs)), ("pairs", len(pairs))) if shown]
    fig = _figure(6.2 * len(panels), 4.4)
    axes = dict(zip(panels, np.atleast_1d(fig.subplots(1, len(panels)))))
    if "epochs" in axes:
        ax = axes["epochs"]
        for (name, table), color in zip(epochs.groupby("sweep", sort=False), _colors(epochs["sweep"].nunique())):
            for statistic, style, symbol in (("spearman", "-o", "rho"), ("kendall", "--s", "tau")):
                ax.plot(table["epoch"], table[statistic], style, ms=3, color=color, label=f"{name} {symbol}")
                ax.fill_between(table["epoch"], table[f"{statistic}_lo"], table[f"{statistic}_hi"], color=color,
                                alpha=0.12, lw=0)
        lowest = np.nanmin(epochs[["spearman_lo", "kendall_lo", "spearman", "kendall"]].to_numpy(float), initial=1.0)
        ax.set_ylim(min(lowest, 0.0) - 0.05, 1.05)  # 0 (unrelated) to 1 (the same order) always in view
        ax.set_xlabel("epoch")
        ax.set_ylabel("rank correlation with the last epoch's error")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("within sweeps (Spearman rho solid, Kendall tau dashed; bands 95%)", fontsize=10)
        ax.grid(alpha=0.3)
        _legend_below(ax, ncols=2)
    if "pairs" in axes:
        ax = axes["pairs"]
        for pair, row, color in zip(pairs, result.budgets.itertuples(index=False), _colors(len(pairs))):
            ax.scatter(pair.short_errors, pair.long_errors, s=14, alpha=0.6, color=color, lw=0,
                       label=f"{pair.label}: rho {row.spearman:.2f}, tau {row.kendall:.2f} (n={len(pair.ids)})")
        ax.set_xlabel(error_label(metric) + ", short budget")
        ax.set_ylabel(error_label(metric) + ", long budget")
        ax.set_title("the same models at two budgets", fontsize=10)
        ax.grid(alpha=0.3)
        _legend_below(ax)
    return fig
