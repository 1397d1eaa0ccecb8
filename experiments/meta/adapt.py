"""Phase 3: adaptation to new tasks (Algorithm 1, lines 17–23) and the evaluation of every method.

Every DU of a new-task scenario is a new task that starts from the method's initialisation and
learns online. One **shot** (`meta_controller.shots.AdaptationConfig`): collect
``episodes_per_shot`` exploring episode(s) on the new DUs, then ``updates_per_shot`` update(s) of
every network at both levels (the agent's DDPG update on a minibatch of everything the new task
has collected so far). "k shots" is the state after k shots; 0 shots is the initialisation.

Every update of the adaptation samples ``adapt.shots.batch_size`` transitions (the agents'
learners are built with that minibatch), and a learner first updates once the new task holds
``max(shots.batch_size, learning_starts)`` of its transitions (`experiments.meta.budget`).

Performance after k shots is measured by a greedy evaluation on a separate environment:
``shots.eval_episodes`` episodes, each ``eval_warmup_steps`` uncounted steps then ``eval_steps``
counted ones, with fixed seeds per (run seed, task) — never trained on, identical for every
method, classical scheduler and fixed split of that seed (paired comparisons). After the last
shot the adapted agents are also evaluated under a traffic spike (every arrival rate ×
``spike_factor`` from the first TTI).

Initialisations: DRL θ_0 (random); TL the phase-1 agent of one training task; MTL θ_0 with its
replay buffers holding the phase-1 experience of one random training task, so every minibatch is
drawn from both tasks' data (one agent trained jointly on a random task and the new task) — its
learners update only from the shot at which a fresh learner would be ready on the new task's own
data, so MTL makes exactly as many updates as every other method; MAML-HRL variants θ_M;
"pretrained" the mean of the phase-1 agents (the control of ``meta.init: pretrain``).
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
from experiments.meta.evaluation import EvalSummary, evaluate_episodes
from experiments.meta.preset import ReproducePreset
from experiments.meta.rollout import collect_episode, update_pool
from experiments.policy import GreedyPolicy
from xapps.agent import AgentPool, HierarchicalConfig

__all__ = [
    "MethodInit",
    "adapt_agent_config",
    "adapt_task",
    "eval_env",
    "eval_seed",
    "eval_seeds",
    "evaluate_baseline",
    "evaluate_on",
]


@dataclass
class MethodInit:
    """Where a method's new-task agents start."""

    params: Mapping[str, Tensor]
    partner_replay: Mapping[str, Any] | None = None  # MTL: learner → replay state


def eval_seed(seed: int, task: str) -> int:
    """Env seed of the first evaluation episode of run `seed` on task `task` (shared by all
    methods)."""
    return derive_seed(seed, "eval", task)


def eval_seeds(seed: int, task: str, preset: ReproducePreset) -> list[int]:
    """The env seeds of the ``shots.eval_episodes`` evaluation episodes of (run seed, task)."""
    first = eval_seed(seed, task)
    return [first] + [derive_seed(seed, "eval", task, e) for e in range(1, preset.adapt.shots.eval_episodes)]


def eval_env(scenario: ScenarioConfig, preset: ReproducePreset) -> HierarchicalSlicingEnv:
    """An evaluation env: long enough for the warm-up and the counted steps."""
    return make_env(scenario, preset, preset.adapt.eval_warmup_steps + preset.adapt.eval_steps)


def evaluate_on(
    env: HierarchicalSlicingEnv,
    make_policy: Callable[[int], Policy],
    preset: ReproducePreset,
    seeds: list[int],
) -> EvalSummary:
    """The preset's evaluation protocol (episodes, warm-up, counted steps) of one policy."""
    return evaluate_episodes(env, make_policy, preset.adapt.eval_steps, seeds, preset.adapt.eval_warmup_steps)


def _greedy(
    env: HierarchicalSlicingEnv, pool: AgentPool, preset: ReproducePreset, seeds: list[int]
) -> dict[str, Any]:
    return evaluate_on(env, lambda _s: GreedyPolicy(pool), preset, seeds).as_dict()


