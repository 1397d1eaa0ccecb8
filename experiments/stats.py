"""Mean and 95 % confidence half-width over seeds (Student's t; no SciPy needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["mean_ci95", "t_quantile_975"]

# t_{0.975, ν} for ν = 1..30 (standard tables, 3 decimals).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959963984540054


def t_quantile_975(dof: int) -> float:
    """The 97.5 % quantile of Student's t with `dof` degrees of freedom (two-sided 95 %).

    Exact table values up to 30; beyond, the Cornish–Fisher expansion around the normal
    quantile (error < 1e-4 for ν > 30).
    """
    if dof < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {dof}")
    if dof <= len(_T975):
        return _T975[dof - 1]
    z, v = _Z975, float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """(mean, 95 % CI half-width) of the finite `values`; half-width NaN with fewer than two."""
    xs = [float(x) for x in values if math.isfinite(x)]
    if not xs:
        return math.nan, math.nan
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, math.nan
    var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    return mean, t_quantile_975(len(xs) - 1) * math.sqrt(var / len(xs))
