"""Task weights (paper eq. 14–16) against hand computations, limits and bad inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from meta_controller.errors import MetaInputError
from meta_controller.weights import (
    Normalisation,
    WeightingConfig,
    mean_td_variance,
    normalise_variances,
    softmax_weights,
    softmin_weights,
    static_var_weights,
    task_weights,
    td_error_variance,
    uniform_weights,
)

VARIANCES = [1.0, 2.0, 4.0]


def test_softmin_matches_hand_computation() -> None:
    # exp(-1) = 0.36787944, exp(-2) = 0.13533528, exp(-4) = 0.01831564; sum = 0.52153036
    # w = (0.36787944, 0.13533528, 0.01831564) / 0.52153036 = (0.70538451, 0.25949646, 0.03511903)
    w = softmin_weights(VARIANCES)
    np.testing.assert_allclose(w, [0.70538451, 0.25949646, 0.03511903], atol=1e-8)
    assert w[0] > w[1] > w[2]  # lower variance -> more weight (eq. 15-16 as written)


def test_softmin_with_temperature_two_matches_hand_computation() -> None:
    # exp(-0.5) = 0.60653066, exp(-1) = 0.36787944, exp(-2) = 0.13533528; sum = 1.10974538
    w = softmin_weights(VARIANCES, temperature=2.0)
    np.testing.assert_allclose(w, [0.54654939, 0.33149896, 0.12195165], atol=1e-8)


def test_softmax_matches_hand_computation() -> None:
    # exp(1) = 2.71828183, exp(2) = 7.38905610, exp(4) = 54.59815003; sum = 64.70548796
    w = softmax_weights(VARIANCES)
    np.testing.assert_allclose(w, [0.04201007, 0.11419520, 0.84379473], atol=1e-8)
    assert w[2] > w[1] > w[0]  # higher variance -> more weight (the paper text's intent)


def test_default_config_is_paper_softmin() -> None:
    cfg = WeightingConfig()
    assert (cfg.scheme, cfg.temperature, cfg.normalise) == ("softmin", 1.0, "none")
    np.testing.assert_array_equal(task_weights(VARIANCES), softmin_weights(VARIANCES))
    np.testing.assert_array_equal(task_weights(VARIANCES, cfg), softmin_weights(VARIANCES))


def test_mean_normalisation_matches_hand_computation() -> None:
    # mean = 7/3 -> σ̃ = (3/7, 6/7, 12/7); exp(-σ̃) = (0.65143906, 0.42437285, 0.18009231)
    cfg = WeightingConfig(normalise="mean")
    np.testing.assert_allclose(normalise_variances(VARIANCES, "mean"), [3 / 7, 6 / 7, 12 / 7])
    np.testing.assert_allclose(task_weights(VARIANCES, cfg), [0.51870123, 0.33790224, 0.14339653], atol=1e-8)


def test_zscore_normalisation_matches_hand_computation() -> None:
    # mean 7/3, population std 1.24721913 -> σ̃ = (-1.06904497, -0.26726124, 1.33630621)
    cfg = WeightingConfig(normalise="zscore")
    np.testing.assert_allclose(
        normalise_variances(VARIANCES, "zscore"), [-1.06904497, -0.26726124, 1.33630621], atol=1e-8
    )
    np.testing.assert_allclose(task_weights(VARIANCES, cfg), [0.64987308, 0.29148640, 0.05864052], atol=1e-8)


def test_log_normalisation_is_inverse_variance_weighting() -> None:
    # softmin(log σ²) at T=1: w ∝ 1/σ² = (1, 1/2, 1/4) -> (4/7, 2/7, 1/7); softmax: ∝ σ²
    np.testing.assert_allclose(
        task_weights(VARIANCES, WeightingConfig(normalise="log")), [4 / 7, 2 / 7, 1 / 7]
    )
    np.testing.assert_allclose(
        task_weights(VARIANCES, WeightingConfig(scheme="softmax", normalise="log")),
        [1 / 7, 2 / 7, 4 / 7],
    )
    # T = 2: w ∝ σ^(-1) = (1, 1/√2, 1/2)
    expected = np.array([1, 1 / math.sqrt(2), 0.5])
    np.testing.assert_allclose(softmin_weights(VARIANCES, 2.0, "log"), expected / expected.sum(), rtol=1e-12)


def test_static_var_is_proportional_to_mean_variance() -> None:
    # w_g = m_g / Σ m_j = (1, 2, 4) / 7; temperature and normalisation do not apply
    expected = [1 / 7, 2 / 7, 4 / 7]
    np.testing.assert_allclose(static_var_weights(VARIANCES), expected)
    cfg = WeightingConfig(scheme="static-var", temperature=0.01, normalise="zscore")
    np.testing.assert_allclose(task_weights(VARIANCES, cfg), expected)
    np.testing.assert_allclose(static_var_weights([0.0, 0.0]), [0.5, 0.5])


def test_mean_td_variance_over_history() -> None:
    history = [[1.0, 4.0, 0.0], [3.0, 2.0, 0.5]]  # 2 iterations x 3 tasks
    np.testing.assert_allclose(mean_td_variance(history), [2.0, 3.0, 0.25])
    with pytest.raises(MetaInputError):
        mean_td_variance([1.0, 2.0])


def test_uniform_ignores_values_but_validates_them() -> None:
    cfg = WeightingConfig(scheme="uniform")
    np.testing.assert_allclose(task_weights([0.1, 50.0, 3.0, 7.0], cfg), [0.25] * 4)
    np.testing.assert_allclose(uniform_weights(5), [0.2] * 5)
    with pytest.raises(MetaInputError, match="finite"):
        task_weights([1.0, math.nan], cfg)


def test_temperature_limits() -> None:
    v = [3.0, 0.5, 2.0, 0.7]
    np.testing.assert_allclose(softmin_weights(v, 1e9), [0.25] * 4, atol=1e-8)
    np.testing.assert_allclose(softmax_weights(v, 1e9), [0.25] * 4, atol=1e-8)
    np.testing.assert_array_equal(softmin_weights(v, 1e-9), [0, 1, 0, 0])  # one-hot arg-min
    np.testing.assert_array_equal(softmax_weights(v, 1e-9), [1, 0, 0, 0])  # one-hot arg-max
    np.testing.assert_array_equal(softmin_weights([1.0, 1.0, 3.0], 1e-9), [0.5, 0.5, 0])


def test_extreme_values_stay_finite() -> None:
    for v, t in [([1e300, 1e300, 0.0], 1e-300), ([1e-300, 0.0], 1e300), ([1e308, 1.0], 1.0)]:
        for fn in (softmin_weights, softmax_weights):
            w = fn(v, t)
            assert np.isfinite(w).all() and math.isclose(w.sum(), 1.0)


def test_raw_variances_collapse_softmin_and_normalisation_does_not() -> None:
    raw = [0.5, 12.0, 40.0]  # the docstring's example
    assert softmin_weights(raw)[0] > 0.9999
    w = softmin_weights(raw, normalise="log")
    assert w.max() < 0.97 and w.min() > 0.01


@pytest.mark.parametrize("method", ["mean", "zscore", "log"])
@pytest.mark.parametrize("scale", [1e-6, 1e-2, 37.0, 1e5])
def test_normalisation_is_invariant_to_scaling(method: str, scale: float) -> None:
    v = np.array([0.02, 0.3, 1.7, 0.9, 0.05])
    for scheme in ("softmin", "softmax"):
        cfg = WeightingConfig(scheme=scheme, normalise=method)
        np.testing.assert_allclose(task_weights(v * scale, cfg), task_weights(v, cfg), rtol=1e-9)


def test_equal_variances_give_uniform_weights_everywhere() -> None:
    for scheme in ("uniform", "softmin", "softmax", "static-var"):
        for method in ("none", "mean", "zscore", "log"):
            cfg = WeightingConfig(scheme=scheme, normalise=method)
            np.testing.assert_allclose(task_weights([2.5] * 3, cfg), [1 / 3] * 3)
            np.testing.assert_allclose(task_weights([0.0] * 3, cfg), [1 / 3] * 3)


def test_accepts_numpy_and_torch() -> None:
    expected = softmin_weights(VARIANCES)
    np.testing.assert_allclose(softmin_weights(np.array(VARIANCES, dtype=np.float32)), expected)
    np.testing.assert_allclose(softmin_weights(torch.tensor(VARIANCES, requires_grad=True)), expected)


variances_strategy = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(
    v=variances_strategy,
    t=st.floats(min_value=1e-3, max_value=1e3),
    method=st.sampled_from(["none", "mean", "zscore", "log"]),
)
def test_weights_are_a_distribution_and_ordered(v: list[float], t: float, method: Normalisation) -> None:
    w_min = softmin_weights(v, t, method)
    w_max = softmax_weights(v, t, method)
    for w in (w_min, w_max):
        assert w.shape == (len(v),) and (w >= 0).all() and math.isclose(w.sum(), 1.0)
    order = np.argsort(v, kind="stable")
    assert (np.diff(w_min[order]) <= 1e-12).all()  # softmin: non-increasing in variance
    assert (np.diff(w_max[order]) >= -1e-12).all()  # softmax: non-decreasing


@pytest.mark.parametrize(
    ("variances", "match"),
    [
        ([], "empty"),
        ([1.0, math.nan], "finite"),
        ([1.0, math.inf], "finite"),
        ([1.0, -0.1], ">= 0"),
        ([[1.0, 2.0]], "1-D"),
        (["a", "b"], "numbers"),
    ],
)
def test_bad_variances_are_rejected(variances: Any, match: str) -> None:
    for scheme in ("softmin", "softmax", "uniform", "static-var"):
        with pytest.raises(MetaInputError, match=match):
            task_weights(variances, WeightingConfig(scheme=scheme))


@pytest.mark.parametrize("t", [0.0, -1.0, math.nan, math.inf])
def test_bad_temperature_is_rejected(t: float) -> None:
    with pytest.raises(MetaInputError, match="temperature"):
        softmin_weights(VARIANCES, t)
    with pytest.raises(ValidationError):
        WeightingConfig(temperature=t)


def test_config_rejects_unknown_fields_and_values() -> None:
    with pytest.raises(ValidationError):
        WeightingConfig(scheme="softmean")
    with pytest.raises(ValidationError):
        WeightingConfig(normalise="max")
    with pytest.raises(ValidationError):
        WeightingConfig(temprature=2.0)  # type: ignore[call-arg]
    cfg = WeightingConfig.model_validate({"scheme": "softmax", "temperature": 0.5})
    assert cfg.scheme == "softmax" and cfg.temperature == 0.5
    with pytest.raises(MetaInputError, match="normalisation"):
        normalise_variances(VARIANCES, "max")  # type: ignore[arg-type]


def test_td_error_variance() -> None:
    # population variance of (1, 2, 3, 4): mean 2.5, Σ(x-2.5)² = 5 -> 5/4
    np.testing.assert_allclose(td_error_variance([1.0, 2.0, 3.0, 4.0]), 1.25)
    np.testing.assert_allclose(td_error_variance([1.0, 2.0, 3.0, 4.0], ddof=1), 5 / 3)
    gen = np.random.default_rng(0)
    td = gen.normal(scale=[[[1.0]], [[3.0]]], size=(2, 4, 1000)).astype(np.float32)
    v = td_error_variance(torch.from_numpy(td))
    assert v.shape == (2, 4) and v.dtype == np.float64
    np.testing.assert_allclose(v, td.astype(np.float64).var(axis=-1), rtol=1e-6)
    with pytest.raises(MetaInputError):
        td_error_variance(np.zeros((3, 0)))
    with pytest.raises(MetaInputError, match="NaN"):
        td_error_variance([1.0, math.nan])
