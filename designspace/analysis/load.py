"""Populations of trained models, from any of the formats designspace can analyse.

A sweep directory (DIR/results.parquet), a results .parquet file, a pycls sweep.json (its
COLLECT output) or an NDS data json all become one `Sweep`: a DataFrame in the results-table
layout (id, space, sample.NAME, spec, flops/params/acts, status, best_error, final_error,
train_loss, test_error, epochs, dataset, recipe) plus columns derived from each spec, so that
every later step reads one layout. Published populations can then be analysed with the same
commands as designspace's own sweeps.

This module holds the Sweep type, load's dispatch by format, the naming of several sweeps and
the reader of designspace's own results (a few lines); read_pycls and read_nds read the published
formats, columns.derive adds the derived columns.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# DEFINITION_FILE and RESULTS_FILE: a designspace sweep's files (not pycls's sweep.json)
from ..results import DEFINITION_FILE, RESULTS_FILE, check_trained, has_rows, read_definition, read_rows
from ..samples_io import read_table
from .columns import derive
from .read_nds import read_nds
from .read_pycls import read_pycls


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


def _pycls(jobs: list[dict], path: Path, name: str | None) -> Sweep:
    """A pycls sweep.json's population, named for its folder unless a name is given."""
    name = name or path.parent.name
    return Sweep(name, str(path), "pycls", read_pycls(jobs, name))


def _nds(records: list[dict], path: Path, name: str | None) -> Sweep:
    """An NDS data file's population, named for the file unless a name is given."""
    name = name or path.stem
    return Sweep(name, str(path), "nds", read_nds(records, path, name))
