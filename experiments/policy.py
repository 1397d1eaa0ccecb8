"""A trained `AgentPool` as an `e2sim` policy: greedy (no exploration noise), side-effect free.

The pool's own `act` keeps each agent's held high action as agent state; evaluating through it
would disturb a training run in progress. :class:`GreedyPolicy` calls the learners' actors
directly and holds the high-level action itself, so the same pool can be evaluated mid-training
and training continues exactly as if no evaluation had happened.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from e2sim.env import HierAction, HierObs
from xapps.agent import AgentPool

__all__ = ["GreedyPolicy"]


class GreedyPolicy:
    """``act(obs) -> HierAction`` with μ(s) of every DU's learners (explore=False)."""

    def __init__(self, pool: AgentPool, name: str = "hrl") -> None:
        self.pool, self.name = pool, name
        self._held: npt.NDArray[np.float32] | None = None

    def act(self, obs: HierObs) -> HierAction:
        n = len(self.pool)
        if np.shape(obs.high)[0] != n:
            raise ValueError(f"observation has {np.shape(obs.high)[0]} DUs, the policy has {n}")
        with torch.no_grad():
            if obs.high_due or self._held is None:
                self._held = np.stack([a.high.act(obs.high[d], False) for d, a in enumerate(self.pool)])
            ue = np.stack(
                [
                    np.stack(
                        [
                            learner.act(obs.low[d, i], False, mask=obs.ue_mask[d, i])
                            for i, learner in enumerate(agent.low)
                        ]
                    )
                    for d, agent in enumerate(self.pool)
                ]
            )
        return HierAction(slice_shares=self._held.copy(), ue_action=ue)
