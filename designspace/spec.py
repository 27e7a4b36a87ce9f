"""ModelSpec: the one plain-data description of an AnyNet-level network.

Every other part of designspace (complexity, the torch model, sampling, training, the results
table) takes a ModelSpec, so it validates itself on construction: an invalid spec is a
ValueError naming the field, and nothing is ever adjusted silently.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

STEM_TYPES = ("res_stem_cifar", "res_stem_in", "simple_stem_in")
BLOCK_TYPES = (
    "res_bottleneck_block",
    "res_basic_block",
    "vanilla_block",
    "res_bottleneck_linear_block",
)
BOTTLENECK_BLOCKS = ("res_bottleneck_block", "res_bottleneck_linear_block")
ACTIVATIONS = ("relu", "silu")
STAGE_FIELDS = ("depths", "widths", "strides", "bottleneck_ratios", "group_widths")


def inner_width(width: int, bottleneck_ratio: float) -> int:
    """Bottleneck (inner) width w/b, rounded half to even exactly as pycls does (w * bot_mul)."""
    return round(width * (1.0 / bottleneck_ratio))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Stem, stages of identical blocks (the first one may stride), head.

    For `res_basic_block` and `vanilla_block`, bottleneck_ratios and group_widths are not
    used by the network (as in pycls); they must still be positive, one per stage.
    """

    stem_type: str
    stem_width: int
    block_type: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    strides: tuple[int, ...]
    bottleneck_ratios: tuple[float, ...]
    group_widths: tuple[int, ...]
    se_ratio: float = 0.0
    head_width: int = 0
    num_classes: int = 1000
    in_channels: int = 3
    resolution: int = 224
    activation: str = "relu"

    def __post_init__(self):
        for name in STAGE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ValueError(f"ModelSpec.{name}: expected a list with one value per stage, got {value!r}")
            cast = float if name == "bottleneck_ratios" else int
            object.__setattr__(self, name, tuple(_number(name, v, cast) for v in value))
        for name in ("stem_width", "head_width", "num_classes", "in_channels", "resolution"):
            object.__setattr__(self, name, _number(name, getattr(self, name), int))
        object.__setattr__(self, "se_ratio", _number("se_ratio", self.se_ratio, float))
        self._validate()

    def _validate(self):
        _choice("stem_type", self.stem_type, STEM_TYPES)
        _choice("block_type", self.block_type, BLOCK_TYPES)
        _choice("activation", self.activation, ACTIVATIONS)
        num_stages = len(self.depths)
        if num_stages == 0:
            raise ValueError("ModelSpec.depths: a network needs at least one stage")
        for name in STAGE_FIELDS:
            if len(getattr(self, name)) != num_stages:
                raise ValueError(
                    f"ModelSpec.{name}: has {len(getattr(self, name))} values but depths has "
                    f"{num_stages}; give one value per stage"
                )
            if any(not v > 0 for v in getattr(self, name)):
                raise ValueError(f"ModelSpec.{name}: every value must be positive, got {list(getattr(self, name))}")
        for name in ("stem_width", "num_classes", "in_channels", "resolution"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelSpec.{name}: must be at least 1, got {getattr(self, name)}")
        if self.head_width < 0:
            raise ValueError(f"ModelSpec.head_width: must be 0 (no head conv) or positive, got {self.head_width}")
        if not 0.0 <= self.se_ratio < 1.0 or math.isnan(self.se_ratio):
            raise ValueError(f"ModelSpec.se_ratio: must be in [0, 1), got {self.se_ratio}")
        if self.block_type in BOTTLENECK_BLOCKS:
            self._validate_bottlenecks()
        elif self.se_ratio > 0:
            raise ValueError(
                f"ModelSpec.se_ratio: squeeze-excitation needs a bottleneck block, but block_type is "
                f"{self.block_type!r}; set se_ratio to 0"
            )

    def _validate_bottlenecks(self):
        for i, (w, b, g) in enumerate(zip(self.widths, self.bottleneck_ratios, self.group_widths)):
            w_b = inner_width(w, b)
            if w_b < 1:
                raise ValueError(f"ModelSpec.bottleneck_ratios: stage {i + 1} has inner width {w}/{b} < 1")
            if w_b % g:
                raise ValueError(
                    f"ModelSpec.group_widths: stage {i + 1} has inner width {w_b} (= {w}/{b}), which is "
                    f"not a multiple of its group width {g}; use designspace.regnet.adjust_compatibility"
                )

    # ----------------------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with exactly the documented keys (lists for per-stage values)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        if not isinstance(d, dict):
            raise ValueError(f"ModelSpec: expected a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"ModelSpec: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in d and f.default is dataclasses.MISSING]
        if missing:
            raise ValueError(f"ModelSpec: missing key(s) {', '.join(missing)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ValueError(f"ModelSpec: not valid JSON ({e})") from None

    def replace(self, **changes) -> "ModelSpec":
        return dataclasses.replace(self, **changes)

    @property
    def num_stages(self) -> int:
        return len(self.depths)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _number(name: str, value, cast):
    """Accept ints for ints (also integral floats from JSON/YAML) and numbers for floats."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ModelSpec.{name}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"ModelSpec.{name}: expected a finite number, got {value!r}")
    if cast is int:
        if value != int(value):
            raise ValueError(f"ModelSpec.{name}: expected an integer, got {value!r}")
        return int(value)
    return float(value)


def _choice(name: str, value, choices):
    if value not in choices:
        raise ValueError(f"ModelSpec.{name}: {value!r} is not one of {', '.join(choices)}")
