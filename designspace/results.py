"""The results table of a sweep: one row per trained model, in DIR/results.parquet and the rows
appended to DIR/results.log.jsonl since the table was last compacted.

Columns: the sampled model (id, space, seed, index, sample.NAME, flops, params, acts, spec as
JSON) and its training record (status, reason, best_error, final_error, train_loss and
test_error per epoch, epochs, wall_time, images_per_second, device, threads, node (the Ray node
id that trained it), dataset, train_images, test_images, recipe as JSON, attempts).

Recording a model appends one line to the log (flushed to disk), so it costs the same at the
10,000th model as at the first; the parquet file is rewritten from all rows (atomically, then the
log is emptied) at most every COMPACT_EVERY seconds and when the sweep ends. A killed driver
loses only the models in flight (a torn last line is skipped); read_results and the analysis
readers always see both files as one table, and pandas reading results.parquet alone during a
sweep sees it at most COMPACT_EVERY seconds late.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from .output_files import atomic_write, check_writable
from .records import SampleRecord, SweepDefinition, TrainRecord, keys
from .samples_io import flat_record, read_table

RESULTS_FILE = "results.parquet"
LOG_FILE = "results.log.jsonl"  # rows recorded since the last compaction into RESULTS_FILE
COMPACT_EVERY = 30.0  # seconds between rewrites of RESULTS_FILE during a sweep
DEFINITION_FILE = "sweep.json"  # what the sweep is (written by designspace.sweep)
RECORD_COLUMNS = tuple(k for k in keys(TrainRecord) if k != "recipe")  # the recipe is one JSON column
FINISHED = ("ok", "diverged")  # a failed model is trained again by --resume
LATER_COLUMNS = ("node",)  # added after the first release: older tables lack them
TABLE_COLUMNS = ("id", "space", "index", "flops", *(c for c in RECORD_COLUMNS if c not in LATER_COLUMNS))
TRAINED = ("status", "best_error", "final_error")  # a table with none of them holds no training results
DEFINITION_KEYS = keys(SweepDefinition, optional=False)


def result_row(model: SampleRecord, record: TrainRecord, attempts: int) -> dict:
    """The table row of one model (a samples-file record) and its training record."""
    row = flat_record(model)
    row.update({k: record.get(k) for k in RECORD_COLUMNS})
    for key in ("best_error", "final_error"):
        row[key] = math.nan if row[key] is None else float(row[key])
    row["recipe"] = json.dumps(record.get("recipe", {}), sort_keys=True)
    row["attempts"] = attempts
    return row


class ResultsTable:
    """The rows of one sweep directory, kept by model id; add() appends, compact() rewrites."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.path = self.directory / RESULTS_FILE
        self.log = self.directory / LOG_FILE
        self.rows = {}
        if has_rows(self.directory):
            for row in read_results(self.directory).to_dict("records"):
                row["train_loss"], row["test_error"] = _list(row["train_loss"]), _list(row["test_error"])
                self.rows[row["id"]] = row
        self.compacted = 0.0  # monotonic time of the last compaction; 0: the first row compacts at once

    def finished_ids(self) -> set[str]:
        return {i for i, row in self.rows.items() if row["status"] in FINISHED}

    def add(self, row: dict) -> None:
        self.rows[row["id"]] = row
        with open(self.log, "a") as log:
            log.write(json.dumps(row) + "\n")
            log.flush()
            os.fsync(log.fileno())
        if time.monotonic() - self.compacted >= COMPACT_EVERY:
            self.compact()

    def compact(self) -> None:
        """Every row into RESULTS_FILE (atomically), then an empty log: a crash between the two
        leaves rows in both files, which readers take once."""
        import pandas as pd

        if self.rows:
            frame = pd.DataFrame(sorted(self.rows.values(), key=lambda r: r["index"]))
            atomic_write(self.path, lambda tmp: frame.to_parquet(tmp, index=False))
        self.log.unlink(missing_ok=True)
        self.compacted = time.monotonic()

    def close(self) -> None:
        """Compact what the log holds (at the end of a sweep, or of its interrupted run)."""
        if self.log.exists():
            self.compact()


def _list(values):
    return (
        None
        if values is None
        else [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]
    )


def has_rows(directory) -> bool:
    """Whether any model of the sweep at `directory` has been recorded."""
    return (Path(directory) / RESULTS_FILE).is_file() or (Path(directory) / LOG_FILE).is_file()


