"""Ablations: does depth, b, g, wm, the activation, SE or the block family (the RegNet paper's),
a ResNet tweak, pre-activation, stochastic depth or the cardinality change the error distribution?

A factor can be answered two ways. Within one sweep, when the factor varies from model to model
(depth in RegNetX, g in AnyNetX_E): its models are split by the factor's value (a numeric factor
into quantile groups large enough for a KS test, or per value when it has few values that each
hold enough models). Across two sweeps, when their values do not overlap (a ReLU and a Swish
sweep of one space, RegNetX against RegNetY for SE, X blocks against a MobileNet-style space):
the pairs whose other settings differ least are compared, and any remaining difference is named,
because it confounds the comparison: the spec's network settings and the recipe, except the keys
that are the factor itself. Every comparison is a set of EDFs and a KS test per pair of groups;
when no sweep can answer, the result says which sweeps to run.

Each factor's finding holds a testable claim (Claim), and every ablation ends with a verdict
against it: agrees, disagrees, or inconclusive at this n (saying what gap would have been
detectable), with the numbers behind it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np

from ..spec import NETWORK_FIELDS
from .bootstrap import good_range, informative
from .edf import ALPHA, MIN_TEST_MODELS, SMALL_POPULATION, ks, ks_detectable
from .load import Sweep
from .paired import Paired, twins
from .spec_columns import recipe_dict, spec_dict, spec_value
from .suggest import what_to_run

MAX_LEVELS = 6  # a numeric factor with up to this many values, each with enough models, gets one group per value
QUANTILE_GROUPS = (3, 2)  # else thirds, or halves, when every group has MIN_TEST_MODELS models
AGREES, DISAGREES, INCONCLUSIVE, UNTESTED = "agrees", "disagrees", "inconclusive at this n", "not tested"
MAX_PAIRS = 3  # across-sweep comparisons shown per factor
SPEC_SETTINGS = (*NETWORK_FIELDS, "strides")  # the spec fields a sweep holds fixed, unless a factor varies them


@dataclass(frozen=True)
class Claim:
    """The testable part of a factor's finding: which models should have the lower error (`better`:
    a level, or 'low' / 'high' for a numeric factor's smallest / largest values, against the `worse`
    levels, or all the other groups when none are named), or where the best models' bootstrap good
    range should lie (`value`, inside it), or that no single value is best (`spread`)."""

    text: str
    better: str = ""
    worse: tuple[str, ...] = ()
    value: float | None = None
    spread: bool = False


@dataclass(frozen=True)
class Factor:
    key: str
    title: str
    column: str
    numeric: bool
    finding: str  # what the literature reports, to read the result against
    claim: Claim  # what of the finding the data can test
    own_settings: tuple[str, ...] = ()  # spec fields (or recipe.NAME) that are the factor itself, not confounders
    short: str = ""  # the numeric factor's name in group labels ("depth 12 to 16", "b = 1")


FACTORS = (
    Factor("depth", "Depth", "total_depth", True,
           "The best models have about 20 blocks (60 layers) in every flop regime, and fixing d = 20 matches "
           "sampling the depth (DDS section 4, Fig. 19).",
           Claim("the best models' good range holds about 20 blocks", value=20), short="depth"),
    Factor("bottleneck", "Bottleneck ratio b", "b", True,
           "The best models use no bottleneck, b = 1 (DDS section 4); RegNetX fixes b = 1.",
           Claim("the smallest b (b = 1) has the lowest error", better="low"), short="b"),
    Factor("group_width", "Group width g", "g", True,
           "No single best g: the good group widths grow with the flop regime (DDS section 4, App. D).",
           Claim("no single best g: the best models' good range holds more than one g", spread=True), short="g"),
    Factor("activation", "Swish vs ReLU", "activation", False,
           "Swish beats ReLU at 400MF but loses at 6.4GF; with depthwise convolutions (g = 1) Swish is much "
           "better (DDS App. E, Fig. 20).",
           Claim("Swish has lower error than ReLU at small flops", better="Swish (SiLU)", worse=("ReLU",)),
           ("activation",)),
    Factor("se", "Squeeze-and-excitation (SE) on/off", "se", False,
           "RegNetY (RegNetX plus SE) improves the EDF and the best models (DDS section 4, Fig. 14 right); "
           "SE-ResNet-50 has about 1.5 points lower top-1 error than ResNet-50 on ImageNet for under 1% more "
           "flops (Hu et al. 2018).", Claim("SE lowers the error", better="SE", worse=("no SE",)), ("se_ratio",)),
    Factor("block", "Inverted bottleneck / depthwise vs X block", "block", False,
           "The inverted bottleneck (b < 1) degrades the EDF slightly, and depthwise convolution (g = 1) even "
           "more (DDS section 4, Fig. 14 left).",
           Claim("X blocks have lower error than inverted bottleneck and depthwise blocks",
                 better="X block (b >= 1, g > 1)",
                 worse=("inverted bottleneck (b < 1)", "depthwise (g = 1)", "inverted + depthwise"))),
    Factor("wm", "Width multiplier wm", "sample.wm", True,
           "The best models have wm near 2.5, and wm >= 2 is better than smaller values (DDS sections 3.3-4).",
           Claim("the best models' good range holds wm = 2.5", value=2.5), short="wm"),
    Factor("tweak", "ResNet tweaks A/B/C/D", "tweak", False,
           "Each cumulative tweak adds top-1 accuracy on ImageNet: B (stride on the 3x3 instead of the 1x1), C (deep "
           "stem of three 3x3 convs), D (average pool before the 1x1 shortcut conv); ResNet-50-D is about 1% better "
           "than ResNet-50 (A) for about 13% more flops (Bag of Tricks, He et al. 2019, Table 5).",
           Claim("ResNet-D has lower error than ResNet-A", better="ResNet-D", worse=("ResNet-A",)),
           ("stride_position", "deep_stem", "shortcut")),
    Factor("preactivation", "Pre-activation vs post-activation residual blocks", "preactivation", False,
           "Pre-activation (BN-ReLU-conv) helps most for very deep networks: on CIFAR-10 ResNet-1001 goes from "
           "7.61% to 4.92% error and ResNet-164 from 5.93% to 5.46%, while shallower ones gain little (He et al. "
           "2016, Identity Mappings in Deep Residual Networks).",
           Claim("pre-activation is no worse than post-activation, and better for deep networks",
                 better="pre-activation", worse=("post-activation",)), ("preactivation",)),
    Factor("stochastic_depth", "Stochastic depth (drop-path rate)", "drop_path", True,
           "Dropping residual branches (survival decaying linearly to 0.5) lowers the error of deep ResNets trained "
           "long, e.g. a 110-layer ResNet on CIFAR-10 from 6.41% to 5.25% (Huang et al. 2016); with short training "
           "the regularization can cost more than it gives.",
           Claim("a higher drop-path rate lowers the error (of deep networks trained long)", better="high"),
           ("recipe.drop_path",), short="drop path"),
    Factor("cardinality", "Cardinality (groups of the 3x3 conv)", "cardinality", True,
           "At the same flops, more groups beat a wider or deeper network: ResNeXt-50 32x4d has 22.2% top-1 error "
           "against 23.9% for ResNet-50 (1x64d) on ImageNet (Xie et al. 2017, Table 3).",
           Claim("more groups lower the error", better="high"), short="cardinality"),
)
FACTOR_KEYS = tuple(f.key for f in FACTORS)


@dataclass
class Group:
    label: str
    errors: np.ndarray
    values: np.ndarray  # the factor's values of its models


@dataclass
class Comparison:
    label: str  # "AnyNetX_E" (within a sweep) or "RegNetX vs RegNetY"
    groups: list[Group]
    caveat: str = ""  # what else differs between the compared sweeps
    paired: Paired | None = None  # twin models of two sweeps (groups[0] is its side a)


@dataclass(frozen=True)
class Verdict:
    """An ablation's answer to its factor's claim, with the numbers of each comparison behind it."""

    outcome: str  # AGREES, DISAGREES, INCONCLUSIVE or UNTESTED
    numbers: str

    @property
    def text(self) -> str:
        return f"{self.outcome}: {self.numbers}"


@dataclass
class Ablation:
    factor: Factor
    comparisons: list[Comparison] = field(default_factory=list)
    scatter: list[tuple[str, np.ndarray, np.ndarray, tuple]] = field(default_factory=list)  # sweep, x, err, range
    groups: "object" = None  # DataFrame: comparison, group, n, min, median, mean
    tests: "object" = None  # DataFrame: comparison, a, b, n_a, n_b, D, p
    skipped: list[str] = field(default_factory=list)  # per sweep or comparison: what is too small to test
    missing: str = ""  # why no sweep answers, when none does
    commands: list[str] = field(default_factory=list)  # the sweeps to run then
    verdict: Verdict | None = None  # against factor.claim


def factor(key: str) -> Factor:
    for f in FACTORS:
        if f.key == key:
            return f
    raise ValueError(f"unknown ablation {key!r}; known: {', '.join(FACTOR_KEYS)}")


def ablate(sweeps: list[Sweep], key: str, metric: str = "best_error", seed: int = 0) -> Ablation:
    """Every comparison the sweeps allow for one factor, with group summaries, KS tests and the
    verdict against the factor's claim."""
    import pandas as pd

    f = factor(key)
    result = Ablation(f)
    frames = {s.name: s.usable(metric) for s in sweeps}
    for sweep in sweeps:
        frame = frames[sweep.name]
        values, errors = _column(frame, f.column), frame[metric].to_numpy(float)
        keep = _present(values)
        values, errors = values[keep], errors[keep]
        if len(np.unique(values)) > 1:
            groups = _split(values, errors, f)
            if groups:
                result.comparisons.append(Comparison(sweep.name, groups))
            else:
                result.skipped.append(_unsplit(sweep.name, f, values.astype(float)))
            if f.numeric:
                x = values.astype(float)
                result.scatter.append((sweep.name, x, errors, good_range(x, errors, seed=seed)))
    result.comparisons += _across(sweeps, frames, f, metric)
    rows, tests = [], []
    for comparison in result.comparisons:
        for g in comparison.groups:
            e = g.errors
            rows.append((comparison.label, g.label, len(e), e.min(), np.median(e), e.mean()))
        small = [g for g in comparison.groups if len(g.errors) < MIN_TEST_MODELS]
        if small:
            result.skipped.append(_too_small(comparison, small))
        for a, b in itertools.combinations(comparison.groups, 2):
            if min(len(a.errors), len(b.errors)) >= MIN_TEST_MODELS:
                d, p = ks(a.errors, b.errors)
                tests.append((comparison.label, a.label, b.label, len(a.errors), len(b.errors), d, p))
    result.groups = pd.DataFrame(rows, columns=["comparison", "group", "n", "min", "median", "mean"])
    result.tests = pd.DataFrame(tests, columns=["comparison", "a", "b", "n_a", "n_b", "D", "p"])
    if not result.comparisons and not result.scatter:
        result.missing, result.commands = what_to_run(sweeps, f.key)
    result.verdict = _verdict(result)
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
    """One group per value for a categorical factor, and for a numeric one with at most MAX_LEVELS
    values that each hold MIN_TEST_MODELS models (b = 1 / 2 / 4); else a numeric factor's thirds,
    or halves, when each has MIN_TEST_MODELS models for a KS test; [] when neither has."""
    levels, index, counts = np.unique(values, return_inverse=True, return_counts=True)
    if not f.numeric or (len(levels) <= MAX_LEVELS and counts.min() >= MIN_TEST_MODELS):
        return [Group(_level_label(f, v), errors[index == i], values[index == i]) for i, v in enumerate(levels)]
    for k in QUANTILE_GROUPS:
        starts = _quantile_starts(counts, k)
        if starts is not None:
            bins = np.searchsorted(starts, index, side="right")
            x = values.astype(float)
            return [Group(_level_label(f, x[bins == b].min(), x[bins == b].max()), errors[bins == b], x[bins == b])
                    for b in range(k)]
    return []


