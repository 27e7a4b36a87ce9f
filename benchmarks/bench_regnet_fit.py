"""RegNet fit: designspace.regnet.fit against the published grid search (w0 in 8..256 step 8, 240
log-spaced wa in [1, 256], wm in [1.5, 3] step 0.01), on the same lists in this process: widths of
sampled RegNets (where an exact fit exists) and the built widths of the pycls zoo.

    python benchmarks/bench_regnet_fit.py [--quick]
"""

import numpy as np
from common import Figure, best_time, run_alone
from grid_fit import grid_e_fit
from pycls_zoo import REGNETS

from designspace.regnet import fit, generate


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


def per_list(method, lists):
    """(seconds per list, e_fit of each list)."""
    seconds, e_fits = best_time(lambda: [method(widths) for widths in lists], repeat=1)
    return seconds / len(lists), np.array(e_fits)


def figures(quick=False):
    generated = sampled_regnets(6 if quick else 24)
    zoo = [[w for w, n in zip(row[8], row[7]) for _ in range(n)] for row in REGNETS][: 8 if quick else None]
    fit(zoo[0])  # warm up
    rows = []
    for name, lists in ((f"{len(generated)} sampled RegNets", generated), (f"{len(zoo)} pycls zoo RegNets", zoo)):
        ours, e_fit = per_list(lambda w: fit(w)["e_fit"], lists)
        grid, e_grid = per_list(grid_e_fit, lists)
        better, worse = np.sum(e_fit < e_grid - 1e-12), np.sum(e_grid < e_fit - 1e-12)
        rows.append(
            Figure(
                f"RegNet fit (e_fit), {name}, per list",
                ours,
                grid,
                "grid search over w0, wa, wm",
                f"mean e_fit {e_fit.mean():.4f} vs {e_grid.mean():.4f}, exact {np.mean(e_fit == 0):.0%} "
                f"vs {np.mean(e_grid == 0):.0%}; fit better on {better}, grid on {worse}",
            )
        )
    return rows


if __name__ == "__main__":
    run_alone(figures)
