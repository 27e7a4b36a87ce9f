"""RegNet: quantized-linear width generation, compatibility adjustment, specs and fitting."""

from __future__ import annotations

from ..spec import ModelSpec
from .compatibility import adjust_compatibility
from .fitting import fit
from .generate import generate

__all__ = ["generate", "adjust_compatibility", "make_spec", "fit"]


def make_spec(
    depth: int,
    w0: int,
    wa: float,
    wm: float,
    group_width: int,
    bottleneck_ratio: float = 1.0,
    se_ratio: float = 0.0,
    *,
    stem_type: str = "simple_stem_in",
    stem_width: int = 32,
    block_type: str = "res_bottleneck_block",
    stride: int = 2,
    head_width: int = 0,
    num_classes: int = 1000,
    in_channels: int = 3,
    resolution: int = 224,
    activation: str = "relu",
    q: int = 8,
    **options,
) -> ModelSpec:
    """The ModelSpec pycls builds for these RegNet parameters (RegNetX: se_ratio 0; RegNetY: 0.25).

    Stage widths are the generated ones after the compatibility adjustment, as in pycls; the
    defaults are pycls's RegNet defaults (with ImageNet's 1000 classes at 224 px). `options` are
    ModelSpec's optional keys (pre-activation, ...).
    """
    generated = generate(w0, wa, wm, depth, q)
    stages = generated["num_stages"]
    widths, group_widths = adjust_compatibility(
        generated["widths"], [bottleneck_ratio] * stages, [group_width] * stages
    )
    return ModelSpec(
        stem_type=stem_type,
        stem_width=stem_width,
        block_type=block_type,
        depths=generated["depths"],
        widths=widths,
        strides=[stride] * stages,
        bottleneck_ratios=[bottleneck_ratio] * stages,
        group_widths=group_widths,
        se_ratio=se_ratio,
        head_width=head_width,
        num_classes=num_classes,
        in_channels=in_channels,
        resolution=resolution,
        activation=activation,
        **options,
    )
