"""``metahrl/SliceSplit-v0``: one DU's inter-slice RB split as a Gymnasium env.

One step is one high-level decision: the action (slice scores in [-1, 1]) becomes the DU's slice
shares for ``env.high_period_steps`` low-level steps (100 ms by default), the observation is that
DU's high-level observation at the next decision (what the DU xApp's high-level agent sees) and the
reward is R_h = Σ_l QoS_l over the window (eq. 8). The other DUs of the scenario are simulated in
the same core env (their interference is real) and split by ``others``; per-UE scheduling inside
slices follows ``low`` (or an injected :class:`~metahrl_gym.core.LowDriver`).

Episodes end by truncation after ``env.episode_steps`` low-level steps (a time limit of the
simulation, never a terminal state): ``terminated`` is always False. ``reset(seed=s)`` simulates
the same UE drops, traffic and fading as ``metahrl eval`` seed ``s``; without a seed one is drawn
from the env's ``np_random``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from metahrl_gym.core import LowDriver, SplitCore, WindowResult
from metahrl_gym.render import RENDER_MODES, ansi_frame, rgb_frame
from metahrl_gym.settings import SplitViewConfig, parse_settings
from metahrl_gym.spaces import high_action_space, high_observation_space

__all__ = ["SliceSplitEnv"]

_SEED_HIGH = 2**31 - 1


class SliceSplitEnv(gym.Env[NDArray[Any], NDArray[Any]]):
    """Keyword arguments: the fields of :class:`~metahrl_gym.settings.SplitViewConfig`."""

    metadata = {"render_modes": RENDER_MODES, "render_fps": 10}  # noqa: RUF012 (gymnasium declares it)

    def __init__(self, render_mode: str | None = None, low_driver: LowDriver | None = None, **settings: Any):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode: {render_mode!r} is not one of {RENDER_MODES}")
        self.render_mode = render_mode
        self.settings = parse_settings(SplitViewConfig, settings)
        self.core = SplitCore(self.settings, low_driver)
        self.du = self.settings.du
        self.observation_space = high_observation_space()
        self.action_space = high_action_space()
        self._last: WindowResult | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        core_seed = seed if seed is not None else int(self.np_random.integers(_SEED_HIGH))
        obs = self.core.reset(core_seed)
        self._last = None
        return obs.high[self.du].copy(), {"seed": core_seed}

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"action: expected shape {self.action_space.shape}, got {a.shape}")
        actions = self.core.default_actions()
        actions[self.du] = a
        res = self._last = self.core.step(actions)
        d = self.du
        info = {"qos": res.qos[d].copy(), "slice_shares": res.shares[d].copy(), "t_ms": res.t_ms}
        return res.obs.high[d].copy(), float(res.reward[d]), False, res.truncated, info

    def render(self) -> str | NDArray[np.uint8] | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        shares, qos, t_ms = self._frame_data()
        if self.render_mode == "ansi":
            return ansi_frame(t_ms, [self.du], shares, qos)
        return rgb_frame([self.du], shares, qos)

    def _frame_data(self) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        mdp = self.core.env.mdp
        if self._last is not None:
            return self._last.shares, self._last.qos, self._last.t_ms
        if mdp is None:
            raise RuntimeError("call reset() before render()")
        return mdp.shares, mdp.high_qos, 0.0
