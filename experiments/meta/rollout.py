"""Collect exploring episodes with an `AgentPool` (one agent per DU), as the trainer does.

``collect_episode`` runs one whole episode: the pool acts (μ(s) + noise), the env steps, and the
transitions go to the pool that should learn from them (the acting pool by default; meta-training
sends its query episodes to a separate pool whose buffers hold only the query set). An optional
``learn`` callback runs after every step (phase 1 trains online).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from e2sim.env import HierAction, HierarchicalSlicingEnv
from xapps.agent import AgentPool, Transition

__all__ = ["collect_episode"]


def collect_episode(
    env: HierarchicalSlicingEnv,
    actor: AgentPool,
    seed: int,
    *,
    store: AgentPool | None = None,
    learn: Callable[[int], None] | None = None,
) -> NDArray[np.float64]:
    """One exploring episode from ``env.reset(seed)``; returns each DU's Σ R_h (eq. 8).

    Transitions are observed by `store` (default: `actor`). `learn(step)` is called after each
    step with the step index within the episode.
    """
    sink = actor if store is None else store
    obs, _ = env.reset(seed)
    ret = np.zeros(env.n_du)
    for step in range(env.config.episode_steps):
        action = actor.act(obs, explore=True)
        nxt, rew, term, trunc, _ = env.step(
            HierAction(slice_shares=action.slice_shares, ue_action=action.ue_action)
        )
        r_high = rew.high.astype(np.float32) if rew.high_valid else None
        sink.observe(Transition(obs, action, rew.low.astype(np.float32), nxt, r_high, term, trunc))
        if rew.high_valid:
            ret += rew.high
        if learn is not None:
            learn(step)
        obs = nxt
        if term.any() or trunc.any():
            break
    if sink is not actor:
        actor.reset_episode()  # the acting pool saw no episode end: drop its held high action
    return ret
