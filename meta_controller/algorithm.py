"""Algorithm 1's deployable pieces, shared by the meta-controller service and `experiments/meta`.

- `GROUPS`: the learners of one DU's agent; each is a parameter group of the meta-update with
  its own TD-error variance (hence its own task weights).
- `MetaConfig`: β (critics) and β_actor (actors; None = β), weighting, the TD variance kind and
  the per-network clip each task applies before sending — the defaults are the experiments'.
- `variances_with_fallback`: a group in which some task has no TD errors yet (NaN) gets equal
  variances, i.e. uniform weights, for that round.
- `meta_step`: eq. 13 by `meta_controller.maml.meta_update`; with a separate actor β, critics
  and actors in two calls.
- `task_update`: the DU side of one round — eq. 11 inner updates of every network from the
  latest meta-init on the agent's own experience, then the query gradient (line 12), clipped per
  network, and the TD statistics the weights need.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from meta_controller.maml import MetaUpdateConfig, TaskGradients, meta_update
from meta_controller.params import GradientStack, Params
from meta_controller.weights import Normalisation, WeightingConfig, WeightingScheme

__all__ = [
    "GROUPS",
    "MetaConfig",
    "MetaStepResult",
    "TaskUpdate",
    "clip_per_network",
    "meta_step",
    "network_of",
    "only_part",
    "task_update",
    "variances_with_fallback",
]

GROUPS = ("high", "low.0", "low.1", "low.2")
"""The learners of one DU's agent; each is a parameter group of the meta-update."""

VarianceKind = Literal["windowed", "running"]


class MetaConfig(BaseModel):
    """The meta-update's settings (the experiments' defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beta: float = Field(0.05, gt=0, allow_inf_nan=False, description="β of the critics (plain SGD, eq. 13).")
    beta_actor: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="β of the actors (None: β); applied in a second call."
    )
    scheme: WeightingScheme = Field("softmin", description="Task weights (w_g).")
    temperature: float = Field(1.0, gt=0, description="T of the softmin/softmax (eq. 16).")
    normalise: Normalisation = Field("none", description="Variance normalisation across tasks.")
    variance: VarianceKind = Field("windowed", description="Which TD-error variance of each learner is sent.")
    task_grad_clip: float | None = Field(
        1.0, gt=0, description="L2 clip per network each task applies to its query gradient (None: off)."
    )

    def weighting(self) -> WeightingConfig:
        return WeightingConfig(scheme=self.scheme, temperature=self.temperature, normalise=self.normalise)

    def update_configs(self) -> tuple[MetaUpdateConfig, MetaUpdateConfig | None]:
        """(critics' config, actors' config or None when β_actor is β)."""
        w = self.weighting()
        critic = MetaUpdateConfig(beta=self.beta, weighting=w)
        if self.beta_actor is None or self.beta_actor == self.beta:
            return critic, None
        return critic, MetaUpdateConfig(beta=self.beta_actor, weighting=w)


def network_of(name: str) -> str:
    """``"low.1.critic.0.weight"`` → ``"low.1.critic"``; ``"high.actor.2.bias"`` → ``"high.actor"``."""
    parts = name.split(".")
    return ".".join(parts[:3] if parts[0] == "low" else parts[:2])


def clip_per_network(grads: Mapping[str, Tensor], max_norm: float | None) -> dict[str, Tensor]:
    """Scale each network's gradient (``high.actor``, ``low.1.critic``, …) to L2 norm ≤ max_norm."""
    if max_norm is None:
        return dict(grads)
    nets: dict[str, list[str]] = {}
    for k in grads:
        nets.setdefault(network_of(k), []).append(k)
    out: dict[str, Tensor] = {}
    for keys in nets.values():
        norm = math.sqrt(sum(float((grads[k].double() ** 2).sum()) for k in keys))
        scale = min(1.0, max_norm / (norm + 1e-12))
        for k in keys:
            out[k] = grads[k] * scale
    return out