def _quantile_starts(counts: np.ndarray, k: int) -> np.ndarray | None:
    """Where each of k quantile groups but the first starts, as indices into the sorted distinct
    values (with `counts` models each), so that equal values stay in one group: every cut lies at
    one of the two boundaries between distinct values nearest its quantile, the combination whose
    smallest group is largest. None when that group has fewer than MIN_TEST_MODELS models."""
    below = np.cumsum(counts)[:-1]  # models below the boundary after each distinct value but the last
    n = int(counts.sum())
    options = []
    for j in range(1, k):
        i = int(np.searchsorted(below, n * j / k))
        options.append([m for m in (i - 1, i) if 0 <= m < len(below)])
    best_size, best = 0, None
    for cuts in itertools.product(*options):
        if list(cuts) != sorted(set(cuts)):
            continue
        smallest = int(np.diff([0, *below[list(cuts)], n]).min())
        if smallest > best_size:
            best_size, best = smallest, cuts
    return None if best_size < MIN_TEST_MODELS else np.array(best) + 1


def _unsplit(name: str, f: Factor, x: np.ndarray) -> str:
    """Why a numeric factor that varies in a sweep is not split, and how many models would allow it."""
    head = f"{name}: {f.short} varies over {len(x)} models"
    need = MIN_TEST_MODELS
    if len(x) < 2 * need:
        return (f"{head}, too few to split: a KS test needs at least {need} models per group, so "
                f"{2 * need - len(x)} more models would allow halves and {3 * need - len(x)} more thirds")
    levels, counts = np.unique(x, return_counts=True)
    top = int(np.argmax(counts))
    return (f"{head}, but {counts[top]} of them have {_level_label(f, levels[top])}: no split that keeps equal values "
            f"together gives two groups of at least {need} models for a KS test")


