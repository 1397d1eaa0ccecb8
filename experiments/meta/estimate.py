"""Up-front runtime estimate: measure the unit costs on this machine, extrapolate to the plan.

A short calibration times (i) one env step with every DU's agent acting and storing its
transition, per DU, on the training scenario and on each scalability size, (ii) one DDPG update
of one learner at the preset's network sizes, (iii) one greedy evaluation step per DU. The
estimate multiplies these by the counts the preset implies (episodes × steps × DUs, updates ×
learners, evaluations; an SB3 learner's env step counted as ours) and divides by the number of
workers. It ignores dependency stalls and machine load, so treat it as a rough lower bound; the
progress bar's ETA refines it as runs end.
Every timing follows an untimed warm-up (first calls allocate and fill caches: timing them
made the quick preset's estimate ~4× its measured run time). Timings are this process's CPU time
(`time.process_time`; one torch thread), not wall time: on a machine shared with other work the
wall time of a short timing swings several-fold (measured: 8 ms vs 1.7 ms per update within a
minute), while the CPU time is what the work costs on a core of its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from experiments.meta import sb3_scratch
from experiments.meta.envs import Scenarios, agent_config, initial_params, make_env, make_pool
from experiments.meta.preset import MAML_SCHEMES, ReproducePreset
from experiments.meta.rollout import collect_episode
from experiments.meta.scaling import scaled_scenario, size_label, sized_preset

__all__ = ["Costs", "calibrate", "predict"]

_LEARNERS = 4


@dataclass
class Costs:
    env_step_du: float  # s per env step per DU (act + step + store)
    update: float  # s per learner update
    eval_step_du: float  # s per greedy evaluation step per DU
    scale_env_step_du: dict[str, float] = field(default_factory=dict)
    calibration_s: float = 0.0


def _time_steps(
    scenario_preset: ReproducePreset, scenarios: Scenarios, steps: int, device: str
) -> tuple[float, float]:
    env = make_env(scenarios.train, scenario_preset, steps)
    config = agent_config(scenario_preset, env)
    pool = make_pool(config, env.n_du, initial_params(config, 0, device), 0, device)
    collect_episode(env, pool, 0)  # warm-up: first calls (allocation, torch dispatch) are slow
    start = time.process_time()
    collect_episode(env, pool, 1)
    per_step = (time.process_time() - start) / (steps * env.n_du)
    learner = pool[0].low[0]
    need = max(learner.config.batch_size, learner.config.learning_starts)
    for episode in range(math.ceil(need / steps) + 1):  # bounded: a learner may never be ready
        if learner.ready():
            break
        collect_episode(env, pool, 2 + episode)
    if not learner.ready():
        raise ValueError(
            f"runtime estimate: a slice learner needs {need} transitions (max(batch_size, "
            f"learning_starts)) but its replay holds at most {learner.replay.capacity}"
        )
    for _ in range(3):  # warm-up: Adam state allocation, autograd graph caches
        learner.update()
    n = 10
    start = time.process_time()
    for _ in range(n):
        learner.update()
    return per_step, (time.process_time() - start) / n


def _scale_step(preset: ReproducePreset, scenarios: Scenarios, size: tuple[int, int], device: str) -> float:
    sc = scaled_scenario(scenarios.train, *size)
    largest = max(s.n_ues for t in sc.tasks.values() for s in t.slices)
    sized = sized_preset(preset, -(-3 * largest // 2))
    env = make_env(sc, sized, 10)
    config = agent_config(sized, env)
    pool = make_pool(config, env.n_du, None, 0, device)
    collect_episode(env, pool, 0)  # warm-up
    start = time.process_time()
    collect_episode(env, pool, 1)
    return (time.process_time() - start) / (10 * env.n_du)


def calibrate(scenarios: Scenarios, preset: ReproducePreset, device: str = "cpu") -> Costs:
    """Measure the unit costs (a few seconds at small sizes, ~1 min at paper sizes)."""
    start = time.perf_counter()
    steps = max(preset.env.high_period_steps, 50)
    step_du, update = _time_steps(preset, scenarios, steps, device)
    costs = Costs(env_step_du=step_du, update=update, eval_step_du=0.8 * step_du)
    if preset.scalability.enabled:
        for size in preset.scalability.sizes:
            costs.scale_env_step_du[size_label(size)] = _scale_step(preset, scenarios, size, device)
    costs.calibration_s = time.perf_counter() - start
    return costs


def _eval_steps(preset: ReproducePreset) -> int:
    """Env steps of one evaluation (all its episodes, warm-ups included)."""
    a = preset.adapt
    return a.shots.eval_episodes * (a.eval_warmup_steps + a.eval_steps)


def _adapt_cost(preset: ReproducePreset, scenarios: Scenarios, c: Costs) -> float:
    shots, steps = preset.adapt.shots, preset.env.episode_steps
    total = 0.0
    for sc in scenarios.new_tasks.values():
        collect = preset.adapt_iterations * shots.episodes_per_shot * steps * sc.n_du * c.env_step_du
        learn = preset.adapt_iterations * shots.updates_per_shot * sc.n_du * _LEARNERS * c.update
        evals = (len(preset.curve_shots()) + 1) * _eval_steps(preset) * sc.n_du * c.eval_step_du
        total += collect + learn + evals
    return total


def _sweep_cost(preset: ReproducePreset, scenarios: Scenarios, c: Costs) -> float:
    """Every grid split (+ equal) evaluated on the training scenario and every new task."""
    n = preset.sweep.divisions
    splits = (n - 1) * (n - 2) // 2 + 1
    dus = scenarios.train.n_du + sum(s.n_du for s in scenarios.new_tasks.values())
    return splits * _eval_steps(preset) * dus * c.eval_step_du


def _learner_cost(preset: ReproducePreset, scenarios: Scenarios, c: Costs) -> float:
    """An off-the-shelf learner on every new task: DRL's env steps, one update (twin critics and
    a delayed actor ≈ 2 of ours) per decision, two evaluations."""
    steps = sb3_scratch.scratch_env_steps(preset)
    decisions = steps // preset.env.high_period_steps
    return sum(
        steps * s.n_du * c.env_step_du
        + decisions * 2 * c.update
        + 2 * _eval_steps(preset) * s.n_du * c.eval_step_du
        for s in scenarios.new_tasks.values()
    )


def predict(preset: ReproducePreset, scenarios: Scenarios, c: Costs) -> dict[str, float]:
    """Predicted CPU seconds per kind of run, summed over seeds."""
    d, steps, seeds = scenarios.train.n_du, preset.env.episode_steps, preset.seeds
    p1, meta = preset.pretrain, preset.meta
    pre = (
        p1.episodes
        * steps
        * d
        * (c.env_step_du + p1.updates_per_round * _LEARNERS * c.update / p1.update_every)
    )
    per_meta_it = (
        meta.episodes * steps * d * c.env_step_du + (meta.inner_steps + 2) * d * _LEARNERS * c.update
    )
    n_maml = sum(1 for m in preset.methods if m in MAML_SCHEMES)
    n_checked = n_maml + ("pretrained" in preset.methods)  # θ_M and θ_0 on the training tasks
    uses_p1 = any(preset.needs_pretrain(m) for m in preset.methods)
    out = {
        "pretrain": seeds * pre * uses_p1,
        "meta-training": seeds * n_maml * meta.iterations * per_meta_it
        + seeds * n_checked * 2 * _eval_steps(preset) * d * c.eval_step_du,
        "adaptation": seeds * len(preset.methods) * _adapt_cost(preset, scenarios, c),
        "baselines": seeds
        * len(preset.baselines)
        * sum(2 * _eval_steps(preset) * s.n_du * c.eval_step_du for s in scenarios.new_tasks.values()),
    }
    if preset.sweep.enabled:
        out["sweep"] = seeds * _sweep_cost(preset, scenarios, c)
    learners = sb3_scratch.planned_learners()
    if learners:
        out["learners"] = seeds * len(learners) * _learner_cost(preset, scenarios, c)
    if preset.scalability.enabled:
        s = preset.scalability
        n = s.seeds or preset.seeds
        out["scalability"] = n * sum(
            s.iterations
            * (
                s.episodes * s.episode_steps * z[0] * c.scale_env_step_du[size_label(z)]
                + (s.inner_steps + 2) * z[0] * _LEARNERS * c.update
            )
            for z in s.sizes
        )
    return out
