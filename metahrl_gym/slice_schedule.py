"""``metahrl/SliceSchedule-v0``: one slice's per-UE RB shares on one DU as a Gymnasium env.

One step is one low-level step (10 ms): the action holds a score in [-1, 1] per UE slot of the
slice; a softmax over the present slots gives each UE its share of the slice's quota (sent as
integer RC ratios, the contract's 'share' mapping). The observation is the slice's low-level
observation (what the DU xApp's slice agent sees; the ``present`` features are the UE mask) and
the reward is r_l = σ(Q̄_m) − σ(K_over) (eq. 9 with eq. 10's normalisers).

Every DU's slice split follows ``split`` (applied when the high level is due); every other slice
and DU gets equal per-UE shares. Episodes are truncated after ``env.episode_steps`` steps;
``terminated`` is always False.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from e2sim.env import HierAction, HierarchicalSlicingEnv, HierObs
from metahrl_gym.core import SplitDriver
from metahrl_gym.render import RENDER_MODES, ansi_frame, rgb_frame
from metahrl_gym.settings import ScheduleViewConfig, build_scenario, parse_settings
from metahrl_gym.spaces import low_action_space, low_observation_space
from slicing.slices import N_SLICES

__all__ = ["SliceScheduleEnv"]

_SEED_HIGH = 2**31 - 1


class SliceScheduleEnv(gym.Env[NDArray[Any], NDArray[Any]]):
    """Keyword arguments: the fields of :class:`~metahrl_gym.settings.ScheduleViewConfig`."""

    metadata = {"render_modes": RENDER_MODES, "render_fps": 100}  # noqa: RUF012 (gymnasium declares it)

    def __init__(self, render_mode: str | None = None, **settings: Any):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: {render_mode!r} is not one of {RENDER_MODES}")
        self.render_mode = render_mode
        self.settings = cfg = parse_settings(ScheduleViewConfig, settings)
        self.env = HierarchicalSlicingEnv(build_scenario(cfg), cfg.env)
        self.du, self.slice = cfg.du, cfg.slice_index
        self.split = SplitDriver(cfg.split, self.env)
        self.ue_slots = self.env.ue_slots
        self.observation_space = low_observation_space(self.ue_slots)
        self.action_space = low_action_space(self.ue_slots)
        self._ue = np.zeros((self.env.n_du, N_SLICES, self.ue_slots))
        self._obs: HierObs | None = None
        self._t_ms = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        core_seed = seed if seed is not None else int(self.np_random.integers(_SEED_HIGH))
        self._obs, _ = self.env.reset(core_seed)
        self.split.seed(core_seed)
        self._t_ms = 0.0
        return self._own(self._obs), {"seed": core_seed, "ue_mask": self._mask(self._obs)}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        obs = self._require()
        a = np.asarray(action, np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action: expected shape {self.action_space.shape}, got {a.shape}")
        shares = self.split.actions(obs) if obs.high_due else None
        self._ue[self.du, self.slice] = a
        nxt, rew, _, trunc, info = self.env.step(HierAction(slice_shares=shares, ue_action=self._ue))
        self._obs, self._t_ms = nxt, float(info["t_ms"])
        reward = float(rew.low[self.du, self.slice])
        return (
            self._own(nxt),
            reward,
            False,
            bool(trunc.all()),
            {"ue_mask": self._mask(nxt), "t_ms": self._t_ms},
        )

    def render(self) -> str | NDArray[np.uint8] | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        mdp = self.env.mdp
        if mdp is None or mdp.last_qos is None:
            raise RuntimeError("call reset() before render()")
        shares, qos = mdp.shares, mdp.last_qos.qos
        if self.render_mode == "ansi":
            return ansi_frame(self._t_ms, [self.du], shares, qos)
        return rgb_frame([self.du], shares, qos)

    def _own(self, obs: HierObs) -> NDArray[np.float32]:
        return obs.low[self.du, self.slice].copy()

    def _mask(self, obs: HierObs) -> NDArray[np.bool_]:
        return obs.ue_mask[self.du, self.slice].copy()

    def _require(self) -> HierObs:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        return self._obs
