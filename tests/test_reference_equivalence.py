"""Every zoo network computes the same function as an independent implementation of it
(torchvision's, timm's) given the same weights: at 224 px, and at the odd sizes 97 and 200 px where
strided convs and pools round."""

import re
from functools import lru_cache, partial

import pytest
import torch
from reference_models import randomize, timm_model, torchvision_model, transfer

import designspace as ds

SIZES = [224, 97, 200]
# The networks checked at the odd sizes too: one of each way of downsampling (padded strided convs and max-pool,
# ResNet-D's ceil-mode average pool, DenseNet's flooring transitions, SqueezeNet's unpadded ceil-mode pools,
# the bare stem, RegNet's simple stem); their variants (ResNeXt, SE, ResNet-C, DenseNet-169, RegNetX) downsample
# as these do.
ODD_SIZED = {
    "regnety_200mf",
    "resnet50_b",
    "resnet50_d",
    "densenet121",
    "mobilenet_v2",
    "squeezenet1_0",
    "squeezenet1_1",
    "preact_resnet50",
    "mobilenet_v1",
}
CLASSES = 10
BATCH = 2


def projection_last(keys: list[str]) -> list[str]:
    """timm's PreActBottleneck defines its projection ("downsample") before its layers, designspace's
    Block after them: each block's downsample keys move behind the block's other keys."""
    first = {}
    for index, key in enumerate(keys):
        first.setdefault(_block(key), index)
    return sorted(keys, key=lambda key: (first[_block(key)], ".downsample." in key))


def _block(key: str) -> str:
    match = re.match(r"stages\.\d+\.blocks\.\d+\.", key)
    return match.group(0) if match else key


# (zoo name, ModelSpec overrides, the reference's constructor, the order of its weights' keys)
CASES = [
    ("resnet50_b", {}, partial(torchvision_model, "resnet50"), None),
    ("resnext50_32x4d", {}, partial(torchvision_model, "resnext50_32x4d"), None),
    ("densenet121", {}, partial(torchvision_model, "densenet121"), None),
    ("densenet169", {}, partial(torchvision_model, "densenet169"), None),
    ("mobilenet_v2", {}, partial(torchvision_model, "mobilenet_v2"), None),
    ("squeezenet1_0", {}, partial(torchvision_model, "squeezenet1_0"), None),
    ("squeezenet1_1", {}, partial(torchvision_model, "squeezenet1_1"), None),
    ("resnet50_c", {}, partial(timm_model, "resnet50c"), None),  # deep stem 32, 32, 64
    ("resnet50_d", {}, partial(timm_model, "resnet50d"), None),  # and the average-pool shortcut
    ("se_resnet50", {}, partial(timm_model, "seresnet50"), None),
    ("se_resnext50_32x4d", {}, partial(timm_model, "seresnext50_32x4d"), None),
    ("preact_resnet50", {}, partial(timm_model, "resnetv2_50"), projection_last),
    ("regnetx_200mf", {}, partial(timm_model, "regnetx_002"), None),  # timm's RegNets are pycls's
    ("regnety_200mf", {}, partial(timm_model, "regnety_002"), None),  # SE from the block's input width
    # timm's MobileNet-v1 has ReLU6 (TensorFlow's); the zoo's has the paper's ReLU unless told otherwise
    ("mobilenet_v1", {}, partial(timm_model, "mobilenetv1_100", act_layer="relu"), None),
    ("mobilenet_v1", {"activation": "relu6"}, partial(timm_model, "mobilenetv1_100"), None),
]


@lru_cache(maxsize=1)  # one network's sizes run one after another; its weights are replaced each time
def reference(make) -> torch.nn.Module:
    return make(num_classes=CLASSES).eval()


def outputs(name, overrides, make, order, size):
    """Both networks' outputs for one random input, designspace's random weights copied into the reference."""
    ours = ds.build_model(ds.zoo.spec(name, num_classes=CLASSES, resolution=size, **overrides)).eval()
    randomize(ours, seed=0)
    theirs = reference(make)
    transfer(ours, theirs, order)
    x = torch.randn(BATCH, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return ours(x), theirs(x)


def case_id(case) -> str:
    name, overrides, _, _ = case
    return "-".join([name, *map(str, overrides.values())])


RUNS = [(case, size) for case in CASES for size in (SIZES if case[0] in ODD_SIZED else SIZES[:1])]


@pytest.mark.parametrize("case, size", RUNS, ids=[f"{case_id(case)}-{size}" for case, size in RUNS])
def test_the_network_computes_what_its_reference_does(case, size):
    """float32 outputs within 1e-5 of the output's scale (relative and absolute): about 100 float32
    roundings (eps 1.2e-7) deep, so a reference that merely sums in another order stays well inside,
    while a layer that differs (a pool that rounds otherwise, ReLU for ReLU6) is off by the scale
    itself. The random weights let outputs reach 1e4 through 50 residual layers, hence the scale."""
    ours, theirs = outputs(*case, size)
    assert ours.shape == theirs.shape == (BATCH, CLASSES)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5 * float(theirs.abs().max()))


@pytest.mark.parametrize(
    "name, make",
    [
        ("resnet50_a", partial(torchvision_model, "resnet50")),  # the stride on the 1x1 conv, not the 3x3
        ("mobilenet_v1", partial(timm_model, "mobilenetv1_100")),  # ReLU against timm's ReLU6
    ],
)
def test_the_comparison_tells_apart_networks_with_the_same_weights_but_another_function(name, make):
    ours, theirs = outputs(name, {}, make, None, 97)
    assert (ours - theirs).abs().max() > 1e-2 * theirs.abs().max()
