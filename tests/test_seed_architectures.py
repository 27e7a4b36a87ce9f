"""The seed architectures as ModelSpecs: their published sizes, and the options' contracts."""

import pytest
import torch
from hook_count import measured_complexity

import designspace as ds

RESNET50 = dict(
    stem_type="res_stem_in",
    stem_width=64,
    block_type="res_bottleneck_block",
    depths=[3, 4, 6, 3],
    widths=[256, 512, 1024, 2048],
    strides=[1, 2, 2, 2],
    bottleneck_ratios=[4] * 4,
    group_widths=[64, 128, 256, 512],
)
DENSENET121 = dict(
    stem_type="res_stem_in",
    stem_width=64,
    block_type="dense_block",
    depths=[6, 12, 24, 16],
    widths=[32] * 4,
    strides=[1, 2, 2, 2],
    bottleneck_ratios=[0.25] * 4,
    group_widths=[128] * 4,
)
# SqueezeNet 1.0: fire2-3 | fire4 | pool, fire5 | fire6-7 | fire8 | pool, fire9; biases, no BN; unpadded
# stem conv and max-pools that round up; a 1x1 conv classifier.
SQUEEZENET10 = dict(
    stem_type="res_stem_in",
    stem_width=96,
    block_type="fire_block",
    depths=[2, 1, 1, 2, 1, 1],
    widths=[128, 256, 256, 384, 512, 512],
    strides=[1, 1, 2, 1, 1, 2],
    bottleneck_ratios=[8] * 6,
    group_widths=[1] * 6,
    batch_norm=False,
    padding="none",
    classifier="conv",
)
MOBILENET_V1 = dict(
    stem_type="simple_stem_in",
    stem_width=32,
    block_type="depthwise_separable_block",
    depths=[1, 2, 2, 6, 2],
    widths=[64, 128, 256, 512, 1024],
    strides=[1, 2, 2, 2, 2],
    bottleneck_ratios=[1] * 5,
    group_widths=[1] * 5,
)
RESNEXT50 = {**RESNET50, "bottleneck_ratios": [2] * 4, "group_widths": [4, 8, 16, 32]}
SENET = dict(se_ratio=1 / 16, se_style="senet")  # reduction 16, after the last 1x1, on the output width
# MobileNet-v2 1.0 (Sandler et al. 2018, Table 2): (t, c, n, s) rows as stages, b = 1/t, depthwise 3x3.
MOBILENET_V2 = dict(
    stem_type="simple_stem_in",
    stem_width=32,
    block_type="res_bottleneck_linear_block",
    depths=[1, 2, 3, 4, 3, 3, 1],
    widths=[16, 24, 32, 64, 96, 160, 320],
    strides=[1, 2, 2, 2, 1, 2, 1],
    bottleneck_ratios=[1] + [1 / 6] * 6,
    group_widths=[1] * 7,
    head_width=1280,
    activation="relu6",
    expand_from="input",
)
TWEAKS = {
    "A": dict(stride_position="1x1"),
    "B": {},
    "C": dict(deep_stem=True),
    "D": dict(deep_stem=True, shortcut="avgpool_conv"),
}


def params_of_built_model(spec):
    return sum(p.numel() for p in ds.build_model(spec).parameters())


@pytest.mark.parametrize(
    "name, fields, params",
    [
        ("ResNet-50 (torchvision, pycls zoo)", RESNET50, 25_557_032),
        ("ResNeXt-50 32x4d (torchvision)", RESNEXT50, 25_028_904),
        ("SE-ResNeXt-50 32x4d (Hu et al.; timm seresnext50_32x4d)", {**RESNEXT50, **SENET}, 27_559_896),
        ("SE-ResNet-50 (Hu et al.; timm seresnet50)", {**RESNET50, **SENET}, 28_088_024),
        ("MobileNet-v2 1.0 (Sandler et al.; torchvision mobilenet_v2)", MOBILENET_V2, 3_504_872),
        ("ResNet-50-D (timm resnet50d)", {**RESNET50, **TWEAKS["D"]}, 25_576_264),
        ("DenseNet-121 (Huang et al.; torchvision)", DENSENET121, 7_978_856),
        ("SqueezeNet 1.0 (Iandola et al.; torchvision)", SQUEEZENET10, 1_248_424),
    ],
)
def test_published_parameter_counts_to_the_unit(name, fields, params):
    spec = ds.ModelSpec(**fields)
    assert ds.complexity(spec)["params"] == params == params_of_built_model(spec)