def _too_small(comparison: Comparison, small: list[Group]) -> str:
    """One line for a comparison's groups too small for a KS test."""
    sizes = [len(g.errors) for g in comparison.groups]
    if len(sizes) - len(small) < 2:
        listed = ", ".join(map(str, sizes[:-1])) + f" and {sizes[-1]}"
        return (f"{comparison.label}: groups of {listed} models; a KS test needs at least {MIN_TEST_MODELS} per "
                "group, so none is tested")
    named = ", ".join(f"{g.label} ({len(g.errors)})" for g in small)
    return (f"{comparison.label}: {named} left out of the KS tests, which need at least {MIN_TEST_MODELS} models per "
            "group")


def _level_label(f: Factor, value, high=None) -> str:
    """'ReLU', 'b = 2' or 'depth 12 to 16'."""
    if isinstance(value, str):
        return value
    if high is None or high == value:
        return f"{f.short} = {_number(value)}"
    return f"{f.short} {_number(value)} to {_number(high)}"


def _number(value) -> str:
    return f"{value:g}" if float(value) == round(float(value)) else f"{value:.3g}"


# ------------------------------------------------------------------------------ verdicts
def verdicts(sweeps: list[Sweep], keys=FACTOR_KEYS, metric: str = "best_error", seed: int = 0):
    """Every factor's verdict for these sweeps, as a DataFrame (factor, claim, verdict, numbers)."""
    return verdict_table([ablate(sweeps, key, metric, seed) for key in keys])


