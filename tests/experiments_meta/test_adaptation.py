"""Adaptation from the meta-initialisation beats adaptation from scratch (issue 4, item 5).

Configuration (small, seeded, ~6 s per seed on one core): two training DUs and a new 2-DU task whose eMBB
users all ask for more than the cell can carry (so R_h depends on the slice split), one decision
of both levels every 10 ms (``high_period_steps = 1``), γ = 0 (each decision is judged by its own
reward, which makes the critics' job small), 16-unit networks. Meta-training: 20 iterations of
Algorithm 1 (T_e = 3 episodes of 10 steps, 10 inner DDPG updates, softmin weights, β = 0.5 for
critics and 0.05 for actors). Adaptation: 5 shots (one episode + one update of every network)
from θ_M and from θ_0, the random initialisation θ_M itself started from.

What "beats" means here: the post-adaptation loss that MAML minimises (eq. 12–13) — the TD
loss of the four critics on held-out transitions of the new task, collected by a third,
independent policy (identical data for both agents). We do not assert on the greedy reward: at
this budget the actors barely move from θ_0 (the quick preset's report measures and shows that
honestly), so a reward assertion would test noise. The critics, however, learn the scale of the
task's rewards during meta-training, which five updates from scratch cannot: measured ratios
scratch / meta of the summed TD loss were 28×, 65× and 17× on seeds 0, 1, 2. The assertion asks for 3× on
each of the three seeds — an order of magnitude below the smallest measured ratio, so it does not
flake, and still far above 1 (a broken meta-update, e.g. one that leaves θ_M = θ_0 or moves it
the wrong way, gives a ratio ≈ 1 or below).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from e2sim.scenario import scenario_from_dict
from experiments.meta.envs import agent_config, initial_params, make_env, make_pool
from experiments.meta.metatrain import MetaLearner
from experiments.meta.preset import ReproducePreset, preset_from_dict
from experiments.meta.rollout import collect_episode
from xapps.agent import AgentPool

_NET = {"hidden_sizes": [16], "gamma": 0.0, "batch_size": 16, "learning_starts": 16, "buffer_size": 2000}
PRESET = preset_from_dict(
    {
        "name": "adaptation-test",
        "ue_slots": 4,
        "env": {"episode_steps": 10, "high_period_steps": 1, "low_action": "simplex"},
        "high": _NET,
        "low": _NET,
        "meta": {
            "iterations": 20,
            "episodes": 3,
            "query_episodes": 1,
            "inner_steps": 10,
            "beta": 0.5,
            "beta_actor": 0.05,
        },
        "adapt": {"iterations": 5, "shots": {"eval_shots": [0, 5], "batch_size": 16}, "eval_steps": 10},
    }
)


def _task(rate: tuple[float, float], sla: float, n_embb: int) -> dict[str, object]:
    return {
        "embb": {"n_ues": n_embb, "rate_mbps": list(rate), "sla_throughput_mbps": sla},
        "mmtc": {"n_ues": 1},
        "urllc": {"n_ues": 1},
    }


TRAIN = scenario_from_dict(
    {
        "name": "train",
        "n_du": 2,
        "radio": {"fading": "scheduled"},
        "tasks": {"a": _task((30, 40), 25, 4), "b": _task((35, 45), 30, 3)},
        "assignment": ["a", "b"],
    }
)
NEW = scenario_from_dict(
    {
        "name": "new",
        "n_du": 2,
        "radio": {"fading": "scheduled"},
        "tasks": {"n": _task((32, 42), 28, 4)},
        "assignment": ["n", "n"],
    }
)


def _adapt(params: dict[str, torch.Tensor], preset: ReproducePreset, seed: int) -> AgentPool:
    """Five shots on the new task: one exploring episode, then one update of every network."""
    env = make_env(NEW, preset)
    pool = make_pool(agent_config(preset, env), env.n_du, params, seed=seed)
    for shot in range(preset.adapt_iterations):
        collect_episode(env, pool, seed=1000 + shot)
        pool.update()
    return pool


def _held_out(preset: ReproducePreset, seed: int) -> AgentPool:
    """New-task transitions from an independent random policy (never trained on)."""
    env = make_env(NEW, preset)
    config = agent_config(preset, env)
    pool = make_pool(config, env.n_du, initial_params(config, seed + 777), seed=seed + 777)
    for episode in range(4):
        collect_episode(env, pool, seed=5000 + episode)
    return pool


def _td_loss(pool: AgentPool, data: AgentPool) -> float:
    total = 0.0
    with torch.no_grad():
        for agent, source in zip(pool, data, strict=True):
            for name, learner in agent.agents().items():
                batch = source.agents()[name].sample(64)
                total += float(learner.critic_loss(batch).loss)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_meta_initialisation_adapts_better_than_scratch(seed: int) -> None:
    torch.manual_seed(seed)
    config = agent_config(PRESET, make_env(TRAIN, PRESET))
    theta0 = initial_params(config, seed)
    theta_m = MetaLearner(TRAIN, PRESET, "softmin", theta0, seed).run().theta
    data = _held_out(PRESET, seed)
    meta_loss = _td_loss(_adapt(theta_m, PRESET, seed), data)
    scratch_loss = _td_loss(_adapt(theta0, PRESET, seed), data)
    assert np.isfinite(meta_loss) and np.isfinite(scratch_loss)
    assert scratch_loss > 3.0 * meta_loss, (scratch_loss, meta_loss)
