"""Read pycls model configs (MODEL.TYPE anynet or regnet) into ModelSpecs.

Keys that a config leaves out take pycls's defaults (pycls/core/config.py), including the
surprising MODEL.NUM_CLASSES = 10. A config that designspace cannot express exactly is a
ValueError that says why, never an approximation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import regnet
from .spec import BOTTLENECK_BLOCKS, ModelSpec

DEFAULTS = {
    "MODEL.TYPE": "",
    "MODEL.NUM_CLASSES": 10,
    "MODEL.ACTIVATION_FUN": "relu",
    "MODEL.SCALING_FACTOR": 1.0,
    "TRAIN.IM_SIZE": 224,
    "ANYNET.STEM_TYPE": "simple_stem_in",
    "ANYNET.STEM_W": 32,
    "ANYNET.BLOCK_TYPE": "res_bottleneck_block",
    "ANYNET.DEPTHS": [],
    "ANYNET.WIDTHS": [],
    "ANYNET.STRIDES": [],
    "ANYNET.BOT_MULS": [],
    "ANYNET.GROUP_WS": [],
    "ANYNET.HEAD_W": 0,
    "ANYNET.SE_ON": False,
    "ANYNET.SE_R": 0.25,
    "REGNET.STEM_TYPE": "simple_stem_in",
    "REGNET.STEM_W": 32,
    "REGNET.BLOCK_TYPE": "res_bottleneck_block",
    "REGNET.STRIDE": 2,
    "REGNET.SE_ON": False,
    "REGNET.SE_R": 0.25,
    "REGNET.DEPTH": 10,
    "REGNET.W0": 32,
    "REGNET.WA": 5.0,
    "REGNET.WM": 2.5,
    "REGNET.GROUP_W": 16,
    "REGNET.BOT_MUL": 1.0,
    "REGNET.HEAD_W": 0,
}
ACTIVATION_NAMES = {"relu": "relu", "silu": "silu", "swish": "silu"}


def from_pycls(cfg: Any) -> ModelSpec:
    """The ModelSpec of a pycls config: a YAML path, a nested dict, or a dict of dotted keys."""
    values = dict(DEFAULTS)
    values.update(flatten_config(_load(cfg)))
    for section in ("ANYNET", "REGNET"):
        unknown = sorted(k for k in values if k.startswith(section + ".") and k not in DEFAULTS)
        if unknown:
            raise ValueError(f"pycls config: unknown key(s) {', '.join(unknown)}")
    model_type = str(values["MODEL.TYPE"]).lower()
    if model_type not in ("anynet", "regnet"):
        raise ValueError(
            f"pycls config: MODEL.TYPE {values['MODEL.TYPE']!r} cannot be expressed; designspace reads "
            "anynet and regnet configs (pycls's ResNe(X)t baselines are anynet configs)"
        )
    if float(values["MODEL.SCALING_FACTOR"]) != 1.0:
        raise ValueError("pycls config: MODEL.SCALING_FACTOR != 1 is not supported; scale the model in pycls first")
    activation = str(values["MODEL.ACTIVATION_FUN"]).lower()
    if activation not in ACTIVATION_NAMES:
        raise ValueError(f"pycls config: MODEL.ACTIVATION_FUN {activation!r} is not one of relu, silu, swish")
    context = {
        "num_classes": int(values["MODEL.NUM_CLASSES"]),
        "resolution": int(values["TRAIN.IM_SIZE"]),
        "activation": ACTIVATION_NAMES[activation],
    }
    if model_type == "regnet":
        return _regnet_spec(values, context)
    return _anynet_spec(values, context)


def _regnet_spec(v: dict, context: dict) -> ModelSpec:
    block_type = v["REGNET.BLOCK_TYPE"]
    return regnet.make_spec(
        depth=int(v["REGNET.DEPTH"]),
        w0=int(v["REGNET.W0"]),
        wa=float(v["REGNET.WA"]),
        wm=float(v["REGNET.WM"]),
        group_width=int(v["REGNET.GROUP_W"]),
        bottleneck_ratio=1.0 / float(v["REGNET.BOT_MUL"]),
        se_ratio=_se_ratio(v["REGNET.SE_ON"], v["REGNET.SE_R"], block_type),
        stem_type=v["REGNET.STEM_TYPE"],
        stem_width=int(v["REGNET.STEM_W"]),
        block_type=block_type,
        stride=int(v["REGNET.STRIDE"]),
        head_width=int(v["REGNET.HEAD_W"]),
        **context,
    )


def _anynet_spec(v: dict, context: dict) -> ModelSpec:
    block_type = v["ANYNET.BLOCK_TYPE"]
    depths, widths, strides = (list(v[f"ANYNET.{k}"]) for k in ("DEPTHS", "WIDTHS", "STRIDES"))
    bot_muls, group_widths = list(v["ANYNET.BOT_MULS"]), list(v["ANYNET.GROUP_WS"])
    if block_type not in BOTTLENECK_BLOCKS:
        # pycls ignores BOT_MULS and GROUP_WS for these blocks (they may be empty).
        bot_muls, group_widths = [1.0] * len(widths), list(widths)
    for key, values in (("WIDTHS", widths), ("STRIDES", strides), ("BOT_MULS", bot_muls), ("GROUP_WS", group_widths)):
        if len(values) != len(depths):
            raise ValueError(
                f"pycls config: ANYNET.{key} has {len(values)} values but ANYNET.DEPTHS has {len(depths)}"
            )
    if any(not m > 0 for m in bot_muls):
        raise ValueError(f"pycls config: ANYNET.BOT_MULS must be positive, got {bot_muls}")
    return ModelSpec(
        stem_type=v["ANYNET.STEM_TYPE"],
        stem_width=int(v["ANYNET.STEM_W"]),
        block_type=block_type,
        depths=depths,
        widths=widths,
        strides=strides,
        bottleneck_ratios=[1.0 / m for m in bot_muls],
        group_widths=group_widths,
        se_ratio=_se_ratio(v["ANYNET.SE_ON"], v["ANYNET.SE_R"], block_type),
        head_width=int(v["ANYNET.HEAD_W"]),
        in_channels=3,
        **context,
    )


def _se_ratio(se_on, se_r, block_type) -> float:
    """pycls applies SE only inside bottleneck blocks; elsewhere SE_ON is silently a no-op."""
    return float(se_r) if se_on and block_type in BOTTLENECK_BLOCKS else 0.0


def _load(cfg: Any) -> dict:
    if isinstance(cfg, (str, os.PathLike)):
        import yaml

        path = Path(cfg)
        if not path.is_file():
            raise ValueError(f"pycls config: no such file {str(path)!r}")
        try:
            cfg = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ValueError(f"pycls config: {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"pycls config: expected a mapping of config keys, got {type(cfg).__name__}")
    return cfg


def flatten_config(cfg: dict, prefix: str = "") -> dict:
    """{"MODEL": {"TYPE": x}} and {"MODEL.TYPE": x} both become {"MODEL.TYPE": x}."""
    flat = {}
    for key, value in cfg.items():
        name = f"{prefix}{str(key).upper()}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, name + "."))
        else:
            flat[name] = value
    return flat