def verdict_table(results: list[Ablation]):
    """The verdicts of these ablations, one row each (factor, claim, verdict, numbers)."""
    import pandas as pd

    return pd.DataFrame([(r.factor.title, r.factor.claim.text, r.verdict.outcome, r.verdict.numbers) for r in results],
                        columns=["factor", "claim", "verdict", "numbers"])


def _verdict(result: Ablation) -> Verdict:
    """Each comparison's (or, for a claim about where the best models lie, each sweep's) evidence,
    combined: agrees when some agrees and none disagrees, disagrees the other way round, else
    inconclusive (as is a sweep too small to split); not tested when nothing here bears on the claim."""
    f, claim = result.factor, result.factor.claim
    if claim.value is not None or claim.spread:
        evidence = [_location_evidence(f, name, x, good) for name, x, _, good in result.scatter]
        why = result.missing or f"no sweep samples {f.short} per model, so no good range to read"
    else:
        evidence = [e for e in (_group_evidence(c, claim) for c in result.comparisons) if e]
        split = {c.label for c in result.comparisons}  # a sweep whose values were too few or too tied to split:
        evidence += [(INCONCLUSIVE, f"{name}: {f.short} over {len(x)} models does not split into groups of at least "
                      f"{MIN_TEST_MODELS} for a KS test") for name, x, _, _ in result.scatter if name not in split]
        worse = ", ".join(claim.worse) or "the other groups"
        why = result.missing or f"no comparison here sets {claim.better} against {worse}"
    if not evidence:
        return Verdict(UNTESTED, why)
    outcomes = {outcome for outcome, _ in evidence}
    numbers = "; ".join(text for _, text in evidence)
    if {AGREES, DISAGREES} <= outcomes:
        return Verdict(INCONCLUSIVE, "the comparisons contradict each other: " + numbers)
    return Verdict(next((o for o in (AGREES, DISAGREES) if o in outcomes), INCONCLUSIVE), numbers)


