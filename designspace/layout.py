"""The layers of every stem, block and head, and what each costs, in pycls's conventions.

A *layout* says which layers a block has and their sizes (inner width, groups, SE width,
projection, skip, normalization order); `designspace.model` builds the torch modules from the
same layouts and the cost functions below count them, so the network and its complexity cannot
drift apart. This module stays free of torch so that sampling starts fast.

Every function works on Python ints (one network, microseconds) and on int64 numpy arrays
(one value per candidate network, for the vectorized sampler) alike, with the same code. The
network-level choices that change which layers exist (stem and block type, deep stem, stride
position, shortcut form, pre-activation, batch norm) are scalars; sizes may be arrays.
Conventions (reference/pycls.md): flops are multiply-adds (+1 per output for a bias), params
count weights, biases and BN's 2C, acts count conv/linear outputs and the outputs of windowed
pooling (pycls counts its stem max-pool; designspace counts every max- and average-pool with a
window the same way, and global pooling as free); output size is ceil(h / stride).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def round_half_even(x):
    """Python's round() for scalars, numpy's rint for arrays: both round half to even."""
    if isinstance(x, np.ndarray):
        return np.rint(x).astype(np.int64)
    return round(x)


def round_down(x):
    if isinstance(x, np.ndarray):
        return np.floor(x).astype(np.int64)
    return math.floor(x)


def out_size(h, stride):
    """Output size of a conv or pool with padding (k-1)/2: ceil(h / stride)."""
    return (h - 1) // stride + 1


def conv_cost(h_out, c_in, c_out, k, groups=1, bias=False, bn=False):
    """(flops, params, acts) of a k x k conv with h_out x h_out outputs, optionally + BN."""
    outputs = c_out * h_out * h_out
    flops = k * k * c_in * outputs // groups + bias * outputs
    params = k * k * c_in * c_out // groups + bias * c_out + bn * 2 * c_out
    return flops, params, outputs


def unit_cost(h_out, c_in, c_out, k, groups=1, bn=True, preact=False):
    """A conv with its normalization: BN on its output (post-activation), BN on its input
    (pre-activation), or, without batch norm, a bias on the conv."""
    conv = conv_cost(h_out, c_in, c_out, k, groups, bias=not bn, bn=bn and not preact)
    return conv[0], conv[1] + 2 * c_in * (bn and preact), conv[2]


def pool_cost(h_out, channels):
    """A max- or average-pool with a window: no flops or params, its outputs count as acts."""
    return 0, 0, channels * h_out * h_out


def total(*costs):
    """Sum of (flops, params, acts) triples."""
    flops = params = acts = 0
    for f, p, a in costs:
        flops, params, acts = flops + f, params + p, acts + a
    return flops, params, acts


def scaled(cost, n):
    return cost[0] * n, cost[1] * n, cost[2] * n


# ------------------------------------------------------------------------------------ stems
class StemConv(NamedTuple):
    kernel: int
    stride: int
    halved: bool  # width stem_width // 2 (the first two convs of a deep stem, ResNet-C)


STEMS = {
    # name: (kernel, stride, 3x3 stride-2 max-pool after)
    "res_stem_cifar": (3, 1, False),
    "res_stem_in": (7, 2, True),
    "simple_stem_in": (3, 2, False),
}


def stem_convs(stem_type, deep) -> tuple[tuple[StemConv, ...], bool]:
    """The stem's convs and whether a max-pool follows; a deep stem (ResNet-C) replaces the one
    conv by three 3x3 convs, the first with the stem's stride."""
    k, stride, pool = STEMS[stem_type]
    if deep:
        return (StemConv(3, stride, True), StemConv(3, 1, True), StemConv(3, 1, False)), pool
    return (StemConv(k, stride, False),), pool


def stem_conv_width(conv: StemConv, width):
    return width // 2 if conv.halved else width


def stem_out_size(stem_type, deep, h):
    """Feature-map size after the stem (scalars or numpy arrays of h)."""
    convs, pool = stem_convs(stem_type, deep)
    for conv in convs:
        h = out_size(h, conv.stride)
    return out_size(h, 2) if pool else h


