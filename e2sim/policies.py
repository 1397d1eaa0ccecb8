"""Classical baselines as policies over :class:`~e2sim.env.HierarchicalSlicingEnv`.

A policy maps an observation to a :class:`~e2sim.env.HierAction`. Slice splits:

- ``equal``: K/3 RBs per slice;
- ``static``: the task's fixed ``static_split`` (default 70/10/20 % eMBB/mMTC/URLLC);
- ``proportional``: shares ∝ each slice's measured demand (RBs per TTI needed for what arrived
  plus what waits, from the observation), with a floor of 2 % per slice;

each combined with a built-in intra-slice scheduler: ``rr`` (round robin) or ``pf``
(proportional fair). ``random`` draws Dirichlet slice shares and uniform per-UE requests.
Policy names: ``equal-rr``, ``equal-pf``, ``static-rr``, ``static-pf``, ``proportional-rr``,
``proportional-pf``, ``random``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from e2sim.core import SchedulerKind
from e2sim.env import HierAction, HierarchicalSlicingEnv, HierObs, high_block, shares_to_action

__all__ = ["BASELINES", "ClassicalPolicy", "Policy", "RandomPolicy", "make_baseline"]

BASELINES = (
    "equal-rr",
    "equal-pf",
    "static-rr",
    "static-pf",
    "proportional-rr",
    "proportional-pf",
    "random",
)


class Policy(Protocol):
    name: str

    def act(self, obs: HierObs) -> HierAction: ...


class ClassicalPolicy:
    """A slice split rule plus a built-in scheduler inside slices."""

    def __init__(self, env: HierarchicalSlicingEnv, split: str, scheduler: SchedulerKind) -> None:
        if split not in ("equal", "static", "proportional"):
            raise ValueError(f"unknown split {split!r}")
        self.name = f"{split}-{scheduler}"
        self.split = split
        self.scheduler: SchedulerKind = scheduler
        self.n_du = env.n_du
        self._static = np.array([env.scenario.task_of(d).static_split for d in range(env.n_du)])

    def act(self, obs: HierObs) -> HierAction:
        if not obs.high_due:
            return HierAction(scheduler=self.scheduler)
        if self.split == "equal":
            shares = np.full((self.n_du, 3), 1.0 / 3.0)
        elif self.split == "static":
            shares = self._static
        else:
            demand = obs.high[:, high_block("demand_share")].astype(np.float64)
            shares = np.maximum(demand / np.maximum(demand.sum(1, keepdims=True), 1e-9), 0.02)
        return HierAction(slice_shares=shares_to_action(shares), scheduler=self.scheduler)


class RandomPolicy:
    """Dirichlet(1,1,1) slice shares and uniform per-UE requests in [-1, 1]."""

    name = "random"

    def __init__(self, env: HierarchicalSlicingEnv, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_du = env.n_du
        self.ue_slots = env.ue_slots

    def act(self, obs: HierObs) -> HierAction:
        shares = self.rng.dirichlet(np.ones(3), size=self.n_du) if obs.high_due else None
        ue = self.rng.uniform(-1.0, 1.0, (self.n_du, 3, self.ue_slots))
        return HierAction(slice_shares=None if shares is None else shares_to_action(shares), ue_action=ue)


def make_baseline(name: str, env: HierarchicalSlicingEnv, seed: int = 0) -> Policy:
    """Build a baseline policy by name (see :data:`BASELINES`)."""
    if name == "random":
        return RandomPolicy(env, seed)
    split, _, sched = name.partition("-")
    if name not in BASELINES or sched not in ("rr", "pf"):
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(BASELINES)}")
    return ClassicalPolicy(env, split, "rr" if sched == "rr" else "pf")
