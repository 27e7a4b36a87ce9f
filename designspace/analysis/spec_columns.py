"""What analysis reads from a model's spec and recipe cells: the cells as dicts (spec_dict,
recipe_dict, spec_value), the columns one spec determines (spec_columns: depth, widths, b, g,
cardinality, SE, activation, block family, ResNet tweak, pre-activation) and per-block widths.

Every format's reader stores a ModelSpec dict per model, so these are written once, against the
spec, whatever format the population came from.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from ..recipe import Recipe
from ..spec import BOTTLENECK_BLOCKS, OPTIONAL_DEFAULTS, RESIDUAL_BLOCKS, inner_width

# the activation column's values, as the papers write them
ACTIVATION_LABELS = {"relu": "ReLU", "silu": "Swish (SiLU)", "relu6": "ReLU6"}


def spec_dict(value) -> dict | None:
    """A spec cell (JSON text or a dict) as a dict; None when absent or unreadable."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return None


def recipe_dict(value) -> dict:
    """A recipe cell as a dict: a designspace recipe with every field (absent ones at Recipe's
    defaults, so that sweeps from before a field was added compare equal), any other recipe
    (pycls's OPTIM, NDS's optim) as it is, {} when absent or unreadable."""
    d = spec_dict(value)
    if not isinstance(d, dict) or not d:
        return {}
    try:
        return asdict(Recipe.from_dict(d))
    except (ValueError, TypeError):
        return d


def spec_value(spec: dict, key: str):
    """A spec key's value; the optional keys that to_dict() leaves out are at their defaults."""
    return spec.get(key, OPTIONAL_DEFAULTS.get(key))


SPEC_COLUMNS = ("total_depth", "num_stages", "max_width", "b", "g", "cardinality", "se", "activation", "block_type",
                "block", "tweak", "preactivation")
# Bag of Tricks (He et al. 2019) Table 5, cumulative: (stride position, deep stem, shortcut) -> name
RESNET_TWEAKS = {("1x1", False, "conv"): "ResNet-A", ("3x3", False, "conv"): "ResNet-B",
                 ("3x3", True, "conv"): "ResNet-C", ("3x3", True, "avgpool_conv"): "ResNet-D"}


def spec_columns(spec: dict | None) -> dict:
    """The SPEC_COLUMNS of one spec (all NaN without one): what derive adds for every model."""
    if not spec or not spec.get("depths"):
        return dict.fromkeys(SPEC_COLUMNS, np.nan)
    bottleneck = spec["block_type"] in BOTTLENECK_BLOCKS
    b, g = spec["bottleneck_ratios"], spec["group_widths"]
    residual = spec["block_type"] in RESIDUAL_BLOCKS
    return {
        "total_depth": int(sum(spec["depths"])),
        "num_stages": len(spec["depths"]),
        "max_width": int(max(spec["widths"])),
        "b": float(max(b)) if bottleneck else np.nan,
        "g": float(max(g)) if bottleneck else np.nan,
        "cardinality": float(max(inner_width(w, r) // gw for w, r, gw in zip(spec["widths"], b, g)))
        if bottleneck else np.nan,
        "se": "SE" if spec.get("se_ratio", 0) > 0 else "no SE",
        "activation": ACTIVATION_LABELS[spec.get("activation", "relu")],
        "block_type": spec["block_type"],
        "block": block_kind(spec),
        "tweak": resnet_tweak(spec) if bottleneck and residual else np.nan,
        "preactivation": ("pre-activation" if spec_value(spec, "preactivation") else "post-activation")
        if residual else np.nan,
    }


def resnet_tweak(spec: dict) -> str:
    """'ResNet-A' .. 'ResNet-D' for Bag of Tricks' cumulative tweaks of a bottleneck ResNet; any
    other combination of stride position, stem and shortcut described plainly."""
    stride, deep, shortcut = (spec_value(spec, k) for k in ("stride_position", "deep_stem", "shortcut"))
    if (stride, deep, shortcut) in RESNET_TWEAKS:
        return RESNET_TWEAKS[stride, deep, shortcut]
    return (f"stride on {stride}, {'deep' if deep else 'single-conv'} stem, "
            f"{'avgpool + 1x1 conv' if shortcut == 'avgpool_conv' else '1x1 conv'} shortcut")


def block_kind(spec: dict) -> str:
    """The paper's block families: X block, inverted bottleneck (b < 1), depthwise (g = 1)."""
    if spec["block_type"] not in BOTTLENECK_BLOCKS:
        return spec["block_type"].replace("_", " ")
    ratios, groups = spec["bottleneck_ratios"], spec["group_widths"]
    inverted = max(ratios) <= 1 and min(ratios) < 1  # expansion (e = 1/b >= 1) in every stage
    depthwise = max(groups) == 1
    if inverted and depthwise:
        return "inverted + depthwise"
    if inverted:
        return "inverted bottleneck (b < 1)"
    if depthwise:
        return "depthwise (g = 1)"
    if min(ratios) < 1 or min(groups) == 1:
        return "mixed stages"
    return "X block (b >= 1, g > 1)"


def block_widths(spec) -> list[int]:
    """Per-block widths: each stage's width repeated depth times."""
    spec = spec_dict(spec)
    return [int(w) for w, d in zip(spec["widths"], spec["depths"]) for _ in range(int(d))]
