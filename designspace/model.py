"""The PyTorch network of a ModelSpec, built from the same layer trees whose cost `complexity`
counts (designspace.blocks, designspace.layers), so that the two cannot drift apart.

Module structure follows pycls's AnyNet (stem, stages of blocks, head), in the layers' order, so
that parameter counts, flops and activations agree with pycls to the unit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import network_layers
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
    same_padding,
)
from .spec import ModelSpec

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "relu6": nn.ReLU6}


def build(node, activation) -> nn.Module:
    """The torch module of a layer tree (designspace.layers); absent parts are left out."""
    kind = type(node)
    if kind is Conv:
        padding = same_padding(node.k) if node.padding is None else node.padding
        return nn.Conv2d(node.c_in, node.c_out, node.k, node.stride, padding, groups=node.groups, bias=node.bias)
    if kind is Norm:
        return nn.BatchNorm2d(node.channels)
    if kind is Act:
        return activation(inplace=node.inplace)
    if kind is Pool:
        if node.kind == "max":
            return nn.MaxPool2d(node.k, node.stride, node.padding, ceil_mode=node.ceil)
        return nn.AvgPool2d(node.k, node.stride, node.padding, ceil_mode=node.ceil, count_include_pad=False)
    if kind is GlobalPool:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    if kind is Linear:
        return nn.Linear(node.c_in, node.c_out, bias=True)
    if kind is SqueezeExcite:
        return SqueezeExcitation(node.channels, node.hidden, activation)
    if kind is Chain:
        return nn.Sequential(*chain_modules(node, activation))
    if kind is Concat:
        return Concatenation([build(branch, activation) for branch in node.branches])
    if kind is Residual:
        return Block(node, activation)
    if kind is Stage:
        rest = (build(node.rest, activation) for _ in range(node.depth - 1))
        return nn.Sequential(build(node.first, activation), *rest)
    if kind is DenseLayers:
        return nn.Sequential(
            *(DenseLayer(build(node.layer(node.c_in + i * node.growth), activation)) for i in range(node.depth))
        )
    raise TypeError(f"no torch module for {node!r}")


def chain_modules(chain: Chain, activation) -> list[nn.Module]:
    """A chain's modules in order, a chain within it spliced in (one flat Sequential per chain)."""
    modules = []
    for layer in chain.layers:
        if isinstance(layer, Chain) and present(layer):
            modules += chain_modules(layer, activation)
        elif present(layer):
            modules.append(build(layer, activation))
    return modules


def present(node) -> bool:
    """Whether a layer exists in this network: a chain marked absent or an SE of width 0 does not."""
    if isinstance(node, Chain):
        return bool(node.present)
    if isinstance(node, SqueezeExcite):
        return node.hidden > 0
    return True


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


class Concatenation(nn.Module):
    """Branches on the same input, concatenated along the channels."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class DenseLayer(nn.Module):
    """A dense layer's body, its output concatenated to its input."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def drop_branch(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Stochastic depth for a batch: drop each sample's residual branch with probability
    `rate`, scaling the kept ones by 1 / (1 - rate) so that evaluation needs no change."""
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


class Block(nn.Module):
    """A residual block (layers.Residual): pre (a pre-activated block's BN-act, shared with the
    projection), body, the add of the projection or the input where it skips, then maybe an
    activation."""

    def __init__(self, node: Residual, activation):
        super().__init__()
        self.pre = build(node.pre, activation) if node.pre.layers else None
        self.body = build(node.body, activation)
        projects = node.projection is not None and present(node.projection)
        self.projection = build(node.projection, activation) if projects else None
        self.skip = bool(node.skip)
        self.ends_on_norm = bool(node.ends_on_norm)
        self.drop_rate = 0.0  # stochastic depth, set by set_drop_path for training
        self.activation = activation(inplace=True) if node.act_after else None

    def final_norm(self) -> nn.BatchNorm2d | None:
        """The body's last BN, where the body ends on it (an SENet gate may follow)."""
        norms = [m for m in self.body.modules() if isinstance(m, nn.BatchNorm2d)]
        return norms[-1] if self.ends_on_norm and norms else None

    def forward(self, x):
        x_in = self.pre(x) if self.pre is not None else x
        out = self.body(x_in)
        if self.skip:
            if self.training and self.drop_rate > 0:
                out = drop_branch(out, self.drop_rate)
            out = out + (self.projection(x_in) if self.projection is not None else x)
        return self.activation(out) if self.activation is not None else out


class Network(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        activation = ACTIVATIONS[spec.activation]
        stem, stages, head = network_layers(spec.network, *spec.stage_fields)
        self.spec = spec
        self.stem = build(stem, activation)
        self.stages = nn.Sequential(*(build(stage, activation) for stage in stages))
        self.head = build(head, activation)

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
            final = m.final_norm() if isinstance(m, Block) and m.skip else None
            if final is not None:
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
