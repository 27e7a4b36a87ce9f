"""The PyTorch network of a ModelSpec, built from the layouts whose cost `complexity` counts.

Module structure follows pycls's AnyNet (stem, stages of blocks, head), so that parameter
counts, flops and activations agree with pycls to the unit. Every conv comes in a *unit* with
its normalization, in the two orders that `layout.unit_cost` counts: conv-BN(-act)
(post-activation) or BN-act-conv (pre-activation); without batch norm the conv has a bias.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layout import BlockLayout, DenseLayout, dense_layout, ends_with_conv, stage_layouts, stem_conv_width, stem_convs
from .spec import ModelSpec

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "relu6": nn.ReLU6}


def conv(c_in, c_out, k, stride=1, groups=1, bias=False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, groups=groups, bias=bias)


def post_unit(c_in, c_out, k, stride=1, groups=1, *, bn: bool, activation=None) -> list[nn.Module]:
    """conv-BN, then the activation if one is given."""
    layers = [conv(c_in, c_out, k, stride, groups, bias=not bn)] + ([nn.BatchNorm2d(c_out)] if bn else [])
    return layers + ([activation(inplace=True)] if activation else [])


def norm_act(channels, *, bn: bool, activation) -> list[nn.Module]:
    """BN-act. Without BN the activation must not work in place: its input is reused (the
    identity shortcut, a dense block's concatenation)."""
    return [nn.BatchNorm2d(channels), activation(inplace=True)] if bn else [activation(inplace=False)]


def pre_unit(c_in, c_out, k, stride=1, groups=1, *, bn: bool, activation) -> list[nn.Module]:
    return norm_act(c_in, bn=bn, activation=activation) + [conv(c_in, c_out, k, stride, groups, bias=not bn)]


def window_pool(kind, stride) -> nn.Module:
    """The pools `layout.pool_cost` counts: a 3x3 max-pool, or a stride x stride average pool;
    both give ceil(h / stride)."""
    if kind == "max":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    return nn.AvgPool2d(stride, stride=stride, ceil_mode=True, count_include_pad=False)


class Stem(nn.Sequential):
    def __init__(self, spec: ModelSpec, activation):
        convs, pool = stem_convs(spec.stem_type, spec.deep_stem)
        bn, width = spec.batch_norm, spec.stem_width
        layers, c = [], spec.in_channels
        for sc in convs:
            c_out = stem_conv_width(sc, width)
            layers += post_unit(c, c_out, sc.kernel, sc.stride, bn=bn, activation=activation)
            c = c_out
        super().__init__(*layers, *([window_pool("max", 2)] if pool else []))


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, hidden: int, activation):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1, bias=True),
            activation(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.gate(x)


def drop_branch(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Stochastic depth for a batch: drop each sample's residual branch with probability
    `rate`, scaling the kept ones by 1 / (1 - rate) so that evaluation needs no change."""
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class Block(nn.Module):
    """A residual-family block (bottleneck, basic, vanilla, linear bottleneck), post- or
    pre-activated: body, optional projection shortcut, residual add, final activation."""

    def __init__(self, layout: BlockLayout, activation):
        super().__init__()
        lo = layout
        if lo.block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
            s1, s3 = (lo.stride, 1) if lo.stride_on_1x1 and lo.expand else (1, lo.stride)
            units = [(lo.w_in, lo.inner, 1, s1, 1)] * bool(lo.expand) + [(lo.inner, lo.inner, 3, s3, lo.groups),
                                                                         (lo.inner, lo.w_out, 1, 1, 1)]
        else:
            units = [(lo.w_in, lo.w_out, 3, lo.stride, 1), (lo.w_out, lo.w_out, 3, 1, 1)]
        se = SqueezeExcitation(lo.w_out if lo.se_on_output else lo.inner, lo.se, activation) if lo.se > 0 else None
        self.pre = nn.Sequential(*norm_act(lo.w_in, bn=lo.bn, activation=activation)) if lo.preact else None
        body = (self._pre_body if lo.preact else self._post_body)(units, lo.bn, activation, None if lo.se_on_output else se)
        self.body = nn.Sequential(*body, *([se] if lo.se_on_output and se is not None else []))
        self.projection = self._projection(lo) if lo.projection else None
        self.skip = bool(lo.skip)
        self.drop_rate = 0.0  # stochastic depth, set by set_drop_path for training
        # No activation after the add: the linear (inverted) bottleneck (MobileNetV2), and
        # pre-activated blocks, whose next block starts with one.
        final = lo.block_type != "res_bottleneck_linear_block" and not lo.preact
        self.activation = activation(inplace=True) if final else None

    @staticmethod
    def _post_body(units, bn, activation, se):
        layers = []
        for i, (c_in, c_out, k, stride, groups) in enumerate(units):
            last = i == len(units) - 1
            layers += post_unit(c_in, c_out, k, stride, groups, bn=bn, activation=None if last else activation)
            if k == 3 and se is not None:  # after the bottleneck's 3x3
                layers.append(se)
        return layers  # ends with the block's final BN (or conv, without BN); SENet's SE follows it

    @staticmethod
    def _pre_body(units, bn, activation, se):
        layers = []
        for i, (c_in, c_out, k, stride, groups) in enumerate(units):
            if i:  # the first unit's BN-act is the block's `pre`, shared with the projection
                layers += norm_act(c_in, bn=bn, activation=activation)
            if i == 2 and se is not None:
                layers.append(se)
            layers.append(conv(c_in, c_out, k, stride, groups, bias=not bn))
        return layers

    @staticmethod
    def _projection(lo: BlockLayout) -> nn.Sequential:
        pooled = lo.pool_shortcut and lo.stride > 1
        layers = [window_pool("avg", lo.stride)] if pooled else []
        layers.append(conv(lo.w_in, lo.w_out, 1, 1 if pooled else lo.stride, bias=not lo.bn))
        if lo.bn and not lo.preact:
            layers.append(nn.BatchNorm2d(lo.w_out))
        return nn.Sequential(*layers)

    def forward(self, x):
        x_in = self.pre(x) if self.pre is not None else x
        out = self.body(x_in)
        if self.skip:
            if self.training and self.drop_rate > 0:
                out = drop_branch(out, self.drop_rate)
            out = out + (self.projection(x_in) if self.projection is not None else x)
        return self.activation(out) if self.activation is not None else out


class Fire(nn.Module):
    """SqueezeNet's Fire module: a 1x1 squeeze, then 1x1 and 3x3 expands side by side; a
    striding module max-pools first (late downsampling)."""

    def __init__(self, layout: BlockLayout, activation):
        super().__init__()
        lo, bn = layout, layout.bn
        self.pool = window_pool("max", lo.stride) if lo.stride > 1 else nn.Identity()
        self.squeeze = nn.Sequential(*post_unit(lo.w_in, lo.inner, 1, bn=bn, activation=activation))
        self.expand_1x1 = nn.Sequential(*post_unit(lo.inner, lo.w_out - lo.expand_3x3, 1, bn=bn, activation=activation))
        self.expand_3x3 = nn.Sequential(*post_unit(lo.inner, lo.expand_3x3, 3, bn=bn, activation=activation))

    def forward(self, x):
        x = self.squeeze(self.pool(x))
        return torch.cat([self.expand_1x1(x), self.expand_3x3(x)], 1)


def separable_block(layout: BlockLayout, activation) -> nn.Sequential:
    """MobileNet-v1: a 3x3 depthwise conv (which strides), then a 1x1 pointwise conv."""
    lo = layout
    return nn.Sequential(
        *post_unit(lo.w_in, lo.w_in, 3, lo.stride, lo.w_in, bn=lo.bn, activation=activation),
        *post_unit(lo.w_in, lo.w_out, 1, bn=lo.bn, activation=activation),
    )


class DenseLayer(nn.Module):
    """BN-act-1x1 conv, BN-act-3x3 conv; the output is concatenated to the input."""

    def __init__(self, lo: DenseLayout, c_in: int, activation):
        super().__init__()
        self.body = nn.Sequential(
            *pre_unit(c_in, lo.inner, 1, bn=lo.bn, activation=activation),
            *pre_unit(lo.inner, lo.growth, 3, 1, lo.groups, bn=lo.bn, activation=activation),
        )

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def dense_stage(lo: DenseLayout, activation) -> nn.Sequential:
    layers = pre_unit(lo.c_in, lo.transition, 1, bn=lo.bn, activation=activation) if lo.has_transition else []
    if lo.stride > 1:  # rounds odd sizes down (layout.dense_map_sizes), as DenseNet's transitions do
        layers.append(nn.AvgPool2d(lo.stride, stride=lo.stride))
    layers += [DenseLayer(lo, lo.transition + i * lo.growth, activation) for i in range(lo.depth)]
    return nn.Sequential(*layers)


BLOCK_MODULES = {"fire_block": Fire, "depthwise_separable_block": separable_block}


class Head(nn.Module):
    def __init__(self, w_in: int, head_width: int, num_classes: int, final_norm: bool, bn: bool, activation):
        super().__init__()
        layers = norm_act(w_in, bn=bn, activation=activation) if final_norm else []
        if head_width > 0:
            layers += post_unit(w_in, head_width, 1, bn=bn, activation=activation)
        self.conv = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head_width or w_in, num_classes, bias=True)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


class Network(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        activation = ACTIVATIONS[spec.activation]
        net = spec.network
        self.spec = spec
        self.stem = Stem(spec, activation)
        stages, c = [], spec.stem_width
        for i, (d, w, s, b, g) in enumerate(zip(*spec.stage_fields)):
            if spec.block_type == "dense_block":
                lo = dense_layout(net, c, d, w, s, b, g, first=i == 0)
                stages.append(dense_stage(lo, activation))
                c = lo.c_out
                continue
            first, rest = stage_layouts(net, c, w, s, b, g)
            block = BLOCK_MODULES.get(spec.block_type, Block)
            stages.append(nn.Sequential(block(first, activation), *[block(rest, activation) for _ in range(d - 1)]))
            c = w
        self.stages = nn.Sequential(*stages)
        self.head = Head(c, spec.head_width, spec.num_classes, ends_with_conv(net), spec.batch_norm, activation)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def init_weights(model: nn.Module, zero_init_final_bn: bool) -> None:
    """He-normal convs (fan-out), unit BN, small-normal classifier; optionally zero the last
    BN gamma of each post-activated residual block so that it starts as the identity (pycls)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            nn.init.zeros_(m.bias)
    if zero_init_final_bn:
        for m in model.modules():
            if not (isinstance(m, Block) and m.skip):
                continue
            final = m.body[-2] if isinstance(m.body[-1], SqueezeExcitation) else m.body[-1]  # SENet's SE comes last
            if isinstance(final, nn.BatchNorm2d):
                nn.init.zeros_(final.weight)


def set_drop_path(model: nn.Module, rate: float) -> int:
    """Stochastic depth (Huang et al. 2016) with linearly decaying survival: of the L residual
    blocks, block l drops its branch with probability rate * l / L. Returns L."""
    blocks = [m for m in model.modules() if isinstance(m, Block) and m.skip]
    for index, block in enumerate(blocks, start=1):
        block.drop_rate = rate * index / len(blocks)
    return len(blocks)


def build_model(spec: ModelSpec, zero_init_final_bn: bool = False) -> nn.Module:
    """The torch network for `spec` (input N x in_channels x resolution x resolution)."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"build_model expects a ModelSpec, got {type(spec).__name__}")
    model = Network(spec)
    init_weights(model, zero_init_final_bn)
    return model
