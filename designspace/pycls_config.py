"""Read pycls model configs (MODEL.TYPE anynet or regnet) into ModelSpecs.

Keys that a config leaves out take pycls's defaults (pycls/core/config.py), including the
surprising MODEL.NUM_CLASSES = 10. A config that designspace cannot express exactly is a
ValueError that says why, never an approximation.
"""

from __future__ import annotations

import math
import numbers
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
MODEL_TYPES = ("anynet", "regnet")
SECTIONS = ("MODEL", "TRAIN", "ANYNET", "REGNET")
FLOAT_LISTS = ("ANYNET.BOT_MULS",)  # the other list keys hold integers
KINDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "a name"}
AT_LEAST_0 = (lambda x: x >= 0, "must be at least 0")
AT_LEAST_1 = (lambda x: x >= 1, "must be at least 1")
POSITIVE = (lambda x: x > 0, "must be positive")
SE_RATIO = (lambda x: 0 <= x < 1, "must be in [0, 1)")
# Ranges checked here, so that a bad value is named by its key instead of surfacing later as a
# numpy warning, a division by zero or a complaint about some derived width.
RULES = {
    "MODEL.NUM_CLASSES": AT_LEAST_1,
    "TRAIN.IM_SIZE": AT_LEAST_1,
    "ANYNET.STEM_W": AT_LEAST_1,
    "ANYNET.DEPTHS": AT_LEAST_1,
    "ANYNET.WIDTHS": AT_LEAST_1,
    "ANYNET.STRIDES": AT_LEAST_1,
    "ANYNET.BOT_MULS": POSITIVE,
    "ANYNET.GROUP_WS": AT_LEAST_1,
    "ANYNET.HEAD_W": AT_LEAST_0,
    "ANYNET.SE_R": SE_RATIO,
    "REGNET.STEM_W": AT_LEAST_1,
    "REGNET.STRIDE": AT_LEAST_1,
    "REGNET.DEPTH": AT_LEAST_1,
    "REGNET.W0": (
        lambda x: x > 0 and x % 8 == 0,
        "must be a positive multiple of 8 (pycls: w0 must be a multiple of q=8)",
    ),
    "REGNET.WA": AT_LEAST_0,
    "REGNET.WM": (lambda x: x > 1, "must be greater than 1"),
    "REGNET.GROUP_W": AT_LEAST_1,
    "REGNET.BOT_MUL": POSITIVE,
    "REGNET.HEAD_W": AT_LEAST_0,
    "REGNET.SE_R": SE_RATIO,
}


