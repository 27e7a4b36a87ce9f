"""Sampling: designspace's vectorized sampler against a plain one-draw-at-a-time rejection sampler
(pycls's sweep_setup algorithm, using designspace's own fast scalar complexity, so the baseline is,
if anything, faster than pycls), both in this process; and `designspace sample` as a whole process.

    python benchmarks/bench_sampling.py [--quick]
"""

import subprocess
import sys
import tempfile

import numpy as np
from common import Figure, best_time, run_alone

import designspace as ds
from designspace import regnet
from designspace.complexity import complexity

NAMES = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio")
WINDOW = (360e6, 400e6)


def rejection_sample(space, n, window, seed=0):
    """pycls-style: draw one config, check the stage count, build it, check flops, de-duplicate.
    Returns the number of draws."""
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


def figures(quick=False):
    n, repeat = (50, 1) if quick else (500, 3)
    space = ds.load_space("regnetx")
    baseline, baseline_draws = best_time(lambda: rejection_sample(space, n, WINDOW), repeat=1)
    ours, records = best_time(lambda: space.sample(n, seed=0, flops=WINDOW), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "designspace",
            "sample",
            "--space",
            "regnetx",
            "--n",
            str(n),
            "--flops",
            "360e6:400e6",
            "-o",
            f"{tmp}/regnetx.jsonl",
        ]
        process, _ = best_time(lambda: subprocess.run(command, check=True, capture_output=True), repeat)
    return [
        Figure(
            f"sample {n} RegNetX, 360-400 MF at 224 px",
            ours,
            baseline,
            "one-draw-at-a-time rejection (pycls)",
            f"{records.draws:,} vs {baseline_draws:,} draws",
        ),
        Figure("`designspace sample` of the same, whole process", process, note="imports and file included"),
    ]


if __name__ == "__main__":
    run_alone(figures)
