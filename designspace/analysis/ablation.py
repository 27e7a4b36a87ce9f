"""Ablations: does depth, b, g, wm, the activation, SE or the block family (the RegNet paper's),
a ResNet tweak, pre-activation, stochastic depth or the cardinality change the error distribution?

A factor can be answered two ways. Within one sweep, when the factor varies from model to model
(depth in RegNetX, g in AnyNetX_E): its models are split by the factor's value (numeric factors
with many values into thirds). Across two sweeps, when their values do not overlap (a ReLU and a
Swish sweep of one space, RegNetX against RegNetY for SE, X blocks against a MobileNet-style
space): the pairs whose other settings differ least are compared, and any remaining difference
is named, because it confounds the comparison: the spec's network context and the recipe, except
the keys that are the factor itself. Every comparison is a set of EDFs and a KS test per pair of
groups; when no sweep can answer, the result says which sweeps to run.
"""

from __future__ import annotations

import itertools
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..spec import RESIDUAL_BLOCKS
from ..units import si, si_exact
from .bootstrap import good_range
from .edf import MIN_TEST_MODELS, ks
from .load import Sweep, recipe_dict, spec_dict, spec_value

MAX_LEVELS = 6  # a numeric factor with more distinct values is split into thirds
MAX_PAIRS = 3  # across-sweep comparisons shown per factor
CONTEXT = ("stem_type", "stem_width", "block_type", "activation", "se_ratio", "head_width", "resolution", "in_channels",
           "num_classes", "strides", "stride_position", "shortcut", "deep_stem", "preactivation", "batch_norm",
           "compression", "expand_3x3_fraction")


@dataclass(frozen=True)
class Factor:
    key: str
    title: str
    column: str
    numeric: bool
    finding: str  # what the literature reports, to read the result against
    context: tuple[str, ...] = ()  # spec fields (or recipe.NAME) that are the factor itself, not confounders
    short: str = ""  # the numeric factor's name in group labels ("depth 12 to 16", "b = 1")


FACTORS = (
    Factor("depth", "Depth", "total_depth", True,
           "The best models have about 20 blocks (60 layers) in every flop regime, and fixing d = 20 matches "
           "sampling the depth (DDS section 4, Fig. 19).", short="depth"),
    Factor("bottleneck", "Bottleneck ratio b", "b", True,
           "The best models use no bottleneck, b = 1 (DDS section 4); RegNetX fixes b = 1.", short="b"),
    Factor("group_width", "Group width g", "g", True,
           "No single best g: the good group widths grow with the flop regime (DDS section 4, App. D).", short="g"),
    Factor("activation", "Swish vs ReLU", "activation", False,
           "Swish beats ReLU at 400MF but loses at 6.4GF; with depthwise convolutions (g = 1) Swish is much "
           "better (DDS App. E, Fig. 20).", ("activation",)),
    Factor("se", "Squeeze-and-excitation (SE) on/off", "se", False,
           "RegNetY (RegNetX plus SE) improves the EDF and the best models (DDS section 4, Fig. 14 right); "
           "SE-ResNet-50 has about 1.5 points lower top-1 error than ResNet-50 on ImageNet for under 1% more "
           "flops (Hu et al. 2018).", ("se_ratio",)),
    Factor("block", "Inverted bottleneck / depthwise vs X block", "block", False,
           "The inverted bottleneck (b < 1) degrades the EDF slightly, and depthwise convolution (g = 1) even "
           "more (DDS section 4, Fig. 14 left)."),
    Factor("wm", "Width multiplier wm", "sample.wm", True,
           "The best models have wm near 2.5, and wm >= 2 is better than smaller values (DDS sections 3.3-4).",
           short="wm"),
    Factor("tweak", "ResNet tweaks A/B/C/D", "tweak", False,
           "Each cumulative tweak adds top-1 accuracy on ImageNet: B (stride on the 3x3 instead of the 1x1), C (deep "
           "stem of three 3x3 convs), D (average pool before the 1x1 shortcut conv); ResNet-50-D is about 1% better "
           "than ResNet-50 (A) for about 13% more flops (Bag of Tricks, He et al. 2019, Table 5).",
           ("stride_position", "deep_stem", "shortcut")),
    Factor("preactivation", "Pre-activation vs post-activation residual blocks", "preactivation", False,
           "Pre-activation (BN-ReLU-conv) helps most for very deep networks: on CIFAR-10 ResNet-1001 goes from "
           "7.61% to 4.92% error and ResNet-164 from 5.93% to 5.46%, while shallower ones gain little (He et al. "
           "2016, Identity Mappings in Deep Residual Networks).", ("preactivation",)),
    Factor("stochastic_depth", "Stochastic depth (drop-path rate)", "drop_path", True,
           "Dropping residual branches (survival decaying linearly to 0.5) lowers the error of deep ResNets trained "
           "long, e.g. a 110-layer ResNet on CIFAR-10 from 6.41% to 5.25% (Huang et al. 2016); with short training "
           "the regularization can cost more than it gives.", ("recipe.drop_path",), short="drop path"),
    Factor("cardinality", "Cardinality (groups of the 3x3 conv)", "cardinality", True,
           "At the same flops, more groups beat a wider or deeper network: ResNeXt-50 32x4d has 22.2% top-1 error "
           "against 23.9% for ResNet-50 (1x64d) on ImageNet (Xie et al. 2017, Table 3).", short="cardinality"),
)
FACTOR_KEYS = tuple(f.key for f in FACTORS)


