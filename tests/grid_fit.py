"""The plain grid-search fit of e_fit (the published way): the baseline that designspace's fit
is tested and benchmarked against."""

import numpy as np


def grid_e_fit(widths) -> float:
    """Least e_fit over w0 in 8..256 (step 8), 240 log-spaced wa in [1, 256], wm in [1.5, 3] step 0.01."""
    widths = np.asarray(widths)
    wa = np.geomspace(1, 256, 240)[:, None, None]
    wm = np.round(np.arange(150, 301) / 100, 2)[None, :, None]
    blocks = np.arange(len(widths))
    best = np.inf
    for w0 in range(8, 257, 8):
        levels = np.round(np.log((blocks * wa + w0) / w0) / np.log(wm))
        pred = np.round(w0 * wm**levels / 8) * 8
        best = min(best, np.abs(np.log(pred / widths)).mean(axis=-1).min())
    return float(best)
