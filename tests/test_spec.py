import json

import pytest

from designspace import ModelSpec

BASE = {
    "stem_type": "simple_stem_in",
    "stem_width": 32,
    "block_type": "res_bottleneck_block",
    "depths": [1, 2],
    "widths": [32, 64],
    "strides": [2, 2],
    "bottleneck_ratios": [1.0, 2.0],
    "group_widths": [8, 16],
    "se_ratio": 0.25,
    "head_width": 0,
    "num_classes": 10,
    "in_channels": 1,
    "resolution": 28,
    "activation": "silu",
}


def test_json_round_trip_keeps_exactly_the_documented_keys():
    spec = ModelSpec.from_dict(BASE)
    assert spec.to_dict() == BASE
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert set(json.loads(spec.to_json())) == set(BASE)


def test_specs_are_hashable_values():
    assert ModelSpec.from_dict(BASE) == ModelSpec.from_dict(json.loads(json.dumps(BASE)))
    assert len({ModelSpec.from_dict(BASE), ModelSpec.from_dict(BASE)}) == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"stem_type": "big_stem"}, "stem_type"),
        ({"block_type": "mystery_block"}, "block_type"),
        ({"activation": "gelu"}, "activation"),
        ({"depths": [1, 0]}, "depths"),
        ({"widths": [32, -8]}, "widths"),
        ({"widths": [32]}, "widths"),
        ({"strides": [2, 1.5]}, "strides"),
        ({"group_widths": [8, 24]}, "group_widths"),  # inner width 32 is not a multiple of 24
        ({"bottleneck_ratios": [1.0, 0.0]}, "bottleneck_ratios"),
        ({"se_ratio": -0.1}, "se_ratio"),
        ({"head_width": -1}, "head_width"),
        ({"resolution": 0}, "resolution"),
        ({"in_channels": "3"}, "in_channels"),
        ({"depths": 3}, "depths"),
        ({"block_type": "res_basic_block"}, "se_ratio"),  # SE needs a bottleneck block
    ],
)
def test_invalid_specs_name_the_field(change, field):
    with pytest.raises(ValueError, match=rf"ModelSpec\.{field}"):
        ModelSpec.from_dict({**BASE, **change})


def test_unknown_and_missing_keys_are_errors():
    with pytest.raises(ValueError, match="unknown key.*colour"):
        ModelSpec.from_dict({**BASE, "colour": "red"})
    incomplete = dict(BASE)
    del incomplete["widths"]
    with pytest.raises(ValueError, match="missing key.*widths"):
        ModelSpec.from_dict(incomplete)
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelSpec.from_json("{")


def test_basic_blocks_ignore_bottleneck_fields_but_reject_se():
    spec = ModelSpec.from_dict({**BASE, "block_type": "res_basic_block", "se_ratio": 0.0, "group_widths": [3, 5]})
    assert spec.group_widths == (3, 5)
