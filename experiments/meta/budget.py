"""When each learner of a reproduction can first learn, computed from the preset alone.

A DDPG learner updates only once its replay buffer holds ``max(batch_size, learning_starts)``
transitions (`xapps.agent.DDPG.ready`). The high level stores one transition per high-level
window (``episode_steps // high_period_steps`` per episode), a slice agent one per env step, so
a preset can silently leave a level untrained for a whole phase (issue 14: the quick preset's
slice-split agent made ~1 update per task in phase 1 and none by shot 5). This module counts,
per phase and level, the transitions one task's learner receives and the unit (episode,
iteration, shot) after which it first becomes ready:

- phase 1 (``pretrain``): per episode; the buffers persist over the phase;
- phase 2 (``meta``): the support set grows by the T_e − q support episodes of every iteration
  (a task's replay persists); the query set B^val is *fresh* every iteration and only needs one
  transition (a query minibatch is at most ``batch_size`` of it);
- phase 3 (``adapt``): per shot; the minibatch is ``adapt.shots.batch_size``;
- scalability: like phase 2 with the study's own budget.

`never_ready` lists the (phase, level) pairs that cannot learn at all; a preset with any is
refused at load, with these numbers in the message. Frozen levels (``frozen``) are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Level", "LevelBudget", "describe", "level_of", "never_ready"]

Level = Literal["high", "low"]


def level_of(learner: str) -> Level:
    """``"high"`` for the slice-split learner, ``"low"`` for ``"low.0"`` … (agent names)."""
    return "high" if learner == "high" else "low"


@dataclass(frozen=True)
class LevelBudget:
    """One level's data in one phase: `per_unit` transitions per `unit`, `units` of them."""

    phase: str
    level: Level
    unit: str  # "episode", "iteration", "shot"
    units: int
    per_unit: int
    threshold: int  # transitions the buffer needs before the first update
    capacity: int  # replay capacity

    @property
    def first_ready(self) -> int | None:
        """The unit (1-based) after which the learner is ready; None if never in this phase."""
        if self.per_unit <= 0 or self.threshold > self.capacity:
            return None
        k = max(1, math.ceil(self.threshold / self.per_unit))
        return k if k <= self.units else None

    @property
    def updating_units(self) -> int:
        """Units in which the learner updates (0 if it never becomes ready)."""
        first = self.first_ready
        return 0 if first is None else self.units - first + 1

    def explain(self) -> str:
        return (
            f"{self.phase}: the {self.level} level gets {self.per_unit} transitions per {self.unit} "
            f"× {self.units} {self.unit}s (replay capacity {self.capacity}) but needs "
            f"{self.threshold} (max(batch_size, learning_starts)) before its first update"
        )


def describe(budgets: Sequence[LevelBudget]) -> list[str]:
    """One line per budget: when the level first updates, for the report."""
    out = []
    for b in budgets:
        first = b.first_ready
        when = "never" if first is None else f"from {b.unit} {first} of {b.units}"
        out.append(f"{b.phase}, {b.level} level: first update {when} ({b.per_unit} per {b.unit})")
    return out


def never_ready(budgets: Sequence[LevelBudget]) -> list[LevelBudget]:
    return [b for b in budgets if b.first_ready is None]
