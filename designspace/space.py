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
import sys
import time
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from .complexity import COMPLEXITY, complexity, complexity_mixed, select
from .distributions import Distribution, categorical, make_distribution
from .blocks import channels_after_transitions, dense_map_sizes, expand_3x3_width, stem_out_size
from .layers import round_down, round_half_even
from .regnet.compatibility import adjust_arrays
from .regnet.generate import quantized_levels, quantized_widths
from .spec import GROUP_BLOCKS, OPTIONAL_DEFAULTS, RATIO_BLOCKS, ModelSpec
from .units import si

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
    **OPTIONAL_DEFAULTS,
}
# Parameters drawn once per network: any context field but the block type (which decides the
# per-stage parameters), and the MobileNet multipliers alpha (all widths) and rho (resolution).
MULTIPLIERS = {"width_multiplier": "alpha", "resolution_multiplier": "rho"}
NETWORK_PARAMETERS = (set(CONTEXT_DEFAULTS) - {"block_type"}) | set(MULTIPLIERS)
KIND_NETWORK_KEYS = {"anynet": {"strides"}, "regnet": {"stride", "quantum"}}
KIND_PARAMETERS = {
    "anynet": ({"depth", "width"}, {"bottleneck_ratio", "group_width", "num_groups"}),
    "regnet": ({"depth", "w0", "wa", "wm", "group_width"}, {"bottleneck_ratio"}),
}
TOP_LEVEL_KEYS = {"name", "description", "kind", "network", "parameters", "variants", "constraints",
                  "adjust_compatibility"}
CONSTRAINT_KEYS = {"shared", "increasing", "stages", *COMPLEXITY}
SMALL_IMAGES = 64  # pixels a side up to which Space.for_images picks the CIFAR stem
FIRST_CHUNK, LARGEST_CHUNK = 4096, 32768
DEFAULT_MAX_DRAWS = 2_000_000
# A draw that runs longer than PROGRESS_AFTER seconds shows a bar on a terminal; off a terminal
# (a log file) it prints a plain line every PROGRESS_EVERY seconds instead.
PROGRESS_AFTER, PROGRESS_EVERY = 3.0, 10.0
# The values a structural parameter may take: (the rule in words, numpy dtype kinds, test).
# RegNet's are pycls's asserts (wa >= 0, wm > 1); outside them widths divide by log(wm) = 0.
POSITIVE_INTEGERS = ("positive integers", "i", lambda v: v >= 1)
PARAMETER_RANGES = {
    **dict.fromkeys(("depth", "width", "w0", "group_width", "num_groups"), POSITIVE_INTEGERS),
    "wa": ("numbers >= 0", "if", lambda v: v >= 0),
    "wm": ("numbers > 1", "if", lambda v: v > 1),
}
# RegNet's continuous widths w0 + wa * j stay below this, so that quantized widths (below its
# square) fit in int64 (a typo such as wa = 1e20 would overflow instead of being refused).
MAX_REGNET_WIDTH = 2**31


