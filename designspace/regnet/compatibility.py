"""Group-width / bottleneck compatibility (DDS App. D), exactly as pycls adjusts RegNets.

Per stage, the inner width w/b is rounded to a multiple of the group width (the group width is
first capped at the inner width; for inverted bottlenecks, to a multiple of lcm(g, 1/b)), and
the stage width is recomputed from it. pycls works with bot_mul = 1/b; so does this code, so
that the float arithmetic (and hence every rounding) is the same. Works on scalars and arrays.
"""

from __future__ import annotations

import numpy as np


def adjust_arrays(widths, bottleneck_ratios, group_widths):
    """Vectorized adjustment: returns (widths, group_widths) as int64 arrays."""
    bot_mul = 1.0 / np.asarray(bottleneck_ratios, dtype=np.float64)
    widths = np.asarray(widths, dtype=np.int64)
    group_widths = np.asarray(group_widths, dtype=np.int64)
    inner = np.maximum(1.0, widths * bot_mul).astype(np.int64)
    group_widths = np.minimum(group_widths, inner)
    multiple = np.where(bot_mul > 1, np.lcm(group_widths, bot_mul.astype(np.int64)), group_widths)
    inner = np.maximum(multiple, (np.round(inner / multiple) * multiple).astype(np.int64))
    widths = (inner / bot_mul).astype(np.int64)
    return widths, group_widths


def adjust_compatibility(widths, bottleneck_ratios, group_widths) -> tuple[list[int], list[int]]:
    """Compatible (widths, group_widths) for per-stage widths, b's and group widths."""
    for b in bottleneck_ratios:
        bot_mul = 1.0 / b
        if not (bot_mul < 1 or bot_mul == int(bot_mul)):
            raise ValueError(
                f"regnet: bottleneck ratio {b} gives bot_mul 1/b = {bot_mul}; an inverted bottleneck "
                "needs an integer expansion 1/b"
            )
    new_widths, new_groups = adjust_arrays(widths, bottleneck_ratios, group_widths)
    return new_widths.tolist(), new_groups.tolist()
