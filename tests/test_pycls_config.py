import pytest
from pycls_zoo import RESNEXTS, resnext_config

import designspace as ds

REGNETX_200MF_YAML = """
MODEL:
  TYPE: regnet
  NUM_CLASSES: 1000
REGNET:
  DEPTH: 13
  W0: 24
  WA: 36.44
  WM: 2.49
  GROUP_W: 8
OPTIM:
  BASE_LR: 0.8
TRAIN:
  IM_SIZE: 224
  BATCH_SIZE: 1024
"""


def test_yaml_file_nested_dict_and_dotted_keys_agree(tmp_path):
    path = tmp_path / "RegNetX-200MF_dds_8gpu.yaml"
    path.write_text(REGNETX_200MF_YAML)
    dotted = {
        "MODEL.TYPE": "regnet",
        "MODEL.NUM_CLASSES": 1000,
        "REGNET.DEPTH": 13,
        "REGNET.W0": 24,
        "REGNET.WA": 36.44,
        "REGNET.WM": 2.49,
        "REGNET.GROUP_W": 8,
    }
    spec = ds.from_pycls(path)
    assert spec == ds.from_pycls(str(path)) == ds.from_pycls(dotted)
    assert ds.complexity(spec) == {"flops": 199040872, "params": 2684792, "acts": 2164056}


def test_missing_keys_take_pyclss_defaults():
    spec = ds.from_pycls({"MODEL": {"TYPE": "regnet"}})
    assert spec.num_classes == 10  # pycls's default, not ImageNet's
    assert spec.resolution == 224 and spec.stem_width == 32 and spec.stem_type == "simple_stem_in"
    assert spec.se_ratio == 0.0 and spec.activation == "relu" and spec.head_width == 0
    assert spec == ds.regnet.make_spec(10, 32, 5.0, 2.5, 16, num_classes=10)


def test_activation_and_se_and_resolution_are_read():
    spec = ds.from_pycls(
        {"MODEL.TYPE": "regnet", "MODEL.ACTIVATION_FUN": "swish", "REGNET.SE_ON": True, "TRAIN.IM_SIZE": 160}
    )
    assert (spec.activation, spec.se_ratio, spec.resolution) == ("silu", 0.25, 160)


def test_anynet_basic_blocks_accept_empty_bottleneck_lists_and_ignore_se():
    cfg = {
        "MODEL": {"TYPE": "anynet", "NUM_CLASSES": 10},
        "ANYNET": {
            "STEM_TYPE": "res_stem_cifar",
            "STEM_W": 16,
            "BLOCK_TYPE": "res_basic_block",
            "DEPTHS": [9, 9, 9],
            "WIDTHS": [16, 32, 64],
            "STRIDES": [1, 2, 2],
            "SE_ON": True,
        },
        "TRAIN": {"IM_SIZE": 32},
    }
    spec = ds.from_pycls(cfg)
    assert spec.se_ratio == 0.0
    # R-56 as pycls counts it (reference/pycls.md a.6)
    assert ds.complexity(spec) == {"flops": 125747850, "params": 855770, "acts": 544778}


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"MODEL.TYPE": "resnet"}, "MODEL.TYPE 'resnet' cannot be expressed"),
        ({"MODEL.TYPE": "effnet"}, "cannot be expressed"),
        ({"MODEL.TYPE": "regnet", "REGNET.SHAPE": 3}, "unknown key.*REGNET.SHAPE"),
        ({"MODEL.TYPE": "regnet", "MODEL.ACTIVATION_FUN": "gelu"}, "ACTIVATION_FUN"),
        ({"MODEL.TYPE": "regnet", "REGNET.W0": 20}, "w0 must be a multiple of q=8"),
        ({"MODEL.TYPE": "anynet", "ANYNET.DEPTHS": [1, 1], "ANYNET.WIDTHS": [32]}, "ANYNET.WIDTHS has 1 values"),
        (
            {
                "MODEL.TYPE": "anynet",
                "ANYNET.DEPTHS": [1],
                "ANYNET.WIDTHS": [24],
                "ANYNET.STRIDES": [2],
                "ANYNET.BOT_MULS": [1.0],
                "ANYNET.GROUP_WS": [16],
            },
            "group_widths",
        ),
        ("no/such/file.yaml", "no such file"),
    ],
)
def test_configs_that_cannot_be_expressed_are_clear_errors(cfg, message):
    with pytest.raises(ValueError, match=message):
        ds.from_pycls(cfg)


def test_malformed_yaml_is_a_value_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("MODEL: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        ds.from_pycls(path)


def test_resnet50_from_an_anynet_config():
    spec = ds.from_pycls(resnext_config(RESNEXTS[0]))
    assert spec.bottleneck_ratios == (4.0,) * 4 and spec.group_widths == (64, 128, 256, 512)
