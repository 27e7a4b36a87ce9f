"""Ray's cost per trial: the same tiny training jobs one after another in this process, then as a
sweep on a local Ray instance one trial at a time (the difference per trial is Ray's overhead) and
as many at a time as there are CPUs (1 thread each).

    python benchmarks/bench_sweep.py [--quick]
"""

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from common import Figure, best_time, run_alone, torch_threads_kept

import designspace as ds
from designspace.cpus import available_cpus
from designspace.data import load_dataset
from designspace.ray_connection import connect
from designspace.sweep import definition_for, run_sweep
from designspace.train import Engine, Recipe, train


def dataset_options(resolution):
    """A synthetic dataset as a sweep records it."""
    return {
        "name": "synthetic",
        "data_dir": None,
        "resolution": resolution,
        "train_subset": None,
        "test_subset": None,
        "seed": 0,
    }


def sweep_seconds(models, dataset, recipe, **options) -> float:
    """Wall seconds of a sweep of `models` on the local Ray instance, into a fresh directory."""
    definition = definition_for(models, dataset, asdict(recipe), {"space": "benchmark"})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(Path(tmp) / "sweep", models, definition, progress=False, **options)
        return time.perf_counter() - start


def start_ray() -> float:
    """Seconds to start the local Ray instance the sweeps here share (once per process)."""
    return best_time(lambda: connect(None, num_cpus=available_cpus()), repeat=1)[0]


def figures(quick=False):
    n, cpus = (4 if quick else 16), available_cpus()
    options = dataset_options(resolution=8)
    data = load_dataset("synthetic", resolution=8)
    space = ds.load_space("nds_resnet").with_context(
        resolution=8, in_channels=data.in_channels, num_classes=data.num_classes
    )
    models = list(space.sample(n, seed=0, flops=(1e6, 3e6)))
    recipe = Recipe(epochs=2)
    jobs = [ds.ModelSpec.from_dict(m["spec"]) for m in models]
    with torch_threads_kept():
        in_process, _ = best_time(
            lambda: [train(s, data, recipe, Engine(device="cpu", threads=1), progress=False) for s in jobs], repeat=1
        )
    startup = start_ray()
    one = sweep_seconds(models, options, recipe, cpus_per_trial=1, max_concurrent=1)
    parallel = sweep_seconds(models, options, recipe, cpus_per_trial=1)
    what = f"{n} tiny models (nds_resnet 1-3 MF at 8 px, 2 epochs of 512 images)"
    baseline = "the same jobs in one process, one after another"
    return [
        Figure(
            f"Ray sweep of {what}, 1 at a time",
            one,
            in_process,
            baseline,
            f"overhead {(one - in_process) / n:+.2f} s per trial; Ray start {startup:.1f} s, once per sweep",
        ),
        Figure(
            f"Ray sweep of the same, {cpus} at a time, 1 thread each",
            parallel,
            in_process,
            baseline,
            f"{one / parallel:.2f}x one at a time",
        ),
    ]


if __name__ == "__main__":
    run_alone(figures)
