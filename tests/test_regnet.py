import numpy as np
import pytest
from pycls_zoo import REGNETS

from designspace import regnet


def test_generate_regnetx_4gf_before_and_after_adjustment():
    g = regnet.generate(96, 38.65, 2.43, 23)
    assert g["widths"] == [96, 232, 568, 1376] and g["depths"] == [2, 5, 14, 2]
    assert g["num_stages"] == g["total_stages"] == 4
    assert len(g["block_widths"]) == 23 and g["block_widths"][:3] == [96, 96, 232]
    widths, groups = regnet.adjust_compatibility(g["widths"], [1.0] * 4, [40] * 4)
    assert widths == [80, 240, 560, 1360] and groups == [40, 40, 40, 40]


def test_compatibility_caps_the_group_width_at_the_stage_width():
    widths, groups = regnet.adjust_compatibility([80, 232, 704, 1880], [1.0] * 4, [120] * 4)
    assert groups == [80, 120, 120, 120]


def test_compatibility_handles_inverted_bottlenecks_with_lcm():
    # bot_mul = 1/b = 4: the inner width becomes a multiple of lcm(g, 4)
    widths, groups = regnet.adjust_compatibility([30], [0.25], [6])
    assert (widths[0] * 4) % groups[0] == 0 and (widths[0] * 4) % 12 == 0
    with pytest.raises(ValueError, match="integer expansion"):
        regnet.adjust_compatibility([32], [0.4], [8])


def test_generate_rounds_half_to_even_like_numpy():
    # 8 * 2.5 = 20 -> 20 / 8 = 2.5 rounds to 2 (even) -> 16, where rounding half up would give 24
    assert regnet.generate(8, 12.0, 2.5, 2)["block_widths"] == [8, 16]
    # 8 * 3.5 = 28 -> 3.5 rounds to 4 (even) -> 32
    assert regnet.generate(8, 20.0, 3.5, 2)["block_widths"] == [8, 32]


def test_stage_count_can_differ_from_total_stages():
    # depth 2 with a large wa jumps from level 0 straight to level 2: an empty level 1
    g = regnet.generate(8, 400.0, 2.0, 2)
    assert g["num_stages"] == 2 and g["total_stages"] > 2


@pytest.mark.parametrize(
    "args, message",
    [
        ((24, -1.0, 2.5, 13), "wa"),
        ((0, 5.0, 2.5, 13), "w0"),
        ((24, 5.0, 1.0, 13), "wm"),
        ((20, 5.0, 2.5, 13), "multiple of q"),
        ((24, 5.0, 2.5, 0), "depth"),
    ],
)
def test_invalid_parameters_are_value_errors(args, message):
    with pytest.raises(ValueError, match=message):
        regnet.generate(*args)


@pytest.mark.parametrize("row", REGNETS[:12], ids=[r[0] for r in REGNETS[:12]])
def test_make_spec_builds_the_zoo_stages(row):
    name, depth, w0, wa, wm, g, se_on, depths, widths, groups = row[:10]
    spec = regnet.make_spec(depth, w0, wa, wm, g, se_ratio=0.25 if se_on else 0.0)
    assert (list(spec.depths), list(spec.widths), list(spec.group_widths)) == (depths, widths, groups)


def test_generate_matches_a_direct_transcription_of_the_equations():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w0 = int(rng.integers(1, 33)) * 8
        wa, wm, depth = (
            float(np.round(rng.uniform(0, 100), 2)),
            float(np.round(rng.uniform(1.5, 3), 3)),
            int(rng.integers(1, 40)),
        )
        u = w0 + wa * np.arange(depth)
        s = np.round(np.log(u / w0) / np.log(wm))
        expected = (np.round(w0 * wm**s / 8) * 8).astype(int).tolist()
        assert regnet.generate(w0, wa, wm, depth)["block_widths"] == expected
