"""RegNet's quantized linear widths (DDS eqs. 2-4), bit-for-bit as pycls generates them.

The same numpy expressions serve one network (1-D) and a batch of candidates (2-D, one row
per network, blocks past each row's depth masked out), so the sampler and `generate` cannot
disagree. numpy's round is half-to-even, as in pycls.
"""

from __future__ import annotations

import numpy as np


def check_params(w0, wa, wm, depth, q=8):
    """pycls's asserts, as ValueErrors that say which parameter is wrong."""
    if not wa >= 0:
        raise ValueError(f"regnet: wa must be >= 0, got {wa}")
    if not w0 > 0:
        raise ValueError(f"regnet: w0 must be > 0, got {w0}")
    if not wm > 1:
        raise ValueError(f"regnet: wm must be > 1, got {wm}")
    if w0 % q:
        raise ValueError(f"regnet: w0 must be a multiple of q={q}, got {w0}")
    if int(depth) != depth or depth < 1:
        raise ValueError(f"regnet: depth must be a positive integer, got {depth}")


def quantized_levels(w0, wa, wm, block_index):
    """Continuous widths u_j, exponents s_j (rounded) for blocks j; broadcasts over arrays."""
    continuous = block_index * wa + w0
    levels = np.round(np.log(continuous / w0) / np.log(wm))
    return continuous, levels


def quantized_widths(w0, wm, levels, q=8):
    """Per-block widths w0 * wm^s_j rounded to a multiple of q."""
    return np.round(np.divide(w0 * np.power(wm, levels), q)).astype(np.int64) * q


def generate(w0, wa, wm, depth, q=8) -> dict:
    """Per-block and per-stage widths of the RegNet (w0, wa, wm, depth).

    Returns block_widths (per block), widths and depths (per stage: the distinct widths and
    their block counts), num_stages, total_stages (max exponent + 1; it differs from
    num_stages when a level is empty or two levels quantize to one width) and
    continuous_widths (u_j, before quantization).
    """
    check_params(w0, wa, wm, depth, q)
    continuous, levels = quantized_levels(float(w0), float(wa), float(wm), np.arange(int(depth)))
    block_widths = quantized_widths(float(w0), float(wm), levels, q)
    widths, depths = np.unique(block_widths, return_counts=True)
    return {
        "block_widths": block_widths.tolist(),
        "widths": widths.tolist(),
        "depths": depths.tolist(),
        "num_stages": int(len(widths)),
        "total_stages": int(levels.max()) + 1,
        "continuous_widths": continuous.tolist(),
    }
