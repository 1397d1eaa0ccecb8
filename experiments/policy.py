"""A trained `AgentPool` as an `e2sim` policy, or as the low level under another high level:
greedy, side-effect free.

The greedy view itself is the agent package's `xapps.agent.GreedyPool` (the same `act` the
agents and the DU xApp run, with the high action held by the view, not the agents); this adds
the policy name the evaluation reports use, and `GreedyLow`: only the per-UE half of that act,
for a `metahrl_gym` split view whose slice split someone else decides.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from e2sim.env import HierAction
from xapps.agent import AgentPool, GreedyPool
from xapps.agent.interface import ObservationLike

__all__ = ["GreedyLow", "GreedyPolicy"]


class GreedyPolicy:
    """``act(obs) -> HierAction``: the greedy policy of every DU's learners."""

    def __init__(self, pool: AgentPool, name: str = "hrl") -> None:
        self.pool, self.name = pool, name
        self._view = GreedyPool(pool)

    def act(self, obs: ObservationLike) -> HierAction:
        a = self._view.act(obs)
        return HierAction(slice_shares=a.slice_shares, ue_action=a.ue_action)


class GreedyLow:
    """A :class:`~metahrl_gym.core.LowDriver`: every DU's slice agents, greedy and frozen.

    ``ue_action(obs)`` is the ``ue_action`` of :class:`GreedyPool`'s act on the same observation
    (μ(s) of each slice's actor, −1 in absent UE slots); the high action that act also computes
    is dropped, since the view applies the learner's split. Nothing here updates the agents."""

    scheduler = "pf"  # unused: every step carries per-UE actions

    def __init__(self, pool: AgentPool) -> None:
        self.pool = pool
        self._view = GreedyPool(pool)

    def ue_action(self, obs: ObservationLike) -> NDArray[np.float64]:
        return np.asarray(self._view.act(obs).ue_action, np.float64)
