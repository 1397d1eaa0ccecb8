"""Task weights of the adaptive meta-update (paper §V-B, eq. 14–16) as pure functions.

Every task g (a DU) reports σ²_g, the variance of its TD errors δ = r + γV(s') − V(s) (eq. 14).
The meta-update (eq. 13) weights task g's query gradient by w_g, with Σ_g w_g = 1. Schemes:

``softmin`` (default; eq. 15–16 as written)
    w_g = exp(−σ̃_g/T) / Σ_j exp(−σ̃_j/T): the *lower* the variance, the *more* weight.
``softmax``
    w_g = exp(+σ̃_g/T) / Σ_j exp(+σ̃_j/T): the *higher* the variance, the more weight — what the
    paper's text says it wants ("agents that are exhibiting higher variance require more
    attention"). Eq. 15–16 and the text contradict each other; both are offered so the ablation can
    measure both (SPEC §4).
``uniform``
    w_g = 1/N (plain MAML, eq. 12).
``static-var``
    w_g = m_g / Σ_j m_j, where m_g is task g's *mean TD variance over training*. Our exact
    definition (the paper says only "fixed weights proportional to the average TD-error variance
    over training"): m_g = (1/K) Σ_{k=1..K} σ²_{g,k} over the K per-iteration variances that task
    g reported during phase 1 (independent HRL training, §IV-D), computed once with
    :func:`mean_td_variance` and then held fixed for the whole meta-training. The function takes
    the means m_g as its input. If every m_g is 0 the weights fall back to uniform.
    Temperature and normalisation do not apply.

Here σ̃ is σ² after the optional normalisation across tasks (:func:`normalise_variances`):

``none`` (default, the paper as written)
    σ̃ = σ². Raw TD variances scale with the square of the reward scale and differ by orders of
    magnitude between tasks (a surging stadium DU against a quiet residential one), so with T = 1
    the softmin is decided by the units: variances {0.5, 12, 40} give weights
    {0.99999, 1.0e-5, 7.0e-18} — one-hot on the calmest task — while variances {1e-3, 2e-3, 5e-3}
    give weights within 0.25 % of uniform. T is then only meaningful relative to the variance scale.
``mean``
    σ̃_g = σ²_g / mean_j σ²_j. Invariant to rescaling all variances (the reward's units); T = 1 then
    means "a task one mean-variance above another gets e⁻¹ times its weight".
``zscore``
    σ̃_g = (σ²_g − mean) / std across tasks (population std). Invariant to scale and shift.
``log``
    σ̃_g = log σ²_g (zeros clamped to the smallest positive double). Softmin of log-variances is
    w_g ∝ (σ²_g)^(−1/T): inverse-variance weighting at T = 1; softmax gives w_g ∝ (σ²_g)^(1/T).
    Scale invariant and insensitive to orders-of-magnitude spreads.

All-equal variances give uniform weights under every scheme and normalisation. Softmin/softmax
are computed stably: the exponent is shifted so that its maximum is 0 before dividing by T
(log-sum-exp), so T → 0 gives the one-hot arg-min (softmin) / arg-max (softmax), ties shared
equally, and T → ∞ gives uniform weights, without overflow or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field

from meta_controller.errors import MetaInputError

__all__ = [
    "Normalisation",
    "VarianceInput",
    "WeightingConfig",
    "WeightingScheme",
    "mean_td_variance",
    "normalise_variances",
    "softmax_weights",
    "softmin_weights",
    "static_var_weights",
    "task_weights",
    "td_error_variance",
    "uniform_weights",
]

WeightingScheme: TypeAlias = Literal["uniform", "softmin", "softmax", "static-var"]
Normalisation: TypeAlias = Literal["none", "mean", "zscore", "log"]
VarianceInput: TypeAlias = Sequence[float] | npt.NDArray[np.floating] | torch.Tensor
"""A 1-D collection of per-task (TD-error) variances: list, numpy array or tensor."""

FloatArray: TypeAlias = npt.NDArray[np.float64]


class WeightingConfig(BaseModel):
    """How the meta-update weights tasks (paper §V-B). Usable from CLI flags and YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: WeightingScheme = Field(
        default="softmin",
        description=(
            "softmin: eq. 15-16 as written, lower TD variance -> more weight (default); "
            "softmax: higher variance -> more weight (the paper text's intent); "
            "uniform: plain MAML; static-var: fixed weights proportional to the mean TD variance "
            "over training (the caller passes those means)."
        ),
    )
    temperature: float = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="T in eq. 16 (paper: 1). Softmin/softmax only; T->0 one-hot, T->inf uniform.",
    )
    normalise: Normalisation = Field(
        default="none",
        description=(
            "Normalise variances across tasks before softmin/softmax: none (paper), mean "
            "(divide by the mean), zscore, log (softmin becomes w ∝ σ^(-2/T))."
        ),
    )


