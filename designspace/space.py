"""Design spaces: the Space type, and fast, exact, reproducible sampling from it.

A space is data (a space file, see space_file.py): a fixed network context, a distribution per
parameter and constraints. Sampling draws candidates in vectorized chunks (sampler.py, which
checks the stage structure), checks the complexity windows for a whole chunk at once (numpy),
then confirms each accepted candidate with the scalar code path (ModelSpec validation, exact
complexity) and drops duplicate architectures. The result is the space's distribution
conditioned on the constraints, exactly what rejection sampling gives, without a Python loop per
draw. Chunk sizes do not depend on n, so for one seed a smaller n gives a prefix of a larger one.
The context and window checks live here, with the type that needs them (Space.with_context,
Space.sample); the file parser builds Spaces, so it imports them from here, never the reverse.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np

from .complexity import COMPLEXITY, complexity
from .distributions import Distribution
from .sampler import Batch, draw_anynet, draw_regnet
from .spec import OPTIONAL_DEFAULTS, ModelSpec
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
SMALL_IMAGES = 64  # pixels a side up to which Space.for_images picks the CIFAR stem
FIRST_CHUNK, LARGEST_CHUNK = 4096, 32768
DEFAULT_MAX_DRAWS = 2_000_000
# A draw that runs longer than PROGRESS_AFTER seconds shows a bar on a terminal; off a terminal
# (a log file) it prints a plain line every PROGRESS_EVERY seconds instead.
PROGRESS_AFTER, PROGRESS_EVERY = 3.0, 10.0


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
    def with_context(self, **overrides) -> Space:
        """The same space for another network context (resolution, in_channels, classes, stem, ...)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(overrides) - set(CONTEXT_DEFAULTS) | ({"block_type"} & set(overrides)))
        if unknown:
            raise ValueError(f"space {self.name}: cannot override {', '.join(unknown)}")
        network = {**self.network, **overrides}
        check_context(network)
        return replace(self, network=network)

    def for_images(self, resolution: int, in_channels: int, num_classes: int, **overrides) -> Space:
        """The space for a dataset's images: their size, channels and classes, a CIFAR stem (3x3,
        stride 1) for small images unless `overrides` name a stem, and the other overrides (None
        keeps the space's value). What a sweep samples for its dataset."""
        stem_type = overrides.pop("stem_type", None) or ("res_stem_cifar" if resolution <= SMALL_IMAGES else None)
        return self.with_context(
            resolution=resolution, in_channels=in_channels, num_classes=num_classes, stem_type=stem_type, **overrides
        )

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
            raise SamplingError(
                f"space {self.name}: {n:,} models need at least {n:,} draws, more than the "
                f"{max_draws:,} allowed; lower --n (or raise --max-draws of `designspace sample`)"
            )
        if n > self.max_networks:
            raise SamplingError(
                f"space {self.name} holds at most {self.max_networks:,} distinct networks, fewer than "
                f"the {n:,} asked for; lower --n to at most {self.max_networks:,}"
            )
        windows = dict(self.windows)
        for metric, window in (("flops", flops), ("params", params), ("acts", acts)):
            if window is not None:
                windows[metric] = check_window(metric, window)
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
            raise SamplingError(
                self._shortfall(n, len(records), draws, candidates, windows, closest[1]),
                closest[1] if not records else None,
            )
        return Samples(records, draws)

    def _shortfall(self, n, found, draws, candidates, windows, closest) -> str:
        where = ", ".join(f"{m} in [{si(lo, 4)}, {si(hi, 4)}]" for m, (lo, hi) in windows.items()) or "no window"
        text = f"space {self.name}: found {found} of {n} unique models with {where} after {draws:,} draws"
        if candidates == 0:
            return text + f" (no draw gave a valid network: check the stage constraint {list(self.stages)})"
        if found == 0 and closest is not None:
            text += "; the closest had " + ", ".join(f"{m} {si(closest[m], 4)}" for m in windows)
        return text + "; widen the window, raise --max-draws, or ask for fewer models"

    def _draw(self, rng, size) -> Batch:
        return draw_anynet(self, rng, size) if self.kind == "anynet" else draw_regnet(self, rng, size)

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
                s["depth"],
                s["w0"],
                s["wa"],
                s["wm"],
                s["group_width"],
                s["bottleneck_ratio"],
                q=self.network["quantum"],
                stride=self.network["stride"],
                **{**self.context, **row["network"]},
            )
        return ModelSpec(
            depths=row["depths"],
            widths=row["widths"],
            strides=self.network["strides"],
            bottleneck_ratios=row["bottleneck_ratios"],
            group_widths=row["group_widths"],
            **{**self.context, **row["network"]},
        )


def _window_miss(cx: dict, windows: dict) -> np.ndarray:
    """How far (in log ratio) each candidate is outside the windows; 0 inside all of them."""
    miss = np.zeros(len(next(iter(cx.values()))))
    for metric, (lo, hi) in windows.items():
        log_value = np.log(np.maximum(cx[metric].astype(np.float64), 1.0))  # an open window's hi is inf: log is too
        log_hi = math.log(hi) if hi > 0 else -math.inf  # an empty window (:0): every candidate misses it
        miss = np.maximum(miss, np.maximum(math.log(max(lo, 1.0)) - log_value, log_value - log_hi).clip(min=0.0))
    return miss


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

                self.bar = tqdm(
                    total=self.n, desc=f"sampling {self.name}", unit="model", file=sys.stderr, dynamic_ncols=True
                )
            if self.bar is not None:
                self.bar.n = found
                self.bar.set_postfix_str(f"{draws:,} draws")  # also redraws the bar
        elif now >= self.next_line:
            self.next_line = now + PROGRESS_EVERY
            print(
                f"sampling {self.name}: {found:,} of {self.n:,} models after {draws:,} draws, {now - self.start:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    def finish(self, found: int, draws: int) -> None:
        self(found, draws)
        if self.bar is not None:
            self.bar.close()


def check_context(network: dict, where: str = "") -> None:
    """A probe ModelSpec validates the context fields with ModelSpec's own messages."""
    context = {k: network[k] for k in CONTEXT_DEFAULTS}
    # A dense network's stride-s transitions round its maps down: the probe has the space's strides.
    strides = network["strides"] if network.get("block_type") == "dense_block" and "strides" in network else [1]
    try:
        ModelSpec(
            depths=[1] * len(strides),
            widths=[8] * len(strides),
            strides=strides,
            bottleneck_ratios=[1.0] * len(strides),
            group_widths=[8] * len(strides),
            **context,
        )
    except (ValueError, TypeError) as e:
        message = str(e).replace("ModelSpec.", "network.")
        raise ValueError(f"{where}: {message}" if where else message) from None


def check_window(metric: str, window) -> tuple[float, float]:
    """A complexity window [lo, hi] as floats; refused unless 0 <= lo <= hi."""
    try:
        lo, hi = (float(x) for x in window)
    except (TypeError, ValueError):
        raise ValueError(f"{metric} window: expected [lo, hi], got {window!r}") from None
    if not 0 <= lo <= hi:
        raise ValueError(f"{metric} window: expected 0 <= lo <= hi, got [{lo:g}, {hi:g}]")
    return lo, hi
