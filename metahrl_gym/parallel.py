"""Every DU's slice split at once as a PettingZoo ``ParallelEnv`` (one agent ``du<d>`` per DU).

One step is one high-level decision of all DUs together: each agent's action (slice scores in
[-1, 1]) is its DU's split for the next window, its observation is the DU's high-level
observation and its reward the DU's R_h (eq. 8). Per-UE scheduling follows ``low`` (or an
injected :class:`~metahrl_gym.core.LowDriver`); ``others`` is unused (every DU is an agent).
Episodes are truncated for every agent together after ``env.episode_steps`` low-level steps;
then ``agents`` is empty until the next ``reset``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from pettingzoo import ParallelEnv

from metahrl_gym.core import LowDriver, SplitCore, WindowResult
from metahrl_gym.render import RENDER_MODES, ansi_frame, rgb_frame
from metahrl_gym.settings import SplitViewConfig, parse_settings
from metahrl_gym.spaces import high_action_space, high_observation_space

__all__ = ["SliceSplitParallelEnv", "parallel_env"]

_SEED_HIGH = 2**31 - 1
Obs = dict[str, NDArray[np.float32]]


class SliceSplitParallelEnv(ParallelEnv[str, NDArray[np.float32], NDArray[np.float32]]):
    """Keyword arguments: the fields of :class:`~metahrl_gym.settings.SplitViewConfig`."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "metahrl_slice_split_v0",
        "render_modes": RENDER_MODES,
        "is_parallelizable": True,
    }

    def __init__(self, render_mode: str | None = None, low_driver: LowDriver | None = None, **settings: Any):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: {render_mode!r} is not one of {RENDER_MODES}")
        self.render_mode = render_mode
        self.settings = parse_settings(SplitViewConfig, settings)
        self.core = SplitCore(self.settings, low_driver)
        self.possible_agents = [f"du{d}" for d in range(self.core.n_du)]
        self.agents: list[str] = []
        self._obs_space = high_observation_space()
        self._act_space = high_action_space()
        self._rng = np.random.default_rng()
        self._last: WindowResult | None = None

    def observation_space(self, agent: str) -> spaces.Box:
        self._index(agent)
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Box:
        self._index(agent)
        return self._act_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        core_seed = seed if seed is not None else int(self._rng.integers(_SEED_HIGH))
        obs = self.core.reset(core_seed)
        self.agents = list(self.possible_agents)
        self._last = None
        return {a: obs.high[d].copy() for d, a in enumerate(self.agents)}, {a: {} for a in self.agents}

    def step(
        self, actions: dict[str, NDArray[np.float32]]
    ) -> tuple[Obs, dict[str, float], dict[str, bool], dict[str, bool], dict[str, Any]]:
        if not self.agents:
            raise RuntimeError("every agent is done: call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions: missing for agents {missing}")
        acts = np.stack([np.asarray(actions[a], np.float64).reshape(-1) for a in self.possible_agents])
        if acts.shape != (self.core.n_du, 3):
            raise ValueError(f"actions: each must have shape (3,), got {acts.shape[1:]}")
        res = self._last = self.core.step(acts)
        agents = self.possible_agents
        obs = {a: res.obs.high[d].copy() for d, a in enumerate(agents)}
        rewards = {a: float(res.reward[d]) for d, a in enumerate(agents)}
        terms = dict.fromkeys(agents, False)
        truncs = dict.fromkeys(agents, res.truncated)
        infos = {
            a: {"qos": res.qos[d].copy(), "slice_shares": res.shares[d].copy()} for d, a in enumerate(agents)
        }
        if res.truncated:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def state(self) -> NDArray[np.float32]:
        """Every DU's high-level observation, concatenated."""
        obs = self.core.obs
        if obs is None:
            raise RuntimeError("call reset() before state()")
        return obs.high.reshape(-1).copy()

    def render(self) -> str | NDArray[np.uint8] | None:
        if self.render_mode is None:
            return None
        dus = list(range(self.core.n_du))
        mdp = self.core.env.mdp
        if self._last is not None:
            shares, qos, t_ms = self._last.shares, self._last.qos, self._last.t_ms
        elif mdp is not None:
            shares, qos, t_ms = mdp.shares, mdp.high_qos, 0.0
        else:
            raise RuntimeError("call reset() before render()")
        if self.render_mode == "ansi":
            return ansi_frame(t_ms, dus, shares, qos)
        return rgb_frame(dus, shares, qos)

    def close(self) -> None:
        pass

    def _index(self, agent: str) -> int:
        try:
            return self.possible_agents.index(agent)
        except ValueError:
            raise KeyError(f"unknown agent {agent!r}; agents are {self.possible_agents}") from None


def parallel_env(render_mode: str | None = None, **settings: Any) -> SliceSplitParallelEnv:
    """PettingZoo's conventional constructor name."""
    return SliceSplitParallelEnv(render_mode=render_mode, **settings)
