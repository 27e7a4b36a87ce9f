"""The layers of every stem, block and head, and what each costs, in pycls's conventions.

A *layout* says which layers a block has and their sizes (inner width, groups, SE width,
projection, skip); `designspace.model` builds the torch modules from the same layouts and the
cost functions below count them, so the network and its complexity cannot drift apart. This
module stays free of torch so that sampling starts fast.

Every function works on Python ints (one network, microseconds) and on int64 numpy arrays
(one value per candidate network, for the vectorized sampler) alike, with the same code.
Conventions (reference/pycls.md): flops are multiply-adds (+1 per output for a bias), params
count weights, biases and BN's 2C, acts count conv/linear outputs and the stem's max-pool;
output size is ceil(h / stride).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def round_half_even(x):
    """Python's round() for scalars, numpy's rint for arrays: both round half to even."""
    if isinstance(x, np.ndarray):
        return np.rint(x).astype(np.int64)
    return round(x)


def out_size(h, stride):
    """Output size of a conv or pool with padding (k-1)/2: ceil(h / stride)."""
    return (h - 1) // stride + 1


def conv_cost(h_out, c_in, c_out, k, groups=1, bias=False, bn=False):
    """(flops, params, acts) of a k x k conv with h_out x h_out outputs, optionally + BN."""
    outputs = c_out * h_out * h_out
    flops = k * k * c_in * outputs // groups + bias * outputs
    params = k * k * c_in * c_out // groups + bias * c_out + bn * 2 * c_out
    return flops, params, outputs


def total(*costs):
    """Sum of (flops, params, acts) triples."""
    flops = params = acts = 0
    for f, p, a in costs:
        flops, params, acts = flops + f, params + p, acts + a
    return flops, params, acts


def scaled(cost, n):
    return cost[0] * n, cost[1] * n, cost[2] * n


# ------------------------------------------------------------------------------------ stems
STEMS = {
    # name: (kernel, stride, max-pool after)
    "res_stem_cifar": (3, 1, False),
    "res_stem_in": (7, 2, True),
    "simple_stem_in": (3, 2, False),
}


def stem_cost(stem_type, h, in_channels, width):
    """(h_out, (flops, params, acts)) of a stem."""
    k, stride, pool = STEMS[stem_type]
    h = out_size(h, stride)
    cost = conv_cost(h, in_channels, width, k, bn=True)
    if pool:
        h = out_size(h, 2)
        cost = total(cost, (0, 0, width * h * h))
    return h, cost


# ----------------------------------------------------------------------------------- blocks
class BlockLayout(NamedTuple):
    """Sizes of one block. For non-bottleneck blocks inner == w_out, groups == 1, se == 0."""

    block_type: str
    w_in: object
    w_out: object
    stride: object
    inner: object
    groups: object
    se: object  # SE hidden width, 0 = no SE
    projection: object  # 1x1 strided conv + BN on the shortcut
    skip: object  # residual add (identity or projection)


def block_layout(block_type, w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio) -> BlockLayout:
    """The layout pycls builds: inner = round(w_out/b), SE width = round(se_ratio * w_in)."""
    reshapes = (w_in != w_out) | (stride != 1)
    keeps_shape = (w_in == w_out) & (stride == 1)
    if block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
        inner = round_half_even(w_out * (1.0 / bottleneck_ratio))
        se = round_half_even(w_in * se_ratio)
        if block_type == "res_bottleneck_block":
            return BlockLayout(block_type, w_in, w_out, stride, inner, inner // group_width, se, reshapes, True)
        return BlockLayout(block_type, w_in, w_out, stride, inner, inner // group_width, se, False, keeps_shape)
    if block_type == "res_basic_block":
        return BlockLayout(block_type, w_in, w_out, stride, w_out, 1, 0, reshapes, True)
    return BlockLayout(block_type, w_in, w_out, stride, w_out, 1, 0, False, False)


def se_cost(channels, hidden):
    """Squeeze-excitation: two biased 1x1 convs at 1x1 after global pooling; none if hidden == 0."""
    present = hidden > 0
    cost = total(conv_cost(1, channels, hidden, 1, bias=True), conv_cost(1, hidden, channels, 1, bias=True))
    return scaled(cost, present)


def block_cost(layout: BlockLayout, h):
    """(h_out, (flops, params, acts)) of one block whose input is h x h."""
    lo = layout
    h_out = out_size(h, lo.stride)
    if lo.block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
        body = total(
            conv_cost(h, lo.w_in, lo.inner, 1, bn=True),
            conv_cost(h_out, lo.inner, lo.inner, 3, lo.groups, bn=True),
            se_cost(lo.inner, lo.se),
            conv_cost(h_out, lo.inner, lo.w_out, 1, bn=True),
        )
    else:
        body = total(conv_cost(h_out, lo.w_in, lo.w_out, 3, bn=True), conv_cost(h_out, lo.w_out, lo.w_out, 3, bn=True))
    projection = scaled(conv_cost(h_out, lo.w_in, lo.w_out, 1, bn=True), lo.projection)
    return h_out, total(body, projection)


def stage_layouts(block_type, w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio):
    """Layouts of a stage's first block and of each of the identical blocks after it."""
    first = block_layout(block_type, w_in, w_out, stride, bottleneck_ratio, group_width, se_ratio)
    rest = block_layout(block_type, w_out, w_out, 1, bottleneck_ratio, group_width, se_ratio)
    return first, rest


# ------------------------------------------------------------------------------------- head
def head_cost(h, w_in, head_width, num_classes):
    """Optional 1x1 conv + BN (head_width > 0), global pool (free), biased linear classifier."""
    features = head_width + (head_width == 0) * w_in
    return total(conv_cost(h, w_in, head_width, 1, bn=True), conv_cost(1, features, num_classes, 1, bias=True))


# ---------------------------------------------------------------------------------- network
def network_cost(
    stem_type,
    stem_width,
    block_type,
    depths,
    widths,
    strides,
    bottleneck_ratios,
    group_widths,
    se_ratio,
    head_width,
    num_classes,
    in_channels,
    resolution,
):
    """(flops, params, acts) of a whole network; per-stage arguments indexable by stage."""
    h, cost = stem_cost(stem_type, resolution, in_channels, stem_width)
    w_in = stem_width
    for d, w, s, b, g in zip(depths, widths, strides, bottleneck_ratios, group_widths):
        first, rest = stage_layouts(block_type, w_in, w, s, b, g, se_ratio)
        h, first_cost = block_cost(first, h)
        cost = total(cost, first_cost, scaled(block_cost(rest, h)[1], d - 1))
        w_in = w
    return total(cost, head_cost(h, w_in, head_width, num_classes))
