"""Exact flops / params / acts of a ModelSpec, the same integers pycls reports.

`complexity` serves one spec (microseconds); `complexity_arrays` serves a batch of candidate
networks as (N, S) numpy arrays, which is how the sampler checks complexity windows without a
Python loop per candidate. Both count the layer trees of `designspace.blocks`, from which the
torch model is built too.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .blocks import network_layers
from .layers import Chain, cost
from .spec import NETWORK_FIELDS, OPTIONAL_DEFAULTS, STAGE_FIELDS, ModelSpec

COMPLEXITY = ("flops", "params", "acts")
# Fields that decide which layers exist: one value per batch (complexity_many groups by them).
FORM_FIELDS = (
    "stem_type",
    "block_type",
    "deep_stem",
    "stride_position",
    "shortcut",
    "preactivation",
    "batch_norm",
    "se_style",
    "expand_from",
    "padding",
    "classifier",
    "bare_stem",
)


def network_cost(net, depths, widths, strides, bottleneck_ratios, group_widths):
    """(flops, params, acts) of a whole network (scalars, or arrays over candidate networks)."""
    stem, stages, head = network_layers(net, depths, widths, strides, bottleneck_ratios, group_widths)
    return cost(Chain((stem, *stages, head)), net["resolution"])[1]


def complexity(spec: ModelSpec) -> dict[str, int]:
    """{"flops", "params", "acts"} of one network (flops = multiply-adds)."""
    flops, params, acts = network_cost(spec.network, *spec.stage_fields)
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
    return {m: np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy() for m, v in zip(COMPLEXITY, cost)}


def select(context: dict, index) -> dict:
    """The context of the networks at `index`: per-network arrays indexed, shared values kept."""
    return {k: v[index] if isinstance(v, np.ndarray) else v for k, v in context.items()}


def complexity_mixed(context: dict, depths, widths, strides, bottleneck_ratios, group_widths) -> dict[str, np.ndarray]:
    """complexity_arrays where FORM_FIELDS may also vary per network ((N,) arrays): one
    vectorized pass per distinct combination of them."""
    varying = [k for k in FORM_FIELDS if isinstance(context.get(k), np.ndarray)]
    if not varying:
        return complexity_arrays(context, depths, widths, strides, bottleneck_ratios, group_widths)
    per_stage = [np.asarray(a) for a in (depths, widths, strides, bottleneck_ratios, group_widths)]
    groups = defaultdict(list)
    for i, form in enumerate(zip(*(context[k].tolist() for k in varying))):
        groups[form].append(i)
    out = {m: np.zeros(len(per_stage[0]), dtype=np.int64) for m in COMPLEXITY}
    for form, rows in groups.items():
        rows = np.array(rows)
        sub = {**select(context, rows), **dict(zip(varying, form))}
        result = complexity_arrays(sub, *(a[rows] for a in per_stage))
        for m in COMPLEXITY:
            out[m][rows] = result[m]
    return out


def complexity_many(specs: list[ModelSpec]) -> dict[str, np.ndarray]:
    """Complexity of many specs at once, grouped by stage count."""
    by_stages = defaultdict(list)
    for i, spec in enumerate(specs):
        by_stages[spec.num_stages].append(i)
    out = {m: np.zeros(len(specs), dtype=np.int64) for m in COMPLEXITY}
    for index in by_stages.values():
        members = [specs[i] for i in index]
        context = {
            k: np.array([getattr(s, k) for s in members], dtype=object if k in FORM_FIELDS else None)
            for k in NETWORK_FIELDS
        }
        arrays = [np.array([getattr(s, name) for s in members]) for name in STAGE_FIELDS]
        result = complexity_mixed(context, *arrays)
        for m in COMPLEXITY:
            out[m][index] = result[m]
    return out
