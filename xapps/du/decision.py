"""One DU's decision step, sans-IO: a KPI window in, the controls to send out.

:class:`DuController` runs the slicing contract's :class:`~slicing.mdp.SlicingMdp` for one DU
and the hierarchical agent's ``act`` (the same :class:`~xapps.agent.HierarchicalAgent` that
``metahrl train`` trains). Each decision returns the per-UE PRB ratios that changed since they
were last sent (a UE the DU stopped reporting is forgotten, so it is re-sent when it returns) and
the slice-level quotas, which the service sends last, every period (in lockstep they close the
node's wait). The transition it returns is what the learner stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from slicing import HierAction, HierObs, HierReward, KpiWindow, MdpConfig, SlicingMdp, WindowQos
from slicing.task import DuTask
from xapps.agent.interface import Action, Observation, Transition, observation_of_du

__all__ = ["Decision", "DuController", "Policy", "UeControl"]


class Policy(Protocol):
    def act(self, obs: Observation, explore: bool = True) -> Action: ...


@dataclass(frozen=True, slots=True)
class UeControl:
    ue_id: int  # E2 UE id (gNB-CU-UE-F1AP-ID)
    slice: int
    ratio: int  # percent of the slice's PRBs


@dataclass(frozen=True)
class Decision:
    slice_ratio: NDArray[np.int64]  # (3,) max PRB ratio per slice, percent of K
    ue_controls: tuple[UeControl, ...]  # the ratios to send (changed ones only)
    obs: HierObs
    action: Action
    reward: HierReward | None  # None at an episode's first decision
    qos: WindowQos
    transition: Transition | None


class DuController:
    """The MDP and the policy of one DU (see the module docs)."""

    def __init__(
        self, task: DuTask, config: MdpConfig, policy: Policy, *, low_reward_qos_weight: float = 0.0
    ) -> None:
        self.task, self.config, self.policy = task, config, policy
        self.low_reward_qos_weight = low_reward_qos_weight
        self.mdp = SlicingMdp(1, task.cell, task.sla, config)
        self._fresh = True
        self._prev: tuple[Observation, Action] | None = None
        self._sent: dict[int, int] = {}
        self.decisions = 0

    def restart(self) -> None:
        """The next window starts a new episode (the node reconnected or re-subscribed)."""
        self._fresh, self._prev = True, None
        self._sent.clear()

    def control_failed(self, ue_id: int) -> None:
        """A UE's ratio did not reach the node: send it again next time."""
        self._sent.pop(ue_id, None)

    def decide(self, window: KpiWindow, explore: bool) -> Decision:
        """Observe ``window`` (measured under the last decision's controls) and act."""
        if self._fresh:
            obs, reward = self.mdp.reset(window), None
            self._fresh = False
        else:
            obs, reward = self.mdp.observe(window)
        qos = self.mdp.last_qos
        assert qos is not None
        obs_du = observation_of_du(obs, 0)
        transition = self._transition(obs_du, reward, qos)
        action = self.policy.act(obs_du, explore)
        plan = self.mdp.plan(
            HierAction(slice_shares=action.slice_shares[None], ue_action=action.ue_action[None])
        )
        self._prev = (obs_du, action)
        self.decisions += 1
        return Decision(
            slice_ratio=plan.slice_ratio[0].copy(),
            ue_controls=self._changed(plan.ue_id, plan.ue_slice, plan.ue_ratio),
            obs=obs,
            action=action,
            reward=reward,
            qos=qos,
            transition=transition,
        )

    def _transition(self, obs: Observation, reward: HierReward | None, qos: WindowQos) -> Transition | None:
        if self._prev is None or reward is None:
            return None
        prev_obs, prev_action = self._prev
        r_low = reward.low[0]
        if self.low_reward_qos_weight:
            r_low = r_low + self.low_reward_qos_weight * (qos.qos[0] - 1.0)
        r_high = float(reward.high[0]) if reward.high_valid else None
        return Transition(prev_obs, prev_action, r_low.astype(np.float32), obs, r_high)

    def _changed(
        self, ue_id: NDArray[np.int64], ue_slice: NDArray[np.int64], ratio: NDArray[np.int64]
    ) -> tuple[UeControl, ...]:
        present = set(int(u) for u in ue_id)
        for gone in [u for u in self._sent if u not in present]:
            del self._sent[gone]
        out = []
        for u, s, r in zip(ue_id.tolist(), ue_slice.tolist(), ratio.tolist(), strict=True):
            if self._sent.get(u) != r:
                self._sent[u] = r
                out.append(UeControl(u, s, r))
        return tuple(out)
