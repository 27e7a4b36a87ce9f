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

from .samples_io import atomic_write, flat_record

RESULTS_FILE = "results.parquet"
DEFINITION_FILE = "sweep.json"  # what the sweep is (written by designspace.sweep)
RECORD_COLUMNS = ("status", "reason", "best_error", "final_error", "train_loss", "test_error", "epochs", "wall_time",
                  "images_per_second", "device", "threads", "dataset", "train_images", "test_images")
FINISHED = ("ok", "diverged")  # a failed model is trained again by --resume


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
            import pandas as pd

            for row in pd.read_parquet(self.path).to_dict("records"):
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
    import pandas as pd

    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        raise ValueError(f"{directory}: no {RESULTS_FILE} here; is it a sweep directory (designspace sweep -o DIR)?")
    return pd.read_parquet(path)


def summary(directory) -> str:
    """A few lines on a sweep: progress, statuses, errors, time."""
    definition_path = Path(directory) / DEFINITION_FILE
    total = json.loads(definition_path.read_text())["n"] if definition_path.is_file() else None
    if total is not None and not (Path(directory) / RESULTS_FILE).is_file():
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
    frame = read_results(directory)
    for column in ("train_loss", "test_error"):
        frame[column] = frame[column].map(lambda v: json.dumps(_list(v)))
    output = Path(output)
    return atomic_write(output, lambda tmp: frame.to_csv(tmp, index=False))
