"""The agent against the real hierarchical env (the contract only; the agent never imports e2sim)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.agent.conftest import tiny_ddpg
from xapps.agent import AgentPool, HierarchicalConfig, Transition

env_mod = pytest.importorskip("e2sim.env")
scenario_mod = pytest.importorskip("e2sim.scenario")


def test_pool_drives_the_hierarchical_env() -> None:
    env = env_mod.HierarchicalSlicingEnv(
        scenario_mod.load_scenario("paper"), env_mod.EnvConfig(episode_steps=20)
    )
    obs, _ = env.reset(seed=0)
    cfg = HierarchicalConfig(
        obs_high_dim=env.obs_high_dim,
        obs_low_dim=env.obs_low_dim,
        max_ues=env.ue_slots,
        high=tiny_ddpg(learning_starts=2, batch_size=2),
        low=tiny_ddpg(buffer_size=64),
    )
    pool = AgentPool.create(cfg, env.n_du, seed=0)
    updated = []
    for episode in range(2):
        for _ in range(20):
            action = pool.act(obs)
            env_action = env_mod.HierAction(slice_shares=action.slice_shares, ue_action=action.ue_action)
            next_obs, reward, terminated, truncated, _ = env.step(env_action)
            r_high = reward.high if reward.high_valid else None
            pool.observe(Transition(obs, action, reward.low, next_obs, r_high, terminated, truncated))
            updated.append(pool.update()[0])
            obs = next_obs
        assert truncated.all()
        obs, _ = env.reset(seed=episode + 1)
    assert [len(agent.high.replay) for agent in pool] == [4] * env.n_du  # 2 windows per episode
    assert len(pool[0].low[0].replay) == 40
    assert {"high", "low.0", "low.1", "low.2"} <= set(updated[-1])
    assert all(np.isfinite(v.running) for v in pool[0].td_variance().values())
