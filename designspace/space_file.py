"""Space files (spaces/*.toml, or a user's): the shipped ones, loading by name or path, and
parsing a document into a Space with every key and value checked, so that a bad file fails at
load with the key that is wrong, not later during sampling.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import numpy as np

from .complexity import COMPLEXITY
from .distributions import categorical, make_distribution
from .space import CONTEXT_DEFAULTS, MULTIPLIERS, NETWORK_PARAMETERS, Space, check_context, check_window
from .spec import GROUP_BLOCKS, RATIO_BLOCKS

KIND_NETWORK_KEYS = {"anynet": {"strides"}, "regnet": {"stride", "quantum"}}
KIND_PARAMETERS = {
    "anynet": ({"depth", "width"}, {"bottleneck_ratio", "group_width", "num_groups"}),
    "regnet": ({"depth", "w0", "wa", "wm", "group_width"}, {"bottleneck_ratio"}),
}
TOP_LEVEL_KEYS = {
    "name",
    "description",
    "kind",
    "network",
    "parameters",
    "variants",
    "constraints",
    "adjust_compatibility",
}
CONSTRAINT_KEYS = {"shared", "increasing", "stages", *COMPLEXITY}
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
            raise ValueError(
                f"unknown space {text!r}; shipped spaces: {', '.join(sorted(shipped))} (or give a .toml path)"
            )
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
    elif not (
        isinstance(network.get("strides"), list)
        and network["strides"]
        and all(map(_positive_integer, network["strides"]))
    ):
        raise ValueError(
            "network.strides: an anynet space needs a list of positive integer stage strides, e.g. "
            f"[2, 2, 2, 2], got {network.get('strides')!r}"
        )
    name = data.get("name", default_name)
    check_context(network)

    required, optional = KIND_PARAMETERS[kind]
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        raise ValueError("parameters: expected a table with one entry per parameter")
    _keys("parameters.", raw, required | optional | NETWORK_PARAMETERS)
    variants = _parse_variants(data.get("variants", {}), network, raw)
    block = network["block_type"]
    if kind == "anynet":
        uses = ({"bottleneck_ratio"} if block in RATIO_BLOCKS else set()) | (
            {"group_width", "num_groups"} if block in GROUP_BLOCKS else set()
        )
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
            raise ValueError(
                f"parameters.w0: values must be multiples of network.quantum ({network['quantum']}), "
                f"got {_some(off_grid)}"
            )
        widest = w0.max() + parameters["wa"].values.max() * (parameters["depth"].values.max() - 1.0)
        if not widest < MAX_REGNET_WIDTH:
            raise ValueError(
                f"parameters.wa: the widest network reaches w0 + wa * (depth - 1) = {widest:.3g} "
                f"channels; keep it below {MAX_REGNET_WIDTH:,} (lower wa, w0 or depth)"
            )
    if "bottleneck_ratio" in parameters:
        ratios = parameters["bottleneck_ratio"].values
        expansions = 1.0 / ratios[ratios > 0]
        if not (ratios > 0).all() or not ((expansions < 1) | (expansions == np.round(expansions))).all():
            raise ValueError(
                "parameters.bottleneck_ratio: values must be positive, and below 1 only as 1/e for an "
                f"integer expansion e (got {ratios.tolist()})"
            )
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
    windows = {m: check_window(m, constraints[m]) for m in COMPLEXITY if m in constraints}
    adjust = data.get("adjust_compatibility", True)
    if not isinstance(adjust, bool):
        raise ValueError(f"adjust_compatibility: expected true or false, got {adjust!r}")
    return Space(
        name=name,
        kind=kind,
        network=network,
        parameters=parameters,
        shared=shared,
        increasing=increasing,
        stages=stages,
        windows=windows,
        adjust_compatibility=adjust,
        description=data.get("description", ""),
        fixed_stages=fixed,
        variants=variants,
    )


def _parse_variants(table, network: dict, raw: dict) -> dict:
    """[variants.NAME] tables: each label sets some context fields; NAME is drawn uniformly."""
    if not isinstance(table, dict):
        raise ValueError("variants: expected a table")
    variants = {}
    for name, labels in table.items():
        if (
            name in raw
            or name in NETWORK_PARAMETERS
            or name in KIND_PARAMETERS["anynet"][0] | KIND_PARAMETERS["regnet"][0]
        ):
            raise ValueError(f"variants.{name}: the name of a parameter or network field; choose another name")
        if not isinstance(labels, dict) or not labels:
            raise ValueError(f"variants.{name}: expected a table of labels, each a table of network fields")
        for label, overrides in labels.items():
            _keys(f"variants.{name}.{label}.", overrides, set(CONTEXT_DEFAULTS) - {"block_type"} - set(raw))
            check_context({**network, **overrides}, where=f"variants.{name}.{label}")
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
            raise ValueError(
                f"parameters.{key}: a list gives one value per stage, which only anynet per-stage parameters take"
            )
        if len(value) != len(network["strides"]) or not all(_positive_number(v) for v in value):
            raise ValueError(
                f"parameters.{key}: expected {len(network['strides'])} positive numbers (one per stage), got {value!r}"
            )
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
                raise ValueError(
                    f"parameters.{key} ({MULTIPLIERS[key]}): values must be in (0, 1], got {values.tolist()}"
                )
        elif key in NETWORK_PARAMETERS:
            for value in dist.values.tolist():
                check_context({**network, key: value}, where=f"parameters.{key} = {value!r}")


def _keys(prefix: str, table, allowed) -> None:
    if not isinstance(table, dict):
        raise ValueError(f"{prefix.rstrip('.') or 'file'}: expected a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]}: unknown key; expected one of {', '.join(sorted(allowed))}")
