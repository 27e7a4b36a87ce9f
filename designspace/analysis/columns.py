"""The columns of a loaded population beyond what its file holds, and the ones a report analyses.

derive adds to every reader's table the columns computed from each row (those of its spec, the
recipe's drop_path, one column per stage of a per-stage sample list) and makes the error metrics
floats, so that every later step reads one layout whatever the format; parameters and
analysed_columns pick the columns whose good ranges a report shows. number reads a value of a
published file as a float.
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..complexity import COMPLEXITY
from .spec_columns import recipe_dict, spec_columns, spec_dict

ERROR_METRICS = ("best_error", "final_error")


def derive(frame):
    """Add columns computed from each spec (and per-stage sample lists), in place; return frame.

    total_depth (blocks), num_stages, max_width, b, g and cardinality (groups of the 3x3 conv:
    inner width / g; each the largest over stages, as pycls's anynet_b / anynet_g; NaN for
    blocks without groups), se (on/off), activation, block_type, block (X block / inverted
    bottleneck / depthwise), tweak (ResNet-A..D, bottleneck ResNets), preactivation (residual
    blocks), drop_path (the recipe's stochastic-depth rate; NaN for a recipe that is not
    designspace's), and sample.NAME[i] for the i-th stage of a per-stage list parameter.
    """
    import pandas as pd

    specs = [spec_dict(s) for s in frame["spec"]] if "spec" in frame.columns else [None] * len(frame)
    derived = pd.DataFrame([spec_columns(s) for s in specs], index=frame.index)
    for column in derived.columns:
        frame[column] = derived[column]
    texts = [t if isinstance(t, str) else None for t in frame.get("recipe", [None] * len(frame))]
    drop_path = {text: float(recipe_dict(text).get("drop_path", np.nan)) for text in set(texts)}  # one per recipe
    frame["drop_path"] = [drop_path[text] for text in texts]
    for column in [c for c in frame.columns if c.startswith("sample.")]:
        lists = [_as_list(v) for v in frame[column]]
        if any(isinstance(v, list) for v in lists):
            width = max(len(v) for v in lists if isinstance(v, list))
            for i in range(width):
                frame[f"{column}[{i + 1}]"] = [_stage_value(v, i) for v in lists]
    if "status" not in frame.columns:
        frame["status"] = "ok"
    for metric in ERROR_METRICS:
        if metric in frame.columns:
            frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    return frame


def _as_list(value):
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _stage_value(value, i):
    if isinstance(value, list) and i < len(value) and isinstance(value[i], (int, float)):
        return float(value[i])
    return np.nan


def parameters(frame) -> list[str]:
    """Numeric columns worth a bootstrap: the total depth and the sampled scalars and per-stage
    values that vary (a sampled depth equal to the total depth is not repeated)."""
    columns = ["total_depth"] if _varies_numeric(frame.get("total_depth")) else []
    for c in frame.columns:
        if c.startswith("sample.") and _varies_numeric(frame[c]):
            same = c == "sample.depth" and columns and np.array_equal(frame[c].to_numpy(float),
                                                                       frame["total_depth"].to_numpy(float))
            if not same:
                columns.append(c)
    return columns


def analysed_columns(frame) -> list[str]:
    """The parameters and the complexity metrics (those present) whose good ranges a report shows."""
    present = [c for c in COMPLEXITY if c in frame and np.isfinite(frame[c].to_numpy(float)).any()]
    return parameters(frame) + present


def _varies_numeric(series) -> bool:
    if series is None or series.dtype.kind not in "iuf":
        return False
    values = series.to_numpy(float)
    values = values[np.isfinite(values)]
    return len(values) > 1 and values.min() < values.max()


def number(value) -> float:
    """A published file's value as a float; NaN when absent or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
