"""Layers as data, and what they cost in pycls's conventions.

Every stem, block kind and head is written once, as a tree of the layer records below
(`designspace.blocks` holds the table of block kinds); `cost` counts a tree and
`designspace.model` builds the same tree as torch modules, so that a network and its complexity
cannot drift apart. This module stays free of torch so that sampling starts fast.

Sizes in a tree may be Python ints (one network, microseconds) or int64 numpy arrays (one value
per candidate network, for the vectorized sampler) alike; `present` flags may be arrays too, and
an absent part costs nothing and leaves the feature map as it was. Conventions
(reference/pycls.md): flops are multiply-adds (+1 per output for a bias), params count weights,
biases and BN's 2C, acts count conv/linear outputs and the outputs of windowed pooling (global
pooling is free).
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


def same_padding(k):
    """The padding that keeps a stride-1 map's size: (k - 1) / 2."""
    return (k - 1) // 2


def window_out_size(h, k, stride, padding, ceil=False):
    """Output size of a conv or pool window over h (PyTorch's rule, rounding down or, for pools in
    ceil mode, up)."""
    span = h + 2 * padding - k
    return (span + (stride - 1) * ceil) // stride + 1


# --------------------------------------------------------------------------------- the layers
class Conv(NamedTuple):
    c_in: object
    c_out: object
    k: int
    stride: object = 1
    groups: object = 1
    bias: bool = False
    padding: int | None = None  # None: same_padding(k)


class Norm(NamedTuple):
    """Batch norm: 2 learnable parameters per channel."""

    channels: object


class Act(NamedTuple):
    """The network's activation. Not in place where its input is read again (an identity shortcut,
    a dense layer's concatenation)."""

    inplace: bool = True


class Pool(NamedTuple):
    """A max- or average-pool with a window; its outputs count as acts."""

    kind: str  # "max" | "avg"
    channels: object
    k: int
    stride: object
    padding: int = 0
    ceil: bool = False


class GlobalPool(NamedTuple):
    """Global average pooling to 1 x 1, flattened: free."""


class Linear(NamedTuple):
    c_in: object
    c_out: object


class SqueezeExcite(NamedTuple):
    """Global pool, biased 1x1 conv to `hidden`, act, biased 1x1 conv back, sigmoid gate."""

    channels: object
    hidden: object


class Chain(NamedTuple):
    """Layers applied one after another; `present` 0 drops them all."""

    layers: tuple
    present: object = True


class Concat(NamedTuple):
    """Branches on the same input, their outputs concatenated (a Fire module's expands)."""

    branches: tuple


class Residual(NamedTuple):
    """pre (shared by body and projection: a pre-activated block's BN-act), body, then, where
    `skip`, the add of the projection (if present) or of the block's input; an activation after the
    add where `act_after`. `final_norm` names the body's last BN, which zero-init may zero so that
    the block starts as the identity (None where the body does not end on its BN)."""

    pre: Chain
    body: Chain
    projection: Chain
    skip: object
    act_after: bool
    ends_on_norm: bool


class DenseLayers(NamedTuple):
    """`depth` layers, each concatenating `layer(c)` of its input to it; layer i's input has
    c_in + i * growth channels."""

    c_in: object
    growth: object
    depth: object
    inner: object
    groups: object
    bn: bool

    def layer(self, c):
        """BN-act-1x1 conv to the inner width, BN-act-3x3 conv to the growth rate."""
        return Chain(
            (
                *unit(c, self.inner, 1, bn=self.bn, preact=True),
                *unit(self.inner, self.growth, 3, groups=self.groups, bn=self.bn, preact=True),
            )
        )


class Stage(NamedTuple):
    """A first block, then depth - 1 copies of `rest`."""

    first: object
    rest: object
    depth: object


def unit(c_in, c_out, k, stride=1, groups=1, *, bn: bool, preact=False, act=True, padding=None) -> tuple:
    """A conv with its normalization: conv-BN(-act) (post-activation) or BN-act-conv
    (pre-activation); without batch norm the conv has a bias instead."""
    conv = Conv(c_in, c_out, k, stride, groups, bias=not bn, padding=padding)
    if preact:
        return (*norm_act(c_in, bn=bn), conv)
    return (conv, *([Norm(c_out)] if bn else []), *([Act()] if act else []))