class SamplingError(ValueError):
    """The constraints could not be met (an empty window, too small a space); `closest` holds the
    complexity of the candidate nearest the windows when none fell inside them."""

    def __init__(self, message: str, closest: dict | None = None):
        super().__init__(message)
        self.closest = closest


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
    parameters: dict[str, Distribution]  # per-stage / RegNet parameters, then network-level ones
    shared: tuple[str, ...] = ()
    increasing: tuple[str, ...] = ()
    stages: tuple[int, int] = (1, 64)
    windows: dict = field(default_factory=dict)  # metric -> (lo, hi), defaults from the file
    adjust_compatibility: bool = True
    description: str = ""
    fixed_stages: dict = field(default_factory=dict)  # anynet parameter -> one fixed value per stage
    variants: dict = field(default_factory=dict)  # parameter -> {label: {context field: value}}

    @property
    def network_parameters(self) -> list[str]:
        """The parameters drawn once per network, in file order."""
        return [name for name in self.parameters if name in NETWORK_PARAMETERS or name in self.variants]

    @property
    def max_networks(self) -> int:
        """How many distinct draws the space has: a bound on its distinct networks (each network
        is a function of its draw), exact and cheap, so that asking for more fails at once."""
        num_stages = len(self.network["strides"]) if self.kind == "anynet" else 1
        total = 1
        for name, dist in self.parameters.items():
            choices = len(dist.values)
            if self.kind == "regnet" or name in self.network_parameters or name in self.shared:
                total *= choices
            elif name in self.increasing:  # non-decreasing sequences of num_stages values
                total *= math.comb(choices + num_stages - 1, num_stages)
            else:
                total *= choices**num_stages
        return total

    # --------------------------------------------------------------------------- context
    def with_context(self, **overrides) -> "Space":
        """The same space for another network context (resolution, in_channels, classes, stem, ...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(overrides) - set(CONTEXT_DEFAULTS) | ({"block_type"} & set(overrides)))
        if unknown:
            raise ValueError(f"space {self.name}: cannot override {', '.join(unknown)}")
        network = {**self.network, **overrides}
        _check_context(network)
        return replace(self, network=network)

    def for_images(self, resolution: int, in_channels: int, num_classes: int, **overrides) -> "Space":
        """The space for a dataset's images: their size, channels and classes, a CIFAR stem (3x3,
        stride 1) for small images unless `overrides` name a stem, and the other overrides (None
        keeps the space's value). What a sweep samples for its dataset."""
        stem_type = overrides.pop("stem_type", None) or ("res_stem_cifar" if resolution <= SMALL_IMAGES else None)
        return self.with_context(resolution=resolution, in_channels=in_channels, num_classes=num_classes,
                                 stem_type=stem_type, **overrides)

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
        progress: bool = True,
    ) -> Samples:
        """n unique architectures within the complexity windows, reproducible for a seed.

        Each window is (lo, hi) in raw units (flops as multiply-adds); None takes the space
        file's default, if any. Raises SamplingError at once when n is more than max_draws or
        the space can give, and when max_draws draws do not fill n. progress: report a long
        draw on stderr.
        """
        for name, value in (("n", n), ("max_draws", max_draws)):
            if int(value) != value or value < 1:
                raise ValueError(f"sample: {name} must be a positive integer, got {value}")
        if n > max_draws:
            raise SamplingError(f"space {self.name}: {n:,} models need at least {n:,} draws, more than the "
                                f"{max_draws:,} allowed; lower --n (or raise --max-draws of `designspace sample`)")
        if n > self.max_networks:
            raise SamplingError(f"space {self.name} holds at most {self.max_networks:,} distinct networks, fewer than "
                                f"the {n:,} asked for; lower --n to at most {self.max_networks:,}")
        windows = dict(self.windows)
        for metric, window in (("flops", flops), ("params", params), ("acts", acts)):
            if window is not None:
                windows[metric] = _check_window(metric, window)
        rng = np.random.default_rng(seed)
        records, seen, tried = [], set(), set()
        draws = candidates = 0
        closest = (math.inf, None)
        chunk = FIRST_CHUNK
        report = _Progress(self.name, n, progress)
        while len(records) < n and draws < max_draws:
            report(len(records), draws)
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
                closest = (float(miss[best]), {m: int(batch.complexity[m][best]) for m in COMPLEXITY})
            for i in np.flatnonzero(miss == 0):
                row = batch.row(i)
                drawn = json.dumps(row["sample"], sort_keys=True)
                if drawn in tried:  # the same draw again: the same network, already judged
                    continue
                tried.add(drawn)
                record = self._record(row, windows)
                if record is None or record["key"] in seen:
                    continue
                seen.add(record.pop("key"))
                record.update(index=len(records), seed=seed)
                records.append(record)
                if len(records) == n:
                    break
        report.finish(len(records), draws)
        if len(records) < n:
            raise SamplingError(self._shortfall(n, len(records), draws, candidates, windows, closest[1]),
                                closest[1] if not records else None)
        return Samples(records, draws)

    def _shortfall(self, n, found, draws, candidates, windows, closest) -> str:
        where = ", ".join(f"{m} in [{si(lo, 4)}, {si(hi, 4)}]" for m, (lo, hi) in windows.items()) or "no window"
        text = f"space {self.name}: found {found} of {n} unique models with {where} after {draws:,} draws"
        if candidates == 0:
            return text + f" (no draw gave a valid network: check the stage constraint {list(self.stages)})"
        if found == 0 and closest is not None:
            text += "; the closest had " + ", ".join(f"{m} {si(closest[m], 4)}" for m in windows)
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
                q=self.network["quantum"], stride=self.network["stride"], **{**self.context, **row["network"]},
            )
        return ModelSpec(depths=row["depths"], widths=row["widths"], strides=self.network["strides"],
                         bottleneck_ratios=row["bottleneck_ratios"], group_widths=row["group_widths"],
                         **{**self.context, **row["network"]})


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


