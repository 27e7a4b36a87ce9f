"""Exact flops / params / acts of a ModelSpec, the same integers pycls reports.

`complexity` serves one spec (microseconds); `complexity_arrays` serves a batch of candidate
networks as (N, S) numpy arrays, which is how the sampler checks complexity windows without a
Python loop per candidate. Both run the one cost model in `designspace.layout`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .layout import network_cost
from .spec import ModelSpec

METRICS = ("flops", "params", "acts")
CONTEXT_KEYS = (
    "stem_type",
    "stem_width",
    "block_type",
    "se_ratio",
    "head_width",
    "num_classes",
    "in_channels",
    "resolution",
)


def complexity(spec: ModelSpec) -> dict[str, int]:
    """{"flops", "params", "acts"} of one network (flops = multiply-adds)."""
    flops, params, acts = network_cost(
        spec.stem_type,
        spec.stem_width,
        spec.block_type,
        spec.depths,
        spec.widths,
        spec.strides,
        spec.bottleneck_ratios,
        spec.group_widths,
        spec.se_ratio,
        spec.head_width,
        spec.num_classes,
        spec.in_channels,
        spec.resolution,
    )
    return {"flops": int(flops), "params": int(params), "acts": int(acts)}


def complexity_arrays(context: dict, depths, widths, strides, bottleneck_ratios, group_widths) -> dict[str, np.ndarray]:
    """Vectorized complexity of N networks with S stages each.

    Per-stage arguments are (N, S) arrays; `context` holds the other ModelSpec fields, each a
    scalar shared by all N networks or an (N,) array (stem_type and block_type: scalars).
    """
    per_stage = [np.asarray(a) for a in (depths, widths, strides, bottleneck_ratios, group_widths)]
    columns = [[a[:, i] for i in range(a.shape[1])] for a in per_stage]
    cost = network_cost(
        context["stem_type"],
        context["stem_width"],
        context["block_type"],
        *columns,
        context["se_ratio"],
        context["head_width"],
        context["num_classes"],
        context["in_channels"],
        context["resolution"],
    )
    n = per_stage[0].shape[0]
    return {m: np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy() for m, v in zip(METRICS, cost)}


def complexity_many(specs: list[ModelSpec]) -> dict[str, np.ndarray]:
    """Complexity of many specs at once, grouped by stem, block type and stage count."""
    groups = defaultdict(list)
    for i, spec in enumerate(specs):
        groups[(spec.stem_type, spec.block_type, spec.num_stages)].append(i)
    out = {m: np.zeros(len(specs), dtype=np.int64) for m in METRICS}
    for (stem_type, block_type, _), index in groups.items():
        members = [specs[i] for i in index]
        context = {k: np.array([getattr(s, k) for s in members]) for k in CONTEXT_KEYS}
        context["stem_type"], context["block_type"] = stem_type, block_type
        arrays = [
            np.array([getattr(s, name) for s in members])
            for name in ("depths", "widths", "strides", "bottleneck_ratios", "group_widths")
        ]
        result = complexity_arrays(context, *arrays)
        for m in METRICS:
            out[m][index] = result[m]
    return out
