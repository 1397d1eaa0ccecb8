"""What the views share: one core env, the rules that drive what the learner does not control,
and the high-level window step (one decision = ``high_period_steps`` low-level steps).

There is no second simulator loop: :class:`SplitCore` calls
:meth:`~e2sim.env.HierarchicalSlicingEnv.step` once per low-level step with a
:class:`~slicing.mdp.HierAction` and reads the contract's observations and rewards back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from e2sim.env import HierAction, HierarchicalSlicingEnv, HierObs, shares_to_action
from e2sim.policies import ClassicalPolicy
from metahrl_gym.settings import LowRule, SplitRule, SplitViewConfig, build_scenario
from slicing.slices import N_SLICES

__all__ = ["LowDriver", "RuleLow", "SplitCore", "SplitDriver", "WindowResult"]


class LowDriver(Protocol):
    """Per-UE actions of every DU for one low-level step (``None``: the node's own scheduler)."""

    scheduler: str

    def ue_action(self, obs: HierObs) -> NDArray[np.float64] | None: ...


class RuleLow:
    """:data:`~metahrl_gym.settings.LowRule`: built-in PF/RR, or equal per-UE shares."""

    def __init__(self, rule: LowRule, env: HierarchicalSlicingEnv) -> None:
        self.rule = rule
        self.scheduler = "rr" if rule == "rr" else "pf"
        self._zeros = np.zeros((env.n_du, N_SLICES, env.ue_slots))

    def ue_action(self, obs: HierObs) -> NDArray[np.float64] | None:
        return self._zeros if self.rule == "uniform" else None


class SplitDriver:
    """Slice-score actions (D, 3) of a :data:`~metahrl_gym.settings.SplitRule` for every DU."""

    def __init__(self, rule: SplitRule, env: HierarchicalSlicingEnv) -> None:
        self.rule = rule
        self.n_du = env.n_du
        self._classical = None if rule == "random" else ClassicalPolicy(env, rule, "pf")
        self.rng = np.random.default_rng(0)

    def seed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def actions(self, obs: HierObs) -> NDArray[np.float64]:
        if self._classical is None:
            return shares_to_action(self.rng.dirichlet(np.ones(N_SLICES), size=self.n_du))
        a = self._classical.act(obs).slice_shares
        assert a is not None  # a classical policy always splits when the high level is due
        return np.asarray(a, np.float64)


@dataclass(frozen=True)
class WindowResult:
    obs: HierObs  # at the next decision (high_due)
    reward: NDArray[np.float64]  # (D,) R_h of the window (eq. 8)
    truncated: bool
    qos: NDArray[np.float64]  # (D, 3) QoS of the window
    shares: NDArray[np.float64]  # (D, 3) slice shares in force during the window
    t_ms: float


class SplitCore:
    """All DUs' slice splits over one core env; the learner's DUs are given, the rest follow
    ``config.others``; per-UE scheduling follows ``config.low`` or an injected driver."""

    def __init__(self, config: SplitViewConfig, low: LowDriver | None = None) -> None:
        self.config = config
        self.scenario = build_scenario(config)
        self.env = HierarchicalSlicingEnv(self.scenario, config.env)
        self.n_du = self.env.n_du
        self.low: LowDriver = low or RuleLow(config.low, self.env)
        self.others = SplitDriver(config.others, self.env)
        self.obs: HierObs | None = None

    def reset(self, seed: int) -> HierObs:
        self.obs, _ = self.env.reset(seed)
        self.others.seed(seed)
        return self.obs

    def default_actions(self) -> NDArray[np.float64]:
        """(D, 3) the ``others`` rule's actions at the current decision."""
        return self.others.actions(self._require())

    def step(self, actions: NDArray[np.floating]) -> WindowResult:
        """Apply slice scores (D, 3) and run the low level until the window closes."""
        obs = self._require()
        a = np.asarray(actions, np.float64)
        while True:
            action = HierAction(
                slice_shares=a, ue_action=self.low.ue_action(obs), scheduler=self.low.scheduler
            )
            obs, rew, _, trunc, info = self.env.step(action)
            if rew.high_valid:
                break
        self.obs = obs
        assert self.env.mdp is not None and self.env.mdp.last_high_qos is not None
        return WindowResult(
            obs=obs,
            reward=rew.high.copy(),
            truncated=bool(trunc.all()),
            qos=self.env.mdp.last_high_qos.qos.copy(),
            shares=self.env.mdp.shares.copy(),
            t_ms=float(info["t_ms"]),
        )

    def _require(self) -> HierObs:
        if self.obs is None:
            raise RuntimeError("call reset() before step()")
        return self.obs
