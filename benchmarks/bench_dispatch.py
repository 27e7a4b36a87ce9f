"""What a sweep costs besides training: recording each finished model in the results table, and
dispatching trials through Ray Tune when the training itself takes no time.

Bookkeeping: ResultsTable.add of n real-shaped rows plus the final close(), per model, at 100,
1,000 and 10,000 models (quick: 100 and 1,000), against the previous design, which rewrote the
whole table atomically as parquet after every model. Dispatch: models per second through the real
run_sweep with run_trial replaced by one that reports a finished record at once, at 2, 16 and 64
concurrent slots of a local Ray instance with 64 logical CPUs, timed between the first and the last
record that reaches the results table (the sweep's start and end are fixed costs, given apart),
against as many trivial Ray tasks at the same concurrency on the same instance.

    python benchmarks/bench_dispatch.py [--quick]
"""

import json
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from bench_sweep import dataset_options
from common import Figure, best_time, duration, run_alone

import designspace as ds
import designspace.sweep
from designspace.output_files import atomic_write
from designspace.ray_connection import connect
from designspace.results import COMPACT_EVERY, ResultsTable, result_row
from designspace.sweep import definition_for, run_sweep
from designspace.train import Recipe

SLOTS = (2, 16, 64)  # concurrent trials (Ray logical CPUs, one per trial)
EXACT_UP_TO = 1000  # models: beyond, the previous design's quadratic cost is estimated from a few table sizes
ESTIMATE_SIZES = 11  # table sizes, from 1 to all rows, that the estimate times
RECIPE = Recipe(epochs=10)
RECORD = {
    "status": "ok",
    "reason": None,
    "best_error": 9.87,
    "final_error": 10.12,
    "train_loss": [2.3 / (epoch + 1) for epoch in range(RECIPE.epochs)],
    "test_error": [90.0 / (epoch + 1) for epoch in range(RECIPE.epochs)],
    "epochs": RECIPE.epochs,
    "wall_time": 123.4,
    "images_per_second": 1234.5,
    "device": "cuda (NVIDIA H100 80GB HBM3)",
    "threads": 1,
    "node": "f" * 56,
    "dataset": "fashion-mnist",
    "train_images": 60000,
    "test_images": 10000,
    "recipe": asdict(RECIPE),
}


# ------------------------------------------------------------------------------ bookkeeping
def sampled_models(n: int) -> list[dict]:
    """n RegNetX models as a sweep's samples file holds them (the space's default complexity window)."""
    return list(ds.load_space("regnetx").sample(n, seed=0, progress=False))


def designspace_seconds(rows: list[dict]) -> tuple[float, int]:
    """Seconds to add every row to a fresh ResultsTable and close it, and how many times it wrote
    the parquet file (the first add compacts, so every time seen is a compaction's)."""
    with tempfile.TemporaryDirectory() as directory:
        table, compacted = ResultsTable(directory), set()
        start = time.perf_counter()
        for row in rows:
            table.add(row)
            compacted.add(table.compacted)
        table.close()
        seconds = time.perf_counter() - start
        return seconds, len(compacted | {table.compacted})


def rewrite(rows, path: Path) -> None:
    """The previous design's add: the whole table, sorted by index, rewritten atomically as parquet."""
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["index"]))
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def rewrite_seconds(rows: list[dict]) -> list[float]:
    """Seconds of each of the previous design's adds, one model after another."""
    seconds = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "results.parquet"
        for k in range(1, len(rows) + 1):
            start = time.perf_counter()
            rewrite(rows[:k], path)
            seconds.append(time.perf_counter() - start)
    return seconds


def rewrite_estimate(rows: list[dict]) -> tuple[float, float]:
    """(mean seconds per add over a sweep of len(rows) models, seconds of the last add) of the previous
    design, from the rewrite at ESTIMATE_SIZES table sizes (fastest of 3 each) and the trapezoid rule."""
    sizes = np.unique(np.linspace(1, len(rows), ESTIMATE_SIZES).round().astype(int))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "results.parquet"
        seconds = [best_time(lambda k=k: rewrite(rows[:k], path))[0] for k in sizes]
    return float(np.trapezoid(seconds, sizes) / (sizes[-1] - sizes[0])), seconds[-1]


def bookkeeping(sizes) -> list[Figure]:
    """Per model, the cost of recording every model of sweeps of `sizes` models, both designs."""
    rows = [result_row(model, RECORD, attempts=1) for model in sampled_models(max(sizes))]
    baseline_name = "whole-table atomic parquet rewrite per model (the previous design)"
    figures = []
    for n in sizes:
        ours, compactions = designspace_seconds(rows[:n])
        if n <= EXACT_UP_TO:
            adds = rewrite_seconds(rows[:n])
            baseline, last, how = float(np.mean(adds)), adds[-1], ""
        else:
            baseline, last = rewrite_estimate(rows[:n])
            how = f"; baseline estimated from rewrites at {ESTIMATE_SIZES} table sizes"
        figures.append(
            Figure(
                f"record a finished model in a sweep of {n:,} models (ResultsTable.add + close), per model",
                ours / n,
                baseline,
                baseline_name,
                f"{compactions} parquet writes ({COMPACT_EVERY:g} s apart at most); the previous design's add at model "
                f"{n:,}: {duration(last)}{how}",
            )
        )
    return figures


