"""Collect exploring episodes with an `AgentPool` (one agent per DU), as the trainer does.

``collect_episode`` runs one whole episode: the pool acts (μ(s) + noise), the env steps, and the
transitions go to the pool that should learn from them (the acting pool by default; meta-training
sends its query episodes to a separate pool whose buffers hold only the query set). An optional
``learn`` callback runs after every step (phase 1 trains online).

``update_pool`` is the one update step of every phase: one DDPG update of each learner of each
agent that is ready, except learners of frozen levels and learners a gate holds back (MTL's
learners wait until the new task's own data would make a fresh learner ready).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from e2sim.env import HierAction, HierarchicalSlicingEnv
from experiments.meta.budget import Level, level_of
from xapps.agent import AgentPool, HierarchicalAgent, Transition

__all__ = ["collect_episode", "update_pool"]


def update_pool(
    pool: Iterable[HierarchicalAgent],
    frozen: tuple[Level, ...] = (),
    gate: Callable[[str], bool] | None = None,
) -> int:
    """One update of every ready learner of every agent, skipping frozen levels and learners
    for which ``gate(name)`` is False. Returns the number of gradient steps made."""
    steps = 0
    for agent in pool:
        for name, learner in agent.agents().items():
            if level_of(name) in frozen or (gate is not None and not gate(name)):
                continue
            steps += learner.update() is not None
    return steps


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