def _group_evidence(comparison: Comparison, claim: Claim) -> tuple[str, str] | None:
    """(outcome, numbers) of the groups expected to be better against those expected to be worse
    (pooled): medians and a KS test; None when the comparison lacks either side."""
    better, worse = _sides(comparison, claim)
    if not better or not worse:
        return None
    a, b = (np.concatenate([g.errors for g in side]) for side in (better, worse))
    median_a, median_b = np.median(a), np.median(b)
    text = (f"{comparison.label}: {' + '.join(g.label for g in better)} median {median_a:.2f}% (n = {len(a)}) vs "
            f"{' + '.join(g.label for g in worse)} {median_b:.2f}% (n = {len(b)})")
    if comparison.caveat:  # a gap between sweeps that differ in more than the factor is not the factor's
        return INCONCLUSIVE, f"{text}; confounded: {comparison.caveat}"
    if min(len(a), len(b)) < MIN_TEST_MODELS:
        return INCONCLUSIVE, f"{text}, too few for a KS test (at least {MIN_TEST_MODELS} models per group)"
    d, p = ks(a, b)
    text += f", KS D = {d:.2f}, p = {p:.2g}"
    paired = comparison.paired
    if paired is not None and not np.isnan(paired.p):  # the same models both ways: the sharper test
        gain = paired.median_difference * (1 if better[0] is comparison.groups[1] else -1)  # better - worse
        text += "; " + paired.describe(*(g.label for g in comparison.groups))
        if paired.p < ALPHA and gain != 0:
            return (AGREES if gain < 0 else DISAGREES), text
        return INCONCLUSIVE, text
    if p < ALPHA and median_a != median_b:
        return (AGREES if median_a < median_b else DISAGREES), text
    detectable = ks_detectable(len(a), len(b))
    return INCONCLUSIVE, f"{text}; at this n only a gap of D >= {detectable:.2f} is detectable"


def _sides(comparison: Comparison, claim: Claim) -> tuple[list[Group], list[Group]]:
    """The groups a claim expects to be better, and those it expects to be worse."""
    groups = comparison.groups
    if claim.better in ("low", "high"):
        centres = [np.median(g.values.astype(float)) for g in groups]
        i = int(np.argmin(centres) if claim.better == "low" else np.argmax(centres))
        return [groups[i]], groups[:i] + groups[i + 1:]
    levels = [_mode(g.values) for g in groups]
    better = [g for g, level in zip(groups, levels) if level == claim.better]
    worse = [g for g, level in zip(groups, levels)
             if level in claim.worse or (not claim.worse and level != claim.better)]
    return better, worse


