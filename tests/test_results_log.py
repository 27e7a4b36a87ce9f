"""The results table as a sweep records it: rows appended to a log, compacted into the parquet
file now and then, read back as one table by every reader, whatever a crash left behind."""

import json

import pandas as pd
import pytest

from designspace import results
from designspace.analysis.load import load
from designspace.results import LOG_FILE, RESULTS_FILE, ResultsTable, read_results


def row(i, status="ok", error=10.0):
    return {
        "id": f"m{i}",
        "space": "regnetx",
        "seed": 0,
        "index": i,
        "flops": 1e6 + i,
        "spec": "{}",
        "status": status,
        "reason": None,
        "best_error": error + i,
        "final_error": error + i,
        "train_loss": [2.0, 1.0],
        "test_error": [50.0, error + i],
        "epochs": 2,
        "wall_time": 1.0,
        "images_per_second": 100.0,
        "device": "cpu",
        "threads": 1,
        "node": "abc",
        "dataset": "synthetic",
        "train_images": 64,
        "test_images": 32,
        "recipe": "{}",
        "attempts": 1,
    }


@pytest.fixture
def rarely(monkeypatch):
    """A compaction interval no test outlasts: only the first row and close() compact."""
    monkeypatch.setattr(results, "COMPACT_EVERY", 3600.0)


def test_rows_are_appended_and_compacted_on_the_first_row_and_at_close(tmp_path, rarely):
    table = ResultsTable(tmp_path)
    table.add(row(0))
    assert len(pd.read_parquet(tmp_path / RESULTS_FILE)) == 1 and not (tmp_path / LOG_FILE).exists()
    for i in (1, 2):
        table.add(row(i))
    assert len(pd.read_parquet(tmp_path / RESULTS_FILE)) == 1  # pandas alone sees the last compaction
    assert len((tmp_path / LOG_FILE).read_text().splitlines()) == 2
    assert list(read_results(tmp_path)["id"]) == ["m0", "m1", "m2"]  # designspace sees every row
    assert list(load(tmp_path).frame["id"]) == ["m0", "m1", "m2"]
    assert ResultsTable(tmp_path).finished_ids() == {"m0", "m1", "m2"}  # what --resume skips
    table.close()
    assert list(pd.read_parquet(tmp_path / RESULTS_FILE)["id"]) == ["m0", "m1", "m2"]
    assert not (tmp_path / LOG_FILE).exists()


def test_a_due_compaction_rewrites_the_table_with_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "COMPACT_EVERY", 0.0)
    table = ResultsTable(tmp_path)
    for i in range(3):
        table.add(row(i))
        assert len(pd.read_parquet(tmp_path / RESULTS_FILE)) == i + 1 and not (tmp_path / LOG_FILE).exists()


def test_what_a_crash_leaves_is_read_as_one_table(tmp_path, rarely):
    table = ResultsTable(tmp_path)
    table.add(row(0, status="failed", error=float("nan")))
    table.add(row(1))
    # killed between a compaction's two steps: the parquet file already holds the logged row m1 too
    table.rows["m1"] = row(1)
    pd.DataFrame([row(0, status="failed", error=float("nan")), row(1)]).to_parquet(tmp_path / RESULTS_FILE)
    table.add(row(0))  # m0 trained again (a resumed sweep retries failures): the newest row wins
    with open(tmp_path / LOG_FILE, "a") as log:  # killed while writing a row: a torn last line
        log.write(json.dumps(row(2))[:40])
    frame = read_results(tmp_path)
    assert list(frame["id"]) == ["m0", "m1"] and list(frame["status"]) == ["ok", "ok"]
    resumed = ResultsTable(tmp_path)
    assert resumed.finished_ids() == {"m0", "m1"}
    resumed.close()
    assert list(pd.read_parquet(tmp_path / RESULTS_FILE)["status"]) == ["ok", "ok"]


def test_a_table_written_before_the_node_column_still_reads(tmp_path):
    pd.DataFrame([{k: v for k, v in row(0).items() if k != "node"}]).to_parquet(tmp_path / RESULTS_FILE)
    assert list(read_results(tmp_path)["id"]) == ["m0"]