@dataclass
class Group:
    label: str
    errors: np.ndarray


@dataclass
class Comparison:
    label: str  # "anynetx_e" (within a sweep) or "regnetx vs regnety"
    groups: list[Group]
    caveat: str = ""  # what else differs between the compared sweeps


@dataclass
class Ablation:
    factor: Factor
    comparisons: list[Comparison] = field(default_factory=list)
    scatter: list[tuple[str, np.ndarray, np.ndarray, tuple]] = field(default_factory=list)  # sweep, x, err, range
    groups: "object" = None  # DataFrame: comparison, group, n, min, median, mean
    tests: "object" = None  # DataFrame: comparison, a, b, n_a, n_b, D, p
    skipped: list[str] = field(default_factory=list)  # groups too small for a test
    missing: str = ""  # why no sweep answers, when none does
    commands: list[str] = field(default_factory=list)  # the sweeps to run then


def factor(key: str) -> Factor:
    for f in FACTORS:
        if f.key == key:
            return f
    raise ValueError(f"unknown ablation {key!r}; known: {', '.join(FACTOR_KEYS)}")


def ablate(sweeps: list[Sweep], key: str, metric: str = "best_error", seed: int = 0) -> Ablation:
    """Every comparison the sweeps allow for one factor, with group summaries and KS tests."""
    import pandas as pd

    f = factor(key)
    result = Ablation(f)
    frames = {s.name: s.usable(metric) for s in sweeps}
    for sweep in sweeps:
        frame = frames[sweep.name]
        values, errors = _column(frame, f.column), frame[metric].to_numpy(float)
        keep = _present(values)
        if len(np.unique(values[keep])) > 1:
            result.comparisons.append(Comparison(sweep.name, _split(values[keep], errors[keep], f)))
            if f.numeric:
                x, e = values[keep].astype(float), errors[keep]
                result.scatter.append((sweep.name, x, e, good_range(x, e, seed=seed)))
    result.comparisons += _across(sweeps, frames, f, metric)
    rows, tests = [], []
    for comparison in result.comparisons:
        for g in comparison.groups:
            e = g.errors
            rows.append((comparison.label, g.label, len(e), e.min(), np.median(e), e.mean()))
        for a, b in itertools.combinations(comparison.groups, 2):
            if min(len(a.errors), len(b.errors)) < MIN_TEST_MODELS:
                result.skipped.append(f"{comparison.label}: {a.label} ({len(a.errors)}) vs {b.label} "
                                      f"({len(b.errors)}): a KS test needs at least {MIN_TEST_MODELS} models per group")
                continue
            d, p = ks(a.errors, b.errors)
            tests.append((comparison.label, a.label, b.label, len(a.errors), len(b.errors), d, p))
    result.groups = pd.DataFrame(rows, columns=["comparison", "group", "n", "min", "median", "mean"])
    result.tests = pd.DataFrame(tests, columns=["comparison", "a", "b", "n_a", "n_b", "D", "p"])
    if not result.comparisons:
        result.missing, result.commands = _what_to_run(sweeps, f)
    return result