def _prefill(pool: AgentPool, replay: Mapping[str, Any]) -> None:
    for agent in pool:
        for name, learner in agent.agents().items():
            learner.replay.load_state_dict(replay[name], f"mtl.partner.{name}")


def _spike_env(scenario: ScenarioConfig, preset: ReproducePreset) -> HierarchicalSlicingEnv:
    return eval_env(with_traffic_spike(scenario, preset.adapt.spike_factor), preset)


def adapt_agent_config(preset: ReproducePreset, env: HierarchicalSlicingEnv) -> HierarchicalConfig:
    """The agent shape with the adaptation minibatch (``adapt.shots.batch_size``) at both levels."""
    cfg = agent_config(preset, env)
    batch = preset.adapt.shots.batch_size
    return cfg.model_copy(
        update={
            "high": cfg.high.model_copy(update={"batch_size": batch}),
            "low": cfg.low.model_copy(update={"batch_size": batch}),
        }
    )


def _own_data_gate(
    preset: ReproducePreset, env: HierarchicalSlicingEnv
) -> Callable[[int], Callable[[str], bool]]:
    """shot → (learner → whether a fresh learner would be ready on the new task's own data)."""
    cfg = adapt_agent_config(preset, env)
    steps, period = preset.env.episode_steps, preset.env.high_period_steps
    per_ep = {"high": steps // period, "low": steps}
    need = {"high": max(cfg.high.batch_size, cfg.high.learning_starts)}
    need["low"] = max(cfg.low.batch_size, cfg.low.learning_starts)
    eps = preset.adapt.shots.episodes_per_shot

    def at(shot: int) -> Callable[[str], bool]:
        def gate(name: str) -> bool:
            level = "high" if name == "high" else "low"
            return shot * eps * per_ep[level] >= need[level]

        return gate

    return at


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
    ev_env = eval_env(scenario, preset)
    pool = make_pool(
        adapt_agent_config(preset, env), env.n_du, init.params, derive_seed(seed, "adapt", task), device
    )
    gate = None
    if init.partner_replay is not None:
        _prefill(pool, init.partner_replay)
        gate = _own_data_gate(preset, env)
    shots_cfg, curve = preset.adapt.shots, set(preset.curve_shots())
    seeds = eval_seeds(seed, task, preset)
    evals: dict[str, dict[str, Any]] = {}
    train_returns: list[float] = []
    updates = 0
    if 0 in curve:
        evals["0"] = _greedy(ev_env, pool, preset, seeds)
    for shot in range(1, preset.adapt_iterations + 1):
        for e in range(shots_cfg.episodes_per_shot):
            ret = collect_episode(env, pool, derive_seed(seed, "shot", task, shot, e))
            train_returns.append(float(ret.mean()))
        for _ in range(shots_cfg.updates_per_shot):
            updates += update_pool(pool, preset.frozen, None if gate is None else gate(shot))
        if shot in curve:
            evals[str(shot)] = _greedy(ev_env, pool, preset, seeds)
        if progress is not None:
            progress(shot)
    spike = _greedy(_spike_env(scenario, preset), pool, preset, seeds)
    return {
        "task": task,
        "evals": evals,
        "spike": spike,
        "train_returns": train_returns,
        "gradient_steps": updates / max(env.n_du, 1),
    }


def evaluate_baseline(
    scenario: ScenarioConfig, task: str, preset: ReproducePreset, name: str, seed: int
) -> dict[str, Any]:
    """A classical scheduler on a new task: nominal and spike evaluation (no learning)."""
    seeds = eval_seeds(seed, task, preset)
    env, spike_env = eval_env(scenario, preset), _spike_env(scenario, preset)
    nominal = evaluate_on(env, lambda s: make_baseline(name, env, seed=s), preset, seeds)
    spike = evaluate_on(spike_env, lambda s: make_baseline(name, spike_env, seed=s), preset, seeds)
    return {"task": task, "nominal": nominal.as_dict(), "spike": spike.as_dict()}
