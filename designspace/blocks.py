"""The table of block kinds, stems and heads: each written once, as layers (designspace.layers).

A block kind is one entry in BLOCK_KINDS: the function that lays out a block's layers from the
network's options and the stage's sizes, and which per-stage fields and options the kind reads.
Its exact cost (`layers.cost`) and its torch module (`designspace.model`) both come from those
layers. Sizes follow pycls to the unit: inner width round(w / b) half to even, SE width from the
block's input width, the stride on the 3x3 conv (reference/pycls.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from .layers import (
    Act,
    Chain,
    Concat,
    Conv,
    DenseLayers,
    GlobalPool,
    Linear,
    Norm,
    Pool,
    Residual,
    SqueezeExcite,
    Stage,
    cost,
    norm_act,
    round_down,
    round_half_even,
    unit,
    where,
)


# ---------------------------------------------------------------------------------- sizes
def inner_width(width, bottleneck_ratio):
    """Bottleneck (inner) width w / b, rounded half to even as pycls does (w * (1 / b))."""
    return round_half_even(width * (1.0 / bottleneck_ratio))


def expand_3x3_width(width, fraction):
    """The 3x3 share of a Fire module's expand width, rounded half to even."""
    return round_half_even(width * fraction)


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


def dense_map_sizes(h, strides):
    """Feature-map size of each dense stage, from the stem's output `h`: a transition's average pool
    has no padding and rounds down, as DenseNet's own do, so a small map can pool to nothing (0)."""
    sizes = []
    for stride in strides:
        h = h // stride
        sizes.append(h)
    return sizes


# ------------------------------------------------------------------------------- the kinds
def max_pool(net, channels, stride) -> Pool:
    """A 3x3 max-pool: padded to ceil(h / stride), or, with padding "none", unpadded and rounding
    up (Caffe's pools, which SqueezeNet's published networks keep)."""
    if net["padding"] == "none":
        return Pool("max", channels, 3, stride, padding=0, ceil=True)
    return Pool("max", channels, 3, stride, padding=1)


def bottleneck(net, w_in, w_out, stride, b, g):
    """1x1, grouped 3x3, 1x1 (the X block; ResNet's bottleneck at one group), with a projection
    shortcut when the shape changes; optional SE after the 3x3 (RegNetY) or at the end (SENet)."""
    return _bottleneck(net, w_in, w_out, stride, b, g, linear=False)


def linear_bottleneck(net, w_in, w_out, stride, b, g):
    """The bottleneck without an activation after its add, which it skips only when the shape
    is kept (MobileNet-v2's inverted residual with expand_from "input")."""
    return _bottleneck(net, w_in, w_out, stride, b, g, linear=True)