def _column(frame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[column].to_numpy()


def _present(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "iuf":
        return np.isfinite(values.astype(float))
    return np.array([isinstance(v, str) for v in values], dtype=bool)


def _split(values: np.ndarray, errors: np.ndarray, f: Factor) -> list[Group]:
    """Groups by value; a numeric factor with more than MAX_LEVELS values goes into thirds."""
    levels = np.unique(values)
    if not f.numeric or len(levels) <= MAX_LEVELS:
        return [Group(_level_label(f, v), errors[values == v]) for v in levels]
    x = values.astype(float)
    cuts = np.unique(np.quantile(x, [1 / 3, 2 / 3]))
    bins = np.searchsorted(cuts, x, side="right")
    return [Group(_level_label(f, x[bins == b].min(), x[bins == b].max()), errors[bins == b]) for b in np.unique(bins)]


def _level_label(f: Factor, value, high=None) -> str:
    """'ReLU', 'b = 2' or 'depth 12 to 16'."""
    if isinstance(value, str):
        return value
    if high is None or high == value:
        return f"{f.short} = {_number(value)}"
    return f"{f.short} {_number(value)} to {_number(high)}"


def _number(value) -> str:
    return f"{value:g}" if float(value) == round(float(value)) else f"{value:.3g}"


# ------------------------------------------------------------------------ across sweeps
def _across(sweeps, frames, f: Factor, metric: str) -> list[Comparison]:
    """Pairs of sweeps whose values of the factor do not overlap, differing least otherwise."""
    values = {}
    for sweep in sweeps:
        column = _column(frames[sweep.name], f.column)
        if _present(column).any():
            values[sweep.name] = column[_present(column)]
    pairs = []
    for a, b in itertools.combinations(values, 2):
        if _separate(f, values[a], values[b]):
            differences = _differences(frames[a], frames[b], f)
            pairs.append((len(differences), a, b, differences))
    pairs.sort(key=lambda p: p[0])
    comparisons = []
    for count, a, b, differences in pairs[:MAX_PAIRS]:
        if count > pairs[0][0]:
            break
        groups = [Group(f"{_sweep_label(f, values[n])} ({n})", frames[n][metric].to_numpy(float)) for n in (a, b)]
        caveat = f"these sweeps also differ in {', '.join(differences)}" if differences else ""
        comparisons.append(Comparison(f"{a} vs {b}", groups, caveat))
    return comparisons


def _separate(f: Factor, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two sweeps' values of the factor do not overlap: disjoint ranges for a numeric
    factor (finely quantized values such as wm rarely coincide, yet their ranges may be the same),
    disjoint value sets for a categorical one."""
    if f.numeric:
        a, b = np.asarray(a, float), np.asarray(b, float)
        return a.max() < b.min() or b.max() < a.min()
    return set(a).isdisjoint(b)


def _sweep_label(f: Factor, values: np.ndarray) -> str:
    """A whole sweep's value: 'ReLU', 'depth 12 to 28', or 'mostly inverted + depthwise'."""
    levels, counts = np.unique(values, return_counts=True)
    if len(levels) == 1:
        return _level_label(f, levels[0])
    if f.numeric:
        return _level_label(f, levels.min(), levels.max())
    return f"mostly {levels[np.argmax(counts)]}"


def _differences(frame_a, frame_b, f: Factor) -> list[str]:
    """Settings other than the factor in which two sweeps differ (confounders)."""
    out = []
    ca, cb = _context(frame_a), _context(frame_b)
    for key in ca:
        if key in f.context or key not in cb:  # a recipe key one sweep does not record is unknown, not different
            continue
        if ca[key] != cb[key]:
            out.append(f"{key} ({_describe(ca[key])} vs {_describe(cb[key])})")
    return out


def _context(frame) -> dict:
    """A sweep's fixed settings: dataset, epochs, sampled parameters, spec context and the recipe
    keys it records (recipe.NAME; epochs are the trained ones, above; a key that differs between
    models, such as pycls's sampled learning rates, is one value: 'varies per model')."""
    specs = [d for d in map(spec_dict, frame["spec"].dropna()) if d] if "spec" in frame.columns else []
    context = {"dataset": _values(frame.get("dataset")), "epochs": _values(frame.get("epochs")),
               "sampled parameters": frozenset(c for c in frame.columns if c.startswith("sample.") and "[" not in c)}
    for key in CONTEXT:
        context[key] = frozenset(json.dumps(spec_value(s, key)) for s in specs)
    recipes = [recipe_dict(text) for text in frame["recipe"].dropna().unique()] if "recipe" in frame.columns else []
    for key in sorted({k for r in recipes for k in r} - {"epochs"}):
        values = frozenset(json.dumps(r[key], sort_keys=True) for r in recipes if key in r)
        context[f"recipe.{key}"] = values if len(values) == 1 else frozenset(["varies per model"])
    return context


def _values(series) -> frozenset:
    return frozenset() if series is None else frozenset(str(v) for v in series.dropna().unique())


def _describe(values) -> str:
    items = sorted(v.removeprefix("sample.") if isinstance(v, str) else v for v in values)
    return ", ".join(str(v).strip('"') for v in items[:4]) + (", ..." if len(items) > 4 else "") or "none"


# --------------------------------------------------------------------------- what to run
SUGGESTIONS = {
    "depth": ("no sweep varies the depth", [("regnetx", "")]),
    "bottleneck": ("no sweep varies the bottleneck ratio b", [("anynetx_e", "")]),
    "group_width": ("no sweep varies the group width g", [("regnetx", "")]),
    "wm": ("no sweep samples wm (a RegNet parameter)", [("regnetx", "")]),
    "block": ("no sweep varies the block family; anynetx_e samples depthwise (g = 1) and X blocks in one sweep, and "
              "mobilenet has inverted bottlenecks (b < 1; it also changes the block, activation and head)",
              [("anynetx_e", ""), ("mobilenet", "")]),
    "tweak": ("no sweep varies the ResNet tweaks; resnet_tweaks samples ResNet-A, B, C and D per model",
              [("resnet_tweaks", "")]),
    "preactivation": ("no sweep holds pre- and post-activation residual blocks; resnet_preact samples both per model",
                      [("resnet_preact", "")]),
    "cardinality": ("no sweep varies the number of groups; resnext samples it per model", [("resnext", "")]),
}
DROP_PATH = 0.1  # the rate suggested against a sweep without stochastic depth


def _what_to_run(sweeps: list[Sweep], f: Factor) -> tuple[str, list[str]]:
    base = sweeps[0]
    space = _space_argument(base)
    if f.key == "activation":
        act = _base_value(base, "activation")
        other = "relu" if act == "Swish (SiLU)" else "silu"
        return (f"no pair of sweeps of one space with ReLU and with Swish; run {space} with --activation {other}",
                [_command(base, space, f"--activation {other}", f"{space}_{other}")])
    if f.key == "se":
        pair = {"regnetx": "regnety", "regnety": "regnetx"}
        if space in pair:
            return (f"no sweep with SE to compare with; run {pair[space]} next to {space}",
                    [_command(base, pair[space], "", pair[space])])
        return ("no sweep or pair of sweeps with and without SE; resnext_se samples SE on or off per model",
                [_command(base, "resnext_se", "", "resnext_se")])
    if f.key == "stochastic_depth":
        return _what_to_run_drop_path(base, space)
    message, runs = SUGGESTIONS[f.key]
    return message, [_command(base, s, extra, s) for s, extra in runs]


def _what_to_run_drop_path(base: Sweep, space: str) -> tuple[str, list[str]]:
    """The base sweep again with stochastic depth switched (on at DROP_PATH, or off); a space
    without residual blocks has no branch to drop, so regnetx stands in for it."""
    rate = 0.0 if (_base_value(base, "drop_path") or 0) > 0 else DROP_PATH
    residual = base.frame["block_type"].isin(RESIDUAL_BLOCKS).any()
    if not residual:
        space = "regnetx"
    out_name = f"{space}_drop_path" if rate else f"{space}_no_drop_path"
    runs = [_command(base, space, "", out_name, {"drop_path": rate})]
    if not residual:
        return (f"no pair of sweeps with and without stochastic depth, and {base.name} has no residual blocks to drop; "
                f"run regnetx twice, without and with --drop-path {rate:g}", [_command(base, space, "", space)] + runs)
    return f"no pair of sweeps with and without stochastic depth; run {space} with --drop-path {rate:g}", runs


def _space_argument(sweep: Sweep) -> str:
    """The --space of the sweep (its definition's, else a shipped space of that name, else regnetx)."""
    from ..space import shipped_spaces

    given = ((sweep.definition or {}).get("source") or {}).get("space")
    if given:
        return str(given)
    name = _base_value(sweep, "space")
    return name if name in shipped_spaces() else "regnetx"


def _base_value(sweep: Sweep, column: str):
    if column in sweep.frame.columns and sweep.frame[column].notna().any():
        return sweep.frame[column].dropna().mode().iloc[0]
    return None


def _command(base: Sweep, space: str, extra: str, out_name: str, recipe_changes: dict | None = None) -> str:
    """`designspace sweep` with base's size, data, epochs, recipe and windows, for another space,
    option or recipe change."""
    d = base.definition or {}
    source, recipe = d.get("source") or {}, {**(d.get("recipe") or {}), **(recipe_changes or {})}
    n = d.get("n") or len(base.frame)
    dataset = (d.get("dataset") or {}).get("name") or _base_value(base, "dataset") or "fashion-mnist"
    epochs = recipe.get("epochs") or _recipe_epochs(base)
    parts = ["designspace sweep", "--space", space, "--n", str(n), "--dataset", shlex.quote(str(dataset))]
    if source.get("seed"):  # the same seed draws the same models of the same space (activation, drop path)
        parts += ["--seed", str(source["seed"])]
    if epochs:
        parts += ["--epochs", str(epochs)]
    parts += _data_and_recipe_flags(d.get("dataset") or {}, recipe)
    for metric in ("flops", "params", "acts"):
        window = source.get(metric)
        if window:
            parts += [f"--{metric}", ":".join(_amount(v) for v in window)]
    for key, value in (source.get("context") or {}).items():  # the base sweep's network overrides
        parts += [f"--{key.replace('_', '-')}", shlex.quote(str(value))]
    if extra:
        parts.append(extra)
    parts += ["-o", shlex.quote(str(Path(base.source).parent / out_name))]
    return " ".join(parts) + _unfillable(base, space, source)


FILL_CHECK_DRAWS = 100_000  # draws spent on finding one model of a suggested sweep (well under a second)


def _unfillable(base: Sweep, space: str, source: dict) -> str:
    """'' when `space` has models in the base sweep's windows for its images; else a shell comment
    that says so and where its closest model lies, so that a suggested command never fails unexplained
    (resnet_tweaks' smallest networks at 28 px are above a 2-6 MF window, for example)."""
    from ..space import SamplingError, load_space

    windows = {m: tuple(source[m]) for m in ("flops", "params", "acts") if source.get(m)}
    spec = next((spec_dict(s) for s in base.frame.get("spec", []) if spec_dict(s)), None)
    if not windows or spec is None:
        return ""
    try:  # what the suggested command samples
        candidates = load_space(space).for_images(spec["resolution"], spec["in_channels"], spec["num_classes"],
                                                  **(source.get("context") or {}))
    except ValueError:  # a space file of the machine that ran the base sweep, not of this one
        return ""
    try:
        candidates.sample(1, seed=source.get("seed") or 0, max_draws=FILL_CHECK_DRAWS, **windows)
    except SamplingError as e:
        closest = ", ".join(f"{m} {si(e.closest[m], 4)}" for m in windows) if e.closest else "no valid network"
        return (f"  # {space}: no model in this window at {spec['resolution']} px in {FILL_CHECK_DRAWS:,} draws "
                f"(the closest found: {closest}); widen the window")
    return ""


def _data_and_recipe_flags(dataset: dict, recipe: dict) -> list[str]:
    """The base sweep's data options and its non-default recipe, so the new sweep is comparable."""
    from ..cli import RECIPE_FLAGS, RECIPE_SWITCHES
    from ..recipe import Recipe

    flags = []
    for key in ("data_dir", "resolution", "train_subset", "test_subset"):
        if dataset.get(key) is not None:
            flags += [f"--{key.replace('_', '-')}", shlex.quote(str(dataset[key]))]
    if dataset.get("seed"):
        flags += ["--data-seed", str(dataset["seed"])]
    defaults = Recipe()
    for key in RECIPE_FLAGS:
        if key == "epochs" or key not in recipe:  # epochs: _command's, from the recipe or the table
            continue
        if key in RECIPE_SWITCHES:
            flags += [RECIPE_SWITCHES[key]] if recipe[key] is False else []
        elif recipe[key] != getattr(defaults, key):
            flags += [f"--{key.replace('_', '-')}", f"{recipe[key]:g}"]
    if recipe.get("seed"):
        flags += ["--training-seed", str(recipe["seed"])]
    return flags


def _amount(value) -> str:
    """400000000 -> '400M', as the CLI's windows are written."""
    return "" if value is None or value == float("inf") else si_exact(value)


def _recipe_epochs(sweep: Sweep):
    if "recipe" in sweep.frame.columns:
        for text in sweep.frame["recipe"].dropna():
            try:
                epochs = json.loads(text).get("epochs")
            except (json.JSONDecodeError, AttributeError):
                continue
            if epochs:
                return int(epochs)
    if "epochs" in sweep.frame.columns and sweep.frame["epochs"].notna().any():
        return int(sweep.frame["epochs"].max())
    return None