def _network_context(space: Space, drawn: dict, size: int) -> dict:
    """Each candidate's network context: the space's, with the network-level values drawn for
    it (as (size,) arrays; categorical fields as object arrays of plain str / bool)."""
    context = dict(space.context)

    def column(key):
        if not isinstance(context[key], np.ndarray):
            value = context[key]
            context[key] = np.full(size, value, dtype=object if isinstance(value, (str, bool)) else None)
        return context[key]

    for name, values in drawn.items():
        if name in space.variants:
            for label, overrides in space.variants[name].items():
                for key, value in overrides.items():
                    column(key)[values == label] = value
        elif name == "width_multiplier":
            context["stem_width"] = np.maximum(1, round_down(space.context["stem_width"] * values))
        elif name == "resolution_multiplier":
            context["resolution"] = np.maximum(1, round_half_even(space.context["resolution"] * values))
        else:
            context[name] = np.array(values.tolist(), dtype=object) if values.dtype.kind in "Ub" else values
    return context


def _network_row(drawn: dict, context: dict, i: int) -> dict:
    """One candidate's drawn network-level values and the context fields that vary."""
    return {"drawn": {name: _plain(values[i]) for name, values in drawn.items()},
            "network": {k: _plain(v[i]) for k, v in context.items() if isinstance(v, np.ndarray)}}


def _draw_anynet(space: Space, rng, size: int) -> _Batch:
    strides = np.array(space.network["strides"], dtype=np.int64)
    num_stages = len(strides)
    network_names = space.network_parameters
    draws = {name: _per_stage(space, rng, name, size, num_stages) for name in space.parameters
             if name not in network_names}
    drawn = {name: space.parameters[name].sample(rng, size) for name in network_names}
    context = _network_context(space, drawn, size)
    fixed = {name: np.broadcast_to(np.array(values), (size, num_stages)) for name, values in space.fixed_stages.items()}
    stage_values = {**draws, **fixed}
    depths, widths = stage_values["depth"], stage_values["width"]
    if "width_multiplier" in drawn:
        widths = np.maximum(1, round_down(widths * drawn["width_multiplier"][:, None]))
    ratios, groups, valid = _stage_shapes(space, stage_values, widths, context)
    if space.network["block_type"] in GROUP_BLOCKS and space.adjust_compatibility:
        widths, groups = adjust_arrays(widths, ratios, groups)
        ratios, groups, valid = _stage_shapes(space, stage_values, widths, context, groups)
    index = np.flatnonzero(valid)
    draws = {name: values[index] for name, values in draws.items()}
    drawn = {name: values[index] for name, values in drawn.items()}
    context = select(context, index)
    depths, widths, ratios, groups = depths[index], widths[index], ratios[index], groups[index]
    cx = complexity_mixed(context, depths, widths, np.broadcast_to(strides, widths.shape), ratios, groups)

    def row(i: int) -> dict:
        sample = {name: _plain(values[i, 0] if name in space.shared else values[i]) for name, values in draws.items()}
        network = _network_row(drawn, context, i)
        return {
            "sample": {**sample, **network["drawn"]}, "network": network["network"], "depths": depths[i].tolist(),
            "widths": widths[i].tolist(), "bottleneck_ratios": ratios[i].tolist(), "group_widths": groups[i].tolist(),
        }

    return _Batch(cx, row)


