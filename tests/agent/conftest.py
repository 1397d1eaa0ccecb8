"""Shared helpers: tiny configs and a deterministic toy driver for the hierarchical agent."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from xapps.agent import (
    Action,
    DDPGConfig,
    HierarchicalAgent,
    HierarchicalConfig,
    Observation,
    Transition,
)

OBS_HIGH, OBS_LOW, L, U = 5, 7, 3, 4  # obs_high_dim, obs_low_dim, slices, UE slots
PERIOD, EPISODE = 3, 8  # high level every 3 steps; episodes truncated after 8 steps


def tiny_ddpg(**overrides: object) -> DDPGConfig:
    base: dict[str, object] = {
        "hidden_sizes": (16, 16),
        "batch_size": 8,
        "buffer_size": 24,  # small enough that the low-level buffers wrap in the tests
        "learning_starts": 8,
        "td_window": 20,
    }
    return DDPGConfig.model_validate(base | overrides)


def tiny_config(**overrides: object) -> HierarchicalConfig:
    base: dict[str, object] = {
        "obs_high_dim": OBS_HIGH,
        "obs_low_dim": OBS_LOW,
        "n_slices": L,
        "max_ues": U,
        "high": tiny_ddpg(noise="ou", buffer_size=12),
        "low": tiny_ddpg(policy_frequency=2),
    }
    return HierarchicalConfig.model_validate(base | overrides)


def toy_obs(t: int) -> Observation:
    """Observation at global step t: a deterministic function of t (so runs can be split)."""
    rng = np.random.default_rng([7, t])
    return Observation(
        high=rng.normal(size=OBS_HIGH).astype(np.float32),
        low=rng.normal(size=(L, OBS_LOW)).astype(np.float32),
        ue_mask=rng.random((L, U)) < 0.7,
        high_due=(t % EPISODE) % PERIOD == 0,
    )


def toy_step(agent: HierarchicalAgent, t: int, *, update: bool = True) -> Action:
    """Act, observe and (optionally) update at global step t of the toy task."""
    obs = toy_obs(t)
    action = agent.act(obs, explore=True)
    truncated = t % EPISODE == EPISODE - 1
    next_obs = toy_obs(t + 1)
    closes = bool(next_obs.high_due) or truncated
    ue_err = np.where(obs.ue_mask, (action.ue_action - 0.3) ** 2, 0.0).mean(axis=1)
    agent.observe(
        Transition(
            obs=obs,
            action=action,
            reward_low=(-ue_err).astype(np.float32),
            next_obs=next_obs,
            reward_high=float(-np.sum(action.slice_shares**2)) if closes else None,
            truncated=truncated,
        )
    )
    if update:
        agent.update()
    return action


def drive(agent: HierarchicalAgent, steps: range) -> list[Action]:
    return [toy_step(agent, t) for t in steps]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The test networks are tiny: a second intra-op thread only adds OpenMP hand-offs, which on a
    busy shared 2-vCPU machine cost milliseconds each. Restored afterwards (it is process-wide)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