def read_results(directory):
    """The results table of a sweep directory as a DataFrame (compacted and logged rows)."""
    if not has_rows(directory):
        raise ValueError(f"{directory}: no {RESULTS_FILE} here; is it a sweep directory (designspace sweep -o DIR)?")
    path = Path(directory) / RESULTS_FILE
    frame = read_rows(Path(directory))
    check_trained(frame.columns, path)
    missing = [c for c in TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(missing)} of a results table; "
            "was it written by `designspace sweep`?"
        )
    return frame


def read_rows(directory: Path):
    """RESULTS_FILE and the rows logged since, one row per id (the latest). The log is read first:
    a compaction between the two reads then only repeats rows, never loses them."""
    import pandas as pd

    logged = _logged_rows(directory / LOG_FILE)
    table = directory / RESULTS_FILE
    frame = read_table(table) if table.is_file() else pd.DataFrame()
    if not logged:
        return frame
    frame = pd.concat([frame, pd.DataFrame(logged)], ignore_index=True) if len(frame) else pd.DataFrame(logged)
    frame = frame.drop_duplicates("id", keep="last").sort_values("index", kind="stable")
    return frame.reset_index(drop=True)


def _logged_rows(path: Path) -> list[dict]:
    """The rows of the log; a line that does not parse (a write cut short by a crash) is skipped."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def check_trained(columns, path) -> None:
    """ValueError when a table holds no training results: a samples table copied in as a results
    table, say, which would otherwise fail later on a missing 'status'."""
    if any(c in columns for c in TRAINED):
        return
    if "spec" in columns:
        raise ValueError(
            f"{path} is not a results table (no status or error columns): it looks like a samples "
            f"file (designspace sample -o); train its models with `designspace sweep --samples {path} "
            "-o NEW_DIR` and give NEW_DIR instead"
        )
    raise ValueError(
        f"{path} is not a results table (no status or error columns; it has "
        f"{', '.join(map(str, columns)) or 'no columns'}); `designspace sweep -o DIR` writes DIR/"
        f"{RESULTS_FILE}"
    )


def read_definition(directory, required=DEFINITION_KEYS) -> SweepDefinition:
    """A sweep directory's sweep.json, or ValueError naming the file when it is missing, is not
    JSON (cut short by a full disk or a copy, or edited), or lacks a `required` key."""
    path = Path(directory) / DEFINITION_FILE
    if not path.is_file():
        raise ValueError(f"{directory}: no {DEFINITION_FILE} here; is it a sweep directory (designspace sweep -o DIR)?")
    try:
        definition = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"{path} is not valid JSON (truncated?): {e}; it records what the sweep is, as "
            "`designspace sweep` wrote it: restore it, or run the sweep again into a new -o DIR"
        ) from None
    if not isinstance(definition, dict):
        raise ValueError(
            f"{path} holds a JSON {type(definition).__name__}, not a sweep definition; is it the "
            "sweep.json of a designspace sweep?"
        )
    missing = [k for k in required if k not in definition]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; is it the sweep.json of a designspace sweep?")
    return definition


def summary(directory) -> str:
    """A few lines on a sweep: progress, statuses, errors, time."""
    started = (Path(directory) / DEFINITION_FILE).is_file()
    total = read_definition(directory)["n"] if started else None
    if started and not has_rows(directory):
        return f"{directory}: 0 of {total} models trained"
    frame = read_results(directory)
    total = len(frame) if total is None else total
    counts = frame["status"].value_counts().to_dict()
    lines = [
        f"{directory}: {len(frame)} of {total} models trained "
        f"({', '.join(f'{counts[s]} {s}' for s in ('ok', 'diverged', 'failed') if s in counts)})"
    ]
    ok = frame[frame["status"] == "ok"]
    if len(ok):
        errors = ok["best_error"]
        best = ok.loc[errors.idxmin()]
        lines.append(
            f"  best error {errors.min():.2f}% (model {best['id']}, {best['flops'] / 1e6:.1f} MF), "
            f"median {errors.median():.2f}%, mean {errors.mean():.2f}%"
        )
        lines.append(
            f"  {ok['epochs'].iloc[0]} epochs on {ok['dataset'].iloc[0]}, "
            f"{frame['wall_time'].sum() / 60:.1f} min of training in all, median "
            f"{ok['images_per_second'].median():,.0f} img/s on {ok['device'].iloc[0]}"
        )
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