def dense_map_sizes(h, strides):
    """Feature-map size of each dense stage, from the stem's output `h`: a transition's average pool
    has no padding and rounds down, as DenseNet's own do, so a small map can pool to nothing (0)."""
    sizes = []
    for stride in strides:
        h = h // stride
        sizes.append(h)
    return sizes


def stem_cost(stem_type, h, in_channels, width, bn=True, deep=False):
    """(h_out, (flops, params, acts)) of a stem: conv-BN-act units, then maybe a max-pool."""
    convs, pool = stem_convs(stem_type, deep)
    cost, c = (0, 0, 0), in_channels
    for conv in convs:
        h = out_size(h, conv.stride)
        c_out = stem_conv_width(conv, width)
        cost, c = total(cost, unit_cost(h, c, c_out, conv.kernel, bn=bn)), c_out
    if pool:
        h = out_size(h, 2)
        cost = total(cost, pool_cost(h, width))
    return h, cost


# ----------------------------------------------------------------------------------- blocks
class BlockLayout(NamedTuple):
    """Sizes and form of one block; fields a block type does not use hold neutral values."""

    block_type: str
    w_in: object
    w_out: object
    stride: object
    inner: object  # bottleneck width, or a Fire module's squeeze width
    groups: object  # of the 3x3 conv in a bottleneck
    se: object  # SE hidden width, 0 = no SE
    projection: object  # 1x1 conv on the shortcut
    skip: object  # residual add (identity or projection)
    se_on_output: bool  # SE after the last 1x1 on w_out (SENet) instead of after the 3x3 on the inner width
    expand: object  # a bottleneck's first 1x1 exists (not in MobileNet-v2's t = 1 blocks)
    stride_on_1x1: bool  # a bottleneck's stride on its first 1x1 conv instead of the 3x3
    pool_shortcut: bool  # average-pool before the projection when the block strides (ResNet-D)
    preact: bool  # BN-act-conv units, no activation after the add
    bn: bool  # batch norm, or conv biases without it
    expand_3x3: object  # 3x3 channels of a Fire expand (the rest are 1x1)


def expand_3x3_width(width, fraction):
    """The 3x3 share of a Fire module's expand width, rounded half to even."""
    return round_half_even(width * fraction)


def block_layout(net, w_in, w_out, stride, bottleneck_ratio, group_width) -> BlockLayout:
    """The layout pycls builds: inner = round(w_out/b), SE width = round(se_ratio * w_in) (SENet's:
    round(se_ratio * w_out))."""
    block_type = net["block_type"]
    reshapes = (w_in != w_out) | (stride != 1)
    inner, groups, se, projection, skip, expand_3x3, expand = w_out, 1, 0, False, False, 0, True
    if block_type in ("res_bottleneck_block", "res_bottleneck_linear_block", "fire_block"):
        from_input = block_type == "res_bottleneck_linear_block" and net["expand_from"] == "input"
        inner = round_half_even((w_in if from_input else w_out) * (1.0 / bottleneck_ratio))
        expand = 1 - ((bottleneck_ratio == 1) & from_input)  # 0 or 1, also elementwise over arrays
    if block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
        se_base = w_out if net["se_style"] == "senet" else w_in
        groups, se = inner // group_width, round_half_even(se_base * net["se_ratio"])
    if block_type in ("res_bottleneck_block", "res_basic_block"):
        projection, skip = reshapes, True
    elif block_type == "res_bottleneck_linear_block":
        skip = (w_in == w_out) & (stride == 1)
    elif block_type == "fire_block":
        expand_3x3 = expand_3x3_width(w_out, net["expand_3x3_fraction"])
    return BlockLayout(
        block_type, w_in, w_out, stride, inner, groups, se, projection, skip,
        se_on_output=net["se_style"] == "senet", expand=expand, stride_on_1x1=net["stride_position"] == "1x1", pool_shortcut=net["shortcut"] == "avgpool_conv",
        preact=net["preactivation"], bn=net["batch_norm"], expand_3x3=expand_3x3,
    )