def _stage_shapes(space: Space, draws: dict, widths, context: dict, groups=None):
    """(bottleneck ratios, group widths, valid) of each candidate's stages: the fields its block
    type reads, and whether ModelSpec would accept them (its rules, vectorized)."""
    block = space.network["block_type"]
    if block not in RATIO_BLOCKS:
        return np.ones(widths.shape), widths.copy(), np.all(widths >= 1, axis=1)
    ratios = draws["bottleneck_ratio"].astype(np.float64)
    inner = np.rint(widths * (1.0 / ratios)).astype(np.int64)
    ok = (inner >= 1) & (widths >= 1)
    if block == "fire_block":
        fraction = _per_network(context["expand_3x3_fraction"])
        expand_3x3 = expand_3x3_width(widths, fraction)
        return ratios, widths.copy(), np.all(ok & (inner <= widths) & (expand_3x3 >= 1) & (expand_3x3 < widths), axis=1)
    if groups is None:
        if "num_groups" in draws:
            groups = np.maximum(1, inner // draws["num_groups"])
        else:
            groups = draws["group_width"].astype(np.int64)
    ok &= inner % np.maximum(groups, 1) == 0
    if block == "res_bottleneck_linear_block" and context.get("expand_from") == "input":
        ok &= _first_expansions_ok(context, widths, ratios, groups)
    if block == "dense_block":
        ok &= widths % np.maximum(inner // np.maximum(groups, 1), 1) == 0
        ok &= _transitions_ok(context, draws["depth"], widths)
        ok &= _dense_maps_ok(context, space.network["strides"], len(widths))[:, None]
    return ratios, groups, np.all(ok, axis=1)


def _per_network(value):
    """A context value as a column that broadcasts against (N, S) stage arrays."""
    return value[:, None].astype(np.float64) if isinstance(value, np.ndarray) else value


def _transitions_ok(context: dict, depths, growth) -> np.ndarray:
    """(N, S): whether each dense transition keeps at least one channel (DenseNet compression)."""
    starts = channels_after_transitions(np.asarray(context["stem_width"]), depths.T, growth.T,
                                        np.asarray(context["compression"], dtype=np.float64))
    return np.stack([np.broadcast_to(c >= 1, depths.shape[:1]) for c in starts], axis=1)


def _first_expansions_ok(context: dict, widths, ratios, groups) -> np.ndarray:
    """(N, S): whether each stage's first inverted residual (MobileNet-v2), which expands the
    previous stage's width, has an inner width that is a positive multiple of its group width."""
    stem = np.broadcast_to(np.asarray(context["stem_width"]).reshape(-1, 1), (len(widths), 1))
    first = np.rint(np.concatenate([stem, widths[:, :-1]], axis=1) * (1.0 / ratios)).astype(np.int64)
    return (first >= 1) & (first % np.maximum(groups, 1) == 0)


def _dense_maps_ok(context: dict, strides, n: int) -> np.ndarray:
    """(N,): whether every dense stage keeps a feature map at each candidate's resolution."""
    stem_keys = ("stem_type", "stem_width", "deep_stem", "padding", "bare_stem", "batch_norm", "in_channels")
    columns = {k: np.broadcast_to(np.asarray(context.get(k, OPTIONAL_DEFAULTS.get(k))), (n,))
               for k in (*stem_keys, "resolution")}
    forms = np.array(list(zip(*(columns[k].tolist() for k in stem_keys))), dtype=object)
    ok = np.ones(n, dtype=bool)
    for form in {tuple(row) for row in forms.tolist()}:
        rows = np.array([tuple(row) == form for row in forms.tolist()])
        h = stem_out_size(dict(zip(stem_keys, form)), columns["resolution"][rows].astype(np.int64))
        ok[rows] = np.all([size >= 1 for size in dense_map_sizes(h, strides)], axis=0)
    return ok


def _draw_regnet(space: Space, rng, size: int) -> _Batch:
    p = space.parameters
    names = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
    draws = {k: p[k].sample(rng, size) for k in names}
    drawn = {name: p[name].sample(rng, size) for name in space.network_parameters}
    context = _network_context(space, drawn, size)
    depth, wa = draws["depth"], draws["wa"].astype(np.float64)[:, None]
    w0, wm = draws["w0"].astype(np.float64)[:, None], draws["wm"].astype(np.float64)[:, None]
    blocks = np.arange(int(depth.max()))
    _, levels = quantized_levels(w0, wa, wm, blocks)
    in_depth = blocks[None, :] < depth[:, None]
    total_stages = np.where(in_depth, levels, -1).max(axis=1).astype(np.int64) + 1
    lo, hi = space.stages
    stage_levels = np.arange(hi)
    stage_depths = ((levels[:, :, None] == stage_levels) & in_depth[:, :, None]).sum(axis=1)
    present = stage_levels[None, :] < total_stages[:, None]
    # Widths of each candidate's own levels only (an absent level repeats its top one): w0 * wm^63
    # overflows int64, and so would the levels of a candidate with more than hi stages.
    top = np.where(total_stages <= hi, total_stages - 1, 0)[:, None]
    stage_widths = quantized_widths(w0, wm, np.minimum(stage_levels, top).astype(np.float64), space.network["quantum"])
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
        parts.append(complexity_mixed(select(context, index), stage_depths[index, :num_stages], widths, stride,
                                      ratios, groups))
        order.append(index)
    order = np.concatenate(order) if order else np.zeros(0, np.int64)
    cx = {m: np.concatenate([c[m] for c in parts]) if parts else np.zeros(0, np.int64) for m in COMPLEXITY}

    def row(i: int) -> dict:
        network = _network_row(drawn, context, order[i])
        return {"sample": {**{k: _plain(draws[k][order[i]]) for k in names}, **network["drawn"]},
                "network": network["network"]}

    return _Batch(cx, row)


def _window_miss(cx: dict, windows: dict) -> np.ndarray:
    """How far (in log ratio) each candidate is outside the windows; 0 inside all of them."""
    miss = np.zeros(len(next(iter(cx.values()))))
    for metric, (lo, hi) in windows.items():
        log_value = np.log(np.maximum(cx[metric].astype(np.float64), 1.0))  # an open window's hi is inf: log is too
        log_hi = math.log(hi) if hi > 0 else -math.inf  # an empty window (:0): every candidate misses it
        miss = np.maximum(miss, np.maximum(math.log(max(lo, 1.0)) - log_value, log_value - log_hi).clip(min=0.0))
    return miss


def _plain(value):
    """numpy scalars and arrays as plain JSON-ready Python values."""
    return value.tolist() if hasattr(value, "tolist") else value


class _Progress:
    """Reports a long draw on stderr (models found of n, draws so far), so that a slow window
    is not mistaken for a hang: a tqdm bar on a terminal, a plain line every PROGRESS_EVERY
    seconds off one. Called once per chunk, so the draw loop itself never reads the clock."""

    def __init__(self, name: str, n: int, enabled: bool):
        self.name, self.n, self.enabled = name, n, enabled
        self.start = time.monotonic()
        self.next_line = self.start + PROGRESS_EVERY
        self.bar = None

    def __call__(self, found: int, draws: int) -> None:
        if not self.enabled or not draws:
            return
        now = time.monotonic()
        if sys.stderr.isatty():
            if self.bar is None and now - self.start >= PROGRESS_AFTER:
                from tqdm import tqdm

                self.bar = tqdm(total=self.n, desc=f"sampling {self.name}", unit="model", file=sys.stderr,
                                dynamic_ncols=True)
            if self.bar is not None:
                self.bar.n = found
                self.bar.set_postfix_str(f"{draws:,} draws")  # also redraws the bar
        elif now >= self.next_line:
            self.next_line = now + PROGRESS_EVERY
            print(f"sampling {self.name}: {found:,} of {self.n:,} models after {draws:,} draws, "
                  f"{now - self.start:.0f} s", file=sys.stderr, flush=True)

    def finish(self, found: int, draws: int) -> None:
        self(found, draws)
        if self.bar is not None:
            self.bar.close()


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
        for key in ("stride", "quantum"):
            if not _positive_integer(network[key]):
                raise ValueError(f"network.{key}: must be a positive integer, got {network[key]!r}")
    elif not (isinstance(network.get("strides"), list) and network["strides"]
              and all(map(_positive_integer, network["strides"]))):
        raise ValueError("network.strides: an anynet space needs a list of positive integer stage strides, e.g. "
                         f"[2, 2, 2, 2], got {network.get('strides')!r}")
    name = data.get("name", default_name)
    _check_context(network)

    required, optional = KIND_PARAMETERS[kind]
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        raise ValueError("parameters: expected a table with one entry per parameter")
    _keys("parameters.", raw, required | optional | NETWORK_PARAMETERS)
    variants = _parse_variants(data.get("variants", {}), network, raw)
    block = network["block_type"]
    if kind == "anynet":
        uses = ({"bottleneck_ratio"} if block in RATIO_BLOCKS else set()) | (
            {"group_width", "num_groups"} if block in GROUP_BLOCKS else set())
        if block in GROUP_BLOCKS and ("group_width" in raw) == ("num_groups" in raw):
            raise ValueError(f"parameters: give exactly one of group_width and num_groups for {block}")
        required = required | (uses & {"bottleneck_ratio"})
        unused = sorted(set(raw) & optional - uses)
        if unused:
            raise ValueError(f"parameters: {block} does not use {', '.join(unused)}; remove it")
    missing = sorted(required - set(raw))
    if missing:
        raise ValueError(f"parameters: missing {', '.join(missing)}")
    fixed = _fixed_stages(kind, network, raw)
    parameters = {k: make_distribution(k, v) for k, v in raw.items() if k not in fixed}
    if kind == "regnet":
        parameters.setdefault("bottleneck_ratio", make_distribution("bottleneck_ratio", 1.0))
    parameters.update((name, categorical(f"variants.{name}", list(labels))) for name, labels in variants.items())
    _check_ranges({**{k: d.values for k, d in parameters.items()}, **{k: np.array(v) for k, v in fixed.items()}})
    if kind == "regnet":
        w0 = parameters["w0"].values
        off_grid = w0[w0 % network["quantum"] != 0]
        if off_grid.size:
            raise ValueError(f"parameters.w0: values must be multiples of network.quantum ({network['quantum']}), "
                             f"got {_some(off_grid)}")
        widest = w0.max() + parameters["wa"].values.max() * (parameters["depth"].values.max() - 1.0)
        if not widest < MAX_REGNET_WIDTH:
            raise ValueError(f"parameters.wa: the widest network reaches w0 + wa * (depth - 1) = {widest:.3g} "
                             f"channels; keep it below {MAX_REGNET_WIDTH:,} (lower wa, w0 or depth)")
    if "bottleneck_ratio" in parameters:
        ratios = parameters["bottleneck_ratio"].values
        expansions = 1.0 / ratios[ratios > 0]
        if not (ratios > 0).all() or not ((expansions < 1) | (expansions == np.round(expansions))).all():
            raise ValueError("parameters.bottleneck_ratio: values must be positive, and below 1 only as 1/e for an "
                             f"integer expansion e (got {ratios.tolist()})")
    _check_network_parameters(kind, network, parameters)

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
    windows = {m: _check_window(m, constraints[m]) for m in COMPLEXITY if m in constraints}
    adjust = data.get("adjust_compatibility", True)
    if not isinstance(adjust, bool):
        raise ValueError(f"adjust_compatibility: expected true or false, got {adjust!r}")
    return Space(
        name=name, kind=kind, network=network, parameters=parameters, shared=shared, increasing=increasing,
        stages=stages, windows=windows, adjust_compatibility=adjust, description=data.get("description", ""),
        fixed_stages=fixed, variants=variants,
    )


def _parse_variants(table, network: dict, raw: dict) -> dict:
    """[variants.NAME] tables: each label sets some context fields; NAME is drawn uniformly."""
    if not isinstance(table, dict):
        raise ValueError("variants: expected a table")
    variants = {}
    for name, labels in table.items():
        if name in raw or name in NETWORK_PARAMETERS or name in KIND_PARAMETERS["anynet"][0] | KIND_PARAMETERS["regnet"][0]:
            raise ValueError(f"variants.{name}: the name of a parameter or network field; choose another name")
        if not isinstance(labels, dict) or not labels:
            raise ValueError(f"variants.{name}: expected a table of labels, each a table of network fields")
        for label, overrides in labels.items():
            _keys(f"variants.{name}.{label}.", overrides, set(CONTEXT_DEFAULTS) - {"block_type"} - set(raw))
            _check_context({**network, **overrides}, where=f"variants.{name}.{label}")
        variants[name] = labels
    return variants


def _fixed_stages(kind: str, network: dict, raw: dict) -> dict:
    """Per-stage parameters given as a list: the same value for every network (MobileNet-v1's
    depths and widths, for example)."""
    fixed = {}
    for key, value in raw.items():
        if not isinstance(value, list):
            continue
        if kind != "anynet" or key not in KIND_PARAMETERS["anynet"][0] | KIND_PARAMETERS["anynet"][1]:
            raise ValueError(f"parameters.{key}: a list gives one value per stage, which only anynet per-stage "
                             "parameters take")
        if len(value) != len(network["strides"]) or not all(_positive_number(v) for v in value):
            raise ValueError(f"parameters.{key}: expected {len(network['strides'])} positive numbers (one per stage), "
                             f"got {value!r}")
        fixed[key] = tuple(value)
    return fixed


def _positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _positive_integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _check_ranges(values: dict) -> None:
    """Every value a structural parameter can take must be in its range (PARAMETER_RANGES), so
    that a bad file fails at load with the key, not during sampling."""
    for key, (rule, kinds, ok) in PARAMETER_RANGES.items():
        if key in values:
            bad = values[key] if values[key].dtype.kind not in kinds else values[key][~ok(values[key])]
            if bad.size:
                raise ValueError(f"parameters.{key}: values must be {rule}, got {_some(bad)}")


def _some(values: np.ndarray) -> str:
    """A few of the offending values, for a message."""
    shown = ", ".join(map(repr, values[:3].tolist()))
    return shown + (f" and {values.size - 3} more" if values.size > 3 else "")


def _check_network_parameters(kind: str, network: dict, parameters: dict) -> None:
    """Every value a network-level parameter can take must make a valid network."""
    for key, dist in parameters.items():
        if key in MULTIPLIERS:
            values = dist.values
            if kind != "anynet":
                raise ValueError(f"parameters.{key}: only anynet spaces take multipliers")
            if values.dtype.kind not in "if" or not ((values > 0) & (values <= 1)).all():
                raise ValueError(f"parameters.{key} ({MULTIPLIERS[key]}): values must be in (0, 1], got "
                                 f"{values.tolist()}")
        elif key in NETWORK_PARAMETERS:
            for value in dist.values.tolist():
                _check_context({**network, key: value}, where=f"parameters.{key} = {value!r}")


def _check_context(network: dict, where: str = "") -> None:
    """A probe ModelSpec validates the context fields with ModelSpec's own messages."""
    context = {k: network[k] for k in CONTEXT_DEFAULTS}
    # A dense network's stride-s transitions round its maps down: the probe has the space's strides.
    strides = network["strides"] if network.get("block_type") == "dense_block" and "strides" in network else [1]
    try:
        ModelSpec(depths=[1] * len(strides), widths=[8] * len(strides), strides=strides,
                  bottleneck_ratios=[1.0] * len(strides), group_widths=[8] * len(strides), **context)
    except (ValueError, TypeError) as e:
        message = str(e).replace("ModelSpec.", "network.")
        raise ValueError(f"{where}: {message}" if where else message) from None


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
