"""torch.compile against eager on the CPU: designspace.train with Engine(compile=True) and without, on
the same spec, data and recipe. Compilation costs a fixed time once per model, so each mode runs
1 and 3 epochs, each in a fresh process with an empty inductor cache (a warm cache would hide the
cost): the difference gives the time per epoch, the rest is the fixed cost, and together they
give the epochs after which compiling pays.

    python benchmarks/bench_compile.py [--quick]
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_training import sampled_spec, training_data
from common import Figure, run_alone

MODELS = [("mobilenet", (20e6, 60e6)), ("regnetx", (20e6, 40e6))]
THREADS = 2


def timed_job(name, lo, hi, images, epochs, compiled) -> float:
    """In a fresh process: train() wall seconds of `epochs` epochs."""
    from designspace.train import Engine, Recipe, train

    dataset = training_data(images, 1000)
    spec, _ = sampled_spec(name, (lo, hi), dataset)
    record = train(
        spec, dataset, Recipe(epochs=epochs), Engine(device="cpu", threads=THREADS, compile=compiled), progress=False
    )
    assert record["status"] == "ok", record["reason"]
    return record["wall_time"]


def run_job(name, flops, images, epochs, compiled) -> float:
    with tempfile.TemporaryDirectory() as cache:
        code = (
            f"import sys, json; sys.path[:0] = {[str(Path(__file__).parent)]!r}; import bench_compile; "
            f"print(json.dumps(bench_compile.timed_job({name!r}, {flops[0]}, {flops[1]}, {images}, {epochs}, "
            f"{compiled})))"
        )
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TORCHINDUCTOR_FX_GRAPH_CACHE": "0"}
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])


def figures(quick=False):
    images = 1024 if quick else 4096
    rows = []
    for name, flops in MODELS[:1] if quick else MODELS:
        walls = {
            (mode, epochs): run_job(name, flops, images, epochs, mode) for mode in (False, True) for epochs in (1, 3)
        }
        per_epoch = {mode: (walls[mode, 3] - walls[mode, 1]) / 2 for mode in (False, True)}
        fixed = {mode: walls[mode, 1] - per_epoch[mode] for mode in (False, True)}
        extra, saved = fixed[True] - fixed[False], per_epoch[False] - per_epoch[True]
        pays = (
            f"pays after {extra / saved * images:,.0f} training images ({extra / saved * images / 60_000:.1f} "
            "Fashion-MNIST epochs)"
            if saved > 0
            else "never pays: no faster per epoch"
        )
        _, mflops = sampled_spec(name, flops, training_data(images, 1000))
        what = f"{name} {mflops:.0f} MF on cpu ({THREADS} threads), {images:,} images"
        rows.append(
            Figure(
                f"compiled vs eager: one epoch of {what}",
                per_epoch[True],
                per_epoch[False],
                "eager",
                f"{images / per_epoch[True]:,.0f} vs {images / per_epoch[False]:,.0f} img/s",
            )
        )
        rows.append(
            Figure(
                "compiled vs eager: fixed cost per model (compiling, first steps)",
                fixed[True],
                fixed[False],
                "eager",
                pays,
            )
        )
    return rows


if __name__ == "__main__":
    run_alone(figures)
