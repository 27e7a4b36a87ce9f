"""Sampling speed: designspace's vectorized sampler against a plain one-draw-at-a-time rejection
sampler (pycls's sweep_setup algorithm, using designspace's own fast scalar complexity, so the
baseline is, if anything, faster than pycls), both in this process, plus the whole CLI process.

    python benchmarks/bench_sampling.py [--n 500]
"""

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

import designspace as ds
from designspace import regnet
from designspace.complexity import complexity

NAMES = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")


def rejection_sample(space, n, window, seed=0):
    """pycls-style: draw one config, check the stage count, build it, check flops, de-duplicate."""
    rng = np.random.default_rng(seed)
    lo, hi = window
    kept, draws = {}, 0
    while len(kept) < n:
        draws += 1
        s = {k: space.parameters[k].sample(rng, 1)[0].item() for k in NAMES}
        g = regnet.generate(s["w0"], s["wa"], s["wm"], s["depth"])
        if g["num_stages"] != g["total_stages"] or g["num_stages"] != 4:
            continue
        spec = regnet.make_spec(s["depth"], s["w0"], s["wa"], s["wm"], s["group_width"], s["bottleneck_ratio"])
        if lo <= complexity(spec)["flops"] <= hi:
            kept.setdefault(spec, s)
    return draws


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    space, window = ds.load_space("regnetx"), (360e6, 400e6)

    start = time.perf_counter()
    baseline_draws = rejection_sample(space, args.n, window)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    records = space.sample(args.n, seed=0, flops=window)
    ours = time.perf_counter() - start

    command = [sys.executable, "-m", "designspace", "sample", "--space", "regnetx", "--n", str(args.n),
               "--flops", "360e6:400e6", "-o", "/tmp/designspace_bench_regnetx.jsonl"]
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)

    print(f"RegNetX, {args.n} models, flops 360M-400M at 224 px")
    print(f"  plain rejection sampler   {baseline:7.2f} s   {baseline_draws:>9,} draws")
    print(f"  designspace Space.sample  {ours:7.2f} s   {records.draws:>9,} draws   "
          f"speed-up {baseline / ours:5.1f}x")
    print(f"  `designspace sample` whole process, median of 3: {statistics.median(walls):.2f} s")


if __name__ == "__main__":
    main()
