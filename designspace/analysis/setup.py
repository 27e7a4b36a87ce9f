"""What a sweep's models were trained with: the setup a reader needs to judge its errors (a few
epochs on a few thousand images give high errors by design, not because something is broken).

Read from a designspace sweep's definition (sweep.json: the dataset and its subsets, the recipe,
the sampling source, the CPU layout) and from its table (images trained on, device, threads,
wall time); an imported population (pycls, NDS) shows what its table records. A setting that
neither records is left out.
"""

from __future__ import annotations

import numpy as np

from ..units import si
from .spec_columns import recipe_dict

VARIES = "varies per model"
ALIASES = {"lr": ("lr", "base_lr"), "weight_decay": ("weight_decay", "wd"), "epochs": ("epochs", "max_epoch")}


def setup(sweep) -> dict[str, str]:
    """The sweep's setting -> value as text, in reading order (dataset first, training time last)."""
    d = sweep.definition or {}
    frame, dataset, source = sweep.frame, d.get("dataset") or {}, d.get("source") or {}
    recipe = recipe_dict(d.get("recipe")) or _table_recipe(frame)  # a designspace recipe with its defaults filled in
    out = {"dataset": dataset.get("name") or _distinct(frame, "dataset"),
           "train / test images": _images(frame, dataset),
           "epochs": _text(_get(recipe, "epochs")) or _distinct(frame, "epochs"),
           "learning rate": _lr(recipe, sweep.format),
           "batch size": _text(recipe.get("batch_size")),
           "warm-up": _warmup(recipe),
           "augmentation": {True: "random crop and flip", False: "none"}.get(recipe.get("augment"), ""),
           "weight decay": _weight_decay(recipe),
           "label smoothing": _text(recipe.get("label_smoothing")),
           "drop path": {0: "off"}.get(recipe.get("drop_path"), _text(recipe.get("drop_path"))),
           "sampling window": ", ".join(f"{m} {si(w[0])} to {si(w[1])}" for m in ("flops", "params", "acts")
                                        if (w := source.get(m))),
           "sampling seed": _text(source.get("seed")),
           "training seed": _text(recipe.get("seed")),
           "device": _device(frame, d.get("layout") or {}),
           "training time": _time(frame)}
    return {k: v for k, v in out.items() if v}


def _table_recipe(frame) -> dict:
    """The recipe the table records, one value per key ('varies per model' where models differ)."""
    if "recipe" not in frame.columns:
        return {}
    recipes = [recipe_dict(text) for text in frame["recipe"].dropna().unique()]
    keys = dict.fromkeys(k for r in recipes for k in r)
    return {k: _shared([r.get(k) for r in recipes]) for k in keys}


def _shared(values: list):
    """The value all models share, else VARIES."""
    return values[0] if all(v == values[0] for v in values) else VARIES


def _get(recipe: dict, key: str):
    return next((recipe[k] for k in ALIASES.get(key, (key,)) if k in recipe), None)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _distinct(frame, column: str) -> str:
    if column not in frame.columns or not frame[column].notna().any():
        return ""
    return ", ".join(sorted(frame[column].dropna().astype(str).unique()))


def _images(frame, dataset: dict) -> str:
    """'6,000 / 2,000 (subset seed 0)': the images each model trained and was tested on."""
    counts = []
    for column, key in (("train_images", "train_subset"), ("test_images", "test_subset")):
        values = frame[column].dropna().unique() if column in frame.columns else []
        if len(values):
            counts.append(" or ".join(f"{int(v):,}" for v in sorted(values)))
        elif dataset.get(key):
            counts.append(f"{int(dataset[key]):,}")
        else:
            counts.append("all" if dataset else "")
    if not any(counts):
        return ""
    seed = f" (subset seed {dataset['seed']})" if dataset.get("seed") is not None and (
        dataset.get("train_subset") or dataset.get("test_subset")) else ""
    return " / ".join(c or "?" for c in counts) + seed


def _lr(recipe: dict, source_format: str) -> str:
    lr = _text(_get(recipe, "lr"))
    if not lr or source_format != "designspace":
        return lr
    momentum = f"{'Nesterov ' if recipe.get('nesterov', True) else ''}momentum {_text(recipe.get('momentum', 0.9))}"
    return f"{lr} (SGD, {momentum}, cosine decay)"


def _warmup(recipe: dict) -> str:
    epochs = recipe.get("warmup_epochs")
    if epochs is None or epochs == VARIES:
        return _text(epochs)
    if not epochs:
        return "none"
    factor = recipe.get("warmup_factor")
    return f"{epochs:g} epoch{'s' if epochs != 1 else ''}" + (f", linear from {factor:g} x lr" if factor else "")


def _weight_decay(recipe: dict) -> str:
    wd = _text(_get(recipe, "weight_decay"))
    if wd and recipe.get("bn_weight_decay") is False:
        return f"{wd} (not on BN and biases)"
    return wd


def _device(frame, layout: dict) -> str:
    """'cpu, 2 jobs x 1 thread': where the models trained."""
    device = _distinct(frame, "device")
    threads = frame["threads"].dropna().unique() if "threads" in frame.columns else []
    if not device:
        return ""
    jobs = f"{layout['jobs']} jobs x " if layout.get("jobs") else ""
    if len(threads):
        count = " or ".join(str(int(t)) for t in sorted(threads))
        return f"{device}, {jobs}{count} thread{'s' if len(threads) > 1 or threads[0] != 1 else ''}"
    return device


def _time(frame) -> str:
    """The training time of all models together: '2.4 h (median 88 s a model)'."""
    if "wall_time" not in frame.columns or not frame["wall_time"].notna().any():
        return ""
    seconds = frame["wall_time"].to_numpy(float)
    total = np.nansum(seconds)
    text = f"{total / 3600:.1f} h" if total >= 3600 else f"{total / 60:.1f} min"
    return f"{text} (median {np.nanmedian(seconds):.0f} s a model)"