def only_part(grads: TaskGradients, part: str) -> TaskGradients:
    """The task gradients with every network but the ``part`` ones (actor/critic) zeroed (a copy)."""
    if isinstance(grads, GradientStack):
        names = [k for k in grads.layout.names if not network_of(k).endswith(part)]
        out = GradientStack.wrap(grads.layout, grads.data.clone())
        for start, end in grads.layout.slices(names):
            out.data[:, start:end].zero_()
        return out
    keep = {k: network_of(k).endswith(part) for k in grads[0]} if grads else {}
    return [{k: g if keep[k] else torch.zeros_like(g) for k, g in task.items()} for task in grads]


def variances_with_fallback(variances: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """group → variances; a group with any NaN gets all zeros (equal variances: uniform weights)."""
    return {
        g: [float(x) for x in v] if all(x == x for x in v) else [0.0] * len(v) for g, v in variances.items()
    }


@dataclass(frozen=True)
class MetaStepResult:
    params: dict[str, Tensor]
    flat: Tensor
    weights: dict[str, tuple[float, ...]]
    update_ms: float  # wall time of the meta_update call(s) alone


def meta_step(
    theta: Params,
    grads: TaskGradients,
    variances: Mapping[str, Sequence[float]] | None,
    config: MetaConfig,
) -> MetaStepResult:
    """Eq. 13 by `meta_update`; with a separate actor β, critics and actors in two calls."""
    critic_cfg, actor_cfg = config.update_configs()
    calls = (
        [(grads, critic_cfg)]
        if actor_cfg is None
        else [
            (only_part(grads, "critic"), critic_cfg),
            (only_part(grads, "actor"), actor_cfg),
        ]
    )
    params: Params = theta
    weights: dict[str, tuple[float, ...]] = {}
    elapsed = 0.0
    flat: Tensor | None = None
    for task_grads, cfg in calls:
        start = time.perf_counter()
        update = meta_update(params, task_grads, variances, cfg)
        elapsed += time.perf_counter() - start
        params, weights, flat = update.params, update.weights, update.flat
    assert flat is not None
    return MetaStepResult(params=dict(params), flat=flat, weights=weights, update_ms=elapsed * 1e3)


class _Agent(Protocol):
    """What `task_update` needs of `xapps.agent.HierarchicalAgent`."""

    def set_params(self, params: Mapping[str, Tensor], *, sync_targets: bool = True) -> None: ...
    def update(self) -> Mapping[str, Any]: ...
    def sample_batches(self, batch_size: int | None = None) -> Mapping[str, Any]: ...
    def query_gradients(self, batches: Mapping[str, Any] | None = None) -> dict[str, Tensor]: ...
    def td_variance(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class TaskUpdate:
    """What one DU sends for a round: its query gradient (meta layout), TD variances, sample count."""

    grads: dict[str, Tensor]
    td_variance: dict[str, float]  # group → variance (NaN: no TD errors yet)
    td_count: dict[str, int]
    samples: int


def task_update(
    agent: _Agent,
    theta: Params | None,
    *,
    inner_steps: int,
    config: MetaConfig,
    query: Mapping[str, Any] | None = None,
    samples: int = 0,
) -> TaskUpdate:
    """Eq. 11 then line 12 of Algorithm 1 for one task, as the experiments run it.

    ``theta``: the meta-init to start from (None: the agent's current parameters); the agent is
    left at its adapted parameters θ'_g. ``query``: the query minibatches (default: a fresh
    sample of the agent's own buffers, drawn after the inner updates). Missing gradients (a
    learner without data) are sent as zeros.
    """
    if theta is not None:
        agent.set_params(theta)
    for _ in range(inner_steps):
        agent.update()
    batches = agent.sample_batches() if query is None else query
    grads = agent.query_gradients(batches) if batches else {}
    reference = theta if theta is not None else None
    full = (
        {k: grads[k] if k in grads else torch.zeros_like(v) for k, v in reference.items()}
        if reference is not None
        else dict(grads)
    )
    stats = agent.td_variance()
    return TaskUpdate(
        grads=clip_per_network(full, config.task_grad_clip),
        td_variance={g: float(getattr(s, config.variance)) for g, s in stats.items()},
        td_count={g: int(getattr(s, "count", 0)) for g, s in stats.items()},
        samples=samples,
    )
