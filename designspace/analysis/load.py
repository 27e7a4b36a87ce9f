"""Populations of trained models, from any of the formats designspace can analyse.

A sweep directory (DIR/results.parquet), a results .parquet file, a pycls sweep.json (its
COLLECT output) or an NDS data json all become one `Sweep`: a DataFrame in the results-table
layout (id, space, sample.NAME, spec, flops/params/acts, status, best_error, final_error,
train_loss, test_error, epochs, dataset, recipe) plus columns derived from each spec, so that
every later step reads one layout. Published populations can then be analysed with the same
commands as designspace's own sweeps.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..complexity import COMPLEXITY
from ..recipe import Recipe
# DEFINITION_FILE and RESULTS_FILE: a designspace sweep's files (not pycls's sweep.json)
from ..results import DEFINITION_FILE, RESULTS_FILE, check_trained, has_rows, read_definition, read_rows
from ..samples_io import read_table
from ..spec import BOTTLENECK_BLOCKS, OPTIONAL_DEFAULTS, RESIDUAL_BLOCKS, inner_width

ERROR_METRICS = ("best_error", "final_error")
BLOCK_TYPES = {"double_plain_block": "vanilla_block"}  # NDS names -> ModelSpec names


@dataclass
class Sweep:
    """One population: its name (for legends), where it came from, and its models."""

    name: str
    source: str
    format: str  # "designspace", "pycls" or "nds"
    frame: "object"  # pandas DataFrame, one row per model (all statuses)
    definition: dict | None = None  # a designspace sweep's sweep.json, when there is one

    def usable(self, metric: str = "best_error"):
        """The models that count: finished ("ok") with a finite metric."""
        check_metric([self], metric)
        return self.frame[_usable_mask(self.frame, metric)]

    def excluded(self, metric: str = "best_error") -> dict[str, int]:
        """How many models were left out, by reason (diverged, failed, no <metric>)."""
        frame = self.frame[~_usable_mask(self.frame, metric)]
        status = frame["status"].fillna("unknown")
        counts = {s: int(c) for s, c in status[status != "ok"].value_counts().items()}
        missing = int((status == "ok").sum())
        if missing:
            counts[f"no {metric}"] = missing
        return counts

    def excluded_text(self, metric: str = "best_error") -> str:
        """'3 diverged, 1 failed models excluded', or '' when every model counts."""
        counts = self.excluded(metric)
        if not counts:
            return ""
        plural = "s" if sum(counts.values()) > 1 else ""
        return ", ".join(f"{n} {why}" for why, n in counts.items()) + f" model{plural} excluded"


def _usable_mask(frame, metric):
    return (frame["status"] == "ok").to_numpy() & np.isfinite(frame[metric].to_numpy(float))


def check_metric(sweeps, metric: str) -> None:
    """ValueError naming the columns that could serve, when a sweep lacks `metric`."""
    for sweep in sweeps:
        if metric not in sweep.frame.columns:
            errors = [c for c in sweep.frame.columns if "err" in str(c).lower() and sweep.frame[c].dtype.kind in "iuf"]
            raise ValueError(f"{sweep.name}: no column {metric!r}; error columns here: {', '.join(errors) or 'none'}")


def load(path, name: str | None = None) -> Sweep:
    """The population at `path`: a sweep directory, a .parquet table, a pycls sweep.json or an NDS json."""
    path = Path(path)
    if path.is_dir():
        table = path / RESULTS_FILE
        if not has_rows(path):
            raise ValueError(f"{path}: no {RESULTS_FILE} here; give a sweep directory (designspace sweep -o DIR), "
                             "a results .parquet, a pycls sweep.json or an NDS data json")
        return _designspace(table, name or path.name, path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _designspace(path, name or path.stem, path.parent)
    if suffix == ".json":
        return _from_json(path, name)
    raise ValueError(f"{path}: neither a results directory nor a known file (.parquet, pycls sweep.json, NDS .json)")


def load_all(paths, names=None) -> list[Sweep]:
    """Several populations, named for legends and tables: a given name as it is, else its space's
    name ('RegNetX'), with the folder added where two sweeps would share a name ('RegNetX
    (regnetx_silu)'), and the folder's parent where even that clashes."""
    if not paths:
        raise ValueError("give at least one sweep directory or file")
    given = list(names or [None] * len(paths))
    sweeps = [load(p, n) for p, n in zip(paths, given)]
    candidates = {id(s): _names(s) for s, n in zip(sweeps, given) if not n}
    for sweep in sweeps:
        sweep.name = candidates[id(sweep)][0] if id(sweep) in candidates else sweep.name
    while True:
        used = Counter(s.name for s in sweeps)
        clashing = [s for s in sweeps if used[s.name] > 1 and s.name in candidates.get(id(s), [])[:-1]]
        if not clashing:
            break
        for sweep in clashing:
            options = candidates[id(sweep)]
            sweep.name = options[options.index(sweep.name) + 1]
    if len({s.name for s in sweeps}) < len(sweeps):
        raise ValueError("the same sweep is given twice: " + ", ".join(str(p) for p in paths))
    return sweeps


ACTIVATION_LABELS = {"relu": "ReLU", "silu": "Swish (SiLU)", "relu6": "ReLU6"}
SPACE_TITLES = {"regnet": "RegNet", "regnetx": "RegNetX", "regnety": "RegNetY", "resnet": "ResNet",
                "resnext": "ResNeXt", "resnext_se": "ResNeXt-SE", "resnet_tweaks": "ResNet tweaks",
                "resnet_preact": "ResNet pre-act", "mobilenet": "MobileNet", "mobilenet_v1": "MobileNet-v1",
                "densenet": "DenseNet-BC", "squeezenet": "SqueezeNet", "nds_resnet": "NDS ResNet",
                "nds_resnext_a": "NDS ResNeXt-A", "nds_vanilla": "NDS Vanilla",
                **{f"anynetx_{c}": f"AnyNetX_{c.upper()}" for c in "abcde"}}


def space_title(space: str) -> str:
    """A shipped space's name as the papers write it ('regnetx' -> 'RegNetX'); others as given."""
    return SPACE_TITLES.get(space, space)


def _names(sweep: Sweep) -> list[str]:
    """A loaded sweep's possible names, from the shortest: its space's, then with its folder (the
    name load gave it), then with the folder's parent too."""
    spaces = sweep.frame["space"].dropna().unique() if "space" in sweep.frame.columns else []
    folder, where = sweep.name, "/".join(Path(sweep.source).parts[-2:])
    if len(spaces) != 1 or space_title(str(spaces[0])) == folder:
        return list(dict.fromkeys([folder, where]))
    space = space_title(str(spaces[0]))
    return list(dict.fromkeys([space, f"{space} ({folder})", f"{space} ({where})"]))


# ---------------------------------------------------------------------------- designspace
def _designspace(table: Path, name: str, directory: Path) -> Sweep:
    in_sweep_directory = table.name == RESULTS_FILE  # a loose .parquet file is its own source
    frame = read_rows(directory) if in_sweep_directory else read_table(table)  # with the rows logged since
    if len(frame) == 0:
        raise ValueError(f"{table}: the results table is empty (no model has finished yet?)")
    check_trained(frame.columns, table)
    for column in ("id", "spec"):
        if column not in frame.columns:
            raise ValueError(f"{table}: no {column!r} column; is it a designspace results table? "
                             f"It has: {', '.join(map(str, frame.columns))}")
    if "status" not in frame.columns:
        frame["status"] = "ok"
    definition = None
    if in_sweep_directory and (directory / DEFINITION_FILE).is_file():
        definition = read_definition(directory, required=())
    return Sweep(name, str(directory if in_sweep_directory else table), "designspace", derive(frame), definition)


def _from_json(path: Path, name: str | None) -> Sweep:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON (truncated?): {e}") from None
    if isinstance(data, dict) and {"n", "models", "dataset", "recipe"} <= set(data):
        if has_rows(path.parent):
            return load(path.parent, name)
        raise ValueError(f"{path}: a designspace sweep definition, but {path.parent} has no {RESULTS_FILE} yet")
    if isinstance(data, dict) and set(data) <= {"top", "mid"} and data:
        records = [dict(r, rerun_group=group) for group, rs in data.items() for r in rs]
        return _nds(records, path, name)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        if all("cfg" in r for r in data):
            return _pycls(data, path, name)
        if all("min_test_top1" in r for r in data):
            return _nds(data, path, name)
    raise ValueError(f"{path}: neither a results directory nor a known json format (a pycls sweep.json is a list "
                     "of jobs with 'cfg'; an NDS data file is a list of records with 'min_test_top1')")


# ----------------------------------------------------------------------------------- pycls
def _pycls(jobs: list[dict], path: Path, name: str | None) -> Sweep:
    """pycls COLLECT output: per job its cfg, complexity and per-epoch stats lists."""
    import pandas as pd

    from ..pycls_config import flatten_config, from_pycls

    rows = []
    for index, job in enumerate(jobs):
        cfg = flatten_config(job["cfg"]) if isinstance(job["cfg"], dict) else {}
        test = job.get("test_ema_epoch") or job.get("test_epoch") or {}
        errors = [float(e) for e in test.get("top1_err", [])]
        planned = int(cfg.get("OPTIM.MAX_EPOCH", len(errors)) or len(errors))
        status, reason = "ok", None
        if any(math.isnan(e) for e in errors):
            status, reason = "diverged", "non-finite test error"
        elif len(errors) < planned or not errors:
            stderr = (job.get("err") or "").strip().splitlines()
            status = "failed"
            reason = f"stopped after {len(errors)} of {planned} epochs" + (f": {stderr[-1][:200]}" if stderr else "")
        try:
            spec = from_pycls(job["cfg"]).to_dict()
        except (ValueError, TypeError, KeyError) as e:
            spec, reason = None, reason or f"no spec: {e}"
        finite = [e for e in errors if not math.isnan(e)]
        row = {
            "id": Path(job.get("log_file", "")).parent.name or f"job{index}",
            "space": name or path.parent.name,
            "seed": cfg.get("RNG_SEED"),
            "index": index,
            **_pycls_sample(cfg),
            "spec": json.dumps(spec, sort_keys=True) if spec else None,
            **{k: _number(job.get("complexity", {}).get(k)) for k in COMPLEXITY},
            "status": status,
            "reason": reason,
            "best_error": min(finite) if status == "ok" else math.nan,
            "final_error": errors[-1] if status == "ok" else math.nan,
            "train_loss": [float(v) for v in job.get("train_epoch", {}).get("loss", [])],
            "test_error": errors,
            "epochs": len(errors),
            "dataset": str(cfg.get("TRAIN.DATASET", "")).lower() or None,
            "recipe": json.dumps({k[6:].lower(): v for k, v in cfg.items() if k.startswith("OPTIM.")}, sort_keys=True),
        }
        rows.append(row)
    return Sweep(name or path.parent.name, str(path), "pycls", derive(pd.DataFrame(rows)))


def _pycls_sample(cfg: dict) -> dict:
    """The sampled parameters of a pycls job, named as designspace's spaces name them."""
    sample = {"sample.lr": cfg.get("OPTIM.BASE_LR"), "sample.wd": cfg.get("OPTIM.WEIGHT_DECAY")}
    if str(cfg.get("MODEL.TYPE", "")).lower() == "regnet":
        for key, label in (("DEPTH", "depth"), ("W0", "w0"), ("WA", "wa"), ("WM", "wm"), ("GROUP_W", "group_width")):
            sample[f"sample.{label}"] = cfg.get(f"REGNET.{key}")
        bot_mul = cfg.get("REGNET.BOT_MUL")
        sample["sample.bottleneck_ratio"] = 1.0 / bot_mul if bot_mul else None
    elif str(cfg.get("MODEL.TYPE", "")).lower() == "anynet":
        for key, label in (("DEPTHS", "depth"), ("WIDTHS", "width"), ("GROUP_WS", "group_width")):
            sample[f"sample.{label}"] = json.dumps(list(cfg.get(f"ANYNET.{key}", [])))
        bot_muls = cfg.get("ANYNET.BOT_MULS", [])
        sample["sample.bottleneck_ratio"] = json.dumps([1.0 / m for m in bot_muls if m])
    return sample


# ------------------------------------------------------------------------------------- NDS
def _nds(records: list[dict], path: Path, name: str | None) -> Sweep:
    """NDS data records: net (per-stage ds, ws, ss, bot_muls, num_gs, stem first; or a NAS cell
    genotype with depth and width), optim, flops, params, min_test_top1 and per-epoch lists."""
    import pandas as pd

    imagenet = path.stem.endswith("_in")
    rows = []
    for index, r in enumerate(records):
        net, optim = r.get("net") or {}, r.get("optim") or {}
        errors = [float(e) for e in r.get("test_ep_top1") or []]
        best = _number(r.get("min_test_top1"))
        spec, sample = _nds_spec(net, imagenet)
        row = {
            "id": str(r.get("job_id", index)),
            "space": name or path.stem,
            "seed": r.get("rng_seed"),
            "index": index,
            **sample,
            "sample.lr": optim.get("base_lr"),
            "sample.wd": optim.get("wd"),
            "spec": json.dumps(spec, sort_keys=True) if spec else None,
            "flops": _number(r.get("flops")),
            "params": _number(r.get("params")),
            "status": "ok" if math.isfinite(best) else "diverged",
            "reason": None if math.isfinite(best) else "no finite min_test_top1",
            "best_error": best,
            "final_error": errors[-1] if errors and math.isfinite(best) else math.nan,
            "train_loss": [float(v) for v in r.get("train_ep_loss") or []],
            "test_error": errors,
            "epochs": len(errors),
            "dataset": "imagenet" if imagenet else "cifar10",
            "recipe": json.dumps(optim, sort_keys=True),
        }
        if "rerun_group" in r:
            row["rerun_group"] = r["rerun_group"]
        rows.append(row)
    return Sweep(name or path.stem, str(path), "nds", derive(pd.DataFrame(rows)))


def _nds_spec(net: dict, imagenet: bool) -> tuple[dict | None, dict]:
    """(ModelSpec dict or None, sample columns) of an NDS net; the first list entry is the stem.

    NDS counts groups (num_gs) and bottleneck multipliers (bot_muls = 1/b); group width is the
    inner width over the number of groups. A net that no ModelSpec expresses (a NAS cell, groups
    that do not divide the inner width) keeps its sample columns and gets no spec.
    """
    from ..spec import ModelSpec

    if "ds" not in net:
        return None, {f"sample.{k}": net.get(k) for k in ("depth", "width") if k in net}
    ds, ws, ss = (list(net.get(k, []))[1:] for k in ("ds", "ws", "ss"))
    block_type = BLOCK_TYPES.get(net.get("block_type"), net.get("block_type"))
    bottleneck = block_type in BOTTLENECK_BLOCKS
    bot_muls = list(net.get("bot_muls", []))[1:] if bottleneck else [1.0] * len(ds)
    num_gs = list(net.get("num_gs", []))[1:] if bottleneck else [1] * len(ds)
    sample = {"sample.depth": json.dumps(ds), "sample.width": json.dumps(ws)}
    if bottleneck:
        sample["sample.bottleneck_ratio"] = json.dumps([1.0 / m for m in bot_muls])
        sample["sample.num_groups"] = json.dumps(num_gs)
    try:
        inner = [round(w * m) for w, m in zip(ws, bot_muls)]
        spec = ModelSpec(
            stem_type="res_stem_in" if imagenet else "res_stem_cifar",
            stem_width=int(net["ws"][0]),
            block_type=block_type,
            depths=ds,
            widths=ws,
            strides=ss,
            bottleneck_ratios=[1.0 / m for m in bot_muls],
            group_widths=[i // g if bottleneck else w for i, g, w in zip(inner, num_gs, ws)],
            num_classes=1000 if imagenet else 10,
            resolution=224 if imagenet else 32,
        )
    except (ValueError, TypeError, KeyError, ZeroDivisionError, IndexError):
        return None, sample
    if bottleneck and any(i % g for i, g in zip(inner, num_gs)):
        return None, sample
    return spec.to_dict(), sample


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------------- derived
def derive(frame):
    """Add columns computed from each spec (and per-stage sample lists), in place; return frame.

    total_depth (blocks), num_stages, max_width, b, g and cardinality (groups of the 3x3 conv:
    inner width / g; each the largest over stages, as pycls's anynet_b / anynet_g; NaN for
    blocks without groups), se (on/off), activation, block_type, block (X block / inverted
    bottleneck / depthwise), tweak (ResNet-A..D, bottleneck ResNets), preactivation (residual
    blocks), drop_path (the recipe's stochastic-depth rate; NaN for a recipe that is not
    designspace's), and sample.NAME[i] for the i-th stage of a per-stage list parameter.
    """
    import pandas as pd

    specs = [spec_dict(s) for s in frame["spec"]] if "spec" in frame.columns else [None] * len(frame)
    derived = pd.DataFrame([_spec_columns(s) for s in specs], index=frame.index)
    for column in derived.columns:
        frame[column] = derived[column]
    texts = [t if isinstance(t, str) else None for t in frame.get("recipe", [None] * len(frame))]
    drop_path = {text: float(recipe_dict(text).get("drop_path", np.nan)) for text in set(texts)}  # one per recipe
    frame["drop_path"] = [drop_path[text] for text in texts]
    for column in [c for c in frame.columns if c.startswith("sample.")]:
        lists = [_as_list(v) for v in frame[column]]
        if any(isinstance(v, list) for v in lists):
            width = max(len(v) for v in lists if isinstance(v, list))
            for i in range(width):
                frame[f"{column}[{i + 1}]"] = [_stage_value(v, i) for v in lists]
    if "status" not in frame.columns:
        frame["status"] = "ok"
    for metric in ERROR_METRICS:
        if metric in frame.columns:
            frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    return frame


def spec_dict(value) -> dict | None:
    """A spec cell (JSON text or a dict) as a dict; None when absent or unreadable."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return None


def recipe_dict(value) -> dict:
    """A recipe cell as a dict: a designspace recipe with every field (absent ones at Recipe's
    defaults, so that sweeps from before a field was added compare equal), any other recipe
    (pycls's OPTIM, NDS's optim) as it is, {} when absent or unreadable."""
    d = spec_dict(value)
    if not isinstance(d, dict) or not d:
        return {}
    try:
        return asdict(Recipe.from_dict(d))
    except (ValueError, TypeError):
        return d


def spec_value(spec: dict, key: str):
    """A spec key's value; the optional keys that to_dict() leaves out are at their defaults."""
    return spec.get(key, OPTIONAL_DEFAULTS.get(key))


SPEC_COLUMNS = ("total_depth", "num_stages", "max_width", "b", "g", "cardinality", "se", "activation", "block_type",
                "block", "tweak", "preactivation")
# Bag of Tricks (He et al. 2019) Table 5, cumulative: (stride position, deep stem, shortcut) -> name
RESNET_TWEAKS = {("1x1", False, "conv"): "ResNet-A", ("3x3", False, "conv"): "ResNet-B",
                 ("3x3", True, "conv"): "ResNet-C", ("3x3", True, "avgpool_conv"): "ResNet-D"}


def _spec_columns(spec: dict | None) -> dict:
    if not spec or not spec.get("depths"):
        return dict.fromkeys(SPEC_COLUMNS, np.nan)
    bottleneck = spec["block_type"] in BOTTLENECK_BLOCKS
    b, g = spec["bottleneck_ratios"], spec["group_widths"]
    residual = spec["block_type"] in RESIDUAL_BLOCKS
    return {
        "total_depth": int(sum(spec["depths"])),
        "num_stages": len(spec["depths"]),
        "max_width": int(max(spec["widths"])),
        "b": float(max(b)) if bottleneck else np.nan,
        "g": float(max(g)) if bottleneck else np.nan,
        "cardinality": float(max(inner_width(w, r) // gw for w, r, gw in zip(spec["widths"], b, g)))
        if bottleneck else np.nan,
        "se": "SE" if spec.get("se_ratio", 0) > 0 else "no SE",
        "activation": ACTIVATION_LABELS[spec.get("activation", "relu")],
        "block_type": spec["block_type"],
        "block": block_kind(spec),
        "tweak": resnet_tweak(spec) if bottleneck and residual else np.nan,
        "preactivation": ("pre-activation" if spec_value(spec, "preactivation") else "post-activation")
        if residual else np.nan,
    }


def resnet_tweak(spec: dict) -> str:
    """'ResNet-A' .. 'ResNet-D' for Bag of Tricks' cumulative tweaks of a bottleneck ResNet; any
    other combination of stride position, stem and shortcut described plainly."""
    stride, deep, shortcut = (spec_value(spec, k) for k in ("stride_position", "deep_stem", "shortcut"))
    if (stride, deep, shortcut) in RESNET_TWEAKS:
        return RESNET_TWEAKS[stride, deep, shortcut]
    return (f"stride on {stride}, {'deep' if deep else 'single-conv'} stem, "
            f"{'avgpool + 1x1 conv' if shortcut == 'avgpool_conv' else '1x1 conv'} shortcut")


def block_kind(spec: dict) -> str:
    """The paper's block families: X block, inverted bottleneck (b < 1), depthwise (g = 1)."""
    if spec["block_type"] not in BOTTLENECK_BLOCKS:
        return spec["block_type"].replace("_", " ")
    ratios, groups = spec["bottleneck_ratios"], spec["group_widths"]
    inverted = max(ratios) <= 1 and min(ratios) < 1  # expansion (e = 1/b >= 1) in every stage
    depthwise = max(groups) == 1
    if inverted and depthwise:
        return "inverted + depthwise"
    if inverted:
        return "inverted bottleneck (b < 1)"
    if depthwise:
        return "depthwise (g = 1)"
    if min(ratios) < 1 or min(groups) == 1:
        return "mixed stages"
    return "X block (b >= 1, g > 1)"


def _as_list(value):
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _stage_value(value, i):
    if isinstance(value, list) and i < len(value) and isinstance(value[i], (int, float)):
        return float(value[i])
    return np.nan


def block_widths(spec) -> list[int]:
    """Per-block widths: each stage's width repeated depth times."""
    spec = spec_dict(spec)
    return [int(w) for w, d in zip(spec["widths"], spec["depths"]) for _ in range(int(d))]


def parameters(frame) -> list[str]:
    """Numeric columns worth a bootstrap: the total depth and the sampled scalars and per-stage
    values that vary (a sampled depth equal to the total depth is not repeated)."""
    columns = ["total_depth"] if _varies_numeric(frame.get("total_depth")) else []
    for c in frame.columns:
        if c.startswith("sample.") and _varies_numeric(frame[c]):
            same = c == "sample.depth" and columns and np.array_equal(frame[c].to_numpy(float),
                                                                       frame["total_depth"].to_numpy(float))
            if not same:
                columns.append(c)
    return columns


def analysed_columns(frame) -> list[str]:
    """The parameters and the complexity metrics (those present) whose good ranges a report shows."""
    present = [c for c in COMPLEXITY if c in frame and np.isfinite(frame[c].to_numpy(float)).any()]
    return parameters(frame) + present


def _varies_numeric(series) -> bool:
    if series is None or series.dtype.kind not in "iuf":
        return False
    values = series.to_numpy(float)
    values = values[np.isfinite(values)]
    return len(values) > 1 and values.min() < values.max()


def label(column: str) -> str:
    """A column's name for axes and tables: sample.depth[2] -> depth[2]."""
    return column.removeprefix("sample.").replace("total_depth", "depth (blocks)")
