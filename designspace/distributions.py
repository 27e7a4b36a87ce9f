"""Discrete distributions of design-space parameters, as exact probability tables.

Every parameter a space samples takes finitely many values (depths are integers, widths are
multiples of 8, wa is quantized to 0.1, ...), so each distribution is a table of values and
probabilities. pycls's quantized samplers are reproduced as tables (log_uniform draws
continuously and rounds up to the step; power2_or_log_uniform mixes powers of two below the step
with log-uniform multiples of it). Tables make two things exact and cheap: vectorized draws by
inverse CDF, and draws of non-decreasing per-stage sequences straight from the conditional
distribution (no rejection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

KINDS = ("uniform", "log_uniform", "power2_or_log_uniform", "values")


@dataclass(frozen=True)
class Distribution:
    values: np.ndarray  # sorted, distinct
    probabilities: np.ndarray  # same length, sums to 1
    description: str

    @property
    def is_integer(self) -> bool:
        return self.values.dtype.kind == "i"

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        cdf = np.cumsum(self.probabilities)
        index = np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right")
        return self.values[np.minimum(index, len(self.values) - 1)]

    def sample_non_decreasing(self, rng: np.random.Generator, n: int, length: int) -> np.ndarray:
        """n sequences x_1 <= ... <= x_length, drawn from the i.i.d. law conditioned on order.

        P(x) is proportional to prod p(x_i) over non-decreasing x. With tail[k][v] = total weight
        of non-decreasing continuations of length k whose values are >= v, x_i is drawn given
        x_{i-1} with weights p(v) * tail[length - i][v] over v >= x_{i-1}.
        """
        p = self.probabilities
        tails = [np.ones_like(p)]
        for _ in range(length - 1):
            tails.append(np.cumsum((p * tails[-1])[::-1])[::-1])
        out = np.empty((n, length), dtype=self.values.dtype)
        lower = np.zeros(n, dtype=np.int64)  # index of the previous value
        for i in range(length):
            weights = p * tails[length - 1 - i]
            cdf = np.concatenate(([0.0], np.cumsum(weights)))
            u = cdf[lower] + rng.random(n) * (cdf[-1] - cdf[lower])
            index = np.clip(np.searchsorted(cdf, u, side="right") - 1, lower, len(p) - 1)
            out[:, i] = self.values[index]
            lower = index
        return out


def make_distribution(name: str, spec) -> Distribution:
    """A Distribution from a space file's entry: a number, or a table with `distribution`, or
    `values` (numbers, or the strings or booleans of a categorical choice such as activation)."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return _table([spec], [1.0], f"{spec}")
    if not isinstance(spec, dict):
        raise ValueError(f"parameters.{name}: expected a number or a table, got {spec!r}")
    if "values" in spec:
        _only(name, spec, {"values"})
        return categorical(name, spec["values"])
    kind = spec.get("distribution")
    if kind not in KINDS[:-1]:
        raise ValueError(
            f"parameters.{name}.distribution: {kind!r} is not one of {', '.join(KINDS[:-1])} "
            "(or give a list as `values`)"
        )
    _only(name, spec, {"distribution", "low", "high", "step"})
    low, high = spec.get("low"), spec.get("high")
    step = spec.get("step", 1)
    for key, value in (("low", low), ("high", high), ("step", step)):
        if not _is_number(value):
            raise ValueError(f"parameters.{name}.{key}: expected a number, got {value!r}")
    if not step > 0:
        raise ValueError(f"parameters.{name}.step: must be positive, got {step}")
    if not low <= high:
        raise ValueError(f"parameters.{name}: low {low} is above high {high}")
    if kind != "uniform" and not low > 0:
        raise ValueError(f"parameters.{name}.low: a {kind} distribution needs low > 0, got {low}")
    if kind == "power2_or_log_uniform":
        return _power2_or_log_uniform(name, low, high, step)
    grid = _grid(name, low, high, step)
    if kind == "uniform":
        return _table(grid, np.ones(len(grid)), f"uniform on [{low}, {high}] step {step}")
    return _table(grid, _log_uniform_weights(grid, low, high, step), f"log-uniform on [{low}, {high}] step {step}")


def categorical(name: str, values) -> Distribution:
    """Equally likely values: all numbers, all strings or all booleans."""
    kinds = (_is_number, lambda v: isinstance(v, str), lambda v: isinstance(v, bool))
    if not isinstance(values, list) or not values or not any(all(map(k, values)) for k in kinds):
        raise ValueError(
            f"parameters.{name}.values: expected a non-empty list of numbers, of strings or of booleans, got {values!r}"
        )
    if len(set(values)) != len(values):
        raise ValueError(f"parameters.{name}.values: {values} lists a value twice")
    return _table(values, [1.0] * len(values), f"one of {values}")


def _grid(name, low, high, step) -> list:
    """low, low + step, ..., high, computed in decimal so 0.1-steps give the intended floats."""
    d_low, d_high, d_step = (Decimal(str(x)) for x in (low, high, step))
    count = (d_high - d_low) / d_step
    if count != count.to_integral_value() or (d_low / d_step) != (d_low / d_step).to_integral_value():
        raise ValueError(f"parameters.{name}: low {low} and high {high} must be multiples of step {step}")
    as_int = all(isinstance(x, int) for x in (low, high, step))
    values = [d_low + k * d_step for k in range(int(count) + 1)]
    return [int(v) if as_int else float(v) for v in values]


def _log_uniform_weights(grid, low, high, step) -> np.ndarray:
    """pycls: log f ~ U(log(low - q*), log high] with q* = min(step, low/2), value = ceil(f / step)."""
    lowest = low - min(step, low / 2)
    upper = np.minimum(np.array(grid, dtype=float), high)
    lower = np.maximum(np.array(grid, dtype=float) - step, lowest)
    return np.log(upper) - np.log(lower)


def _power2_or_log_uniform(name, low, high, step) -> Distribution:
    """pycls: a power of two in [low, high]; if it is >= step, redrawn log-uniform on multiples of step."""
    exponents = range(math.floor(math.log2(low)), math.floor(math.log2(high)) + 1)
    powers = [2**e for e in exponents if low <= 2**e <= high]
    if not powers:
        raise ValueError(f"parameters.{name}: no power of two lies in [{low}, {high}]")
    small = [p for p in powers if p < step]
    values = {p: 1.0 / len(powers) for p in small}
    large_share = 1.0 - len(small) / len(powers)
    if large_share > 0:
        log_low = max(low, step)
        log_low = math.ceil(log_low / step) * step
        grid = _grid(name, log_low, math.floor(high / step) * step, step)
        weights = _log_uniform_weights(grid, log_low, high, min(high, step))
        for v, w in zip(grid, weights / weights.sum()):
            values[v] = values.get(v, 0.0) + large_share * w
    keys = sorted(values)
    return _table(keys, [values[k] for k in keys], f"power of two below {step}, else log-uniform on [{low}, {high}]")


def _table(values, weights, description) -> Distribution:
    order = np.argsort(values, kind="stable")
    values = np.asarray(values)[order]
    if values.dtype.kind == "i":
        values = values.astype(np.int64)
    elif values.dtype.kind in "uf":
        values = values.astype(np.float64)
    weights = np.asarray(weights, dtype=np.float64)[order]
    return Distribution(values, weights / weights.sum(), description)


def _only(name, spec, allowed):
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(
            f"parameters.{name}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
