import numpy as np
import pytest
from hook_count import measured_complexity
from pycls_zoo import REGNETS, RESNEXTS, regnet_config, resnext_config

import designspace as ds
from designspace.blocks import BLOCK_KINDS, STEMS
from designspace.complexity import complexity_many
from designspace.layers import Conv, SqueezeExcite, cost
from designspace.spec import BOTTLENECK_BLOCKS, GROUP_BLOCKS, OPTIONAL_DEFAULTS, RESIDUAL_BLOCKS

X_BLOCK_SE = {**OPTIONAL_DEFAULTS, "block_type": "res_bottleneck_block", "se_ratio": 0.25}


@pytest.mark.parametrize("row", REGNETS, ids=[r[0] for r in REGNETS])
def test_regnet_zoo_reproduces_to_the_unit(row):
    spec = ds.from_pycls(regnet_config(row))
    assert [list(spec.depths), list(spec.widths), list(spec.group_widths)] == [row[7], row[8], row[9]]
    assert ds.complexity(spec) == {"flops": row[10], "params": row[11], "acts": row[12]}


@pytest.mark.parametrize("row", RESNEXTS, ids=[r[0] for r in RESNEXTS])
def test_resnext_zoo_reproduces_to_the_unit(row):
    spec = ds.from_pycls(resnext_config(row))
    assert ds.complexity(spec) == {"flops": row[4], "params": row[5], "acts": row[6]}


def x_block(w_in, w_out, stride, b, g):
    return BLOCK_KINDS["res_bottleneck_block"].layers(X_BLOCK_SE, w_in, w_out, stride, b, g)


def se_width(block) -> int:
    return next(layer.hidden for layer in block.body.layers if isinstance(layer, SqueezeExcite))


def test_worked_example_regnety_200mf_stage_1_block_1():
    """reference/pycls.md a.3: 112x112x32 input, w_out 24, stride 2, b 1, g 8, se 0.25."""
    block = x_block(32, 24, 2, 1.0, 8)
    conv_3x3 = next(layer for layer in block.body.layers if isinstance(layer, Conv) and layer.k == 3)
    assert (conv_3x3.c_out, conv_3x3.c_out // conv_3x3.groups, se_width(block)) == (24, 8, 8)
    h, (flops, params, acts) = cost(block, 112)
    assert (h, flops, params, acts) == (56, 19_268_000, 4_448, 526_880)


def test_se_width_rounds_half_to_even_from_the_block_input():
    # round(0.25 * 10) = round(2.5) = 2, round(0.25 * 14) = round(3.5) = 4
    assert se_width(x_block(10, 16, 1, 1.0, 8)) == 2
    assert se_width(x_block(14, 16, 1, 1.0, 8)) == 4
    # se_ratio * w_in < 0.5 silently drops SE, as in pycls
    assert se_width(x_block(1, 16, 1, 1.0, 8)) == 0


BLOCKS = list(BLOCK_KINDS)
RATIOS = {
    "res_bottleneck_linear_block": [1.0, 0.5, 0.25],
    "dense_block": [0.25, 0.5, 1.0],
    "fire_block": [1.0, 2.0, 4.0, 8.0],
}


def random_spec(rng: np.random.Generator) -> ds.ModelSpec:
    """A random valid spec over every stem, block, option, head, odd resolutions and in_channels
    (drawn again when a dense network's transitions would pool its maps away at that resolution)."""
    while True:
        try:
            return _random_spec(rng)
        except ValueError as e:
            if not any(m in str(e) for m in ("leaves no feature map", "first block expands", "pools its maps away")):
                raise


def _random_spec(rng: np.random.Generator) -> ds.ModelSpec:
    block = str(rng.choice(BLOCKS))
    stages = int(rng.integers(1, 5))
    widths = [int(rng.integers(1, 9)) * 8 for _ in range(stages)]
    ratios = [float(rng.choice(RATIOS.get(block, [0.25, 0.5, 1.0, 2.0, 4.0]))) for _ in range(stages)]
    groups = []
    for w, b in zip(widths, ratios):
        inner = round(w / b)
        divisors = [g for g in (1, 2, 4, 8, 16, inner) if inner % g == 0] if block in GROUP_BLOCKS else [w]
        if block == "dense_block":  # the 3x3 maps inner to w channels in inner / g groups
            divisors = [g for g in divisors if w % (inner // g) == 0]
        groups.append(int(rng.choice(divisors)))
    options = {}
    if block in BOTTLENECK_BLOCKS:
        options.update(
            se_ratio=float(rng.choice([0.0, 0.25, 0.5])),
            stride_position=str(rng.choice(["3x3", "1x1"])),
            se_style=str(rng.choice(["regnet", "senet"])),
        )
    if block in RESIDUAL_BLOCKS:
        options.update(shortcut=str(rng.choice(["conv", "avgpool_conv"])), preactivation=bool(rng.random() < 0.5))
        options.update(bare_stem=options["preactivation"] and bool(rng.random() < 0.5))
    if block == "res_bottleneck_linear_block":
        options.update(expand_from=str(rng.choice(["output", "input"])))
    if block == "dense_block":
        options.update(compression=float(rng.choice([0.5, 0.75, 1.0])))
    if block == "fire_block":
        options.update(expand_3x3_fraction=float(rng.choice([0.25, 0.5, 0.75])))
    return ds.ModelSpec(
        stem_type=str(rng.choice(list(STEMS))),
        stem_width=int(rng.integers(1, 5)) * 8,
        block_type=block,
        depths=[int(rng.integers(1, 4)) for _ in range(stages)],
        widths=widths,
        strides=[int(rng.choice([1, 2, 3])) for _ in range(stages)],
        bottleneck_ratios=ratios,
        group_widths=groups,
        head_width=int(rng.choice([0, 24])),
        num_classes=int(rng.integers(2, 12)),
        in_channels=int(rng.choice([1, 3, 4])),
        resolution=int(rng.choice([7, 13, 28, 31, 32, 33, 57])),
        activation=str(rng.choice(["relu", "silu"])),
        batch_norm=bool(rng.random() < 0.8),
        deep_stem=bool(rng.random() < 0.3),
        padding=str(rng.choice(["same", "none"])),
        classifier=str(rng.choice(["linear", "conv"])),
        **options,
    )


def test_complexity_matches_an_independent_forward_hook_count():
    rng = np.random.default_rng(0)
    for _ in range(120):
        spec = random_spec(rng)
        measured = measured_complexity(ds.build_model(spec), spec.in_channels, spec.resolution)
        assert ds.complexity(spec) == measured, spec


def test_forward_hook_count_agrees_on_a_zoo_model_at_an_odd_resolution():
    spec = ds.from_pycls(regnet_config(REGNETS[12])).replace(resolution=227, in_channels=1)
    assert ds.complexity(spec) == measured_complexity(ds.build_model(spec), 1, 227)


def test_vectorized_complexity_equals_the_scalar_path():
    rng = np.random.default_rng(1)
    specs = [random_spec(rng) for _ in range(400)]
    batch = complexity_many(specs)
    for i, spec in enumerate(specs):
        assert {m: int(batch[m][i]) for m in ("flops", "params", "acts")} == ds.complexity(spec)
