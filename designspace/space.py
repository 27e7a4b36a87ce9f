"""Design spaces loaded from TOML files, and fast, exact, reproducible sampling from them.

A space is data (spaces/*.toml): a fixed network context, a distribution per parameter and
constraints. Sampling draws candidates in vectorized chunks, checks the stage structure and the
complexity windows for a whole chunk at once (numpy), then confirms each accepted candidate
with the scalar code path (ModelSpec validation, exact complexity) and drops duplicate
architectures. The result is the space's distribution conditioned on the constraints, exactly
what rejection sampling gives, without a Python loop per draw. Chunk sizes do not depend on n,
so for one seed a smaller n gives a prefix of a larger one.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from .complexity import METRICS, complexity, complexity_arrays
from .distributions import Distribution, make_distribution
from .regnet.compatibility import adjust_arrays
from .regnet.generate import quantized_levels, quantized_widths
from .spec import BOTTLENECK_BLOCKS, ModelSpec, inner_width

CONTEXT_DEFAULTS = {
    "stem_type": "simple_stem_in",
    "stem_width": 32,
    "block_type": "res_bottleneck_block",
    "se_ratio": 0.0,
    "head_width": 0,
    "num_classes": 1000,
    "in_channels": 3,
    "resolution": 224,
    "activation": "relu",
}
KIND_NETWORK_KEYS = {"anynet": {"strides"}, "regnet": {"stride", "quantum"}}
KIND_PARAMETERS = {
    "anynet": ({"depth", "width"}, {"bottleneck_ratio", "group_width", "num_groups"}),
    "regnet": ({"depth", "w0", "wa", "wm", "group_width"}, {"bottleneck_ratio"}),
}
TOP_LEVEL_KEYS = {"name", "description", "kind", "network", "parameters", "constraints", "adjust_compatibility"}
CONSTRAINT_KEYS = {"shared", "increasing", "stages", *METRICS}
FIRST_CHUNK, LARGEST_CHUNK = 4096, 32768
DEFAULT_MAX_DRAWS = 2_000_000


class SamplingError(ValueError):
    """The constraints could not be met (an empty window, too small a space)."""


class Samples(list):
    """The sampled records, with how many draws it took."""

    def __init__(self, records, draws: int):
        super().__init__(records)
        self.draws = draws


@dataclass(frozen=True)
class Space:
    name: str
    kind: str  # "anynet" (per-stage d, w, b, g) or "regnet" (d, w0, wa, wm, g, b)
    network: dict
    parameters: dict[str, Distribution]
    shared: tuple[str, ...] = ()
    increasing: tuple[str, ...] = ()
    stages: tuple[int, int] = (1, 64)
    windows: dict = field(default_factory=dict)  # metric -> (lo, hi), defaults from the file
    adjust_compatibility: bool = True
    description: str = ""

    # --------------------------------------------------------------------------- context
    def with_context(self, **overrides) -> "Space":
        """The same space for another network context (resolution, in_channels, classes, stem, ...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(overrides) - set(CONTEXT_DEFAULTS) | ({"block_type"} & set(overrides)))
        if unknown:
            raise ValueError(f"space {self.name}: cannot override {', '.join(unknown)}")
        network = {**self.network, **overrides}
        _check_context(self.name, network)
        return replace(self, network=network)

    @property
    def context(self) -> dict:
        return {k: self.network[k] for k in CONTEXT_DEFAULTS}

    # -------------------------------------------------------------------------- sampling
    def sample(
        self,
        n: int,
        seed: int = 0,
        flops=None,
        params=None,
        acts=None,
        max_draws: int = DEFAULT_MAX_DRAWS,
    ) -> Samples:
        """n unique architectures within the complexity windows, reproducible for a seed.

        Each window is (lo, hi) in raw units (flops as multiply-adds); None takes the space
        file's default, if any. Raises SamplingError when max_draws draws do not fill n.
        """
        if int(n) != n or n < 1:
            raise ValueError(f"sample: n must be a positive integer, got {n}")
        windows = dict(self.windows)
        for metric, window in (("flops", flops), ("params", params), ("acts", acts)):
            if window is not None:
                windows[metric] = _check_window(metric, window)
        rng = np.random.default_rng(seed)
        records, seen = [], set()
        draws = candidates = 0
        closest = (math.inf, None)
        chunk = FIRST_CHUNK
        while len(records) < n and draws < max_draws:
            size = min(chunk, max_draws - draws)
            draws += size
            chunk = min(2 * chunk, LARGEST_CHUNK)
            batch = self._draw(rng, size)
            candidates += batch.size
            if not batch.size:
                continue
            miss = _window_miss(batch.complexity, windows)
            best = int(np.argmin(miss))
            if miss[best] < closest[0]:
                closest = (float(miss[best]), {m: int(batch.complexity[m][best]) for m in METRICS})
            for i in np.flatnonzero(miss == 0):
                record = self._record(batch.row(i), windows)
                if record is None or record["key"] in seen:
                    continue
                seen.add(record.pop("key"))
                record.update(index=len(records), seed=seed)
                records.append(record)
                if len(records) == n:
                    break
        if len(records) < n:
            raise SamplingError(self._shortfall(n, len(records), draws, candidates, windows, closest[1]))
        return Samples(records, draws)

    def _shortfall(self, n, found, draws, candidates, windows, closest) -> str:
        where = ", ".join(f"{m} in [{_fmt(lo)}, {_fmt(hi)}]" for m, (lo, hi) in windows.items()) or "no window"
        text = f"space {self.name}: found {found} of {n} unique models with {where} after {draws:,} draws"
        if candidates == 0:
            return text + f" (no draw gave a valid network: check the stage constraint {list(self.stages)})"
        if found == 0 and closest is not None:
            text += "; the closest had " + ", ".join(f"{m} {_fmt(closest[m])}" for m in windows)
        return text + "; widen the window, raise --max-draws, or ask for fewer models"

    def _draw(self, rng, size) -> "_Batch":
        return _draw_anynet(self, rng, size) if self.kind == "anynet" else _draw_regnet(self, rng, size)

    def _record(self, row: dict, windows) -> dict | None:
        """The exact (scalar) spec and complexity of one accepted candidate, or None."""
        spec = self._spec(row)
        cx = complexity(spec)
        if any(not lo <= cx[m] <= hi for m, (lo, hi) in windows.items()):
            return None
        spec_dict = spec.to_dict()
        key = json.dumps(spec_dict, sort_keys=True)
        return {
            "id": hashlib.sha1(key.encode()).hexdigest()[:12],
            "space": self.name,
            "sample": row["sample"],
            "spec": spec_dict,
            "complexity": cx,
            "key": key,
        }

    def _spec(self, row: dict) -> ModelSpec:
        if self.kind == "regnet":
            from .regnet import make_spec

            s = row["sample"]
            return make_spec(
                s["depth"], s["w0"], s["wa"], s["wm"], s["group_width"], s["bottleneck_ratio"],
                q=self.network["quantum"], stride=self.network["stride"], **self.context,
            )
        return ModelSpec(depths=row["depths"], widths=row["widths"], strides=self.network["strides"],
                         bottleneck_ratios=row["bottleneck_ratios"], group_widths=row["group_widths"], **self.context)