def _mode(values: np.ndarray):
    levels, counts = np.unique(values, return_counts=True)
    return levels[np.argmax(counts)]


def _location_evidence(f: Factor, name: str, x: np.ndarray, good: tuple) -> tuple[str, str]:
    """(outcome, numbers) of a sweep's bootstrap good range against a claim about where the best
    models lie: read only when the range is informative (bootstrap.informative)."""
    claim, (low, best, high), (lo, hi) = f.claim, good, (x.min(), x.max())
    text = (f"{name}: the best models' good range of {f.short} is {_number(low)} to {_number(high)} (median "
            f"{_number(best)}) in the sampled {_number(lo)} to {_number(hi)}, {len(x)} models")
    if len(x) < SMALL_POPULATION:
        return INCONCLUSIVE, f"{text}; below {SMALL_POPULATION} models a good range is too rough to judge"
    if not informative(x, good):
        return INCONCLUSIVE, f"{text}; it spans the whole sampled range"
    if claim.spread:
        held = np.unique(x[(x >= low) & (x <= high)])
        return (AGREES if len(held) > 1 else DISAGREES), f"{text}; it holds {len(held)} of the sampled values"
    if not lo <= claim.value <= hi:
        return INCONCLUSIVE, f"{text}; {_number(claim.value)} was not sampled"
    return (AGREES if low <= claim.value <= high else DISAGREES), text


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
        groups = [Group(f"{_sweep_label(f, values[n])} in {n}", frames[n][metric].to_numpy(float), values[n])
                  for n in (a, b)]
        caveat = f"these sweeps also differ in {', '.join(differences)}" if differences else ""
        paired = twins(frames[a], frames[b], metric, [k for k in f.own_settings if not k.startswith("recipe.")])
        comparisons.append(Comparison(f"{a} vs {b}", groups, caveat, paired))
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
    ca, cb = _settings(frame_a), _settings(frame_b)
    for key in ca:
        if key in f.own_settings or key not in cb:  # a recipe key one sweep does not record is unknown, not different
            continue
        if ca[key] != cb[key]:
            out.append(f"{key} ({_describe(ca[key])} vs {_describe(cb[key])})")
    return out


def _settings(frame) -> dict:
    """A sweep's fixed settings: dataset, epochs, sampled parameters, spec settings and the recipe
    keys it records (recipe.NAME; epochs are the trained ones, above; a key that differs between
    models, such as pycls's sampled learning rates, is one value: 'varies per model')."""
    specs = [d for d in map(spec_dict, frame["spec"].dropna()) if d] if "spec" in frame.columns else []
    settings = {"dataset": _values(frame.get("dataset")), "epochs": _values(frame.get("epochs")),
               "sampled parameters": frozenset(c for c in frame.columns if c.startswith("sample.") and "[" not in c)}
    for key in SPEC_SETTINGS:
        settings[key] = frozenset(json.dumps(spec_value(s, key)) for s in specs)
    recipes = [recipe_dict(text) for text in frame["recipe"].dropna().unique()] if "recipe" in frame.columns else []
    for key in sorted({k for r in recipes for k in r} - {"epochs"}):
        values = frozenset(json.dumps(r[key], sort_keys=True) for r in recipes if key in r)
        settings[f"recipe.{key}"] = values if len(values) == 1 else frozenset(["varies per model"])
    return settings


def _values(series) -> frozenset:
    return frozenset() if series is None else frozenset(str(v) for v in series.dropna().unique())


def _describe(values) -> str:
    items = sorted(v.removeprefix("sample.") if isinstance(v, str) else v for v in values)
    return ", ".join(str(v).strip('"') for v in items[:4]) + (", ..." if len(items) > 4 else "") or "none"