def se_cost(channels, hidden):
    """Squeeze-excitation: two biased 1x1 convs at 1x1 after global pooling; none if hidden == 0."""
    present = hidden > 0
    cost = total(conv_cost(1, channels, hidden, 1, bias=True), conv_cost(1, hidden, channels, 1, bias=True))
    return scaled(cost, present)


def block_cost(layout: BlockLayout, h):
    """(h_out, (flops, params, acts)) of one block whose input is h x h."""
    lo = layout
    h_out = out_size(h, lo.stride)
    bn, pre = lo.bn, lo.preact
    if lo.block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
        h_1x1 = h_out if lo.stride_on_1x1 else h
        body = total(
            scaled(unit_cost(h_1x1, lo.w_in, lo.inner, 1, bn=bn, preact=pre), lo.expand),
            unit_cost(h_out, lo.inner, lo.inner, 3, lo.groups, bn=bn, preact=pre),
            se_cost(lo.w_out if lo.se_on_output else lo.inner, lo.se),
            unit_cost(h_out, lo.inner, lo.w_out, 1, bn=bn, preact=pre),
        )
    elif lo.block_type == "fire_block":
        body = total(
            scaled(pool_cost(h_out, lo.w_in), lo.stride > 1),  # late downsampling: max-pool first
            unit_cost(h_out, lo.w_in, lo.inner, 1, bn=bn),
            unit_cost(h_out, lo.inner, lo.w_out - lo.expand_3x3, 1, bn=bn),
            unit_cost(h_out, lo.inner, lo.expand_3x3, 3, bn=bn),
        )
    elif lo.block_type == "depthwise_separable_block":
        body = total(unit_cost(h_out, lo.w_in, lo.w_in, 3, lo.w_in, bn=bn), unit_cost(h_out, lo.w_in, lo.w_out, 1, bn=bn))
    else:  # basic and vanilla: two 3x3 convs
        body = total(unit_cost(h_out, lo.w_in, lo.w_out, 3, bn=bn, preact=pre),
                     unit_cost(h_out, lo.w_out, lo.w_out, 3, bn=bn, preact=pre))
    return h_out, total(body, shortcut_cost(lo, h_out))


def shortcut_cost(lo: BlockLayout, h_out):
    """The projection: a 1x1 conv (strided, or after an average pool), with BN unless the
    block is pre-activated (its input is already normalized)."""
    pooled = lo.pool_shortcut & (lo.stride > 1)
    conv = conv_cost(h_out, lo.w_in, lo.w_out, 1, bias=not lo.bn, bn=lo.bn and not lo.preact)
    return scaled(total(conv, scaled(pool_cost(h_out, lo.w_in), pooled)), lo.projection)


def stage_layouts(net, w_in, w_out, stride, bottleneck_ratio, group_width):
    """Layouts of a stage's first block and of each of the identical blocks after it."""
    first = block_layout(net, w_in, w_out, stride, bottleneck_ratio, group_width)
    rest = block_layout(net, w_out, w_out, 1, bottleneck_ratio, group_width)
    return first, rest


# ------------------------------------------------------------------------ dense (DenseNet-BC)
class DenseLayout(NamedTuple):
    """One dense stage: an optional transition (BN-act-1x1 conv compressing the channels, then
    an average pool when the stage strides), then `depth` layers (BN-act-1x1 conv to `inner`,
    BN-act-3x3 conv to `growth`), each concatenating its output to its input."""

    c_in: object
    transition: object  # channels after the transition (c_in when there is none)
    has_transition: bool  # every stage but the first
    stride: object
    growth: object
    inner: object
    groups: object
    depth: object
    bn: bool

    @property
    def c_out(self):
        return self.transition + self.depth * self.growth


def transition_width(channels, compression):
    """DenseNet's compression: floor(theta * channels)."""
    return round_down(channels * compression)


