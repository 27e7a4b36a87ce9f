"""Time the analysis layer against plain baselines run in this process, and the full report.

Run: python benchmarks/bench_analysis.py
1. On 100,000 models: the EDF, the NDS normalization weights and a 2,500-resample bootstrap,
   each against the plain way (sorting Python lists; np.histogram + np.digitize per call as the
   NDS notebooks do; pycls's bootstrap, one np.random.choice per resample in a Python loop, and
   the same drawn all at once with numpy), and the exact random-search curve against NDS's
   simulation.
2. The whole report of a generated 1,000-model RegNetX sweep, in this process and as the
   `designspace report` command (imports included).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from designspace.analysis import best_of_resamples, complexity_weights, edf, random_search, report
from designspace.analysis.load import load_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_analysis_load import write_sweep  # noqa: E402

N = 100_000
RESAMPLES = 2500
BINS, LO, HI = 40, 20e6, 60e6


def timed(function, repeat=3):
    """(best seconds of `repeat` runs, result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


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


def population():
    rng = np.random.default_rng(0)
    errors = np.round(8 + rng.gamma(2.0, 1.5, N), 2)  # two decimals, so there are many ties, as in real sweeps
    flops = rng.uniform(15e6, 65e6, N)
    return errors, flops


def bench_primitives():
    errors, flops = population()
    rows = []
    ours, _ = timed(lambda: edf(errors))
    base, _ = timed(lambda: plain_edf(errors))
    rows.append(("EDF (sort, cumulative fraction)", ours, "sorted() on a list", base))
    ours_w, weights = timed(lambda: complexity_weights(flops, BINS, LO, HI))
    base, reference = timed(lambda: histogram_weights(flops, BINS, LO, HI))
    assert np.allclose(weights, reference, rtol=1e-12, atol=0)
    rows.append((f"normalization weights ({BINS} bins)", ours_w, "np.histogram + np.digitize", base))
    ours_b, picks = timed(lambda: best_of_resamples(errors, seed=0))
    loop, _ = timed(lambda: loop_bootstrap(errors), repeat=1)
    drawn, _ = timed(lambda: drawn_bootstrap(errors), repeat=1)
    rows.append((f"bootstrap, {RESAMPLES} resamples of 25%", ours_b, "pycls loop, one choice per resample", loop))
    rows.append(("", ours_b, "all indices drawn with numpy (chunked)", drawn))
    ours_s, _ = timed(lambda: random_search(errors, weights))
    base, _ = timed(lambda: simulated_search(errors, weights), repeat=1)
    rows.append(("random-search curve, m = 1 .. 65536", ours_s, "NDS simulation (n draws per size)", base))

    print(f"{N:,} models")
    print(f"{'':42s}{'ours':>10s}   {'baseline':40s}{'time':>10s}{'ratio':>9s}")
    for name, mine, base_name, base_time in rows:
        ratio = base_time / mine
        print(f"{name:42s}{mine * 1e3:>8.2f}ms   {base_name:40s}{base_time * 1e3:>8.1f}ms"
              f"{ratio:>8.{1 if ratio < 10 else 0}f}x")
    total, _ = timed(lambda: (edf(errors, complexity_weights(flops, BINS, LO, HI)), best_of_resamples(errors)))
    print(f"EDF + normalization + bootstrap together: {total * 1e3:.1f} ms")


def bench_report():
    with tempfile.TemporaryDirectory() as tmp:
        directory = write_sweep(Path(tmp) / "regnetx", n=1000, diverged=5, failed=2, flops=(20e6, 60e6), epochs=10)
        import matplotlib.figure  # noqa: F401  (imports are timed separately below)
        import scipy.stats  # noqa: F401

        start = time.perf_counter()
        sweeps = load_all([directory])
        loaded = time.perf_counter()
        report.save(report.build(sweeps, normalize="flops"), Path(tmp) / "report.html")
        done = time.perf_counter()
        size = (Path(tmp) / "report.html").stat().st_size
        command = [sys.executable, "-m", "designspace", "report", str(directory), "-o", f"{tmp}/cli.html",
                   "--normalize", "flops"]
        process_start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        process = time.perf_counter() - process_start
    print(f"full report of a 1,000-model RegNetX sweep (with --normalize flops): {done - start:.2f} s in process "
          f"(load {loaded - start:.2f} s, build and write {done - loaded:.2f} s; {size / 1e6:.1f} MB of HTML); "
          f"`designspace report` as a whole process: {process:.2f} s")


def bench_imports():
    start = time.perf_counter()
    import scipy.stats  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import pandas  # noqa: F401

    print(f"first imports of pandas, scipy.stats and matplotlib: {time.perf_counter() - start:.2f} s "
          "(paid once per process)")


def main():
    bench_imports()
    bench_primitives()
    bench_report()


if __name__ == "__main__":
    main()
