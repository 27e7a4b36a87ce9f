"""Analysis: the EDF, the NDS normalization weights, a 2,500-resample bootstrap and the random-search
curve, each against the plain way in this process (sorting Python lists; np.histogram + np.digitize
per call as the NDS notebooks do; pycls's bootstrap, one np.random.choice per resample in a Python
loop, and the same drawn all at once with numpy; NDS's random-search simulation); and the whole
report of a generated sweep, in this process and as the `designspace report` command.

    python benchmarks/bench_analysis.py [--quick]
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import Figure, best_time, run_alone
from test_analysis_load import write_sweep

from designspace.analysis import best_of_resamples, complexity_weights, edf, random_search, report
from designspace.analysis.load import load_all

RESAMPLES = 2500
BINS, LO, HI = 40, 20e6, 60e6


def plain_edf(errors):
    ordered = sorted(errors.tolist())
    return ordered, [(i + 1) / len(ordered) for i in range(len(ordered))]


def histogram_weights(c, k, lo, hi):
    """The notebooks' compute_norm_ws after their lo < c < hi filter."""
    inside = (c > lo) & (c < hi)
    hist, edges = np.histogram(c[inside], bins=k, range=(lo, hi))
    weights = np.zeros(len(c))
    weights[inside] = 1.0 / hist[np.digitize(c[inside], edges) - 1] / k
    return weights


def loop_bootstrap(errors, fraction=0.25, resamples=RESAMPLES, seed=0):
    """pycls's get_filters: one resample at a time."""
    rng = np.random.default_rng(seed)
    m = max(1, int(len(errors) * fraction))
    picks = []
    for _ in range(resamples):
        sample = rng.choice(len(errors), m)
        picks.append(sample[np.argmin(errors[sample])])
    return np.array(picks)


def drawn_bootstrap(errors, fraction=0.25, resamples=RESAMPLES, seed=0, chunk=100):
    """Every index drawn with numpy, a chunk of resamples at a time."""
    rng = np.random.default_rng(seed)
    m = max(1, int(len(errors) * fraction))
    picks = []
    for start in range(0, resamples, chunk):
        samples = rng.integers(0, len(errors), size=(min(chunk, resamples - start), m))
        picks.append(samples[np.arange(len(samples)), np.argmin(errors[samples], axis=1)])
    return np.concatenate(picks)


def simulated_search(errors, weights, seed=0):
    """NDS's random-search curve: floor(n / m) experiments of m models per size, drawn by weight."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(weights) / weights.sum()
    means = []
    for p in range(int(np.log2(len(errors))) + 1):
        m = 2**p
        draws = np.minimum(np.searchsorted(cum, rng.random((len(errors) // m, m))), len(errors) - 1)
        means.append(errors[draws].min(axis=1).mean())
    return means


def population(n):
    rng = np.random.default_rng(0)
    errors = np.round(8 + rng.gamma(2.0, 1.5, n), 2)  # two decimals, so there are many ties, as in real sweeps
    flops = rng.uniform(15e6, 65e6, n)
    return errors, flops


def primitives(n):
    errors, flops = population(n)
    ours_w, weights = best_time(lambda: complexity_weights(flops, BINS, LO, HI))
    base_w, reference = best_time(lambda: histogram_weights(flops, BINS, LO, HI))
    assert np.allclose(weights, reference, rtol=1e-12, atol=0)
    ours_b, _ = best_time(lambda: best_of_resamples(errors, seed=0))
    of = f"{n:,} models"
    together, _ = best_time(lambda: (edf(errors, complexity_weights(flops, BINS, LO, HI)), best_of_resamples(errors)))
    return [
        Figure(
            f"EDF of {of}",
            best_time(lambda: edf(errors))[0],
            best_time(lambda: plain_edf(errors))[0],
            "sorted() on a Python list",
        ),
        Figure(f"normalization weights ({BINS} bins), {of}", ours_w, base_w, "np.histogram + np.digitize"),
        Figure(
            f"bootstrap, {RESAMPLES:,} resamples of 25% of {of}",
            ours_b,
            best_time(lambda: loop_bootstrap(errors), repeat=1)[0],
            "pycls loop, one choice per resample",
        ),
        Figure(
            "the same bootstrap",
            ours_b,
            best_time(lambda: drawn_bootstrap(errors), repeat=1)[0],
            "all indices drawn with numpy (chunked)",
        ),
        Figure(
            f"random-search curve of {of}",
            best_time(lambda: random_search(errors, weights))[0],
            best_time(lambda: simulated_search(errors, weights), repeat=1)[0],
            "NDS simulation (n draws per size)",
        ),
        Figure(f"EDF + normalization + bootstrap together, {of}", together),
    ]


def full_report(n):
    with tempfile.TemporaryDirectory() as tmp:
        directory = write_sweep(Path(tmp) / "regnetx", n=n, diverged=5, failed=2, flops=(20e6, 60e6), epochs=10)
        import matplotlib.figure  # noqa: F401  (the command below pays for its imports; this process already has them)
        import scipy.stats  # noqa: F401

        start = time.perf_counter()
        report.save(report.build(load_all([directory]), normalize="flops"), Path(tmp) / "report.html")
        in_process = time.perf_counter() - start
        size = (Path(tmp) / "report.html").stat().st_size
        command = [
            sys.executable,
            "-m",
            "designspace",
            "report",
            str(directory),
            "-o",
            f"{tmp}/cli.html",
            "--normalize",
            "flops",
        ]
        process, _ = best_time(lambda: subprocess.run(command, check=True, capture_output=True), repeat=1)
    return [
        Figure(
            f"full report of a {n:,}-model sweep (--normalize flops), in process",
            in_process,
            note=f"load, build and write {size / 1e6:.1f} MB of HTML",
        ),
        Figure("`designspace report` of the same, whole process", process, note="imports included"),
    ]


def figures(quick=False):
    return primitives(20_000 if quick else 100_000) + full_report(200 if quick else 1000)


if __name__ == "__main__":
    run_alone(figures)
