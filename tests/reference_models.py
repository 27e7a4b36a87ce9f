"""Independent implementations of the zoo's networks (torchvision's, timm's), and the weight
transfer that makes two implementations of one network comparable output for output."""

import sys
import types

import torch
from torch import nn


def import_torchvision():
    """torchvision, for its model definitions (pure Python). The wheels installable here are CUDA
    builds: with a CPU torch their compiled ops (_C.so) do not load, and the import fails in
    torchvision._meta_registrations ("operator torchvision::nms does not exist"). Without that
    module the models work; only the detection ops (nms, roi_align) do not."""
    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
            del sys.modules[name]  # the half-imported package, which a retry would otherwise find
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision
    return torchvision


def torchvision_model(name: str, **kwargs) -> nn.Module:
    return getattr(import_torchvision().models, name)(**kwargs)


def timm_model(name: str, **kwargs) -> nn.Module:
    import_torchvision()  # timm imports torchvision
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def randomize(model: nn.Module, seed: int) -> None:
    """Random weights, He-scaled so that activations stay near unit size through 50 layers, and
    random BN affine parameters and running statistics, so that no BN is the identity."""
    generator = torch.Generator().manual_seed(seed)

    def normal(tensor, std):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * std)

    def uniform(tensor, low, high):
        tensor.copy_(low + (high - low) * torch.rand(tensor.shape, generator=generator))

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                uniform(module.weight, 0.5, 1.5)
                normal(module.bias, 0.1)
                normal(module.running_mean, 0.1)
                uniform(module.running_var, 0.5, 1.5)
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                normal(module.weight, (2.0 / module.weight[0].numel()) ** 0.5)
                if module.bias is not None:
                    normal(module.bias, 0.1)


def weights(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The state_dict in its order, less BN's num_batches_tracked (unused in eval mode)."""
    return [(key, value) for key, value in model.state_dict().items() if not key.endswith("num_batches_tracked")]


def transfer(source: nn.Module, target: nn.Module, order=None) -> None:
    """Copy source's weights into target, pairing the two state_dicts entry by entry: in their
    order, or in the order `order` gives target's keys where the modules define layers in a
    different order. Each pair must have one shape, but for a classifier written as a 1x1 conv
    on the pooled features (timm's ResNetV2), which is a linear layer with a 1 x 1 weight."""
    source_weights, target_keys = weights(source), [key for key, _ in weights(target)]
    target_keys = order(target_keys) if order else target_keys
    assert len(source_weights) == len(target_keys), f"{len(source_weights)} weights for {len(target_keys)}"
    pairs, state = list(zip(source_weights, target_keys)), target.state_dict()
    mismatched = [
        (key, tuple(value.shape), target_key, tuple(state[target_key].shape))
        for (key, value), target_key in pairs
        if _unit_kernel(value.shape) != _unit_kernel(state[target_key].shape)
    ]
    assert not mismatched, f"first of {len(mismatched)} shape mismatches (source, target): {mismatched[0]}"
    state.update({target_key: value.reshape(state[target_key].shape) for (_, value), target_key in pairs})
    target.load_state_dict(state)


def _unit_kernel(shape: torch.Size) -> torch.Size:
    """A 1x1 conv's weight shape as a linear layer's."""
    return shape[:2] if shape[2:] == (1, 1) else shape
