"""What the split sweep says (:mod:`experiments.meta.sweep`): headroom, the non-oracle static
split, and *shots to threshold*.

Per seed s and new task n (the sweep of seed s uses the same evaluation env seeds as every method
of seed s, so all of this is paired by seed):

- ``best``: the best fixed split's reward on n (the grid's maximum);
- ``equal``: the equal split's reward; ``train_split``: the reward on n of the grid split with
  the best mean reward over the *training* tasks (chosen without looking at n: the non-oracle
  static split);
- headroom: (best − equal) / equal and (best − train_split) / train_split, in %; a task whose
  mean headroom over seeds is below ``sweep.min_headroom`` on either is **flagged**: a fixed
  split already does about as well as learning can show on it;
- threshold: ``adapt.threshold`` × best; *shots to threshold* of a method is the first evaluated
  shot (``curve_shots``) whose greedy reward reaches it, +∞ ("> T_new") when none does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from experiments.meta.stats import mean_ci, paired_relative

__all__ = ["SweepView", "shots_to_threshold", "summarise_sweeps"]


@dataclass(frozen=True)
class SweepView:
    """One seed's sweep result (``runs/sweep/-/seedS.json``'s ``sweep``)."""

    splits: list[tuple[float, ...]]
    train: NDArray[np.float64]  # (splits, training DUs)
    new: dict[str, NDArray[np.float64]]  # task → (splits,)

    @classmethod
    def from_result(cls, sweep: Mapping[str, Any]) -> SweepView:
        return cls(
            splits=[tuple(float(x) for x in s) for s in sweep["splits"]],
            train=np.asarray(sweep["train"], np.float64),
            new={k: np.asarray(v, np.float64) for k, v in sweep["new"].items()},
        )

    @property
    def train_best(self) -> int:
        """Index of the split with the best mean reward over the training tasks."""
        return int(np.argmax(self.train.mean(axis=1)))

    def best(self, task: str) -> float:
        return float(self.new[task].max())

    def best_split(self, task: str) -> tuple[float, ...]:
        return self.splits[int(np.argmax(self.new[task]))]

    def equal(self, task: str) -> float:
        return float(self.new[task][-1])  # the sweep puts the equal split last

    def train_split(self, task: str) -> float:
        return float(self.new[task][self.train_best])


def shots_to_threshold(
    curve: Mapping[str, Mapping[str, Any]], shots: Sequence[int], threshold: float
) -> float:
    """First shot of `shots` whose ``cumulative_reward`` in `curve` reaches `threshold`; +∞ if none."""
    for k in shots:
        if curve[str(k)]["cumulative_reward"] >= threshold:
            return float(k)
    return math.inf


def _split_text(split: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in split)


def _task_summary(views: Mapping[int, SweepView], task: str, min_headroom: float) -> dict[str, Any]:
    seeds = sorted(s for s, v in views.items() if task in v.new)
    best = [views[s].best(task) for s in seeds]
    equal = [views[s].equal(task) for s in seeds]
    train = [views[s].train_split(task) for s in seeds]
    vs_equal, vs_train = paired_relative(best, equal), paired_relative(best, train)
    flagged = not (vs_equal.mean >= 100 * min_headroom and vs_train.mean >= 100 * min_headroom)
    return {
        "best": mean_ci(best).as_dict(),
        "equal": mean_ci(equal).as_dict(),
        "train_split": mean_ci(train).as_dict(),
        "best_splits": sorted({_split_text(views[s].best_split(task)) for s in seeds}),
        "headroom_vs_equal_pct": vs_equal.as_dict(),
        "headroom_vs_train_split_pct": vs_train.as_dict(),
        "flagged": bool(flagged),
    }


def summarise_sweeps(sweeps: Mapping[int, Mapping[str, Any]], min_headroom: float) -> dict[str, Any]:
    """The report's sweep section: per new task the rewards, headroom and flag; the training
    tasks' chosen split(s) and the per-split mean rewards over seeds (the sweep itself)."""
    views = {s: SweepView.from_result(r) for s, r in sweeps.items()}
    if not views:
        return {}
    first = next(iter(views.values()))
    tasks = list(first.new)
    table = {
        "splits": [_split_text(s) for s in first.splits],
        "train_mean": [float(x) for x in np.mean([v.train.mean(axis=1) for v in views.values()], axis=0)],
        "new": {t: [float(x) for x in np.mean([v.new[t] for v in views.values()], axis=0)] for t in tasks},
    }
    return {
        "train_splits": sorted({_split_text(v.splits[v.train_best]) for v in views.values()}),
        "tasks": {t: _task_summary(views, t, min_headroom) for t in tasks},
        "table": table,
        "min_headroom_pct": 100 * min_headroom,
    }
