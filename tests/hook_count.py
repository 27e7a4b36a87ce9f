"""An independent count of flops / params / acts: run the built torch model once and add up
what its Conv2d, Linear, MaxPool2d and AvgPool2d layers actually produced (pycls's conventions;
global pooling is AdaptiveAvgPool2d, which is free)."""

import torch
from torch import nn


def measured_complexity(model: nn.Module, in_channels: int, resolution: int) -> dict:
    totals = {"flops": 0, "acts": 0}

    def on_conv(module, inputs, output):
        outputs = output.numel()
        kh, kw = module.kernel_size
        totals["flops"] += outputs * kh * kw * (module.in_channels // module.groups)
        totals["flops"] += outputs if module.bias is not None else 0
        totals["acts"] += outputs

    def on_linear(module, inputs, output):
        totals["flops"] += module.in_features * module.out_features + module.out_features
        totals["acts"] += output.numel()

    def on_pool(module, inputs, output):
        totals["acts"] += output.numel()

    handles = []
    for m in model.modules():
        hook = {nn.Conv2d: on_conv, nn.Linear: on_linear, nn.MaxPool2d: on_pool, nn.AvgPool2d: on_pool}.get(type(m))
        if hook is not None:
            handles.append(m.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, in_channels, resolution, resolution))
    for h in handles:
        h.remove()
    totals["params"] = sum(p.numel() for p in model.parameters())
    return totals
