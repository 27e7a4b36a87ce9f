"""End to end on the real embedded dataset (Debian's dataset-fashion-mnist, installed by make)."""

import pytest

import designspace as ds
from designspace.data import DEBIAN_FASHION_MNIST, load_dataset
from designspace.train import Recipe, train


@pytest.mark.slow
def test_a_small_regnet_learns_fashion_mnist_on_cpu():
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("dataset-fashion-mnist is not installed (make test installs it where apt is available)")
    data = load_dataset("fashion-mnist").subset(train=8_000, test=2_000, seed=0)
    space = ds.load_space("regnetx").with_context(
        resolution=28, in_channels=1, num_classes=10, stem_type="res_stem_cifar"
    )
    spec = ds.ModelSpec.from_dict(space.sample(1, seed=0, flops=(5e6, 15e6))[0]["spec"])
    record = train(spec, data, Recipe(epochs=3), progress=False)
    assert record["status"] == "ok"
    assert record["best_error"] < 30.0  # chance is 90%; measured 24.1% (20k images: 16.7%; all 60k: 10.6%)
