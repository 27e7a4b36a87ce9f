"""What to run when no sweep answers an ablation: `designspace sweep` commands with the base sweep's
size, data, epochs, recipe, seed and windows, for the space or option that would answer it, each
checked to have models in the window (a comment says so when it has none)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from ..spec import RESIDUAL_BLOCKS
from ..units import si, si_exact
from .load import Sweep
from .spec_columns import spec_dict

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


def what_to_run(sweeps: list[Sweep], key: str) -> tuple[str, list[str]]:
    """Why no sweep answers the ablation `key`, and the `designspace sweep` commands that would."""
    base = sweeps[0]
    space = _space_argument(base)
    if key == "activation":
        act = base_value(base, "activation")
        other = "relu" if act == "Swish (SiLU)" else "silu"
        return (f"no pair of sweeps of one space with ReLU and with Swish; run {space} with --activation {other}",
                [_command(base, space, f"--activation {other}", f"{space}_{other}")])
    if key == "se":
        pair = {"regnetx": "regnety", "regnety": "regnetx"}
        if space in pair:
            return (f"no sweep with SE to compare with; run {pair[space]} next to {space}",
                    [_command(base, pair[space], "", pair[space])])
        return ("no sweep or pair of sweeps with and without SE; resnext_se samples SE on or off per model",
                [_command(base, "resnext_se", "", "resnext_se")])
    if key == "stochastic_depth":
        return _what_to_run_drop_path(base, space)
    message, runs = SUGGESTIONS[key]
    return message, [_command(base, s, extra, s) for s, extra in runs]


def _what_to_run_drop_path(base: Sweep, space: str) -> tuple[str, list[str]]:
    """The base sweep again with stochastic depth switched (on at DROP_PATH, or off); a space
    without residual blocks has no branch to drop, so regnetx stands in for it."""
    rate = 0.0 if (base_value(base, "drop_path") or 0) > 0 else DROP_PATH
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
    from ..space_file import shipped_spaces

    given = ((sweep.definition or {}).get("source") or {}).get("space")
    if given:
        return str(given)
    name = base_value(sweep, "space")
    return name if name in shipped_spaces() else "regnetx"


def base_value(sweep: Sweep, column: str):
    """The most common value of a column of the sweep, or None."""
    if column in sweep.frame.columns and sweep.frame[column].notna().any():
        return sweep.frame[column].dropna().mode().iloc[0]
    return None


def _command(base: Sweep, space: str, extra: str, out_name: str, recipe_changes: dict | None = None) -> str:
    """`designspace sweep` with base's size, data, epochs, recipe and windows, for another space,
    option or recipe change."""
    d = base.definition or {}
    source, recipe = d.get("source") or {}, {**(d.get("recipe") or {}), **(recipe_changes or {})}
    n = d.get("n") or len(base.frame)
    dataset = (d.get("dataset") or {}).get("name") or base_value(base, "dataset") or "fashion-mnist"
    epochs = recipe.get("epochs") or _recipe_epochs(base)
    parts = ["designspace sweep", "--space", space, "--n", str(n), "--dataset", shlex.quote(str(dataset))]
    if source.get("seed"):  # the same seed draws the same models of the same space (activation, drop path)
        parts += ["--seed", str(source["seed"])]
    if epochs:
        parts += ["--epochs", str(epochs)]
    parts += data_and_recipe_flags(d.get("dataset") or {}, recipe)
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
    from ..space import SamplingError
    from ..space_file import load_space

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


def data_and_recipe_flags(dataset: dict, recipe: dict) -> list[str]:
    """The base sweep's data options and its non-default recipe, so the new sweep is comparable."""
    from ..options import RECIPE_FLAGS, RECIPE_SWITCHES
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
