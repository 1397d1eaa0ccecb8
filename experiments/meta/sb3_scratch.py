"""The report's "SB3 TD3 from scratch" row: an off-the-shelf learner on every new task.

Where the ``sb3`` extra is installed (:func:`sb3_available`), a reproduction also trains
Stable-Baselines3's TD3 from a random initialisation on each new task, with
:func:`experiments.sb3_baselines.train_baseline` (the loop of ``metahrl train --learner sb3-td3``;
there is no second one), for the env-step budget of the DRL-from-scratch row:
T_new shots × ``episodes_per_shot`` × ``episode_steps`` (:func:`scratch_env_steps`). TD3 learns
the high-level slice split — one policy shared by the task's DUs, with the preset's high-level
network sizes, activation, γ, τ, batch, buffer, ``learning_starts`` and noise σ, one gradient step
per decision (the fewest ``train_baseline`` takes; DRL's rate is ``updates_per_shot`` per shot,
so the report gives both counts). Inside slices the node's PF scheduler runs, where DRL learns
the per-UE level too. The trained policy then goes through the same greedy evaluation
(:func:`experiments.meta.adapt.evaluate_on`) on the same env seeds
(:func:`experiments.meta.adapt.eval_seeds`) as every method and classical scheduler: nominal and
under the traffic spike.

Without SB3 these runs are not planned and the report says why in one line (:func:`note`).
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from e2sim.config import ScenarioConfig
from experiments.meta.adapt import eval_env, eval_seeds, evaluate_on
from experiments.meta.envs import derive_seed, preset_train_config, with_traffic_spike
from experiments.meta.preset import ReproducePreset
from experiments.sb3_baselines import Learner, SplitPolicy, load_split_policy, train_baseline
from metahrl_gym.core import RuleLow
from metahrl_gym.settings import LowRule

__all__ = [
    "LABEL",
    "LABELS",
    "LEARNER",
    "UNAVAILABLE",
    "ScratchTaskResult",
    "note",
    "planned_learners",
    "sb3_available",
    "scratch_env_steps",
    "scratch_gradient_steps",
    "train_and_evaluate",
]

LEARNER: Learner = "sb3-td3"
LABELS: dict[str, str] = {"sb3-td3": "SB3 TD3 from scratch"}
"""Report label of each off-the-shelf learner."""
LABEL = LABELS[LEARNER]
LOW_RULE: LowRule = "pf"
UPDATES_PER_DECISION = 1
Predictor = Callable[[NDArray[np.float32]], NDArray[np.float32]]
UNAVAILABLE = (
    f"{LABEL}: not run — stable-baselines3 is not installed (`pip install 'oran-metahrl[sb3]'` adds the row)."
)


def sb3_available() -> bool:
    """Whether Stable-Baselines3 can be imported here."""
    return importlib.util.find_spec("stable_baselines3") is not None


def planned_learners() -> tuple[Learner, ...]:
    """The off-the-shelf learners a reproduction runs on this machine."""
    return (LEARNER,) if sb3_available() else ()


def note() -> str | None:
    """The report's one line on why the row is absent (None: it is not)."""
    return None if sb3_available() else UNAVAILABLE


def scratch_env_steps(preset: ReproducePreset) -> int:
    """Env steps the DRL-from-scratch row learns from on each new task (exploring episodes)."""
    return preset.adapt_iterations * preset.adapt.shots.episodes_per_shot * preset.env.episode_steps


def scratch_gradient_steps(preset: ReproducePreset) -> int:
    """Gradient steps of each DRL learner on each new task."""
    return preset.adapt_iterations * preset.adapt.shots.updates_per_shot


@dataclass(frozen=True)
class ScratchTaskResult:
    """One new task of one seed: the run result's ``tasks`` entry (like a baseline's)."""

    task: str
    nominal: dict[str, Any]  # EvalSummary.as_dict()
    spike: dict[str, Any]
    env_steps: int
    gradient_steps: int
    train_wall_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _evaluate(
    scenario: ScenarioConfig, preset: ReproducePreset, predict: Predictor, seeds: list[int]
) -> dict[str, Any]:
    env = eval_env(scenario, preset)
    return evaluate_on(
        env, lambda _s: SplitPolicy(predict, RuleLow(LOW_RULE, env), LABEL), preset, seeds
    ).as_dict()


def train_and_evaluate(
    scenario: ScenarioConfig, task: str, preset: ReproducePreset, seed: int, run_dir: Path
) -> ScratchTaskResult:
    """Train :data:`LEARNER` on new task `task` into `run_dir` (a killed attempt's partial
    directory is replaced), then evaluate it like every other row of the report."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    steps = scratch_env_steps(preset)
    config = preset_train_config(preset, steps, UPDATES_PER_DECISION)
    start = time.perf_counter()
    run = train_baseline(scenario, config, LEARNER, derive_seed(seed, "sb3", task), run_dir, low=LOW_RULE)
    wall = time.perf_counter() - start
    predict, _ = load_split_policy(run.out_dir)  # the saved model, as `metahrl eval` loads it
    e_seeds = eval_seeds(seed, task, preset)
    spiked = with_traffic_spike(scenario, preset.adapt.spike_factor)
    return ScratchTaskResult(
        task=task,
        nominal=_evaluate(scenario, preset, predict, e_seeds),
        spike=_evaluate(spiked, preset, predict, e_seeds),
        env_steps=run.steps,
        gradient_steps=run.gradient_steps,
        train_wall_s=wall,
    )
