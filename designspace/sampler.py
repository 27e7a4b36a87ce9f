"""Vectorized drawing of candidate networks from a Space, one chunk of draws at a time.

Each draw function samples a chunk's parameters with numpy, checks the stage structure with
ModelSpec's rules on arrays (the networks ModelSpec would refuse are dropped) and computes the
complexity of the rest as arrays, so that Space.sample needs no Python loop per draw and runs
the scalar code path only for the candidates inside its windows. The functions read the space
they are given (its parameters, constraints and context) and import nothing from space.py,
which imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .blocks import channels_after_transitions, dense_map_sizes, expand_3x3_width, stem_out_size
from .complexity import COMPLEXITY, complexity_mixed, select
from .layers import round_down, round_half_even
from .regnet.compatibility import adjust_arrays
from .regnet.generate import quantized_levels, quantized_widths
from .spec import GROUP_BLOCKS, OPTIONAL_DEFAULTS, RATIO_BLOCKS


@dataclass
class Batch:
    """Structurally valid candidates of one chunk: their complexity, and how to read one out."""

    complexity: dict  # metric -> (m,) array
    row: Callable[[int], dict]  # candidate index -> {"sample": ..., and the spec's per-stage lists}

    @property
    def size(self) -> int:
        return len(self.complexity["flops"])


def _per_stage(space, rng, name: str, size: int, num_stages: int) -> np.ndarray:
    dist = space.parameters[name]
    if name in space.shared:
        return np.repeat(dist.sample(rng, size)[:, None], num_stages, axis=1)
    if name in space.increasing:
        return dist.sample_non_decreasing(rng, size, num_stages)
    return dist.sample(rng, (size, num_stages))


def _network_context(space, drawn: dict, size: int) -> dict:
    """Each candidate's network context: the space's, with the network-level values drawn for
    it (as (size,) arrays; categorical fields as object arrays of plain str / bool)."""
    context = dict(space.context)

    def column(key):
        if not isinstance(context[key], np.ndarray):
            value = context[key]
            context[key] = np.full(size, value, dtype=object if isinstance(value, (str, bool)) else None)
        return context[key]

    for name, values in drawn.items():
        if name in space.variants:
            for label, overrides in space.variants[name].items():
                for key, value in overrides.items():
                    column(key)[values == label] = value
        elif name == "width_multiplier":
            context["stem_width"] = np.maximum(1, round_down(space.context["stem_width"] * values))
        elif name == "resolution_multiplier":
            context["resolution"] = np.maximum(1, round_half_even(space.context["resolution"] * values))
        else:
            context[name] = np.array(values.tolist(), dtype=object) if values.dtype.kind in "Ub" else values
    return context


def _network_row(drawn: dict, context: dict, i: int) -> dict:
    """One candidate's drawn network-level values and the context fields that vary."""
    return {
        "drawn": {name: _plain(values[i]) for name, values in drawn.items()},
        "network": {k: _plain(v[i]) for k, v in context.items() if isinstance(v, np.ndarray)},
    }


