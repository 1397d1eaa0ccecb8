"""Statistics of the report: means with 95 % confidence intervals over seeds, paired relative
differences, convergence ("settling") points, and CDF bands.

Confidence intervals are Student-t intervals of the mean over independent seeds,
mean ± t_{0.975, n−1} · s / √n (s the sample standard deviation), computed by
`experiments.stats.mean_ci95` (shared with `metahrl eval`). With one seed the interval is
undefined (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from experiments.stats import mean_ci95

__all__ = [
    "MeanCI",
    "mean_ci",
    "moving_average",
    "paired_relative",
    "settling_point",
]


@dataclass(frozen=True)
class MeanCI:
    """Mean over n values with its 95 % confidence interval [lo, hi]."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "n": self.n}

    def excludes(self, value: float) -> bool:
        return math.isfinite(self.lo) and (self.lo > value or self.hi < value)

    def contains(self, value: float) -> bool:
        return math.isfinite(self.lo) and self.lo <= value <= self.hi


def mean_ci(values: Sequence[float] | NDArray[np.float64]) -> MeanCI:
    """Mean and Student-t 95 % CI of the finite entries of `values`."""
    x = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    mean, half = mean_ci95(x)
    n = sum(1 for v in x if math.isfinite(v))
    return MeanCI(mean, mean - half, mean + half, n)


def paired_relative(a: Sequence[float], b: Sequence[float], percent: bool = True) -> MeanCI:
    """CI of the mean per-seed relative difference (a_s − b_s) / |b_s| (× 100 with `percent`).

    `a` and `b` are paired by seed (same θ_0, same environment seeds)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {x.shape} and {y.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (x - y) / np.abs(y)
    return mean_ci(rel * (100.0 if percent else 1.0))


def moving_average(x: Sequence[float], window: int) -> NDArray[np.float64]:
    """Trailing moving average (the first points average what exists so far)."""
    arr = np.asarray(x, dtype=np.float64)
    if window <= 1 or arr.size == 0:
        return arr.copy()
    c = np.cumsum(np.insert(arr, 0, 0.0))
    idx = np.arange(1, arr.size + 1)
    lo = np.maximum(idx - window, 0)
    return np.asarray((c[idx] - c[lo]) / (idx - lo), dtype=np.float64)


def settling_point(
    curve: Sequence[float], tolerance: float, window: int = 1, tail: float = 0.2
) -> tuple[int, bool]:
    """Where a learning curve settles: the first index after which the (smoothed) curve stays
    within ±`tolerance`·|final| of its final value, final = mean of the last `tail` fraction.

    Returns (index, converged). converged is False when the curve settles only inside the tail
    window itself (it is still moving at the end); the index is then len(curve) − 1.
    """
    s = moving_average(curve, window)
    n = s.size
    if n == 0:
        return 0, False
    k = max(1, round(tail * n))
    final = float(s[-k:].mean())
    band = tolerance * max(abs(final), 1e-12)
    outside = np.flatnonzero(np.abs(s - final) > band)
    if outside.size == 0:
        return 0, True
    idx = int(outside[-1]) + 1
    if idx >= n - k:
        return n - 1, False
    return idx, True
