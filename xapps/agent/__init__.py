"""The HRL agent: DDPG learners, the two-level per-DU agent, and what they need (replay, noise,
TD-error statistics, checkpoints). Transport-agnostic: no simulator, E2 or network imports.

Usage, one DU (the DU xApp)::

    agent = HierarchicalAgent(HierarchicalConfig(obs_high_dim=12, obs_low_dim=125), seed=0)
    action = agent.act(obs, explore=True)          # obs: high, low, ue_mask, high_due
    agent.observe(Transition(obs, action, reward_low, next_obs, reward_high, terminated))
    metrics = agent.update()                       # {"high": UpdateMetrics, "low.0": …}

All DUs (the offline trainer): `AgentPool.create(config, n_dus, seed=…)` with (D, …) arrays.
"""

from xapps.agent.checkpoint import CheckpointError, load_checkpoint_file, save_checkpoint_file
from xapps.agent.ddpg import (
    DDPG,
    MASK_FILL,
    CriticLoss,
    DDPGConfig,
    Networks,
    UpdateMetrics,
    actor_loss,
    critic_loss,
    ddpg_loss,
    mask_action,
    soft_update,
)
from xapps.agent.hierarchical import HierarchicalAgent, HierarchicalConfig
from xapps.agent.interface import (
    Action,
    AgentStateError,
    Observation,
    ObservationLike,
    Transition,
    TwoTimeScaleClock,
    observation_of_du,
)
from xapps.agent.noise import GaussianNoise, OrnsteinUhlenbeckNoise, make_noise
from xapps.agent.pool import AgentPool, GreedyPool
from xapps.agent.replay import Batch, ReplayBuffer
from xapps.agent.td_stats import RunningVariance, TDStats, TDVariance, WindowedVariance

__all__ = [
    "DDPG",
    "MASK_FILL",
    "Action",
    "AgentPool",
    "AgentStateError",
    "Batch",
    "CheckpointError",
    "CriticLoss",
    "DDPGConfig",
    "GaussianNoise",
    "GreedyPool",
    "HierarchicalAgent",
    "HierarchicalConfig",
    "Networks",
    "Observation",
    "ObservationLike",
    "OrnsteinUhlenbeckNoise",
    "ReplayBuffer",
    "RunningVariance",
    "TDStats",
    "TDVariance",
    "Transition",
    "TwoTimeScaleClock",
    "UpdateMetrics",
    "WindowedVariance",
    "actor_loss",
    "critic_loss",
    "ddpg_loss",
    "load_checkpoint_file",
    "make_noise",
    "mask_action",
    "observation_of_du",
    "save_checkpoint_file",
    "soft_update",
]