def test_mobilenet_v1_matches_the_paper_table():
    """Howard et al. 2017, Table 1: 1.0 MobileNet-224 has 569 M multiply-adds and 4.2 M params."""
    cx = ds.complexity(ds.ModelSpec(**MOBILENET_V1))
    assert round(cx["flops"] / 1e6) == 569
    assert round(cx["params"] / 1e5) == 42
    assert cx["params"] == params_of_built_model(ds.ModelSpec(**MOBILENET_V1))


def test_resnet_tweaks_cost_what_the_bag_of_tricks_reports():
    """He et al. 2019, Table 5: ResNet-50 3.8 GF, ResNet-50-D 4.3 GF (about +13%)."""
    flops = {t: ds.complexity(ds.ModelSpec(**{**RESNET50, **extra}))["flops"] for t, extra in TWEAKS.items()}
    assert round(flops["A"] / 1e8) == 39 and round(flops["D"] / 1e8) == 43
    assert 1.10 < flops["D"] / flops["A"] < 1.15
    assert flops["A"] < flops["B"] < flops["C"] == flops["D"]  # the shortcut's average pool is free


@pytest.mark.parametrize(
    "fields",
    [{**RESNET50, **extra} for extra in TWEAKS.values()]
    + [
        {**RESNET50, "preactivation": True},
        DENSENET121,
        SQUEEZENET10,
        MOBILENET_V1,
        {**RESNEXT50, **SENET},
        {**RESNEXT50, **SENET, "preactivation": True},
        MOBILENET_V2,
    ],
    ids=[
        "A",
        "B",
        "C",
        "D",
        "preact",
        "densenet121",
        "squeezenet",
        "mobilenet",
        "senet",
        "senet-preact",
        "mobilenet_v2",
    ],
)
def test_seed_architectures_agree_with_the_forward_hook_count(fields):
    spec = ds.ModelSpec(**{**fields, "resolution": 64, "num_classes": 10})
    assert ds.complexity(spec) == measured_complexity(ds.build_model(spec), 3, 64)


def test_existing_specs_keep_their_exact_json():
    spec = ds.ModelSpec(**RESNET50)
    assert "stride_position" not in spec.to_dict() and "batch_norm" not in spec.to_dict()
    tweaked = ds.ModelSpec(**{**RESNET50, **TWEAKS["D"], "preactivation": True})
    assert tweaked.to_dict()["shortcut"] == "avgpool_conv" and tweaked.to_dict()["preactivation"] is True
    assert ds.ModelSpec.from_json(tweaked.to_json()) == tweaked


