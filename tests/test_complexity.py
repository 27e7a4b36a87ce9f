import numpy as np
import pytest
from hook_count import measured_complexity
from pycls_zoo import REGNETS, RESNEXTS, regnet_config, resnext_config

import designspace as ds
from designspace.complexity import complexity_many
from designspace.layout import block_cost, block_layout


@pytest.mark.parametrize("row", REGNETS, ids=[r[0] for r in REGNETS])
def test_regnet_zoo_reproduces_to_the_unit(row):
    spec = ds.from_pycls(regnet_config(row))
    assert [list(spec.depths), list(spec.widths), list(spec.group_widths)] == [row[7], row[8], row[9]]
    assert ds.complexity(spec) == {"flops": row[10], "params": row[11], "acts": row[12]}


@pytest.mark.parametrize("row", RESNEXTS, ids=[r[0] for r in RESNEXTS])
def test_resnext_zoo_reproduces_to_the_unit(row):
    spec = ds.from_pycls(resnext_config(row))
    assert ds.complexity(spec) == {"flops": row[4], "params": row[5], "acts": row[6]}


def test_worked_example_regnety_200mf_stage_1_block_1():
    """reference/pycls.md a.3: 112x112x32 input, w_out 24, stride 2, b 1, g 8, se 0.25."""
    layout = block_layout("res_bottleneck_block", 32, 24, 2, 1.0, 8, 0.25)
    assert (layout.inner, layout.groups, layout.se) == (24, 3, 8)
    h, (flops, params, acts) = block_cost(layout, 112)
    assert (h, flops, params, acts) == (56, 19_268_000, 4_448, 526_880)


def test_se_width_rounds_half_to_even_from_the_block_input():
    # round(0.25 * 10) = round(2.5) = 2, round(0.25 * 14) = round(3.5) = 4
    assert block_layout("res_bottleneck_block", 10, 16, 1, 1.0, 8, 0.25).se == 2
    assert block_layout("res_bottleneck_block", 14, 16, 1, 1.0, 8, 0.25).se == 4
    # se_ratio * w_in < 0.5 silently drops SE, as in pycls
    assert block_layout("res_bottleneck_block", 1, 16, 1, 1.0, 8, 0.25).se == 0


def random_spec(rng: np.random.Generator) -> ds.ModelSpec:
    """A random valid spec over every stem, block, head, odd resolutions and in_channels."""
    block = rng.choice(["res_bottleneck_block", "res_basic_block", "vanilla_block", "res_bottleneck_linear_block"])
    stages = int(rng.integers(1, 5))
    widths = [int(rng.integers(1, 9)) * 8 for _ in range(stages)]
    bottleneck = block in ("res_bottleneck_block", "res_bottleneck_linear_block")
    ratios = [float(rng.choice([0.25, 0.5, 1.0, 2.0, 4.0] if block != "res_bottleneck_linear_block" else [1.0, 0.5, 0.25]))
              for _ in range(stages)]
    groups = []
    for w, b in zip(widths, ratios):
        inner = round(w / b)
        divisors = [g for g in (1, 2, 4, 8, 16) if inner % g == 0] if bottleneck else [w]
        groups.append(int(rng.choice(divisors)))
    return ds.ModelSpec(
        stem_type=str(rng.choice(["res_stem_cifar", "res_stem_in", "simple_stem_in"])),
        stem_width=int(rng.integers(1, 5)) * 8,
        block_type=str(block),
        depths=[int(rng.integers(1, 4)) for _ in range(stages)],
        widths=widths,
        strides=[int(rng.choice([1, 2])) for _ in range(stages)],
        bottleneck_ratios=ratios,
        group_widths=groups,
        se_ratio=float(rng.choice([0.0, 0.25, 0.5])) if bottleneck else 0.0,
        head_width=int(rng.choice([0, 24])),
        num_classes=int(rng.integers(2, 12)),
        in_channels=int(rng.choice([1, 3, 4])),
        resolution=int(rng.choice([7, 13, 28, 31, 32, 33, 57])),
        activation=str(rng.choice(["relu", "silu"])),
    )


def test_complexity_matches_an_independent_forward_hook_count():
    rng = np.random.default_rng(0)
    for _ in range(60):
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
