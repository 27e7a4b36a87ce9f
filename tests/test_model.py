import pytest
import torch

import designspace as ds
from designspace.model import Block

SPEC = ds.ModelSpec(
    stem_type="res_stem_cifar",
    stem_width=16,
    block_type="res_bottleneck_block",
    depths=[1, 2],
    widths=[16, 32],
    strides=[1, 2],
    bottleneck_ratios=[1.0, 2.0],
    group_widths=[4, 8],
    se_ratio=0.25,
    head_width=0,
    num_classes=10,
    in_channels=1,
    resolution=28,
    activation="relu",
)


@pytest.mark.parametrize(
    "block_type", ["res_bottleneck_block", "res_basic_block", "vanilla_block", "res_bottleneck_linear_block"]
)
def test_every_block_type_trains_one_step(block_type):
    se = 0.25 if "bottleneck" in block_type else 0.0
    spec = SPEC.replace(block_type=block_type, se_ratio=se)
    model = ds.build_model(spec)
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert model(x).shape == (4, 10)
    assert all(p.grad is not None for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == ds.complexity(spec)["params"]


def test_activation_choice_is_used():
    kinds = {type(m) for m in ds.build_model(SPEC.replace(activation="silu")).modules()}
    assert torch.nn.SiLU in kinds and torch.nn.ReLU not in kinds


def test_zero_init_of_the_final_bn_makes_residual_blocks_start_as_identity():
    model = ds.build_model(SPEC, zero_init_final_bn=True)
    blocks = [m for m in model.modules() if isinstance(m, Block)]
    assert all(float(b.body[-1].weight.detach().abs().sum()) == 0.0 for b in blocks)
    default = ds.build_model(SPEC)
    assert all(float(b.body[-1].weight.detach().abs().sum()) > 0 for b in default.modules() if isinstance(b, Block))


def test_relu6_is_a_choice_that_clips_at_six():
    model = ds.build_model(SPEC.replace(activation="relu6"))
    kinds = {type(m) for m in model.modules()}
    assert torch.nn.ReLU6 in kinds and torch.nn.ReLU not in kinds
    assert ds.complexity(SPEC.replace(activation="relu6")) == ds.complexity(SPEC)  # activations cost nothing
    with torch.no_grad():  # eval-mode BN passes the conv's large outputs on, and the stem's ReLU6 clips them
        assert float(model.eval().stem(1e4 * torch.randn(1, 1, 28, 28)).max()) == 6.0


def test_a_zero_initialised_block_is_the_identity_with_relu_but_not_with_silu():
    """Why Recipe.initialisation_note exists: ReLU (and ReLU6) are idempotent on their outputs, Swish is not."""
    x = torch.relu(torch.randn(2, 32, 14, 14))  # what the previous block hands on
    for activation, identity in (("relu", True), ("relu6", True), ("silu", False)):
        model = ds.build_model(SPEC.replace(activation=activation), zero_init_final_bn=True).eval()
        second = [m for m in model.modules() if isinstance(m, Block)][-1]  # 32 -> 32, no projection
        assert torch.equal(second(x), x) is identity


def test_the_initialisation_note_names_swish_after_the_add_under_zero_init():
    from designspace.recipe import Recipe

    silu = SPEC.replace(activation="silu").to_dict()
    assert "--no-zero-init" in Recipe().initialisation_note([SPEC.to_dict(), silu])
    assert Recipe(zero_init_final_bn=False).initialisation_note([silu]) is None
    assert Recipe().initialisation_note([SPEC.to_dict(), SPEC.replace(activation="relu6").to_dict()]) is None
    assert Recipe().initialisation_note([{**silu, "preactivation": True}]) is None
    assert Recipe().initialisation_note([{**silu, "block_type": "vanilla_block"}]) is None


def test_linear_block_skips_only_when_shapes_match():
    spec = SPEC.replace(block_type="res_bottleneck_linear_block", bottleneck_ratios=[0.25, 0.25], group_widths=[1, 1])
    blocks = [m for m in ds.build_model(spec).modules() if isinstance(m, Block)]
    # stage 1 block 1: 16 -> 16 stride 1 (skip); stage 2 block 1: 16 -> 32 stride 2 (no skip); block 2: skip
    assert [b.skip for b in blocks] == [True, False, True]
    assert all(b.projection is None and b.activation is None for b in blocks)


def test_build_model_rejects_non_specs():
    with pytest.raises(TypeError):
        ds.build_model({"depths": [1]})