def draw_anynet(space, rng, size: int) -> Batch:
    """`size` draws from an anynet space: per-stage parameters (shared, increasing or fixed per the
    space) and network-level ones, kept where the stages are valid."""
    strides = np.array(space.network["strides"], dtype=np.int64)
    num_stages = len(strides)
    network_names = space.network_parameters
    draws = {
        name: _per_stage(space, rng, name, size, num_stages) for name in space.parameters if name not in network_names
    }
    drawn = {name: space.parameters[name].sample(rng, size) for name in network_names}
    context = _network_context(space, drawn, size)
    fixed = {name: np.broadcast_to(np.array(values), (size, num_stages)) for name, values in space.fixed_stages.items()}
    stage_values = {**draws, **fixed}
    depths, widths = stage_values["depth"], stage_values["width"]
    if "width_multiplier" in drawn:
        widths = np.maximum(1, round_down(widths * drawn["width_multiplier"][:, None]))
    ratios, groups, valid = _stage_shapes(space, stage_values, widths, context)
    if space.network["block_type"] in GROUP_BLOCKS and space.adjust_compatibility:
        widths, groups = adjust_arrays(widths, ratios, groups)
        ratios, groups, valid = _stage_shapes(space, stage_values, widths, context, groups)
    index = np.flatnonzero(valid)
    draws = {name: values[index] for name, values in draws.items()}
    drawn = {name: values[index] for name, values in drawn.items()}
    context = select(context, index)
    depths, widths, ratios, groups = depths[index], widths[index], ratios[index], groups[index]
    cx = complexity_mixed(context, depths, widths, np.broadcast_to(strides, widths.shape), ratios, groups)

    def row(i: int) -> dict:
        sample = {name: _plain(values[i, 0] if name in space.shared else values[i]) for name, values in draws.items()}
        network = _network_row(drawn, context, i)
        return {
            "sample": {**sample, **network["drawn"]},
            "network": network["network"],
            "depths": depths[i].tolist(),
            "widths": widths[i].tolist(),
            "bottleneck_ratios": ratios[i].tolist(),
            "group_widths": groups[i].tolist(),
        }

    return Batch(cx, row)


