"""Time designspace.regnet.fit against the plain grid search, on generated and on zoo widths.

Run: python benchmarks/bench_regnet_fit.py
The grid baseline (w0 in 8..256 step 8, 240 log-spaced wa in [1, 256], wm in [1.5, 3] step 0.01)
is the published way to fit e_fit; both run in this process on the same lists.
"""

import sys
import time
from pathlib import Path

import numpy as np

from designspace.regnet import fit, generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from grid_fit import grid_e_fit  # noqa: E402
from pycls_zoo import REGNETS  # noqa: E402

N_GENERATED = 200  # fit() on this many sampled RegNets
N_GENERATED_GRID = 24  # the grid on this many of them (it is slow)


def sampled_regnets(n, seed=0):
    """Block widths of RegNets drawn like pycls's sampler (log-uniform, rounded up to the step)."""
    rng = np.random.default_rng(seed)

    def log_uniform(low, high, step):
        return step * np.ceil(np.exp(rng.uniform(np.log(low), np.log(high))) / step)

    lists = []
    for _ in range(n):
        w0, wa, wm = int(log_uniform(8, 256, 8)), log_uniform(8, 256, 0.1), log_uniform(2, 3, 0.001)
        lists.append(generate(w0, wa, wm, int(rng.integers(12, 29)))["block_widths"])
    return lists


def timed(method, lists):
    """(mean ms per list, e_fits)."""
    start = time.perf_counter()
    e_fits = [method(widths) for widths in lists]
    return 1000 * (time.perf_counter() - start) / len(lists), np.array(e_fits)


def main():
    generated = sampled_regnets(N_GENERATED)
    zoo = [[w for w, n in zip(row[8], row[7]) for _ in range(n)] for row in REGNETS]
    fit(zoo[0])  # warm up

    ms_gen, e_gen = timed(lambda w: fit(w)["e_fit"], generated)
    ms_zoo, e_zoo = timed(lambda w: fit(w)["e_fit"], zoo)
    ms_grid_gen, e_grid_gen = timed(grid_e_fit, generated[:N_GENERATED_GRID])
    ms_grid_zoo, e_grid_zoo = timed(grid_e_fit, zoo)

    table = [
        ("", "fit", "grid", "grid/fit"),
        ("ms per list, generated RegNets", f"{ms_gen:.2f}", f"{ms_grid_gen:.1f}",
         f"{ms_grid_gen / ms_gen:.0f}"),
        ("ms per list, zoo built widths", f"{ms_zoo:.2f}", f"{ms_grid_zoo:.1f}",
         f"{ms_grid_zoo / ms_zoo:.0f}"),
        ("exact share, generated RegNets", f"{np.mean(e_gen == 0):.3f}",
         f"{np.mean(e_grid_gen == 0):.3f}", ""),
    ]
    for name, stat in (("mean", np.mean), ("min", np.min), ("max", np.max)):
        table.append((f"e_fit {name}, zoo built widths", f"{stat(e_zoo):.4f}",
                      f"{stat(e_grid_zoo):.4f}", ""))
    for name, *cells in table:
        print(f"{name:32s}" + "".join(f"{cell:>10s}" for cell in cells))
    better, worse = np.sum(e_zoo < e_grid_zoo - 1e-12), np.sum(e_grid_zoo < e_zoo - 1e-12)
    print(f"zoo lists: fit better on {better} of {len(zoo)}, the grid better on {worse}")
    print(f"({N_GENERATED} generated lists for fit, the first {N_GENERATED_GRID} for the grid)")


if __name__ == "__main__":
    main()
