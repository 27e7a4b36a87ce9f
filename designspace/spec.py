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

from .blocks import (
    BLOCK_KINDS,
    STEMS,
    channels_after_transitions,
    dense_map_sizes,
    expand_3x3_width,
    inner_width,
    network_layers,
    stem_out_size,
)
from .layers import cost

STEM_TYPES = tuple(STEMS)
BLOCK_TYPES = tuple(BLOCK_KINDS)
# What each block type reads from the per-stage fields and the optional keys (blocks.BLOCK_KINDS).
BOTTLENECK_BLOCKS = tuple(k for k, kind in BLOCK_KINDS.items() if kind.bottleneck)  # SE, stride_position
RESIDUAL_BLOCKS = tuple(k for k, kind in BLOCK_KINDS.items() if kind.residual)  # shortcut, preactivation
RATIO_BLOCKS = tuple(k for k, kind in BLOCK_KINDS.items() if kind.ratio)  # inner width w / b
GROUP_BLOCKS = tuple(k for k, kind in BLOCK_KINDS.items() if kind.grouped)  # grouped 3x3 on the inner width
# The block types each optional key applies to (a non-default value elsewhere is refused).
OPTION_BLOCKS = {
    "stride_position": BOTTLENECK_BLOCKS,
    "shortcut": RESIDUAL_BLOCKS,
    "preactivation": RESIDUAL_BLOCKS,
    "se_style": BOTTLENECK_BLOCKS,
    **{
        option: tuple(k for k, kind in BLOCK_KINDS.items() if option in kind.options)
        for kind in BLOCK_KINDS.values()
        for option in kind.options
    },
}
ACTIVATIONS = ("relu", "silu", "relu6")  # relu6: min(max(x, 0), 6), as MobileNet-v1 and v2 publish them
STRIDE_POSITIONS = ("3x3", "1x1")
SHORTCUTS = ("conv", "avgpool_conv")
EXPANSIONS = ("output", "input")  # a linear bottleneck's inner width: w_out / b (NDS) | w_in / b (MobileNet-v2)
SE_STYLES = ("regnet", "senet")  # after the 3x3 on w_in * r (pycls) | after the last 1x1 on w_out * r (SENet)
PADDINGS = ("same", "none")  # stem convs and max-pools: padded (pycls) | unpadded, pools rounding up (SqueezeNet)
CLASSIFIERS = ("linear", "conv")  # after global pooling | a 1x1 conv and the activation before it (SqueezeNet)
STAGE_FIELDS = ("depths", "widths", "strides", "bottleneck_ratios", "group_widths")
# Keys added after the first contract: left out of to_dict() at their defaults, so that every
# spec written before them (and every pycls import) keeps its exact JSON and id.
OPTIONAL_DEFAULTS = {
    "stride_position": "3x3",
    "shortcut": "conv",
    "deep_stem": False,
    "preactivation": False,
    "batch_norm": True,
    "compression": 0.5,
    "expand_3x3_fraction": 0.5,
    "se_style": "regnet",
    "expand_from": "output",
    "padding": "same",
    "classifier": "linear",
    "bare_stem": False,
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Stem, stages of identical blocks (the first one may stride), head.

    Per-stage fields by block type: widths are the block output widths, except for
    `dense_block`, where they are the growth rate k (the channels each layer adds). The inner
    width w / b is the bottleneck (X and linear blocks), the 1x1 width of a dense layer (b = 1/4
    gives DenseNet-BC's 4k) or a Fire module's squeeze. Group widths apply to the 3x3 conv of
    bottleneck and dense blocks. Fields a block type does not read (b and g of basic, vanilla
    and depthwise-separable blocks, g of Fire) must still be positive, one per stage (as in pycls).

    The keys after `activation` are optional; each applies to some block types only (README):
    stride_position "1x1" puts a bottleneck's stride on its first 1x1 conv (original ResNet, or
    ResNet-A) instead of the 3x3 (pycls, ResNet-B); shortcut "avgpool_conv" average-pools before
    the 1x1 projection (ResNet-D); deep_stem replaces the stem conv by three 3x3 convs of widths
    stem_width/2, stem_width/2, stem_width, the first with the stem's stride (ResNet-C); preactivation runs residual blocks as BN-act-conv (He et al.
    2016); batch_norm false replaces every BN by a conv bias (SqueezeNet 1.0); compression is
    DenseNet's transition width factor; expand_3x3_fraction is the 3x3 share of a Fire expand;
    se_style "senet" places squeeze-excitation as SENet does (after the last 1x1 and its BN, on the
    block's output width, se_ratio 1/16 for reduction 16) instead of as RegNetY does (after the 3x3,
    its hidden width se_ratio times the block's input width); expand_from "input" makes a linear
    bottleneck MobileNet-v2's inverted residual: inner width w_in / b (expansion t = 1 / b of the
    block's input), and no expansion conv when t = 1.
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
    stride_position: str = "3x3"
    shortcut: str = "conv"
    deep_stem: bool = False
    preactivation: bool = False
    batch_norm: bool = True
    compression: float = 0.5
    expand_3x3_fraction: float = 0.5
    se_style: str = "regnet"
    expand_from: str = "output"
    padding: str = "same"
    classifier: str = "linear"
    bare_stem: bool = False

    def __post_init__(self):
        for name in STAGE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise ValueError(f"ModelSpec.{name}: expected a list with one value per stage, got {value!r}")
            cast = float if name == "bottleneck_ratios" else int
            object.__setattr__(self, name, tuple(_number(name, v, cast) for v in value))
        for name in ("stem_width", "head_width", "num_classes", "in_channels", "resolution"):
            object.__setattr__(self, name, _number(name, getattr(self, name), int))
        for name in ("se_ratio", "compression", "expand_3x3_fraction"):
            object.__setattr__(self, name, _number(name, getattr(self, name), float))
        for name in ("deep_stem", "preactivation", "batch_norm", "bare_stem"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ModelSpec.{name}: expected true or false, got {getattr(self, name)!r}")
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
        if self.se_ratio > 0 and self.block_type not in BOTTLENECK_BLOCKS:
            raise ValueError(
                f"ModelSpec.se_ratio: squeeze-excitation needs a bottleneck block, but block_type is "
                f"{self.block_type!r}; set se_ratio to 0"
            )
        self._validate_options()
        if self.block_type in RATIO_BLOCKS:
            self._validate_inner_widths()
        if self.block_type == "fire_block":
            self._validate_fire()
        if self.block_type == "dense_block":
            self._validate_transitions()
        if self.padding == "none":
            self._validate_unpadded_maps()

    def _validate_options(self):
        _choice("stride_position", self.stride_position, STRIDE_POSITIONS)
        _choice("shortcut", self.shortcut, SHORTCUTS)
        _choice("se_style", self.se_style, SE_STYLES)
        _choice("expand_from", self.expand_from, EXPANSIONS)
        _choice("padding", self.padding, PADDINGS)
        _choice("classifier", self.classifier, CLASSIFIERS)
        if not 0.0 < self.compression <= 1.0:
            raise ValueError(f"ModelSpec.compression: must be in (0, 1], got {self.compression}")
        if not 0.0 < self.expand_3x3_fraction < 1.0:
            raise ValueError(f"ModelSpec.expand_3x3_fraction: must be in (0, 1), got {self.expand_3x3_fraction}")
        for name, blocks in OPTION_BLOCKS.items():
            if getattr(self, name) != OPTIONAL_DEFAULTS[name] and self.block_type not in blocks:
                raise ValueError(
                    f"ModelSpec.{name}: {getattr(self, name)!r} applies to {' and '.join(blocks)} only, but "
                    f"block_type is {self.block_type!r}; leave it at {OPTIONAL_DEFAULTS[name]!r}"
                )
        if self.bare_stem and not self.preactivation:
            raise ValueError(
                "ModelSpec.bare_stem: a stem conv without BN-act needs pre-activated blocks, which "
                "normalize their input; set preactivation to true or bare_stem to false"
            )
        if self.deep_stem and self.stem_width < 2:
            raise ValueError(
                f"ModelSpec.stem_width: a deep stem halves it for its first two convs; got {self.stem_width}"
            )

    def _validate_inner_widths(self):
        if self.expand_from == "input":  # each stage's first block expands the previous stage's width
            for i, (w_in, b, g) in enumerate(
                zip((self.stem_width, *self.widths[:-1]), self.bottleneck_ratios, self.group_widths)
            ):
                w_b = inner_width(w_in, b)
                if w_b < 1 or w_b % g:
                    raise ValueError(
                        f"ModelSpec.group_widths: stage {i + 1}'s first block expands its input width "
                        f"{w_in} to {w_b} (= {w_in}/{b}), which is not a positive multiple of its group "
                        f"width {g}"
                    )
        for i, (w, b, g) in enumerate(zip(self.widths, self.bottleneck_ratios, self.group_widths)):
            w_b = inner_width(w, b)
            if w_b < 1:
                raise ValueError(f"ModelSpec.bottleneck_ratios: stage {i + 1} has inner width {w}/{b} < 1")
            if self.block_type in GROUP_BLOCKS and w_b % g:
                raise ValueError(
                    f"ModelSpec.group_widths: stage {i + 1} has inner width {w_b} (= {w}/{b}), which is "
                    f"not a multiple of its group width {g}; use designspace.regnet.adjust_compatibility"
                )
            if self.block_type == "dense_block" and w % (w_b // g):
                raise ValueError(
                    f"ModelSpec.group_widths: dense stage {i + 1} convolves its inner width {w_b} to the growth rate "
                    f"{w} in {w_b // g} groups, and {w} is not a multiple of {w_b // g}; use a larger group width"
                )

    def _validate_fire(self):
        for i, (w, b) in enumerate(zip(self.widths, self.bottleneck_ratios)):
            squeeze, e3 = inner_width(w, b), expand_3x3_width(w, self.expand_3x3_fraction)
            if w < squeeze:
                raise ValueError(
                    f"ModelSpec.bottleneck_ratios: fire_block stage {i + 1} squeezes to {squeeze} channels (= {w}/{b}) "
                    f"but expands to only {w}; a Fire expand must not be narrower than its squeeze, so use b >= 1"
                )
            if not 1 <= e3 < w:
                raise ValueError(
                    f"ModelSpec.expand_3x3_fraction: fire_block stage {i + 1} splits its expand width {w} into "
                    f"{w - e3} 1x1 and {e3} 3x3 channels; both need at least one"
                )

    def _validate_unpadded_maps(self):
        stem, stages, _ = network_layers(self.network, *self.stage_fields)
        h = cost(stem, self.resolution)[0]
        for i, stage in enumerate((None, *stages)):
            h = cost(stage, h)[0] if stage is not None else h
            if h < 1:
                where = f"stage {i}" if i else "the stem"
                raise ValueError(
                    f"ModelSpec.resolution: {self.resolution} px with padding 'none' pools its maps "
                    f"away by {where}; raise the resolution or use padding 'same'"
                )

    def _validate_transitions(self):
        h = stem_out_size(self.stem_type, self.deep_stem, self.padding, self.resolution)
        for i, size in enumerate(dense_map_sizes(h, self.strides)):
            if size < 1:
                raise ValueError(
                    f"ModelSpec.resolution: {self.resolution} px leaves no feature map for dense stage "
                    f"{i + 1} (its stride-{self.strides[i]} transition rounds down); raise the resolution "
                    "or lower the strides"
                )
        starts = channels_after_transitions(self.stem_width, self.depths, self.widths, self.compression)
        for i in range(1, len(starts)):
            if starts[i] < 1:
                before = starts[i - 1] + self.depths[i - 1] * self.widths[i - 1]
                raise ValueError(
                    f"ModelSpec.compression: the transition before dense stage {i + 1} compresses "
                    f"{before} channels to none; raise compression"
                )

    # ----------------------------------------------------------------------------- conversions
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the documented keys (lists for per-stage values); optional keys
        only where they differ from their defaults."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in OPTIONAL_DEFAULTS or getattr(self, f.name) != OPTIONAL_DEFAULTS[f.name]
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
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
    def from_json(cls, text: str) -> ModelSpec:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ValueError(f"ModelSpec: not valid JSON ({e})") from None

    def replace(self, **changes) -> ModelSpec:
        return dataclasses.replace(self, **changes)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def network(self) -> dict[str, Any]:
        """The network-level fields by name, as layout's cost functions and the model builder take them."""
        return {name: getattr(self, name) for name in NETWORK_FIELDS}

    @property
    def stage_fields(self) -> tuple[tuple, ...]:
        """The per-stage fields in STAGE_FIELDS order (depths, widths, strides, b, g), each a tuple
        over the stages."""
        return tuple(getattr(self, name) for name in STAGE_FIELDS)


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


NETWORK_FIELDS = tuple(
    f.name for f in dataclasses.fields(ModelSpec) if f.name not in STAGE_FIELDS
)  # one value per network