@pytest.mark.parametrize(
    "change, message",
    [
        ({**DENSENET121, "widths": [0, 32, 32, 32]}, r"ModelSpec\.widths"),  # growth rate 0
        ({**DENSENET121, "compression": 0}, r"ModelSpec\.compression: must be in \(0, 1\]"),
        ({**DENSENET121, "compression": 0.01, "stem_width": 8, "depths": [1, 1, 1, 1]}, r"ModelSpec\.compression"),
        ({**DENSENET121, "group_widths": [24] * 4}, r"ModelSpec\.group_widths"),
        (
            {**SQUEEZENET10, "bottleneck_ratios": [0.5] * 6},
            r"ModelSpec\.bottleneck_ratios: .*narrower than its squeeze",
        ),
        ({**SQUEEZENET10, "expand_3x3_fraction": 1.0}, r"ModelSpec\.expand_3x3_fraction"),
        ({**RESNET50, "stride_position": "5x5"}, r"ModelSpec\.stride_position"),
        ({**RESNET50, "shortcut": "maxpool"}, r"ModelSpec\.shortcut"),
        ({**RESNET50, "preactivation": "yes"}, r"ModelSpec\.preactivation"),
        ({**MOBILENET_V1, "preactivation": True}, r"ModelSpec\.preactivation: .* applies to"),
        ({**MOBILENET_V1, "stride_position": "1x1"}, r"ModelSpec\.stride_position: .* applies to"),
        ({**RESNET50, "compression": 0.7}, r"ModelSpec\.compression: .* applies to dense_block"),
        ({**RESNET50, "deep_stem": True, "stem_width": 1}, r"ModelSpec\.stem_width"),
        ({**RESNET50, "deep_stem": 1}, r"ModelSpec\.deep_stem"),
        ({**RESNET50, "se_style": "cbam"}, r"ModelSpec\.se_style"),
        ({**MOBILENET_V2, "expand_from": "middle"}, r"ModelSpec\.expand_from"),
        ({**RESNET50, "expand_from": "input"}, r"ModelSpec\.expand_from: .* applies to res_bottleneck_linear_block"),
        (
            {**MOBILENET_V2, "group_widths": [1, 72, 1, 1, 1, 1, 1]},
            r"stage 2.s first block expands its input width 16 to 96",
        ),
        ({**MOBILENET_V1, "se_style": "senet"}, r"ModelSpec\.se_style: .* applies to"),
        ({**RESNET50, "bare_stem": True}, r"ModelSpec\.bare_stem: .* needs pre-activated blocks"),
        ({**RESNET50, "padding": "valid"}, r"ModelSpec\.padding"),
        ({**SQUEEZENET10, "classifier": "mlp"}, r"ModelSpec\.classifier"),
        ({**SQUEEZENET10, "resolution": 16}, r"ModelSpec\.resolution: 16 px with padding 'none' pools .* by stage 6"),
    ],
)
def test_impossible_option_values_name_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        ds.ModelSpec(**change)


def test_drop_path_decays_linearly_and_only_acts_in_training():
    from designspace.model import Block, set_drop_path

    model = ds.build_model(ds.ModelSpec(**{**RESNET50, "resolution": 32, "depths": [1, 1, 1, 1]}))
    assert set_drop_path(model, 0.2) == 4
    rates = [m.drop_rate for m in model.modules() if isinstance(m, Block)]
    assert rates == pytest.approx([0.05, 0.1, 0.15, 0.2])
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    first = model(x)
    assert (model(x) == first).all()  # evaluation is deterministic
    model.train()
    torch.manual_seed(0)
    dropped = model(x)
    torch.manual_seed(1)
    assert not (model(x) == dropped).all()  # training drops branches at random
    set_drop_path(model, 0.0)
    torch.manual_seed(0)
    kept = model(x)
    torch.manual_seed(1)
    assert (model(x) == kept).all()
    assert set_drop_path(ds.build_model(ds.ModelSpec(**MOBILENET_V1)), 0.2) == 0  # no residual branches


@pytest.mark.parametrize("resolution, sizes", [(224, [56, 28, 14, 7]), (200, [50, 25, 12, 6]), (97, [25, 12, 6, 3])])
def test_densenet_transitions_round_odd_maps_down_as_densenet_does(resolution, sizes):
    """The maps of DenseNet-121's four dense blocks (torchvision's: a 2x2 average pool, no padding)."""
    spec = ds.ModelSpec(**DENSENET121, resolution=resolution)
    model = ds.build_model(spec).eval()
    assert stage_sizes(model, resolution)[1:] == sizes
    assert ds.complexity(spec) == measured_complexity(model, 3, resolution)


