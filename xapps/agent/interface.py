"""What crosses the boundary between the agent and whoever drives it (env, trainer, DU xApp).

Plain arrays only; nothing here knows about the simulator, E2 or sockets. One DU's arrays have no
DU axis; the batched forms used by `AgentPool` put the DU axis first.

Shapes (L slices, U = U_max UE slots per slice, H = obs_high_dim, O = obs_low_dim):

=============  ===========================  ================================================
field          one DU                       meaning
=============  ===========================  ================================================
high           float32 (H,)                 high-level (inter-slice) state
low            float32 (L, O)               one state per slice's low-level agent
ue_mask        bool (L, U)                  True where a UE occupies the slot
high_due       bool                         the high level acts at this step
slice_shares   float32 (L,)                 high action, tanh output in [-1, 1]^L
ue_action      float32 (L, U)               per-UE RB requests in [-1, 1]; absent UEs get -1
reward_low     float32 (L,)                 eq. 9 per slice, every step
reward_high    float or None                eq. 8, R_h of the high window closing at this step
=============  ===========================  ================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "Action",
    "AgentStateError",
    "Observation",
    "ObservationLike",
    "Transition",
    "TwoTimeScaleClock",
    "observation_of_du",
]


class AgentStateError(RuntimeError):
    """The agent was driven out of order (e.g. a high window closed before the high level acted)."""


class ObservationLike(Protocol):
    """Anything with the four observation fields (the env's own type will do)."""

    @property
    def high(self) -> npt.NDArray[Any]: ...

    @property
    def low(self) -> npt.NDArray[Any]: ...

    @property
    def ue_mask(self) -> npt.NDArray[Any]: ...

    @property
    def high_due(self) -> bool | npt.NDArray[np.bool_]: ...


@dataclass(frozen=True)
class Observation:
    """One low-level step's observation, for one DU or (leading axis D) for all DUs."""

    high: npt.NDArray[np.float32]
    low: npt.NDArray[np.float32]
    ue_mask: npt.NDArray[np.bool_]
    high_due: bool | npt.NDArray[np.bool_]


def observation_of_du(obs: ObservationLike, d: int) -> Observation:
    """DU `d`'s slice of a batched observation (`high_due` may be one flag for all DUs)."""
    due = obs.high_due
    return Observation(
        high=np.asarray(obs.high[d]),
        low=np.asarray(obs.low[d]),
        ue_mask=np.asarray(obs.ue_mask[d]),
        high_due=bool(due if np.ndim(due) == 0 else np.asarray(due)[d]),
    )


@dataclass(frozen=True)
class Action:
    """The agent's action for one DU, or stacked (leading axis D) for all DUs."""

    slice_shares: npt.NDArray[np.float32]
    ue_action: npt.NDArray[np.float32]

    @staticmethod
    def stack(actions: Sequence[Action]) -> Action:
        return Action(
            slice_shares=np.stack([a.slice_shares for a in actions]),
            ue_action=np.stack([a.ue_action for a in actions]),
        )

    def of_du(self, d: int) -> Action:
        return Action(slice_shares=self.slice_shares[d], ue_action=self.ue_action[d])


@dataclass(frozen=True)
class Transition:
    """(s, a, r, s') of one low-level step.

    `reward_high` is the high level's reward R_h for the window that closes with this step: it is
    required when `next_obs.high_due` is set, ignored on other steps, and optional at an episode
    end (a partial window closes with it if given, else it is dropped). `terminated`: s' is
    terminal (no bootstrap); `truncated`: the episode was cut (time limit), s' is bootstrapped
    from. Batched: every field gains a leading DU axis (`reward_high` (D,), flags bool or (D,)).
    With `e2sim.env`: ``reward_high = reward.high if reward.high_valid else None``.
    """

    obs: ObservationLike
    action: Action
    reward_low: npt.NDArray[np.float32]
    next_obs: ObservationLike
    reward_high: float | npt.NDArray[np.float32] | None = None
    terminated: bool | npt.NDArray[np.bool_] = False
    truncated: bool | npt.NDArray[np.bool_] = False

    def of_du(self, d: int) -> Transition:
        """DU `d`'s slice of a batched transition."""

        def pick(x: Any) -> Any:
            return x if x is None or np.ndim(x) == 0 else np.asarray(x)[d]

        r_high = pick(self.reward_high)
        return Transition(
            obs=observation_of_du(self.obs, d),
            action=self.action.of_du(d),
            reward_low=np.asarray(self.reward_low)[d],
            next_obs=observation_of_du(self.next_obs, d),
            reward_high=None if r_high is None else float(r_high),
            terminated=bool(pick(self.terminated)),
            truncated=bool(pick(self.truncated)),
        )


class TwoTimeScaleClock:
    """The two-time-scale schedule (SPEC §3): the low level acts every step, the high level at the
    first step of an episode and every `period` low-level steps after (default 10 → 100 ms).

    For whoever produces `high_due` (the env, or a DU xApp that keeps its own time); the agent
    itself just follows the flag.
    """

    def __init__(self, period: int = 10) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period = period
        self.step = 0

    @property
    def high_due(self) -> bool:
        return self.step % self.period == 0

    def tick(self) -> None:
        """Advance one low-level step."""
        self.step += 1

    def reset(self) -> None:
        """New episode: the high level is due at the next step."""
        self.step = 0
