"""Quantized-linear fits of the models of a population (DDS section 3.3).

The paper fits RegNet's (w0, wa, wm) to the per-block widths of the best AnyNetX models and
finds that good models follow the quantized linear rule closely (small e_fit). Each fit takes
milliseconds (designspace.regnet.fit), so a report fits the best models and a seeded random
sample of the others rather than every model of a large sweep.
"""

from __future__ import annotations

import itertools

import numpy as np

from .load import load
from .spec_columns import block_widths

TOP = 20
SAMPLE = 60


def fit_models(frame, metric: str = "best_error") -> "object":
    """One row per model of `frame` (with a spec): id, error, w0, wa, wm, depth, e_fit, block
    widths observed and fitted, sorted by error."""
    import pandas as pd

    from ..regnet import fit

    rows = []
    for row in frame[frame["spec"].notna()].sort_values(metric, kind="stable").itertuples(index=False):
        spec = getattr(row, "spec")
        observed = block_widths(spec)
        result = fit(observed)
        rows.append({"id": getattr(row, "id"), "error": getattr(row, metric), "w0": result["w0"], "wa": result["wa"],
                     "wm": result["wm"], "depth": result["depth"], "e_fit": result["e_fit"],
                     "observed": observed, "fitted": result["block_widths"]})
    return pd.DataFrame(rows, columns=["id", "error", "w0", "wa", "wm", "depth", "e_fit", "observed", "fitted"])


def fit_population(frame, metric: str = "best_error", top: int = TOP, sample: int = SAMPLE, seed: int = 0):
    """Fits of the `top` best models and of `sample` others drawn at random (all others when
    sample is None or covers them); column `group` says which ("best" or "random")."""
    import pandas as pd

    ordered = frame[frame["spec"].notna()].sort_values(metric, kind="stable")
    best, rest = ordered.iloc[:top], ordered.iloc[top:]
    if sample is not None and sample < len(rest):
        rest = rest.iloc[np.sort(np.random.default_rng(seed).choice(len(rest), sample, replace=False))]
    fits = fit_models(best, metric).assign(group="best")
    others = fit_models(rest, metric).assign(group="random")
    return pd.concat([fits, others], ignore_index=True)


def fit_report(path, top: int = 10, metric: str = "best_error") -> str:
    """Printable fits of the best `top` models of a sweep (directory or any loadable file)."""
    sweep = load(path)
    usable = sweep.usable(metric)
    if usable.empty:
        raise ValueError(f"{sweep.name}: no model to fit ({sweep.excluded_text(metric) or 'the table is empty'})")
    if not usable["spec"].notna().any():
        raise ValueError(f"{sweep.name}: no model has a spec (per-block widths) to fit")
    fits = fit_models(usable.nsmallest(top, metric, keep="first"), metric)
    lines = [f"{sweep.name}: quantized-linear fits of the {len(fits)} best of {len(usable)} models by {metric}"
             + (f" ({sweep.excluded_text(metric)})" if sweep.excluded_text(metric) else "")]
    lines.append(f"{'rank':>4}  {'id':<14}{'error %':>8}{'d':>5}{'w0':>6}{'wa':>9}{'wm':>8}{'e_fit':>8}  "
                 "widths per stage")
    for rank, row in enumerate(fits.itertuples(index=False), 1):
        stages = " ".join(f"{w}x{n}" for w, n in stage_runs(row.observed))
        lines.append(f"{rank:>4}  {str(row.id):<14}{row.error:>8.2f}{row.depth:>5}{row.w0:>6}{row.wa:>9.2f}"
                     f"{row.wm:>8.3f}{row.e_fit:>8.4f}  {stages}")
    lines.append(f"mean e_fit of these models {fits['e_fit'].mean():.4f}; median w0 {fits['w0'].median():g}, "
                 f"wa {fits['wa'].median():.2f}, wm {fits['wm'].median():.3f}, depth {fits['depth'].median():g}")
    return "\n".join(lines)


def stage_runs(widths: list[int]) -> list[tuple[int, int]]:
    """[(width, blocks)] for each run of equal consecutive widths."""
    return [(w, len(list(run))) for w, run in itertools.groupby(widths)]