def from_pycls(cfg: Any) -> ModelSpec:
    """The ModelSpec of a pycls config: a YAML path, a nested dict, or a dict of dotted keys."""
    raw, source = _load(cfg)
    values = dict(DEFAULTS)
    values.update(flatten_config(raw))
    for section in SECTIONS:
        if section in values:
            raise ValueError(
                f"{source}: {section} must be a mapping of {section}.* keys (indented below it), "
                f"got {values[section]!r}"
            )
    for section in ("ANYNET", "REGNET"):
        unknown = sorted(k for k in values if k.startswith(section + ".") and k not in DEFAULTS)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {', '.join(unknown)}")
    model_type = values["MODEL.TYPE"]
    if model_type in ("", None):
        raise ValueError(
            f"{source}: MODEL.TYPE is missing; designspace reads {' and '.join(MODEL_TYPES)} configs "
            "(pycls's ResNe(X)t baselines are anynet configs)"
        )
    if str(model_type).lower() not in MODEL_TYPES:
        raise ValueError(
            f"{source}: MODEL.TYPE {model_type!r} cannot be expressed; designspace reads "
            f"{' and '.join(MODEL_TYPES)} configs (pycls's ResNe(X)t baselines are anynet configs)"
        )
    section = str(model_type).upper()
    v = {k: _checked(source, k, values[k]) for k in DEFAULTS if k.split(".")[0] in ("MODEL", "TRAIN", section)}
    if v["MODEL.SCALING_FACTOR"] != 1.0:
        raise ValueError(f"{source}: MODEL.SCALING_FACTOR != 1 is not supported; scale the model in pycls first")
    activation = v["MODEL.ACTIVATION_FUN"].lower()
    if activation not in ACTIVATION_NAMES:
        raise ValueError(f"{source}: MODEL.ACTIVATION_FUN {activation!r} is not one of relu, silu, swish")
    context = {
        "num_classes": v["MODEL.NUM_CLASSES"],
        "resolution": v["TRAIN.IM_SIZE"],
        "activation": ACTIVATION_NAMES[activation],
    }
    try:
        return _regnet_spec(v, context) if section == "REGNET" else _anynet_spec(v, context)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def _checked(source: str, key: str, value):
    """The value of `key` as the type of its default, or ValueError naming the key and the file:
    pycls (yacs) refuses mistyped keys too, and int() would silently truncate 2.5."""
    default = DEFAULTS[key]
    if isinstance(default, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{source}: {key} {value!r} is not a list (one value per stage, e.g. [1, 2, 4])")
        kind = float if key in FLOAT_LISTS else int
        items = [_scalar(kind, x) for x in value]
        for given, item in zip(value, items):
            if item is None:
                raise ValueError(f"{source}: {key} {list(value)!r}: {given!r} is not {KINDS[kind]}")
    else:
        kind = type(default)
        items = [_scalar(kind, value)]
        if items[0] is None:
            raise ValueError(f"{source}: {key} {value!r} is not {KINDS[kind]}")
    ok, requirement = RULES.get(key, (None, ""))
    if ok and not all(ok(x) for x in items):
        each = ": each value" if isinstance(default, list) else ""
        raise ValueError(f"{source}: {key} {value!r}{each} {requirement}")
    return items if isinstance(default, list) else items[0]


def _scalar(kind: type, value):
    """`value` as `kind` (numbers may be given as text, as in dotted keys), None when it is not one."""
    if kind in (bool, str):
        return value if isinstance(value, kind) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            return None
    if not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _regnet_spec(v: dict, context: dict) -> ModelSpec:
    block_type = v["REGNET.BLOCK_TYPE"]
    return regnet.make_spec(
        depth=v["REGNET.DEPTH"],
        w0=v["REGNET.W0"],
        wa=v["REGNET.WA"],
        wm=v["REGNET.WM"],
        group_width=v["REGNET.GROUP_W"],
        bottleneck_ratio=1.0 / v["REGNET.BOT_MUL"],
        se_ratio=_se_ratio(v["REGNET.SE_ON"], v["REGNET.SE_R"], block_type),
        stem_type=v["REGNET.STEM_TYPE"],
        stem_width=v["REGNET.STEM_W"],
        block_type=block_type,
        stride=v["REGNET.STRIDE"],
        head_width=v["REGNET.HEAD_W"],
        **context,
    )


def _anynet_spec(v: dict, context: dict) -> ModelSpec:
    block_type = v["ANYNET.BLOCK_TYPE"]
    depths, widths, strides = (v[f"ANYNET.{k}"] for k in ("DEPTHS", "WIDTHS", "STRIDES"))
    bot_muls, group_widths = v["ANYNET.BOT_MULS"], v["ANYNET.GROUP_WS"]
    if block_type not in BOTTLENECK_BLOCKS:
        # pycls ignores BOT_MULS and GROUP_WS for these blocks (they may be empty).
        bot_muls, group_widths = [1.0] * len(widths), list(widths)
    for key, values in (("WIDTHS", widths), ("STRIDES", strides), ("BOT_MULS", bot_muls), ("GROUP_WS", group_widths)):
        if len(values) != len(depths):
            raise ValueError(f"ANYNET.{key} has {len(values)} values but ANYNET.DEPTHS has {len(depths)}")
    return ModelSpec(
        stem_type=v["ANYNET.STEM_TYPE"],
        stem_width=v["ANYNET.STEM_W"],
        block_type=block_type,
        depths=depths,
        widths=widths,
        strides=strides,
        bottleneck_ratios=[1.0 / m for m in bot_muls],
        group_widths=group_widths,
        se_ratio=_se_ratio(v["ANYNET.SE_ON"], v["ANYNET.SE_R"], block_type),
        head_width=v["ANYNET.HEAD_W"],
        in_channels=3,
        **context,
    )


def _se_ratio(se_on, se_r, block_type) -> float:
    """pycls applies SE only inside bottleneck blocks; elsewhere SE_ON is silently a no-op."""
    return float(se_r) if se_on and block_type in BOTTLENECK_BLOCKS else 0.0


def _load(cfg: Any) -> tuple[dict, str]:
    """(the config's mapping, the name its messages use: the file, else "pycls config")."""
    if not isinstance(cfg, (str, os.PathLike)):
        source = "pycls config"
    else:
        import yaml

        path = source = Path(cfg)
        if not path.is_file():
            raise ValueError(f"pycls config: no such file {str(path)!r}")
        try:
            cfg = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ValueError(f"{path} is not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(cfg, dict):
        got = "nothing" if cfg is None else f"a {type(cfg).__name__}"
        raise ValueError(f"{source}: expected a pycls config (a mapping such as MODEL: {{TYPE: regnet}}), got {got}")
    return cfg, str(source)


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
