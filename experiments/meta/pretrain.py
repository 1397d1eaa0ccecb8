"""Phase 1 (paper §IV-D.1): each training task's HRL agent trained on its own, online.

All agents start from the run's θ_0 (so the TL donor and the meta-learner start from the same
random draw) and learn from their own DU's experience with the agent's DDPG updates. Besides
each task's parameters this phase records, after every episode, each learner's TD-error variance
(the history Static-Var averages, `meta_controller.weights.mean_td_variance`), and it keeps the
replay buffers of the MTL partner task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.meta.budget import Level
from experiments.meta.envs import (
    Scenarios,
    agent_config,
    derive_seed,
    initial_params,
    make_env,
    make_pool,
    to_cpu,
)
from experiments.meta.preset import ReproducePreset
from experiments.meta.rollout import collect_episode, update_pool
from meta_controller.algorithm import GROUPS
from meta_controller.weights import mean_td_variance
from xapps.agent import AgentPool

__all__ = [
    "GROUPS",
    "PretrainResult",
    "choose_tasks",
    "mean_params",
    "pretrain",
    "static_var_means",
    "td_variances",
]


@dataclass
class PretrainResult:
    task_params: list[dict[str, Tensor]]  # θ_g of every training task (CPU)
    td_history: dict[str, list[list[float]]]  # group → (episodes × tasks) TD variance, NaN unknown
    curve: list[float]  # mean per-DU Σ R_h of every training episode
    donor: int  # TL: the training task whose agent initialises TL
    partner: int  # MTL: the training task trained jointly with the new task
    partner_replay: dict[str, Any]  # learner → replay state of the partner task

    def mean_params(self) -> dict[str, Tensor]:
        """The parameter mean of the phase-1 agents (θ_M's start with ``meta.init: pretrain``)."""
        return mean_params(self.task_params)

    def summary(self) -> dict[str, Any]:
        """The JSON-able part (no tensors)."""
        return {
            "td_history": self.td_history,
            "curve": self.curve,
            "donor": self.donor,
            "partner": self.partner,
        }


def mean_params(params: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Element-wise mean of parameter dicts with the same keys (all agents start at θ_0, so
    their mean is a meaningful point: phase 1 moves each only a little from it)."""
    if not params:
        raise ValueError("no parameters to average")
    return {k: torch.stack([p[k] for p in params]).mean(0) for k in params[0]}


def choose_tasks(seed: int, n_tasks: int) -> tuple[int, int]:
    """(TL donor, MTL partner): random training tasks, drawn per seed (independently)."""
    rng = np.random.default_rng(derive_seed(seed, "donor-partner"))
    return int(rng.integers(n_tasks)), int(rng.integers(n_tasks))


def td_variances(pool: AgentPool, which: str = "windowed") -> dict[str, list[float]]:
    """group → per-task TD-error variance (NaN while a learner has no TD errors yet)."""
    out: dict[str, list[float]] = {g: [] for g in GROUPS}
    for agent in pool:
        stats = agent.td_variance()
        for g in GROUPS:
            out[g].append(float(getattr(stats[g], which)))
    return out


def _learner(pool: AgentPool, every: int, rounds: int, frozen: tuple[Level, ...]) -> Callable[[int], None]:
    def learn(step: int) -> None:
        if (step + 1) % every:
            return
        for _ in range(rounds):
            update_pool(pool, frozen)

    return learn


def pretrain(
    scenarios: Scenarios,
    preset: ReproducePreset,
    seed: int,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> PretrainResult:
    """Train every training task's agent independently for ``preset.pretrain.episodes``."""
    cfg = preset.pretrain
    env = make_env(scenarios.train, preset)
    config = agent_config(preset, env)
    pool = make_pool(config, env.n_du, initial_params(config, seed, device), derive_seed(seed, "p1"), device)
    learn = _learner(pool, cfg.update_every, cfg.updates_per_round, preset.frozen)
    history: dict[str, list[list[float]]] = {g: [] for g in GROUPS}
    curve: list[float] = []
    for episode in range(cfg.episodes):
        ret = collect_episode(env, pool, derive_seed(seed, "p1-episode", episode), learn=learn)
        curve.append(float(ret.mean()))
        for g, v in td_variances(pool, preset.meta.variance).items():
            history[g].append(v)
        if progress is not None:
            progress(episode + 1)
    donor, partner = choose_tasks(seed, env.n_du)
    replay = {name: learner.replay.state_dict() for name, learner in pool[partner].agents().items()}
    return PretrainResult(
        task_params=[to_cpu(agent.get_params()) for agent in pool],
        td_history=history,
        curve=curve,
        donor=donor,
        partner=partner,
        partner_replay=replay,
    )


def static_var_means(td_history: dict[str, list[list[float]]]) -> dict[str, list[float]]:
    """Static-Var's m_g per group: `mean_td_variance` over the phase-1 episodes after which every
    task had TD errors (a group with no such episode gets zeros, i.e. uniform weights)."""
    out: dict[str, list[float]] = {}
    for g, rows in td_history.items():
        arr = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
        complete = arr[np.isfinite(arr).all(axis=1)]
        if complete.shape[0] == 0:
            out[g] = [0.0] * arr.shape[1]
        else:
            out[g] = [float(x) for x in mean_td_variance(complete)]
    return out