def stage_sizes(model, resolution) -> list[int]:
    seen = []
    with torch.no_grad():
        x = model.stem(torch.zeros(1, 3, resolution, resolution))
        seen.append(x.shape[-1])
        for stage in model.stages:
            x = stage(x)
            seen.append(x.shape[-1])
    return seen


def test_squeezenet_keeps_its_unpadded_maps_and_conv_classifier():
    """SqueezeNet 1.0's maps are 54 after the stem (109 after its conv), 27 and 13 after its pools
    (Iandola et al., Table 1); its 1x1 classifier conv runs at 13 x 13."""
    spec = ds.ModelSpec(**SQUEEZENET10, num_classes=1000)
    model = ds.build_model(spec).eval()
    assert model.stem[0].padding == (0, 0) and model.stem(torch.zeros(1, 3, 224, 224)).shape[-1] == 54
    assert stage_sizes(model, 224) == [54, 54, 54, 27, 27, 27, 13]
    classifier = model.head[0]
    assert isinstance(classifier, torch.nn.Conv2d) and classifier.kernel_size == (1, 1)
    assert ds.complexity(spec) == measured_complexity(model, 3, 224)
    assert (
        ds.complexity(spec)["flops"] - ds.complexity(ds.ModelSpec(**{**SQUEEZENET10, "classifier": "linear"}))["flops"]
        == 13 * 13 * 1000 * 512 + 13 * 13 * 1000 - 1000 * 512 - 1000
    )


def test_a_bare_stem_leaves_the_normalization_to_the_first_preactivated_block():
    spec = ds.ModelSpec(**RESNET50, preactivation=True, bare_stem=True, resolution=64)
    stem = ds.build_model(spec).stem
    assert [type(m).__name__ for m in stem] == ["Conv2d", "MaxPool2d"]
    normed = ds.ModelSpec(**RESNET50, preactivation=True, resolution=64)
    assert ds.complexity(normed)["params"] - ds.complexity(spec)["params"] == 2 * 64


def test_a_dense_network_too_small_for_its_transitions_is_refused_with_the_stage():
    with pytest.raises(ValueError, match="16 px leaves no feature map for dense stage 4 .* raise the resolution"):
        ds.ModelSpec(**DENSENET121, resolution=16)
    with pytest.raises(ValueError, match="network.resolution: 16 px leaves no feature map for dense stage 4"):
        ds.load_space("densenet").with_context(resolution=16)


def test_senet_se_follows_the_last_bn_and_zero_init_still_makes_the_block_the_identity():
    from designspace.model import Block, SqueezeExcitation

    spec = ds.ModelSpec(**{**RESNEXT50, **SENET, "resolution": 32, "depths": [2, 1, 1, 1]})
    model = ds.build_model(spec, zero_init_final_bn=True).eval()
    second = [m for m in model.modules() if isinstance(m, Block)][1]  # 256 -> 256, no projection
    assert isinstance(second.body[-1], SqueezeExcitation) and second.body[-1].gate[1].in_channels == 256
    assert second.body[-1].gate[1].out_channels == 16  # 256 / 16
    x = torch.relu(torch.randn(2, 256, 8, 8))
    with torch.no_grad():
        assert torch.equal(second(x), x)


def test_mobilenet_v2_blocks_expand_their_input_and_t1_blocks_have_no_expansion():
    from designspace.model import Block

    blocks = [m for m in ds.build_model(ds.ModelSpec(**MOBILENET_V2)).modules() if isinstance(m, Block)]
    convs = [[c for c in b.body if isinstance(c, torch.nn.Conv2d)] for b in blocks]
    assert [(c.in_channels, c.out_channels, c.groups) for c in convs[0]] == [(32, 32, 32), (32, 16, 1)]  # t = 1
    assert [(c.in_channels, c.out_channels) for c in convs[1]] == [(16, 96), (96, 96), (96, 24)]  # 6 x its input 16
    assert convs[1][1].stride == (2, 2) and [b.skip for b in blocks[:3]] == [False, False, True]
