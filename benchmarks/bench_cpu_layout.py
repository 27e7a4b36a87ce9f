"""CPU layout: the throughput of the layout a sweep chooses on this machine (jobs x threads, from
cpu_layout's cached probe, probing first if there is none) against every other layout, measured
again here: the probe's training steps, longer than the probe runs them, alone and beside one busy
process (as a sweep has Ray, the driver and whatever else the machine runs beside it), and a real
sweep on a local Ray instance of models of the probe's size, once per layout.

    python benchmarks/bench_cpu_layout.py [--quick]
"""

import subprocess
import sys
from contextlib import contextmanager

from bench_sweep import dataset_options, sweep_seconds
from common import Figure, run_alone

from designspace.cpu_layout import PROBE_FLOPS, PROBE_RESOLUTION, fastest_layout, layouts, measure, probe_space
from designspace.cpus import available_cpus
from designspace.data import load_dataset
from designspace.train import Recipe


@contextmanager
def busy_process():
    """One CPU-bound process running beside the block."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        busy.kill()
        busy.wait()


def versus(name, speeds, ours, other) -> Figure:
    """Seconds per 1,000 images of layout `ours` against `other`, from images/s by layout."""
    return Figure(
        name,
        1000 / speeds[ours],
        1000 / speeds[other],
        other.describe(),
        f"{speeds[ours]:,.0f} vs {speeds[other]:,.0f} img/s",
    )


def figures(quick=False):
    chosen = fastest_layout()
    steps, n, epochs = (6, 4, 2) if quick else (24, 8, 6)
    candidates = layouts(available_cpus())
    speeds = {layout: measure(layout, steps) for layout in candidates}
    with busy_process():
        contended = {layout: measure(layout, steps) for layout in candidates}
    options = dataset_options(PROBE_RESOLUTION)
    data = load_dataset(options["name"], resolution=PROBE_RESOLUTION)
    models = list(probe_space(data).sample(n, seed=0, flops=PROBE_FLOPS))
    recipe = Recipe(epochs=epochs)
    sweeps = {layout: sweep_seconds(models, options, recipe, cpus_per_trial=layout.threads) for layout in candidates}
    ours = chosen.layout
    how = "cached" if chosen.cached else "probed now"
    lo, hi = PROBE_FLOPS
    rows = []
    for other in candidates:
        if other == ours:
            continue
        rows.append(
            versus(
                f"CPU layout {ours} (chosen, {how}) vs {other}: probe training, {steps} steps per job, "
                "per 1,000 images",
                speeds,
                ours,
                other,
            )
        )
        rows.append(
            versus(f"CPU layout {ours} (chosen) vs {other}: the same beside one busy process", contended, ours, other)
        )
        rows.append(
            Figure(
                f"CPU layout {ours} (chosen) vs {other}: Ray sweep of {n} RegNetX {lo / 1e6:g}-{hi / 1e6:g} "
                f"MF, {recipe.epochs} epochs of {len(data.train_labels)} images",
                sweeps[ours],
                sweeps[other],
                other.describe(),
                f"{n / sweeps[ours] * 3600:,.0f} vs {n / sweeps[other] * 3600:,.0f} models/hour",
            )
        )
    return rows


if __name__ == "__main__":
    run_alone(figures)
