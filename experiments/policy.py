"""A trained `AgentPool` as an `e2sim` policy: greedy, side-effect free.

The greedy view itself is the agent package's `xapps.agent.GreedyPool` (the same `act` the
agents and the DU xApp run, with the high action held by the view, not the agents); this adds
the policy name the evaluation reports use.
"""

from __future__ import annotations

from e2sim.env import HierAction
from xapps.agent import AgentPool, GreedyPool
from xapps.agent.interface import ObservationLike

__all__ = ["GreedyPolicy"]


class GreedyPolicy:
    """``act(obs) -> HierAction``: the greedy policy of every DU's learners."""

    def __init__(self, pool: AgentPool, name: str = "hrl") -> None:
        self.pool, self.name = pool, name
        self._view = GreedyPool(pool)

    def act(self, obs: ObservationLike) -> HierAction:
        a = self._view.act(obs)
        return HierAction(slice_shares=a.slice_shares, ue_action=a.ue_action)
