"""Ray's cost per trial: the same tiny training jobs run one after another in this process, then
as a sweep on a local Ray instance with one trial at a time (the difference per trial is Ray's
overhead) and with two at a time (2 CPUs: ideally twice as fast).

    python benchmarks/bench_sweep.py [--n 16]
"""

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import designspace as ds
from designspace.data import synthetic
from designspace.sweep import connect, definition_for, run_sweep
from designspace.train import Engine, Recipe, train

DATASET = {"name": "synthetic", "data_dir": None, "resolution": 8, "train_subset": None, "test_subset": None, "seed": 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    args = parser.parse_args()
    space = ds.load_space("nds_resnet").with_context(resolution=8, in_channels=3, num_classes=4)
    models = list(space.sample(args.n, seed=0, flops=(1e6, 3e6)))
    recipe = Recipe(epochs=2)
    data = synthetic(seed=0, resolution=8)

    start = time.perf_counter()
    for m in models:
        train(ds.ModelSpec.from_dict(m["spec"]), data, recipe, Engine(device="cpu", threads=1), progress=False)
    in_process = time.perf_counter() - start

    start = time.perf_counter()
    connect(None, num_cpus=os.cpu_count())
    startup = time.perf_counter() - start
    work = Path(tempfile.mkdtemp())
    timings = {}
    for concurrent in (1, 2):
        definition = definition_for(models, DATASET, asdict(recipe), {"space": "nds_resnet"})
        start = time.perf_counter()
        run_sweep(work / f"c{concurrent}", models, definition, max_concurrent=concurrent, progress=False)
        timings[concurrent] = time.perf_counter() - start
    shutil.rmtree(work)

    n = len(models)
    print(f"{n} tiny models (nds_resnet, 1-3 MF at 8 px, 2 epochs of 512 images), 1 thread each")
    print(f"  in one process, one after another   {in_process:6.1f} s  ({in_process / n:.2f} s per model)")
    print(f"  local Ray start (once per sweep)     {startup:6.1f} s")
    print(f"  sweep, 1 trial at a time            {timings[1]:6.1f} s  -> Ray overhead "
          f"{(timings[1] - in_process) / n:+.2f} s per trial")
    print(f"  sweep, 2 trials at a time           {timings[2]:6.1f} s  -> {in_process / timings[2]:.2f}x the "
          f"in-process speed ({timings[1] / timings[2]:.2f}x one at a time)")


if __name__ == "__main__":
    main()