def norm_act(channels, *, bn: bool) -> tuple:
    """BN-act; without BN the activation must not work in place, since its input is read again."""
    return (Norm(channels), Act()) if bn else (Act(inplace=False),)


# ----------------------------------------------------------------------------------- the cost
ZERO = (0, 0, 0)


def total(*costs):
    """Sum of (flops, params, acts) triples."""
    flops = params = acts = 0
    for f, p, a in costs:
        flops, params, acts = flops + f, params + p, acts + a
    return flops, params, acts


def scaled(cost, n):
    return cost[0] * n, cost[1] * n, cost[2] * n


def where(present, value, otherwise):
    """`value` where present, else `otherwise`, for scalars and arrays."""
    if isinstance(present, np.ndarray):
        return np.where(present, value, otherwise)
    return value if present else otherwise


def cost(node, h):
    """(h_out, (flops, params, acts)) of a layer tree whose input is h x h."""
    return COSTS[type(node)](node, h)


def _conv(node: Conv, h):
    h = window_out_size(h, node.k, node.stride, same_padding(node.k) if node.padding is None else node.padding)
    outputs = node.c_out * h * h
    weights = node.k * node.k * node.c_in
    flops = weights * outputs // node.groups + node.bias * outputs
    params = weights * node.c_out // node.groups + node.bias * node.c_out
    return h, (flops, params, outputs)


def _pool(node: Pool, h):
    h = window_out_size(h, node.k, node.stride, node.padding, node.ceil)
    return h, (0, 0, node.channels * h * h)


def _squeeze_excite(node: SqueezeExcite, h):
    """Two biased 1x1 convs at 1 x 1 (channels -> hidden -> channels); none where hidden is 0."""
    present = node.hidden > 0
    weights = (2 * node.channels * node.hidden + node.hidden + node.channels) * present
    return h, (weights, weights, (node.hidden + node.channels) * present)


def _chain(chain: Chain, h):
    h_in, flops, params, acts = h, 0, 0, 0
    for layer in chain.layers:
        h, (f, p, a) = COSTS[type(layer)](layer, h)
        flops, params, acts = flops + f, params + p, acts + a
    present = chain.present
    if present is True:
        return h, (flops, params, acts)
    return where(present, h, h_in), (flops * present, params * present, acts * present)


def _concat(node: Concat, h):
    outs = [cost(branch, h) for branch in node.branches]
    return outs[0][0], total(*(c for _, c in outs))


def _residual(node: Residual, h):
    h_pre, pre = cost(node.pre, h)
    h_out, body = cost(node.body, h_pre)
    projection = cost(node.projection, h_pre)[1] if node.projection is not None else ZERO
    return h_out, total(pre, body, projection)


def _stage(node: Stage, h):
    h, first = cost(node.first, h)
    return h, total(first, scaled(cost(node.rest, h)[1], node.depth - 1))


def _dense_layers(node: DenseLayers, h):
    """A layer's cost is affine in its input width, which grows by `growth` per layer: closed form."""
    first, second = cost(node.layer(node.c_in), h)[1], cost(node.layer(node.c_in + node.growth), h)[1]
    pairs = node.depth * (node.depth - 1) // 2
    return h, tuple(node.depth * a + pairs * (b - a) for a, b in zip(first, second))


def _free(node, h):
    return h, ZERO


COSTS = {
    Conv: _conv,
    Norm: lambda node, h: (h, (0, 2 * node.channels, 0)),
    Act: _free,
    Pool: _pool,
    GlobalPool: lambda node, h: (1, ZERO),
    Linear: lambda node, h: (1, (node.c_in * node.c_out + node.c_out,) * 2 + (node.c_out,)),
    SqueezeExcite: _squeeze_excite,
    Chain: _chain,
    Concat: _concat,
    Residual: _residual,
    Stage: _stage,
    DenseLayers: _dense_layers,
}
