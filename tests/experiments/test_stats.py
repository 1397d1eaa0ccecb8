"""Mean ± 95 % CI with Student's t, checked against table values and a hand computation."""

from __future__ import annotations

import math

import pytest

from experiments.stats import mean_ci95, t_quantile_975

REFERENCE = [(1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042), (31, 2.0395), (40, 2.0211)]
REFERENCE += [(60, 2.0003), (120, 1.9799)]


@pytest.mark.parametrize(
    ("dof", "expected"),
    # Reference values of t_{0.975}: 1, 2, 10, 30 from tables; 31, 40, 60, 120 to 4 decimals.
    REFERENCE,
)
def test_t_quantile(dof: int, expected: float) -> None:
    assert t_quantile_975(dof) == pytest.approx(expected, abs=2e-4)


def test_t_quantile_tends_to_normal() -> None:
    assert t_quantile_975(10**6) == pytest.approx(1.95996, abs=1e-4)
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_mean_ci95_by_hand() -> None:
    # x = 1, 2, 3, 4: mean 2.5, sample sd = sqrt(5/3), half-width = t_3 · sd / 2.
    mean, ci = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert ci == pytest.approx(3.182 * math.sqrt(5.0 / 3.0) / 2.0)


def test_mean_ci95_edge_cases() -> None:
    assert math.isnan(mean_ci95([])[0])
    m, ci = mean_ci95([2.0])
    assert m == 2.0 and math.isnan(ci)
    assert mean_ci95([1.0, math.nan, 3.0]) == (2.0, pytest.approx(12.706 * math.sqrt(2.0) / math.sqrt(2.0)))
