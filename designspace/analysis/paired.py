"""Paired comparisons: the same architectures trained in two sweeps that differ in one factor.

Two populations drawn with the same space and seed hold the same networks (an activation or a
drop-path rate does not change what is drawn), so each model can be compared with its own twin.
The paired differences remove the spread between architectures that an EDF comparison has to
average over, which makes a small effect visible at a population size where KS cannot see it.
Twins are matched by their spec with the factor's own keys left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .edf import MIN_TEST_MODELS
from .spec_columns import spec_dict


@dataclass(frozen=True)
class Paired:
    """Errors of the twins (a, b) and the signed-rank test of b - a."""

    errors_a: np.ndarray
    errors_b: np.ndarray
    p: float  # two-sided Wilcoxon signed-rank p-value; NaN below MIN_TEST_MODELS pairs

    @property
    def n(self) -> int:
        return len(self.errors_a)

    @property
    def median_difference(self) -> float:
        """Median of b - a in error points (negative: b is better)."""
        return float(np.median(self.errors_b - self.errors_a))

    @property
    def b_better(self) -> int:
        return int((self.errors_b < self.errors_a).sum())

    @property
    def a_better(self) -> int:
        return int((self.errors_a < self.errors_b).sum())

    def describe(self, name_a: str, name_b: str) -> str:
        """'48 twins: Swish better in 30, ReLU in 17, median -0.45 points (Wilcoxon p = 0.012)'."""
        test = "too few for a test" if np.isnan(self.p) else f"Wilcoxon signed-rank p = {self.p:.3g}"
        return (f"{self.n} twin models: {name_b} better in {self.b_better}, {name_a} in {self.a_better}, median "
                f"change {self.median_difference:+.2f} points ({test})")


def twins(frame_a, frame_b, metric: str, factor_keys=()) -> Paired | None:
    """The models of frame_b whose spec, without factor_keys, equals one of frame_a's; None when
    the sweeps share no architecture. Frames are usable models (finite metric), with a spec column."""
    if "spec" not in frame_a.columns or "spec" not in frame_b.columns:
        return None
    errors_a = dict(zip(_keys(frame_a["spec"], factor_keys), frame_a[metric].to_numpy(float)))
    matched = [(errors_a[key], error) for key, error in zip(_keys(frame_b["spec"], factor_keys),
                                                              frame_b[metric].to_numpy(float))
               if key is not None and key in errors_a]
    if not matched:
        return None
    a, b = (np.array(side, dtype=float) for side in zip(*matched))
    return Paired(a, b, _signed_rank_p(b - a))


def _keys(specs, factor_keys) -> list[str | None]:
    """A canonical text of each spec without the factor's keys (None for a model with no spec)."""
    keys = []
    for value in specs:
        spec = spec_dict(value)
        keys.append(None if spec is None else
                    json.dumps({k: v for k, v in spec.items() if k not in factor_keys}, sort_keys=True))
    return keys


def _signed_rank_p(differences: np.ndarray) -> float:
    from scipy import stats

    if len(differences) < MIN_TEST_MODELS or not np.any(differences):
        return float("nan") if len(differences) < MIN_TEST_MODELS else 1.0
    return float(stats.wilcoxon(differences, zero_method="zsplit").pvalue)