# ------------------------------------------------------------------------------ dispatch
def instant_trial(config, models, data, dataset, recipe, engine) -> None:
    """run_trial's stand-in: a finished record at once, so that a sweep measures only dispatch and
    bookkeeping."""
    from ray import tune

    tune.report({"record": json.dumps(RECORD)})


def nothing() -> None:
    """The baseline's Ray task."""


@contextmanager
def instant_trials(arrivals: list[float]):
    """run_sweep with trials that train nothing (it looks run_trial up when called), appending the
    perf_counter time of each record's arrival at the results table to `arrivals`. The workers
    unpickle this module's functions by value, since they cannot import it."""
    from ray import cloudpickle

    real_trial, real_add, module = designspace.sweep.run_trial, ResultsTable.add, sys.modules[__name__]

    def timed_add(table, row):
        arrivals.append(time.perf_counter())
        real_add(table, row)

    cloudpickle.register_pickle_by_value(module)
    designspace.sweep.run_trial, ResultsTable.add = instant_trial, timed_add
    try:
        yield
    finally:
        designspace.sweep.run_trial, ResultsTable.add = real_trial, real_add
        cloudpickle.unregister_pickle_by_value(module)


def ray_with_cpus(cpus: int):
    """A local Ray instance with `cpus` logical CPUs: another benchmark's instance is shut down first."""
    import ray

    if ray.is_initialized() and ray.cluster_resources().get("CPU") != cpus:
        ray.shutdown()
    return connect(None, num_cpus=cpus)


def sweep_phases(models: list[dict], slots: int) -> tuple[float, float, float]:
    """A run_sweep over `models` with instant trials, `slots` at a time, in a fresh directory: (seconds
    to the first record, seconds per record from the first to the last, seconds after the last)."""
    options = dataset_options(resolution=8)
    definition = definition_for(models, options, asdict(RECIPE), {"space": "regnetx"})
    arrivals = []
    with instant_trials(arrivals), tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        table = run_sweep(
            Path(directory) / "sweep", models, definition, cpus_per_trial=1, max_concurrent=slots, progress=False
        )
        end = time.perf_counter()
    if len(table.finished_ids()) != len(models):
        raise RuntimeError(f"the dispatch sweep recorded {len(table.finished_ids())} of {len(models)} models")
    return arrivals[0] - start, (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1), end - arrivals[-1]


def tasks_seconds(ray, n: int, slots: int) -> float:
    """Seconds to submit n trivial Ray tasks, at most `slots` running at once, and gather them (fastest of 3,
    after a first batch that starts the workers)."""
    task = ray.remote(num_cpus=max(SLOTS) / slots)(nothing)
    ray.get([task.remote() for _ in range(n)])
    return best_time(lambda: ray.get([task.remote() for _ in range(n)]))[0]


def dispatch(n: int) -> list[Figure]:
    """Per model, the time between records once a sweep of n models runs; its start (Tune set up,
    the trial actors started) and end (Tune's clean-up) in the note."""
    models = sampled_models(n)
    ray = ray_with_cpus(max(SLOTS))
    raw = {slots: tasks_seconds(ray, n, slots) / n for slots in SLOTS}  # before the sweeps' actors come and go
    sweep_phases(models[:4], slots=2)  # imports Tune, starts the first workers
    figures = []
    for slots in SLOTS:
        start, per_model, end = sweep_phases(models, slots)
        whole = start + per_model * (n - 1) + end
        figures.append(
            Figure(
                f"dispatch and record an instant trial, {slots} at a time (run_sweep, Ray Tune), per model",
                per_model,
                raw[slots],
                f"{n} trivial Ray tasks, {slots} at a time",
                f"{1 / per_model:,.1f} models/s between the first and last record ({per_model / raw[slots]:,.0f}x a Ray "
                f"task); whole sweep of {n}: {whole:.1f} s ({start:.1f} s to the first record, {end:.1f} s after the "
                "last)",
            )
        )
    ray.shutdown()  # its 64 logical CPUs are not this machine's: later benchmarks start their own
    return figures


def figures(quick=False):
    sizes, n = ((100, 1000), 96) if quick else ((100, 1000, 10000), 256)
    return bookkeeping(sizes) + dispatch(n)


if __name__ == "__main__":
    run_alone(figures)