def _as_variances(variances: VarianceInput, what: str = "variances") -> FloatArray:
    """Validate per-task variances and return them as a fresh float64 vector."""
    if isinstance(variances, torch.Tensor):
        arr = variances.detach().to("cpu", torch.float64).numpy().copy()
    else:
        try:
            arr = np.array(variances, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise MetaInputError(f"{what} must be numbers: {exc}") from None
    if arr.ndim != 1:
        raise MetaInputError(f"{what} must be 1-D (one per task), got shape {arr.shape}")
    if arr.size == 0:
        raise MetaInputError(f"{what} is empty: at least one task is needed")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise MetaInputError(f"{what} must be finite; task(s) {bad.tolist()} are {arr[bad].tolist()}")
    neg = np.flatnonzero(arr < 0)
    if neg.size:
        raise MetaInputError(f"{what} must be >= 0; task(s) {neg.tolist()} are {arr[neg].tolist()}")
    return arr


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise MetaInputError(f"temperature must be finite and > 0, got {temperature}")
    return t


def _softmax(logits: FloatArray, temperature: float) -> FloatArray:
    """softmax(logits / T), stable for any finite logits and T > 0."""
    with np.errstate(over="ignore", under="ignore"):
        shifted = (logits - logits.max()) / temperature  # <= 0; may reach -inf, never NaN
        e = np.exp(shifted)
    return np.asarray(e / e.sum(), dtype=np.float64)


def uniform_weights(n_tasks: int) -> FloatArray:
    """w_g = 1/N (plain MAML, eq. 12)."""
    if n_tasks < 1:
        raise MetaInputError(f"at least one task is needed, got {n_tasks}")
    return np.full(n_tasks, 1.0 / n_tasks)


def normalise_variances(variances: VarianceInput, method: Normalisation = "none") -> FloatArray:
    """σ̃ from σ² (see the module docstring); validates the variances."""
    v = _as_variances(variances)
    if method == "none":
        return v
    if method == "mean":
        mean = v.mean()
        return v / mean if mean > 0 else np.zeros_like(v)
    if method == "zscore":
        std = v.std()
        return (v - v.mean()) / std if std > 0 else np.zeros_like(v)
    if method == "log":
        return np.log(np.maximum(v, np.finfo(np.float64).tiny))
    raise MetaInputError(f"unknown normalisation {method!r}; use none, mean, zscore or log")


def softmin_weights(
    variances: VarianceInput, temperature: float = 1.0, normalise: Normalisation = "none"
) -> FloatArray:
    """Eq. 15–16: w_g = exp(−σ̃_g/T) / Σ_j exp(−σ̃_j/T) — lower variance, more weight."""
    t = _check_temperature(temperature)
    return _softmax(-normalise_variances(variances, normalise), t)


def softmax_weights(
    variances: VarianceInput, temperature: float = 1.0, normalise: Normalisation = "none"
) -> FloatArray:
    """w_g = exp(σ̃_g/T) / Σ_j exp(σ̃_j/T) — higher variance, more weight (the text's intent)."""
    t = _check_temperature(temperature)
    return _softmax(normalise_variances(variances, normalise), t)


def static_var_weights(mean_variances: VarianceInput) -> FloatArray:
    """Static-Var: w_g = m_g / Σ_j m_j for the per-task mean TD variances m (uniform if all 0)."""
    m = _as_variances(mean_variances, "mean variances")
    total = m.sum()
    return m / total if total > 0 else uniform_weights(m.size)


def task_weights(variances: VarianceInput, config: WeightingConfig | None = None) -> FloatArray:
    """The task weights under ``config`` (default: softmin, T = 1, no normalisation).

    ``variances`` holds σ²_g per task; for ``static-var`` it holds the mean TD variance over
    training m_g (see :func:`mean_td_variance`). Validated for every scheme (so a task reporting
    NaN is rejected even under ``uniform``). Returns a float64 vector that sums to 1.
    """
    cfg = config if config is not None else WeightingConfig()
    if cfg.scheme == "uniform":
        return uniform_weights(_as_variances(variances).size)
    if cfg.scheme == "softmin":
        return softmin_weights(variances, cfg.temperature, cfg.normalise)
    if cfg.scheme == "softmax":
        return softmax_weights(variances, cfg.temperature, cfg.normalise)
    if cfg.scheme == "static-var":
        return static_var_weights(variances)
    raise MetaInputError(f"unknown weighting scheme {cfg.scheme!r}")


def _to_numpy(values: npt.ArrayLike | torch.Tensor) -> npt.NDArray[np.generic]:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def td_error_variance(td_errors: npt.ArrayLike | torch.Tensor, *, ddof: int = 0) -> FloatArray:
    """Variance of a window of TD errors along the last axis (σ²_TD of eq. 14–16).

    ``td_errors`` of shape ``(..., window)`` — e.g. ``(n_du, 4, 10_000)`` for the last 10k TD
    errors of each DU's four agents — gives variances of shape ``(...)``. Population variance
    (``ddof=0``) accumulated in float64. Rejects empty windows and non-finite TD errors.
    """
    arr = _to_numpy(td_errors)
    if arr.ndim == 0 or arr.shape[-1] <= ddof:
        raise MetaInputError(f"need more than {ddof} TD error(s) per window, got shape {arr.shape}")
    var = np.asarray(arr.var(axis=-1, dtype=np.float64, ddof=ddof), dtype=np.float64)
    if not np.isfinite(var).all():
        raise MetaInputError("TD errors contain NaN or infinity")
    return var


def mean_td_variance(history: npt.ArrayLike | torch.Tensor) -> FloatArray:
    """m_g for Static-Var: the mean over iterations of per-task TD variances.

    ``history`` has shape ``(iterations, n_tasks)``: row k holds the σ²_g each task reported at
    iteration k of the independent training phase. Returns shape ``(n_tasks,)``.
    """
    arr = np.asarray(_to_numpy(history), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MetaInputError(f"history must have shape (iterations, n_tasks), got {arr.shape}")
    return _as_variances(arr.mean(axis=0), "mean variances")