@dataclass
class _Batch:
    """Structurally valid candidates of one chunk: their complexity, and how to read one out."""

    complexity: dict  # metric -> (m,) array
    row: Callable[[int], dict]  # candidate index -> {"sample": ..., and the spec's per-stage lists}

    @property
    def size(self) -> int:
        return len(self.complexity["flops"])


def _per_stage(space: Space, rng, name: str, size: int, num_stages: int) -> np.ndarray:
    dist = space.parameters[name]
    if name in space.shared:
        return np.repeat(dist.sample(rng, size)[:, None], num_stages, axis=1)
    if name in space.increasing:
        return dist.sample_non_decreasing(rng, size, num_stages)
    return dist.sample(rng, (size, num_stages))


def _draw_anynet(space: Space, rng, size: int) -> _Batch:
    strides = np.array(space.network["strides"], dtype=np.int64)
    num_stages = len(strides)
    draws = {name: _per_stage(space, rng, name, size, num_stages) for name in space.parameters}
    depths, widths = draws["depth"], draws["width"]
    if space.network["block_type"] in BOTTLENECK_BLOCKS:
        ratios = draws["bottleneck_ratio"].astype(np.float64)
        inner = np.rint(widths * (1.0 / ratios)).astype(np.int64)
        if "num_groups" in draws:
            groups = np.maximum(1, inner // draws["num_groups"])
        else:
            groups = draws["group_width"].astype(np.int64)
        if space.adjust_compatibility:
            widths, groups = adjust_arrays(widths, ratios, groups)
            inner = np.rint(widths * (1.0 / ratios)).astype(np.int64)
        valid = np.all((inner >= 1) & (inner % groups == 0) & (widths >= 1), axis=1)
    else:
        ratios, groups = np.ones(widths.shape), widths.copy()
        valid = np.ones(size, dtype=bool)
    index = np.flatnonzero(valid)
    draws = {name: values[index] for name, values in draws.items()}
    depths, widths, ratios, groups = depths[index], widths[index], ratios[index], groups[index]
    cx = complexity_arrays(space.context, depths, widths, np.broadcast_to(strides, widths.shape), ratios, groups)

    def row(i: int) -> dict:
        sample = {name: _plain(values[i, 0] if name in space.shared else values[i]) for name, values in draws.items()}
        return {
            "sample": sample, "depths": depths[i].tolist(), "widths": widths[i].tolist(),
            "bottleneck_ratios": ratios[i].tolist(), "group_widths": groups[i].tolist(),
        }

    return _Batch(cx, row)


def _draw_regnet(space: Space, rng, size: int) -> _Batch:
    p = space.parameters
    names = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
    draws = {k: p[k].sample(rng, size) for k in names}
    depth, wa = draws["depth"], draws["wa"].astype(np.float64)[:, None]
    w0, wm = draws["w0"].astype(np.float64)[:, None], draws["wm"].astype(np.float64)[:, None]
    blocks = np.arange(int(depth.max()))
    _, levels = quantized_levels(w0, wa, wm, blocks)
    in_depth = blocks[None, :] < depth[:, None]
    total_stages = np.where(in_depth, levels, -1).max(axis=1).astype(np.int64) + 1
    lo, hi = space.stages
    stage_levels = np.arange(hi)
    stage_depths = ((levels[:, :, None] == stage_levels) & in_depth[:, :, None]).sum(axis=1)
    stage_widths = quantized_widths(w0, wm, stage_levels[None, :].astype(np.float64), space.network["quantum"])
    present = stage_levels[None, :] < total_stages[:, None]
    # pycls keeps a RegNet only if every exponent level holds blocks and has its own width.
    distinct = np.concatenate([np.ones((size, 1), bool), np.diff(stage_widths, axis=1) > 0], axis=1)
    valid = (total_stages >= lo) & (total_stages <= hi) & np.all(~present | ((stage_depths > 0) & distinct), axis=1)
    order, parts = [], []
    for num_stages in range(lo, hi + 1):
        index = np.flatnonzero(valid & (total_stages == num_stages))
        if not len(index):
            continue
        shape = (len(index), num_stages)
        ratios = np.broadcast_to(draws["bottleneck_ratio"][index, None].astype(np.float64), shape)
        group_widths = np.broadcast_to(draws["group_width"][index, None], shape)
        widths, groups = adjust_arrays(stage_widths[index, :num_stages], ratios, group_widths)
        stride = np.full(shape, space.network["stride"])
        parts.append(complexity_arrays(space.context, stage_depths[index, :num_stages], widths, stride, ratios, groups))
        order.append(index)
    order = np.concatenate(order) if order else np.zeros(0, np.int64)
    cx = {m: np.concatenate([c[m] for c in parts]) if parts else np.zeros(0, np.int64) for m in METRICS}

    def row(i: int) -> dict:
        return {"sample": {k: _plain(draws[k][order[i]]) for k in names}}

    return _Batch(cx, row)


def _window_miss(cx: dict, windows: dict) -> np.ndarray:
    """How far (in log ratio) each candidate is outside the windows; 0 inside all of them."""
    miss = np.zeros(len(next(iter(cx.values()))))
    for metric, (lo, hi) in windows.items():
        value = np.maximum(cx[metric].astype(np.float64), 1.0)
        miss = np.maximum(miss, np.maximum(np.log(max(lo, 1.0) / value), np.log(value / hi)).clip(min=0.0))
    return miss


def _plain(value):
    """numpy scalars and arrays as plain JSON-ready Python values."""
    return value.tolist() if hasattr(value, "tolist") else value


def _fmt(x) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.4g}{unit}"
    return f"{x:g}"


