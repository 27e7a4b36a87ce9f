"""Analysis of trained populations: EDFs, normalized EDFs, KS tests, bootstrap good ranges,
random-search efficiency, quantized-linear fits, ablations, proxy fidelity and the HTML report.

Importing it is cheap (numpy only); pandas, scipy and matplotlib load inside the functions that
use them.
"""

from __future__ import annotations

from .ablation import FACTORS, ablate, verdicts
from .bootstrap import best_of_resamples, good_range, good_ranges
from .compare import check_comparable, curves, ks_table, normalized_curves
from .edf import complexity_weights, edf, edf_band, effective_size, ks, ks_detectable, ks_interval, random_search
from .fidelity import proxy_fidelity
from .fits import fit_models, fit_population, fit_report
from .load import Sweep, load, load_all
from .report import build as build_report
from .report import write as write_report
from .spec_columns import block_widths
from .study import load_study, run_study

__all__ = [
    "edf", "edf_band", "complexity_weights", "ks", "ks_interval", "ks_detectable", "effective_size", "random_search",
    "best_of_resamples", "good_range", "good_ranges",
    "Sweep", "load", "load_all", "block_widths",
    "check_comparable", "curves", "normalized_curves", "ks_table",
    "fit_models", "fit_population", "fit_report",
    "FACTORS", "ablate", "verdicts",
    "proxy_fidelity",
    "build_report", "write_report", "load_study", "run_study",
]
