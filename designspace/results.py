"""The results table of a sweep: DIR/results.parquet, one row per trained model.

Columns: the sampled model (id, space, seed, index, sample.NAME, flops, params, acts, spec as
JSON) and its training record (status, reason, best_error, final_error, train_loss and
test_error per epoch, epochs, wall_time, images_per_second, device, threads, dataset,
train_images, test_images, recipe as JSON, attempts). The file is rewritten atomically after
every finished trial, so pandas can read it at any moment of a sweep and a crash never leaves
half a table.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .output_files import atomic_write, check_writable
from .samples_io import flat_record, read_table

RESULTS_FILE = "results.parquet"
DEFINITION_FILE = "sweep.json"  # what the sweep is (written by designspace.sweep)
RECORD_COLUMNS = ("status", "reason", "best_error", "final_error", "train_loss", "test_error", "epochs", "wall_time",
                  "images_per_second", "device", "threads", "dataset", "train_images", "test_images")
FINISHED = ("ok", "diverged")  # a failed model is trained again by --resume
TABLE_COLUMNS = ("id", "space", "index", "flops", *RECORD_COLUMNS)  # those this module reads
TRAINED = ("status", "best_error", "final_error")  # a table with none of them holds no training results
DEFINITION_KEYS = ("n", "models", "dataset", "recipe", "source")


def result_row(model: dict, record: dict, attempts: int) -> dict:
    """The table row of one model (a samples-file record) and its training record."""
    row = flat_record(model)
    row.update({k: record.get(k) for k in RECORD_COLUMNS})
    for key in ("best_error", "final_error"):
        row[key] = math.nan if row[key] is None else float(row[key])
    row["recipe"] = json.dumps(record.get("recipe", {}), sort_keys=True)
    row["attempts"] = attempts
    return row


class ResultsTable:
    """The rows of one sweep directory, kept by model id and written atomically."""

    def __init__(self, directory):
        self.path = Path(directory) / RESULTS_FILE
        self.rows = {}
        if self.path.exists():
            for row in _read_table(self.path).to_dict("records"):
                row["train_loss"], row["test_error"] = _list(row["train_loss"]), _list(row["test_error"])
                self.rows[row["id"]] = row

    def finished_ids(self) -> set[str]:
        return {i for i, row in self.rows.items() if row["status"] in FINISHED}

    def add(self, row: dict) -> None:
        self.rows[row["id"]] = row
        self.write()

    def write(self) -> None:
        import pandas as pd

        frame = pd.DataFrame(sorted(self.rows.values(), key=lambda r: r["index"]))
        atomic_write(self.path, lambda tmp: frame.to_parquet(tmp, index=False))


def _list(values):
    return None if values is None else [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                                        for v in values]


def read_results(directory):
    """The results table of a sweep directory as a DataFrame."""
    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"{directory}: no {RESULTS_FILE} here; is it a sweep directory (designspace sweep -o DIR)?")
    return _read_table(path)


def _read_table(path: Path):
    """The table at `path`, or ValueError when it is not a results table (with every column read here)."""
    frame = read_table(path)
    check_trained(frame.columns, path)
    missing = [c for c in TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} of a results table; was it written by "
                         "`designspace sweep`?")
    return frame


def check_trained(columns, path) -> None:
    """ValueError when a table holds no training results: a samples table copied in as a results
    table, say, which would otherwise fail later on a missing 'status'."""
    if any(c in columns for c in TRAINED):
        return
    if "spec" in columns:
        raise ValueError(f"{path} is not a results table (no status or error columns): it looks like a samples "
                         f"file (designspace sample -o); train its models with `designspace sweep --samples {path} "
                         "-o NEW_DIR` and give NEW_DIR instead")
    raise ValueError(f"{path} is not a results table (no status or error columns; it has "
                     f"{', '.join(map(str, columns)) or 'no columns'}); `designspace sweep -o DIR` writes DIR/"
                     f"{RESULTS_FILE}")


def read_definition(directory, required=DEFINITION_KEYS) -> dict:
    """A sweep directory's sweep.json, or ValueError naming the file when it is missing, is not
    JSON (cut short by a full disk or a copy, or edited), or lacks a `required` key."""
    path = Path(directory) / DEFINITION_FILE
    if not path.is_file():
        raise ValueError(f"{directory}: no {DEFINITION_FILE} here; is it a sweep directory (designspace sweep -o DIR)?")
    try:
        definition = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON (truncated?): {e}; it records what the sweep is, as "
                         "`designspace sweep` wrote it: restore it, or run the sweep again into a new -o DIR") from None
    if not isinstance(definition, dict):
        raise ValueError(f"{path} holds a JSON {type(definition).__name__}, not a sweep definition; is it the "
                         "sweep.json of a designspace sweep?")
    missing = [k for k in required if k not in definition]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; is it the sweep.json of a designspace sweep?")
    return definition


def summary(directory) -> str:
    """A few lines on a sweep: progress, statuses, errors, time."""
    started = (Path(directory) / DEFINITION_FILE).is_file()
    total = read_definition(directory)["n"] if started else None
    if started and not (Path(directory) / RESULTS_FILE).is_file():
        return f"{directory}: 0 of {total} models trained"
    frame = read_results(directory)
    total = len(frame) if total is None else total
    counts = frame["status"].value_counts().to_dict()
    lines = [f"{directory}: {len(frame)} of {total} models trained "
             f"({', '.join(f'{counts[s]} {s}' for s in ('ok', 'diverged', 'failed') if s in counts)})"]
    ok = frame[frame["status"] == "ok"]
    if len(ok):
        errors = ok["best_error"]
        best = ok.loc[errors.idxmin()]
        lines.append(f"  best error {errors.min():.2f}% (model {best['id']}, {best['flops'] / 1e6:.1f} MF), "
                     f"median {errors.median():.2f}%, mean {errors.mean():.2f}%")
        lines.append(f"  {ok['epochs'].iloc[0]} epochs on {ok['dataset'].iloc[0]}, "
                     f"{frame['wall_time'].sum() / 60:.1f} min of training in all, median "
                     f"{ok['images_per_second'].median():,.0f} img/s on {ok['device'].iloc[0]}")
    for space, group in frame.groupby("space"):
        if frame["space"].nunique() > 1:
            lines.append(f"  {space}: {len(group)} models, median error {group['best_error'].median():.2f}%")
    failed = frame[frame["status"] == "failed"]
    for _, row in failed.head(5).iterrows():
        lines.append(f"  failed {row['id']}: {row['reason']}")
    return "\n".join(lines)


def export_csv(directory, output) -> Path:
    """The table as CSV (per-epoch lists as JSON text)."""
    output = check_writable(output)
    frame = read_results(directory)
    for column in ("train_loss", "test_error"):
        frame[column] = frame[column].map(lambda v: json.dumps(_list(v)))
    return atomic_write(output, lambda tmp: frame.to_csv(tmp, index=False))
