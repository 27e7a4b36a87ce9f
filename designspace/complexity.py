"""Exact flops / params / acts of a ModelSpec, the same integers pycls reports.

`complexity` serves one spec (microseconds); `complexity_arrays` serves a batch of candidate
networks as (N, S) numpy arrays, which is how the sampler checks complexity windows without a
Python loop per candidate. Both run the one cost model in `designspace.layout`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .layout import network_cost
from .spec import NETWORK_FIELDS, OPTIONAL_DEFAULTS, STAGE_FIELDS, ModelSpec

METRICS = ("flops", "params", "acts")
# Fields that decide which layers exist: one value per batch (complexity_many groups by them).
FORM_FIELDS = ("stem_type", "block_type", "deep_stem", "stride_position", "shortcut", "preactivation", "batch_norm")


def complexity(spec: ModelSpec) -> dict[str, int]:
    """{"flops", "params", "acts"} of one network (flops = multiply-adds)."""
    net = {name: getattr(spec, name) for name in NETWORK_FIELDS}
    per_stage = (getattr(spec, name) for name in STAGE_FIELDS)
    flops, params, acts = network_cost(net, *per_stage)
    return {"flops": int(flops), "params": int(params), "acts": int(acts)}


def complexity_arrays(context: dict, depths, widths, strides, bottleneck_ratios, group_widths) -> dict[str, np.ndarray]:
    """Vectorized complexity of N networks with S stages each.

    Per-stage arguments are (N, S) arrays; `context` holds the other ModelSpec fields, each a
    scalar shared by all N networks or an (N,) array, except the FORM_FIELDS (scalars);
    optional fields it leaves out take their defaults.
    """
    per_stage = [np.asarray(a) for a in (depths, widths, strides, bottleneck_ratios, group_widths)]
    columns = [[a[:, i] for i in range(a.shape[1])] for a in per_stage]
    cost = network_cost({**OPTIONAL_DEFAULTS, **context}, *columns)
    n = per_stage[0].shape[0]
    return {m: np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy() for m, v in zip(METRICS, cost)}


def complexity_many(specs: list[ModelSpec]) -> dict[str, np.ndarray]:
    """Complexity of many specs at once, grouped by the fields that decide the layers and by
    stage count."""
    groups = defaultdict(list)
    for i, spec in enumerate(specs):
        groups[(*(getattr(spec, f) for f in FORM_FIELDS), spec.num_stages)].append(i)
    out = {m: np.zeros(len(specs), dtype=np.int64) for m in METRICS}
    for key, index in groups.items():
        members = [specs[i] for i in index]
        context = {k: np.array([getattr(s, k) for s in members]) for k in NETWORK_FIELDS if k not in FORM_FIELDS}
        context.update(zip(FORM_FIELDS, key))
        arrays = [np.array([getattr(s, name) for s in members]) for name in STAGE_FIELDS]
        result = complexity_arrays(context, *arrays)
        for m in METRICS:
            out[m][index] = result[m]
    return out