def channels_after_transitions(stem_width, depths, growths, compression) -> list:
    """The channels each dense stage starts its layers with: the stem's for the first stage,
    then the previous stage's output compressed by each transition. Per-stage arguments are
    indexable by stage (scalars per network, or one array of N networks per stage)."""
    out, channels = [], stem_width
    for i, (d, k) in enumerate(zip(depths, growths)):
        channels = transition_width(channels, compression) if i else channels
        out.append(channels)
        channels = channels + d * k
    return out


def dense_layout(net, c_in, depth, growth, stride, bottleneck_ratio, group_width, first: bool) -> DenseLayout:
    transition = c_in if first else transition_width(c_in, net["compression"])
    inner = round_half_even(growth * (1.0 / bottleneck_ratio))
    return DenseLayout(c_in, transition, not first, stride, growth, inner, inner // group_width, depth, net["batch_norm"])


def dense_layer_cost(lo: DenseLayout, h, c_in):
    return total(unit_cost(h, c_in, lo.inner, 1, bn=lo.bn, preact=True),
                 unit_cost(h, lo.inner, lo.growth, 3, lo.groups, bn=lo.bn, preact=True))


def dense_stage_cost(lo: DenseLayout, h):
    """(h_out, (flops, params, acts)) of a dense stage. A layer's cost is affine in its input
    width, which grows by `growth` per layer, so the sum over layers has a closed form."""
    transition = scaled(unit_cost(h, lo.c_in, lo.transition, 1, bn=lo.bn, preact=True), lo.has_transition)
    h_out = dense_map_sizes(h, [lo.stride])[0]
    pool = scaled(pool_cost(h_out, lo.transition), lo.stride > 1)
    first = dense_layer_cost(lo, h_out, lo.transition)
    second = dense_layer_cost(lo, h_out, lo.transition + lo.growth)
    pairs = lo.depth * (lo.depth - 1) // 2
    layers = tuple(lo.depth * a + pairs * (b - a) for a, b in zip(first, second))
    return h_out, total(transition, pool, layers)


# ------------------------------------------------------------------------------------- head
def ends_with_conv(net) -> bool:
    """Pre-activated and dense networks end on a conv, so a final BN-act precedes the head."""
    return bool(net["preactivation"]) or net["block_type"] == "dense_block"


def head_cost(net, h, w_in):
    """Final BN (see ends_with_conv), optional 1x1 conv unit (head_width > 0), global pool
    (free), biased linear classifier."""
    head_width, bn = net["head_width"], net["batch_norm"]
    final_norm = (0, 2 * w_in * (bn and ends_with_conv(net)), 0)
    features = head_width + (head_width == 0) * w_in
    head_conv = scaled(unit_cost(h, w_in, head_width, 1, bn=bn), head_width > 0)
    return total(final_norm, head_conv, conv_cost(1, features, net["num_classes"], 1, bias=True))


# ---------------------------------------------------------------------------------- network
def network_cost(net, depths, widths, strides, bottleneck_ratios, group_widths):
    """(flops, params, acts) of a whole network. `net` maps the ModelSpec's network-level
    fields to values; per-stage arguments are indexable by stage."""
    h, cost = stem_cost(net["stem_type"], net["resolution"], net["in_channels"], net["stem_width"], net["batch_norm"],
                        net["deep_stem"])
    c = net["stem_width"]
    for i, (d, w, s, b, g) in enumerate(zip(depths, widths, strides, bottleneck_ratios, group_widths)):
        if net["block_type"] == "dense_block":
            lo = dense_layout(net, c, d, w, s, b, g, first=i == 0)
            (h, stage), c = dense_stage_cost(lo, h), lo.c_out
        else:
            first, rest = stage_layouts(net, c, w, s, b, g)
            h, first_cost = block_cost(first, h)
            stage, c = total(first_cost, scaled(block_cost(rest, h)[1], d - 1)), w
        cost = total(cost, stage)
    return total(cost, head_cost(net, h, c))
