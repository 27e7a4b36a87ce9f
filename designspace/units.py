"""Counts written with SI suffixes (400M, 1.2G), read and written one way everywhere: the CLI's
windows, its summaries, the sampler's errors and the commands the analysis suggests."""

from __future__ import annotations

import math
import re

SCALES = (("G", 1e9), ("M", 1e6), ("k", 1e3))
_READ = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def read_amount(text: str) -> float:
    """'400e6', '400M', '2.5k' -> float; ValueError for anything else."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)([kKMG]?)\s*", text)
    if not match:
        raise ValueError(f"{text!r} is not a number (e.g. 400e6 or 400M)")
    try:
        return float(match.group(1)) * _READ[match.group(2)]
    except ValueError:
        raise ValueError(f"{text!r} is not a number (e.g. 400e6 or 400M)") from None


def si(value: float, digits: int = 3) -> str:
    """For reading: 398_765_432 -> '399M' (`digits` significant digits; 999_999_999 -> '1G')."""
    rounded = float(f"{value:.{digits}g}")
    for suffix, scale in SCALES:
        if math.isfinite(value) and abs(rounded) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def si_exact(value: float) -> str:
    """For commands that are read back: a suffix only where it loses nothing (400000000 -> '400M',
    1.5e9 -> '1.5G', 123456789 -> '123456789')."""
    for suffix, scale in SCALES:
        short = f"{value / scale:g}"
        if abs(value) >= scale and float(short) * scale == value:
            return short + suffix
    return f"{value:.17g}"