def _bottleneck(net, w_in, w_out, stride, b, g, linear: bool):
    bn, preact = net["batch_norm"], net["preactivation"]
    from_input = linear and net["expand_from"] == "input"
    inner = inner_width(w_in if from_input else w_out, b)
    expand = 1 - ((b == 1) & from_input)  # MobileNet-v2's t = 1 blocks have no expansion conv
    senet = net["se_style"] == "senet"
    se = SqueezeExcite(w_out if senet else inner, round_half_even((w_out if senet else w_in) * net["se_ratio"]))
    stride_1x1 = where(expand, stride, 1) if net["stride_position"] == "1x1" else 1
    stride_3x3 = stride // stride_1x1
    units = [
        unit(w_in, inner, 1, stride_1x1, bn=bn, preact=preact),
        unit(inner, inner, 3, stride_3x3, inner // g, bn=bn, preact=preact),
        unit(inner, w_out, 1, bn=bn, preact=preact, act=False),
    ]
    if not senet:  # after the 3x3 (and, pre-activated, after the 1x1's BN-act)
        units[2] = (*units[2][:-1], se, units[2][-1]) if preact else (se, *units[2])
    body = [Chain(_shared_pre(units[0], preact), present=expand), *units[1], *units[2], *([se] if senet else [])]
    if linear:
        return _residual(net, w_in, body, projection=False, skip=(w_in == w_out) & (stride == 1), act_after=False)
    return _residual(net, w_in, body, _projection(net, w_in, w_out, stride), skip=True, act_after=not preact)


def basic(net, w_in, w_out, stride, b, g):
    """Two 3x3 convs with a shortcut (ResNet-18/34)."""
    bn, preact = net["batch_norm"], net["preactivation"]
    first = unit(w_in, w_out, 3, stride, bn=bn, preact=preact)
    body = [*_shared_pre(first, preact), *unit(w_out, w_out, 3, bn=bn, preact=preact, act=False)]
    return _residual(net, w_in, body, _projection(net, w_in, w_out, stride), skip=True, act_after=not preact)


def vanilla(net, w_in, w_out, stride, b, g):
    """Two 3x3 conv units without a shortcut (NDS's plain double block)."""
    bn = net["batch_norm"]
    return Chain((*unit(w_in, w_out, 3, stride, bn=bn), *unit(w_out, w_out, 3, bn=bn)))


def _shared_pre(first_unit, preact):
    """A pre-activated block's first BN-act moves to Residual.pre, which the projection shares."""
    return first_unit[-1:] if preact else first_unit


def _projection(net, w_in, w_out, stride):
    """A 1x1 conv on the shortcut where the shape changes (strided, or after an average pool with
    shortcut "avgpool_conv", ResNet-D), with BN unless the block is pre-activated (its input is
    already normalized)."""
    bn, preact = net["batch_norm"], net["preactivation"]
    pooled = (net["shortcut"] == "avgpool_conv") & (stride > 1)
    pool = Chain((Pool("avg", w_in, stride, stride, padding=0, ceil=True),), present=pooled)
    conv = Conv(w_in, w_out, 1, where(pooled, 1, stride), bias=not bn)
    layers = (pool, conv, *([Norm(w_out)] if bn and not preact else []))
    return Chain(layers, present=(w_in != w_out) | (stride != 1))


def _residual(net, w_in, body, projection, skip, act_after):
    pre = Chain(norm_act(w_in, bn=net["batch_norm"]) if net["preactivation"] else ())
    return Residual(
        pre,
        Chain(tuple(body)),
        projection or None,
        skip,
        act_after,
        ends_on_norm=net["batch_norm"] and not net["preactivation"],
    )


def fire(net, w_in, w_out, stride, b, g):
    """SqueezeNet's Fire module: a 1x1 squeeze to w / b, then 1x1 and 3x3 expands side by side
    (expand_3x3_fraction of w are 3x3); a striding module max-pools first (late downsampling)."""
    bn, squeeze, e3 = net["batch_norm"], inner_width(w_out, b), expand_3x3_width(w_out, net["expand_3x3_fraction"])
    return Chain(
        (
            Chain((max_pool(net, w_in, stride),), present=stride > 1),
            *unit(w_in, squeeze, 1, bn=bn),
            Concat((Chain(unit(squeeze, w_out - e3, 1, bn=bn)), Chain(unit(squeeze, e3, 3, bn=bn)))),
        )
    )


def separable(net, w_in, w_out, stride, b, g):
    """MobileNet-v1: a 3x3 depthwise conv (which strides), then a 1x1 pointwise conv."""
    bn = net["batch_norm"]
    return Chain((*unit(w_in, w_in, 3, stride, w_in, bn=bn), *unit(w_in, w_out, 1, bn=bn)))


def dense_stage(net, c_in, depth, growth, stride, b, g, first: bool):
    """DenseNet-BC: a transition (BN-act-1x1 conv compressing the channels, every stage but the
    first; then an average pool, rounding down, when the stage strides), then `depth` layers of
    BN-act-1x1 conv to growth / b, BN-act-3x3 conv to the growth rate, each concatenated to its
    input. Returns the stage and its output width."""
    bn = net["batch_norm"]
    start = c_in if first else transition_width(c_in, net["compression"])
    inner = inner_width(growth, b)
    stage = Chain(
        (
            Chain(unit(c_in, start, 1, bn=bn, preact=True), present=not first),
            Chain((Pool("avg", start, stride, stride),), present=stride > 1),
            DenseLayers(start, growth, depth, inner, inner // g, bn),
        )
    )
    return stage, start + depth * growth


@dataclass(frozen=True)
class BlockKind:
    """How a block kind lays out its layers, and what it reads."""

    layers: Callable  # (net, w_in, w_out, stride, b, g) -> a block's layers; or, whole_stage, see dense_stage
    ratio: bool = False  # reads bottleneck_ratios (inner width w / b)
    grouped: bool = False  # reads group_widths (a grouped 3x3 on the inner width)
    residual: bool = False  # takes the shortcut and preactivation options
    bottleneck: bool = False  # takes SE, stride_position and se_style
    options: tuple = ()  # the kind's own optional keys
    whole_stage: bool = False


BLOCK_KINDS = {
    "res_bottleneck_block": BlockKind(bottleneck, ratio=True, grouped=True, residual=True, bottleneck=True),
    "res_basic_block": BlockKind(basic, residual=True),
    "vanilla_block": BlockKind(vanilla),
    "res_bottleneck_linear_block": BlockKind(
        linear_bottleneck, ratio=True, grouped=True, bottleneck=True, options=("expand_from",)
    ),
    "dense_block": BlockKind(dense_stage, ratio=True, grouped=True, options=("compression",), whole_stage=True),
    "fire_block": BlockKind(fire, ratio=True, options=("expand_3x3_fraction",)),
    "depthwise_separable_block": BlockKind(separable),
}


def stage_layers(net, c_in, depth, width, stride, b, g, first: bool):
    """(layers, output width) of one stage: its first block, which may stride and change the width,
    then depth - 1 identical blocks (a dense kind lays out the whole stage)."""
    kind = BLOCK_KINDS[net["block_type"]]
    if kind.whole_stage:
        return kind.layers(net, c_in, depth, width, stride, b, g, first)
    head_block = kind.layers(net, c_in, width, stride, b, g)
    return Stage(head_block, kind.layers(net, width, width, 1, b, g), depth), width


# ----------------------------------------------------------------------------------- stems
class StemKind(NamedTuple):
    kernel: int
    stride: int
    pool: bool  # a 3x3 stride-2 max-pool after the conv(s)


STEMS = {
    "res_stem_cifar": StemKind(3, 1, False),
    "res_stem_in": StemKind(7, 2, True),
    "simple_stem_in": StemKind(3, 2, False),
    "pool_stem_in": StemKind(3, 2, True),  # SqueezeNet 1.1's
}


def stem_layers(net):
    """Conv-BN-act unit(s), then maybe a max-pool. A deep stem (ResNet-C) has three 3x3 convs of
    widths w / 2, w / 2, w, the first with the stem's stride; padding "none" leaves the convs
    unpadded (SqueezeNet); bare_stem leaves the last conv without BN-act (a pre-activated
    network's first block normalizes its input)."""
    kind, width, bn = STEMS[net["stem_type"]], net["stem_width"], net["batch_norm"]
    padding = 0 if net["padding"] == "none" else None
    if net["deep_stem"]:
        convs = ((3, kind.stride, width // 2), (3, 1, width // 2), (3, 1, width))
    else:
        convs = ((kind.kernel, kind.stride, width),)
    layers, c = [], net["in_channels"]
    for i, (k, stride, c_out) in enumerate(convs):
        if net["bare_stem"] and i == len(convs) - 1:
            layers.append(Conv(c, c_out, k, stride, bias=not bn, padding=padding))
        else:
            layers += unit(c, c_out, k, stride, bn=bn, padding=padding)
        c = c_out
    return Chain((*layers, *([max_pool(net, width, 2)] if kind.pool else [])))


def stem_out_size(stem_type, deep_stem, padding, h):
    """Feature-map size after the stem (h a scalar or a numpy array): its kind, depth and padding decide
    it, not the widths or norms of the layers stem_layers lays out, so those take neutral values here."""
    geometry = {
        "stem_type": stem_type,
        "deep_stem": deep_stem,
        "padding": padding,
        "stem_width": 2,
        "in_channels": 1,
        "batch_norm": True,
        "bare_stem": False,
    }
    return cost(stem_layers(geometry), h)[0]


# ------------------------------------------------------------------------------------ head
def ends_with_conv(net) -> bool:
    """Pre-activated and dense networks end on a conv, so a final BN-act precedes the head."""
    return bool(net["preactivation"]) or net["block_type"] == "dense_block"


def head_layers(net, w_in):
    """Final BN-act (see ends_with_conv), optional 1x1 conv unit (head_width > 0), then the
    classifier: global pooling and a biased linear layer, or, classifier "conv", a biased 1x1 conv
    to the classes and the activation before global pooling (SqueezeNet)."""
    head_width, bn, classes = net["head_width"], net["batch_norm"], net["num_classes"]
    features = where(head_width > 0, head_width, w_in)
    if net["classifier"] == "conv":
        classifier = (Conv(features, classes, 1, bias=True), Act(), GlobalPool())
    else:
        classifier = (GlobalPool(), Linear(features, classes))
    return Chain(
        (
            *(norm_act(w_in, bn=bn) if ends_with_conv(net) else ()),
            Chain(unit(w_in, head_width, 1, bn=bn), present=head_width > 0),
            *classifier,
        )
    )


# -------------------------------------------------------------------------------- network
def network_layers(net, depths, widths, strides, bottleneck_ratios, group_widths) -> tuple:
    """(stem, stages, head) of a whole network. `net` maps the ModelSpec's network-level fields to
    values; per-stage arguments are indexable by stage."""
    stages, c = [], net["stem_width"]
    for i, fields in enumerate(zip(depths, widths, strides, bottleneck_ratios, group_widths)):
        stage, c = stage_layers(net, c, *fields, first=i == 0)
        stages.append(stage)
    return stem_layers(net), tuple(stages), head_layers(net, c)
