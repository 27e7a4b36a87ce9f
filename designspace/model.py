"""The PyTorch network of a ModelSpec, built from the layouts whose cost `complexity` counts.

Module structure follows pycls's AnyNet (stem, stages of blocks, head), so that parameter
counts, flops and activations agree with pycls to the unit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layout import STEMS, BlockLayout, stage_layouts
from .spec import ModelSpec

ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "silu": lambda: nn.SiLU(inplace=True)}


def conv_bn(c_in, c_out, k, stride=1, groups=1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]


class Stem(nn.Sequential):
    def __init__(self, stem_type: str, in_channels: int, width: int, activation):
        k, stride, pool = STEMS[stem_type]
        layers = conv_bn(in_channels, width, k, stride) + [activation()]
        if pool:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, hidden: int, activation):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1, bias=True),
            activation(),
            nn.Conv2d(hidden, channels, 1, bias=True),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.gate(x)


class Block(nn.Module):
    """One block of any type: body, optional projection shortcut, residual add, final act."""

    def __init__(self, layout: BlockLayout, activation):
        super().__init__()
        lo = layout
        if lo.block_type in ("res_bottleneck_block", "res_bottleneck_linear_block"):
            layers = conv_bn(lo.w_in, lo.inner, 1) + [activation()]
            layers += conv_bn(lo.inner, lo.inner, 3, lo.stride, lo.groups) + [activation()]
            if lo.se > 0:
                layers.append(SqueezeExcitation(lo.inner, lo.se, activation))
            layers += conv_bn(lo.inner, lo.w_out, 1)
        else:
            layers = conv_bn(lo.w_in, lo.w_out, 3, lo.stride) + [activation()]
            layers += conv_bn(lo.w_out, lo.w_out, 3)
        self.body = nn.Sequential(*layers)  # ends with the block's final BN
        self.projection = nn.Sequential(*conv_bn(lo.w_in, lo.w_out, 1, lo.stride)) if lo.projection else None
        self.skip = bool(lo.skip)
        # The linear (inverted) bottleneck has no activation after the block (MobileNetV2).
        self.activation = None if lo.block_type == "res_bottleneck_linear_block" else activation()

    def forward(self, x):
        out = self.body(x)
        if self.skip:
            out = out + (self.projection(x) if self.projection is not None else x)
        return self.activation(out) if self.activation is not None else out


class Head(nn.Module):
    def __init__(self, w_in: int, head_width: int, num_classes: int, activation):
        super().__init__()
        self.conv = nn.Sequential(*conv_bn(w_in, head_width, 1), activation()) if head_width > 0 else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head_width or w_in, num_classes, bias=True)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


class Network(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        activation = ACTIVATIONS[spec.activation]
        self.spec = spec
        self.stem = Stem(spec.stem_type, spec.in_channels, spec.stem_width, activation)
        stages, w_in = [], spec.stem_width
        for d, w, s, b, g in zip(spec.depths, spec.widths, spec.strides, spec.bottleneck_ratios, spec.group_widths):
            first, rest = stage_layouts(spec.block_type, w_in, w, s, b, g, spec.se_ratio)
            stages.append(nn.Sequential(Block(first, activation), *[Block(rest, activation) for _ in range(d - 1)]))
            w_in = w
        self.stages = nn.Sequential(*stages)
        self.head = Head(w_in, spec.head_width, spec.num_classes, activation)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def init_weights(model: nn.Module, zero_init_final_bn: bool) -> None:
    """He-normal convs (fan-out), unit BN, small-normal classifier; optionally zero the last
    BN gamma of each residual block so that every block starts as the identity (pycls)."""
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
            if isinstance(m, Block) and m.skip:
                nn.init.zeros_(m.body[-1].weight)


def build_model(spec: ModelSpec, zero_init_final_bn: bool = False) -> nn.Module:
    """The torch network for `spec` (input N x in_channels x resolution x resolution)."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"build_model expects a ModelSpec, got {type(spec).__name__}")
    model = Network(spec)
    init_weights(model, zero_init_final_bn)
    return model