# ------------------------------------------------------------------------------ loading
def shipped_spaces() -> dict[str, Path]:
    """Names and files of the spaces that come with designspace."""
    folder = resources.files("designspace.spaces")
    return {Path(f.name).stem: Path(str(f)) for f in folder.iterdir() if f.name.endswith(".toml")}


def load_space(name_or_path) -> Space:
    """A shipped space by name (`regnetx`) or a user's TOML file by path."""
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise ValueError(f"space file {text!r} does not exist")
    else:
        shipped = shipped_spaces()
        if text not in shipped:
            raise ValueError(f"unknown space {text!r}; shipped spaces: {', '.join(sorted(shipped))} (or give a .toml path)")
        path = shipped[text]
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    try:
        return parse_space(data, default_name=path.stem)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def parse_space(data: dict, default_name: str = "space") -> Space:
    """Build and check a Space from a parsed TOML document."""
    _keys("", data, TOP_LEVEL_KEYS)
    kind = data.get("kind")
    if kind not in KIND_PARAMETERS:
        raise ValueError(f"kind: {kind!r} is not one of anynet, regnet")
    network = dict(data.get("network", {}))
    _keys("network.", network, set(CONTEXT_DEFAULTS) | KIND_NETWORK_KEYS[kind])
    network = {**CONTEXT_DEFAULTS, **network}
    if kind == "regnet":
        network.setdefault("stride", 2)
        network.setdefault("quantum", 8)
    elif not isinstance(network.get("strides"), list) or not network["strides"]:
        raise ValueError("network.strides: an anynet space needs a list of stage strides, e.g. [2, 2, 2, 2]")
    name = data.get("name", default_name)
    _check_context(name, network)

    required, optional = KIND_PARAMETERS[kind]
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        raise ValueError("parameters: expected a table with one entry per parameter")
    _keys("parameters.", raw, required | optional)
    bottleneck = network["block_type"] in BOTTLENECK_BLOCKS
    if kind == "anynet" and bottleneck:
        if ("group_width" in raw) == ("num_groups" in raw):
            raise ValueError("parameters: give exactly one of group_width and num_groups for bottleneck blocks")
        required = required | {"bottleneck_ratio"}
    elif kind == "anynet" and set(raw) & optional:
        raise ValueError(f"parameters: {network['block_type']} has no bottleneck; remove {', '.join(sorted(set(raw) & optional))}")
    missing = sorted(required - set(raw))
    if missing:
        raise ValueError(f"parameters: missing {', '.join(missing)}")
    parameters = {k: make_distribution(k, v) for k, v in raw.items()}
    parameters.setdefault("bottleneck_ratio", make_distribution("bottleneck_ratio", 1.0))
    if kind == "anynet" and not bottleneck:
        del parameters["bottleneck_ratio"]
    for key in ("depth", "width", "w0", "group_width", "num_groups"):
        if key in parameters and not (parameters[key].is_integer and parameters[key].values.min() >= 1):
            raise ValueError(f"parameters.{key}: values must be positive integers")
    if "bottleneck_ratio" in parameters:
        ratios = parameters["bottleneck_ratio"].values
        expansions = 1.0 / ratios[ratios > 0]
        if not (ratios > 0).all() or not ((expansions < 1) | (expansions == np.round(expansions))).all():
            raise ValueError("parameters.bottleneck_ratio: values must be positive, and below 1 only as 1/e for an "
                             f"integer expansion e (got {ratios.tolist()})")

    constraints = data.get("constraints", {})
    _keys("constraints.", constraints, CONSTRAINT_KEYS)
    shared = tuple(constraints.get("shared", ()))
    increasing = tuple(constraints.get("increasing", ()))
    for key, names in (("shared", shared), ("increasing", increasing)):
        if kind == "regnet" and names:
            raise ValueError(f"constraints.{key}: only anynet spaces have per-stage parameters")
        unknown = sorted(set(names) - set(parameters))
        if unknown:
            raise ValueError(f"constraints.{key}: {', '.join(unknown)} is not a parameter of this space")
    stages = tuple(constraints.get("stages", (1, 64) if kind == "regnet" else (len(network["strides"]),) * 2))
    if kind == "regnet" and (len(stages) != 2 or not 1 <= stages[0] <= stages[1]):
        raise ValueError(f"constraints.stages: expected [lo, hi] with 1 <= lo <= hi, got {list(stages)}")
    windows = {m: _check_window(m, constraints[m]) for m in METRICS if m in constraints}
    adjust = data.get("adjust_compatibility", True)
    if not isinstance(adjust, bool):
        raise ValueError(f"adjust_compatibility: expected true or false, got {adjust!r}")
    return Space(
        name=name, kind=kind, network=network, parameters=parameters, shared=shared, increasing=increasing,
        stages=stages, windows=windows, adjust_compatibility=adjust, description=data.get("description", ""),
    )


def _check_context(name: str, network: dict) -> None:
    """A probe ModelSpec validates the context fields with ModelSpec's own messages."""
    context = {k: network[k] for k in CONTEXT_DEFAULTS}
    if context["block_type"] not in BOTTLENECK_BLOCKS and context["se_ratio"]:
        raise ValueError(f"network.se_ratio: {context['block_type']} has no squeeze-excitation; set it to 0")
    try:
        ModelSpec(depths=[1], widths=[8], strides=[1], bottleneck_ratios=[1.0], group_widths=[8], **context)
    except (ValueError, TypeError) as e:
        raise ValueError(str(e).replace("ModelSpec.", "network.")) from None


def _check_window(metric: str, window) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in window)
    except (TypeError, ValueError):
        raise ValueError(f"{metric} window: expected [lo, hi], got {window!r}") from None
    if not 0 <= lo <= hi:
        raise ValueError(f"{metric} window: expected 0 <= lo <= hi, got [{lo:g}, {hi:g}]")
    return lo, hi


def _keys(prefix: str, table, allowed) -> None:
    if not isinstance(table, dict):
        raise ValueError(f"{prefix.rstrip('.') or 'file'}: expected a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]}: unknown key; expected one of {', '.join(sorted(allowed))}")
