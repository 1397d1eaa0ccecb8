"""TD-error statistics: Welford running variance and the windowed variance against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xapps.agent import CheckpointError, RunningVariance, TDStats, WindowedVariance


def _chunks(x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    cuts = np.sort(rng.choice(np.arange(1, x.size), size=20, replace=False))
    return np.split(x, cuts)


def test_running_variance_matches_numpy_on_random_batches() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_t(df=3, size=5000) * 3.0 + 2.0
    rv = RunningVariance()
    for chunk in _chunks(x, rng):
        rv.update(chunk)
    assert rv.count == x.size
    assert rv.mean == pytest.approx(x.mean(), rel=1e-12)
    assert rv.variance == pytest.approx(x.var(), rel=1e-12)


def test_running_variance_is_stable_with_a_large_offset() -> None:
    """x = 1e9 + N(0, 1): the naive E[x²] − E[x]² loses every digit in float64; Welford doesn't."""
    rng = np.random.default_rng(1)
    noise = rng.normal(size=4000)
    rv = RunningVariance()
    for value in 1e9 + noise:
        rv.update(value)  # one at a time: classic Welford
    assert rv.variance == pytest.approx(noise.var(), rel=1e-6)
    x = 1e9 + noise
    naive = float((x * x).mean() - x.mean() ** 2)
    assert abs(naive - noise.var()) > 0.01  # the failure we avoid


def test_windowed_variance_is_the_variance_of_the_last_w() -> None:
    rng = np.random.default_rng(2)
    wv, seen = WindowedVariance(50), []
    for size in (10, 30, 1, 49, 120, 3, 7):
        batch = rng.normal(loc=size, size=size)
        wv.update(batch)
        seen.extend(batch)
        last = np.asarray(seen[-50:])
        assert wv.count == last.size
        assert wv.variance == pytest.approx(last.var(), rel=1e-12)
        np.testing.assert_array_equal(wv.values(), last)


def test_empty_is_nan_and_state_round_trip_is_exact() -> None:
    stats = TDStats(window=8)
    assert math.isnan(stats.variance().running) and math.isnan(stats.variance().windowed)
    rng = np.random.default_rng(3)
    stats.update(rng.normal(size=13))
    copy = TDStats(window=8)
    copy.load_state_dict(stats.state_dict())
    more = rng.normal(size=5)
    stats.update(more)
    copy.update(more)
    assert copy.variance() == stats.variance()
    np.testing.assert_array_equal(copy.windowed.values(), stats.windowed.values())
    with pytest.raises(CheckpointError, match=r"td_stats\.windowed\.window"):
        TDStats(window=9).load_state_dict(stats.state_dict())
