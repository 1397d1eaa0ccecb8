"""The split sweep: how much a task gains from the right fixed slice split (issue 14).

Every split of a simplex grid (shares i/n, j/n, k/n with i + j + k = n, each ≥ 1/n) plus the
equal split, PF scheduling inside slices, is evaluated with the preset's evaluation protocol
(`adapt.evaluate_on`: same episodes, warm-up and env seeds as every method of that seed) on

- the meta-training scenario (every DU gets the split; DU d's reward is training task d's), and
- every new task (all its DUs get the split).

From these rows `aggregate` derives, per seed and new task: the best fixed split (its reward is
the reference of *shots to threshold*), the equal split, the **non-oracle static split** (the
grid split with the best mean reward over the training tasks, chosen without looking at the new
task) and the task's headroom over both. The ``static-pf`` baseline instead uses each task's
hand-set ``static_split``: an oracle the report labels as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from e2sim.env import HierAction, HierarchicalSlicingEnv, HierObs, shares_to_action
from e2sim.policies import Policy
from experiments.meta.adapt import eval_env, eval_seeds, evaluate_on
from experiments.meta.envs import Scenarios
from experiments.meta.preset import ReproducePreset

__all__ = ["EQUAL", "FixedSplitPolicy", "run_sweep", "split_grid"]

EQUAL = (1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0)
TRAIN_KEY = "train"


def split_grid(divisions: int) -> list[tuple[float, float, float]]:
    """Every (eMBB, mMTC, URLLC) split with shares in multiples of 1/divisions, each ≥ 1/divisions."""
    n = divisions
    return [(i / n, j / n, (n - i - j) / n) for i in range(1, n - 1) for j in range(1, n - i)]


class FixedSplitPolicy:
    """The same slice split on every DU at every decision, PF inside slices."""

    def __init__(self, env: HierarchicalSlicingEnv, split: tuple[float, float, float]) -> None:
        self.name = "split-" + "/".join(f"{s:.2f}" for s in split)
        self._action = shares_to_action(np.tile(np.asarray(split, np.float64), (env.n_du, 1)))

    def act(self, obs: HierObs) -> HierAction:
        if not obs.high_due:
            return HierAction(scheduler="pf")
        return HierAction(slice_shares=self._action.copy(), scheduler="pf")


def _fixed(env: HierarchicalSlicingEnv, split: tuple[float, float, float]) -> Callable[[int], Policy]:
    policy = FixedSplitPolicy(env, split)  # stateless: one instance serves every episode
    return lambda _seed: policy


def _rows(
    env: HierarchicalSlicingEnv,
    splits: list[tuple[float, float, float]],
    preset: ReproducePreset,
    seeds: list[int],
) -> list[list[float]]:
    """Per split: each DU's cumulative reward (mean over the evaluation episodes)."""
    rows = []
    for split in splits:
        rows.append(evaluate_on(env, _fixed(env, split), preset, seeds).cumulative_reward_du)
    return rows


def run_sweep(
    sc: Scenarios, preset: ReproducePreset, seed: int, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The sweep of run `seed`: ``splits`` (the equal split last) and, per task, the rows."""
    grid = [
        sp
        for sp in split_grid(preset.sweep.divisions)
        if max(abs(a - b) for a, b in zip(sp, EQUAL, strict=True)) > 1e-9
    ]
    splits = [*grid, EQUAL]  # the equal split once, last (a grid with divisions % 3 == 0 holds it)
    train = _rows(eval_env(sc.train, preset), splits, preset, eval_seeds(seed, TRAIN_KEY, preset))
    new: dict[str, list[float]] = {}
    for name, scenario in sc.new_tasks.items():
        rows = _rows(eval_env(scenario, preset), splits, preset, eval_seeds(seed, name, preset))
        new[name] = [float(np.mean(r)) for r in rows]
        if progress is not None:
            progress(name)
    return {
        "splits": [list(s) for s in splits],
        "train_tasks": sc.train_task_names,
        "train": train,
        "new": new,
    }