def _stage_shapes(space, draws: dict, widths, context: dict, groups=None):
    """(bottleneck ratios, group widths, valid) of each candidate's stages: the fields its block
    type reads, and whether ModelSpec would accept them (its rules, vectorized)."""
    block = space.network["block_type"]
    if block not in RATIO_BLOCKS:
        return np.ones(widths.shape), widths.copy(), np.all(widths >= 1, axis=1)
    ratios = draws["bottleneck_ratio"].astype(np.float64)
    inner = np.rint(widths * (1.0 / ratios)).astype(np.int64)
    ok = (inner >= 1) & (widths >= 1)
    if block == "fire_block":
        fraction = _per_network(context["expand_3x3_fraction"])
        expand_3x3 = expand_3x3_width(widths, fraction)
        return ratios, widths.copy(), np.all(ok & (inner <= widths) & (expand_3x3 >= 1) & (expand_3x3 < widths), axis=1)
    if groups is None:
        if "num_groups" in draws:
            groups = np.maximum(1, inner // draws["num_groups"])
        else:
            groups = draws["group_width"].astype(np.int64)
    ok &= inner % np.maximum(groups, 1) == 0
    if block == "res_bottleneck_linear_block" and context.get("expand_from") == "input":
        ok &= _first_expansions_ok(context, widths, ratios, groups)
    if block == "dense_block":
        ok &= widths % np.maximum(inner // np.maximum(groups, 1), 1) == 0
        ok &= _transitions_ok(context, draws["depth"], widths)
        ok &= _dense_maps_ok(context, space.network["strides"], len(widths))[:, None]
    return ratios, groups, np.all(ok, axis=1)


def _per_network(value):
    """A context value as a column that broadcasts against (N, S) stage arrays."""
    return value[:, None].astype(np.float64) if isinstance(value, np.ndarray) else value


def _transitions_ok(context: dict, depths, growth) -> np.ndarray:
    """(N, S): whether each dense transition keeps at least one channel (DenseNet compression)."""
    starts = channels_after_transitions(
        np.asarray(context["stem_width"]), depths.T, growth.T, np.asarray(context["compression"], dtype=np.float64)
    )
    return np.stack([np.broadcast_to(c >= 1, depths.shape[:1]) for c in starts], axis=1)


def _first_expansions_ok(context: dict, widths, ratios, groups) -> np.ndarray:
    """(N, S): whether each stage's first inverted residual (MobileNet-v2), which expands the
    previous stage's width, has an inner width that is a positive multiple of its group width."""
    stem = np.broadcast_to(np.asarray(context["stem_width"]).reshape(-1, 1), (len(widths), 1))
    first = np.rint(np.concatenate([stem, widths[:, :-1]], axis=1) * (1.0 / ratios)).astype(np.int64)
    return (first >= 1) & (first % np.maximum(groups, 1) == 0)


def _dense_maps_ok(context: dict, strides, n: int) -> np.ndarray:
    """(N,): whether every dense stage keeps a feature map at each candidate's resolution."""
    stem_keys = ("stem_type", "deep_stem", "padding")  # what sets the stem's output size
    columns = {
        k: np.broadcast_to(np.asarray(context.get(k, OPTIONAL_DEFAULTS.get(k))), (n,))
        for k in (*stem_keys, "resolution")
    }
    ok = np.ones(n, dtype=bool)
    for form in set(zip(*(columns[k].tolist() for k in stem_keys))):
        rows = np.logical_and.reduce([columns[k] == value for k, value in zip(stem_keys, form)])
        h = stem_out_size(*form, columns["resolution"][rows].astype(np.int64))
        ok[rows] = np.all([size >= 1 for size in dense_map_sizes(h, strides)], axis=0)
    return ok


def draw_regnet(space, rng, size: int) -> Batch:
    """`size` draws from a RegNet space, kept where the quantized widths give a stage count within
    space.stages and, as pycls requires, every level holds blocks and has its own width."""
    p = space.parameters
    names = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
    draws = {k: p[k].sample(rng, size) for k in names}
    drawn = {name: p[name].sample(rng, size) for name in space.network_parameters}
    context = _network_context(space, drawn, size)
    depth, wa = draws["depth"], draws["wa"].astype(np.float64)[:, None]
    w0, wm = draws["w0"].astype(np.float64)[:, None], draws["wm"].astype(np.float64)[:, None]
    blocks = np.arange(int(depth.max()))
    _, levels = quantized_levels(w0, wa, wm, blocks)
    in_depth = blocks[None, :] < depth[:, None]
    total_stages = np.where(in_depth, levels, -1).max(axis=1).astype(np.int64) + 1
    lo, hi = space.stages
    stage_levels = np.arange(hi)
    stage_depths = ((levels[:, :, None] == stage_levels) & in_depth[:, :, None]).sum(axis=1)
    present = stage_levels[None, :] < total_stages[:, None]
    # Widths of each candidate's own levels only (an absent level repeats its top one): w0 * wm^63
    # overflows int64, and so would the levels of a candidate with more than hi stages.
    top = np.where(total_stages <= hi, total_stages - 1, 0)[:, None]
    stage_widths = quantized_widths(w0, wm, np.minimum(stage_levels, top).astype(np.float64), space.network["quantum"])
    # pycls keeps a RegNet only if every exponent level holds blocks and has its own width.
    distinct = np.concatenate([np.ones((size, 1), bool), np.diff(stage_widths, axis=1) > 0], axis=1)
    valid = (total_stages >= lo) & (total_stages <= hi) & np.all(~present | ((stage_depths > 0) & distinct), axis=1)
    order, parts = [], []
    for num_stages in range(lo, hi + 1):
        index = np.flatnonzero(valid & (total_stages == num_stages))
        if not len(index):
            continue
        shape = (len(index), num_stages)
        ratios = np.broadcast_to(draws["bottleneck_ratio"][index, None].astype(np.float64), shape)
        group_widths = np.broadcast_to(draws["group_width"][index, None], shape)
        widths, groups = adjust_arrays(stage_widths[index, :num_stages], ratios, group_widths)
        stride = np.full(shape, space.network["stride"])
        parts.append(
            complexity_mixed(select(context, index), stage_depths[index, :num_stages], widths, stride, ratios, groups)
        )
        order.append(index)
    order = np.concatenate(order) if order else np.zeros(0, np.int64)
    cx = {m: np.concatenate([c[m] for c in parts]) if parts else np.zeros(0, np.int64) for m in COMPLEXITY}

    def row(i: int) -> dict:
        network = _network_row(drawn, context, order[i])
        return {
            "sample": {**{k: _plain(draws[k][order[i]]) for k in names}, **network["drawn"]},
            "network": network["network"],
        }

    return Batch(cx, row)


def _plain(value):
    """numpy scalars and arrays as plain JSON-ready Python values."""
    return value.tolist() if hasattr(value, "tolist") else value
