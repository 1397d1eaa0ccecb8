"""A trained `AgentPool` as an `e2sim` policy: greedy, side-effect free.

The greedy view itself is the agent package's `xapps.agent.GreedyPool` (the same `act` the
agents and the DU xApp run, with the high action held by the view, not the agents); this adds
the policy name the evaluation reports use.
"""

from __future__ import annotations

from xapps.agent import AgentPool, GreedyPool

__all__ = ["GreedyPolicy"]


class GreedyPolicy(GreedyPool):
    """``act(obs) -> HierAction``-compatible greedy policy of every DU's learners."""

    def __init__(self, pool: AgentPool, name: str = "hrl") -> None:
        super().__init__(pool)
        self.name = name
