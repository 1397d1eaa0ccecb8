"""Phase 3: adaptation to new tasks (Algorithm 1, lines 17–23) and the evaluation of every method.

Every DU of a new-task scenario is a new task that starts from the method's initialisation and
learns online. One **shot** (`meta_controller.shots.AdaptationConfig`): collect
``episodes_per_shot`` exploring episode(s) on the new DUs, then ``updates_per_shot`` update(s) of
every network at both levels (the agent's DDPG update on a minibatch of everything the new task
has collected so far). "k shots" is the state after k shots; 0 shots is the initialisation.

Performance after k shots is measured by a greedy evaluation on a separate environment with a
fixed seed per (run seed, task) — never trained on, identical for every method and classical
scheduler of that seed (paired comparisons). After the last shot the adapted agents are also
evaluated under a traffic spike (every arrival rate × ``spike_factor`` from the first TTI).

Initialisations: DRL θ_0 (random); TL the phase-1 agent of one training task; MTL θ_0 with its
replay buffers holding the phase-1 experience of one random training task, so every minibatch is
drawn from both tasks' data (one agent trained jointly on a random task and the new task);
MAML-HRL variants θ_M.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from e2sim.config import ScenarioConfig
from e2sim.env import HierarchicalSlicingEnv
from e2sim.policies import Policy, make_baseline
from experiments.meta.envs import agent_config, derive_seed, make_env, make_pool, with_traffic_spike
from experiments.meta.evaluation import evaluate_policy
from experiments.meta.preset import ReproducePreset
from experiments.meta.rollout import collect_episode
from experiments.policy import GreedyPolicy
from xapps.agent import AgentPool

__all__ = ["MethodInit", "adapt_task", "eval_seed", "evaluate_baseline"]


@dataclass
class MethodInit:
    """Where a method's new-task agents start."""

    params: Mapping[str, Tensor]
    partner_replay: Mapping[str, Any] | None = None  # MTL: learner → replay state


def eval_seed(seed: int, task: str) -> int:
    """Env seed of every evaluation of run `seed` on new task `task` (shared by all methods)."""
    return derive_seed(seed, "eval", task)


def _evaluate(
    env: HierarchicalSlicingEnv, policy: Policy, preset: ReproducePreset, seed: int
) -> dict[str, Any]:
    return evaluate_policy(env, policy, preset.adapt.eval_steps, seed).as_dict()


def _prefill(pool: AgentPool, replay: Mapping[str, Any]) -> None:
    for agent in pool:
        for name, learner in agent.agents().items():
            learner.replay.load_state_dict(replay[name], f"mtl.partner.{name}")


def _spike_env(scenario: ScenarioConfig, preset: ReproducePreset) -> HierarchicalSlicingEnv:
    return make_env(with_traffic_spike(scenario, preset.adapt.spike_factor), preset, preset.adapt.eval_steps)


def adapt_task(
    scenario: ScenarioConfig,
    task: str,
    preset: ReproducePreset,
    init: MethodInit,
    seed: int,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Adapt one method on one new task for T_new shots; evaluations at `preset.curve_shots()`."""
    env = make_env(scenario, preset)
    eval_env = make_env(scenario, preset, preset.adapt.eval_steps)
    pool = make_pool(
        agent_config(preset, env), env.n_du, init.params, derive_seed(seed, "adapt", task), device
    )
    if init.partner_replay is not None:
        _prefill(pool, init.partner_replay)
    shots_cfg, curve = preset.adapt.shots, set(preset.curve_shots())
    e_seed = eval_seed(seed, task)
    evals: dict[str, dict[str, Any]] = {}
    train_returns: list[float] = []
    if 0 in curve:
        evals["0"] = _evaluate(eval_env, GreedyPolicy(pool), preset, e_seed)
    for shot in range(1, preset.adapt_iterations + 1):
        for e in range(shots_cfg.episodes_per_shot):
            ret = collect_episode(env, pool, derive_seed(seed, "shot", task, shot, e))
            train_returns.append(float(ret.mean()))
        for _ in range(shots_cfg.updates_per_shot):
            pool.update()
        if shot in curve:
            evals[str(shot)] = _evaluate(eval_env, GreedyPolicy(pool), preset, e_seed)
        if progress is not None:
            progress(shot)
    spike = _evaluate(_spike_env(scenario, preset), GreedyPolicy(pool), preset, e_seed)
    return {"task": task, "evals": evals, "spike": spike, "train_returns": train_returns}


def evaluate_baseline(
    scenario: ScenarioConfig, task: str, preset: ReproducePreset, name: str, seed: int
) -> dict[str, Any]:
    """A classical scheduler on a new task: nominal and spike evaluation (no learning)."""
    e_seed = eval_seed(seed, task)
    env = make_env(scenario, preset, preset.adapt.eval_steps)
    spike_env = _spike_env(scenario, preset)
    nominal = evaluate_policy(env, make_baseline(name, env, seed=e_seed), preset.adapt.eval_steps, e_seed)
    spike = evaluate_policy(
        spike_env, make_baseline(name, spike_env, seed=e_seed), preset.adapt.eval_steps, e_seed
    )
    return {"task": task, "nominal": nominal.as_dict(), "spike": spike.as_dict()}
