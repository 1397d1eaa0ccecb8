"""Scenarios, environments and agent pools of a reproduction, built the same way everywhere.

Every agent of a reproduction has the same shape (``ue_slots`` UE slots per slice), so the
meta-initialisation θ_M, a TL donor and a fresh agent all fit every task, training or new.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from e2sim.config import DuEvent, ScenarioConfig
from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from e2sim.scenario import load_scenario
from experiments.config import TrainConfig, prepare_scenario
from experiments.meta.preset import ReproducePreset, resolve_scenario_ref
from xapps.agent import AgentPool, HierarchicalAgent, HierarchicalConfig

__all__ = [
    "Scenarios",
    "agent_config",
    "derive_seed",
    "env_config",
    "initial_params",
    "load_scenarios",
    "make_env",
    "make_pool",
    "preset_train_config",
    "task_scenario",
    "to_cpu",
    "to_device",
    "with_traffic_spike",
]


@dataclass(frozen=True)
class Scenarios:
    """The meta-training scenario (one task per DU) and the new tasks, by display name."""

    train: ScenarioConfig
    new_tasks: dict[str, ScenarioConfig]
    new_task_files: dict[str, str]

    @property
    def train_task_names(self) -> list[str]:
        return [f"DU{d}:{self.train.assignment[d]}" for d in range(self.train.n_du)]


def derive_seed(*parts: int | str) -> int:
    """A 32-bit seed from a tuple of ints/strings (stable across processes and runs)."""
    ints = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return int(np.random.SeedSequence(ints).generate_state(1)[0])


def _check_fits(scenario: ScenarioConfig, ue_slots: int, source: str) -> None:
    largest = max(tr.n_ues for t in scenario.tasks.values() for tr in t.slices)
    if largest > ue_slots:
        raise ValueError(
            f"{source}: a slice has {largest} UEs per DU but the preset's agents have {ue_slots} UE "
            "slots per slice (raise ue_slots in the preset or use smaller slices)"
        )


def load_scenarios(preset: ReproducePreset, extra_new_tasks: Sequence[str] = ()) -> Scenarios:
    """Load the training scenario and the new tasks (the preset's and the user's files)."""
    train = prepare_scenario(load_scenario(resolve_scenario_ref(preset.train_scenario)), preset.fading)
    _check_fits(train, preset.ue_slots, preset.train_scenario)
    new: dict[str, ScenarioConfig] = {}
    files: dict[str, str] = {}
    for ref in [*preset.new_tasks, *extra_new_tasks]:
        path = resolve_scenario_ref(ref)
        sc = prepare_scenario(load_scenario(path), preset.fading)
        _check_fits(sc, preset.ue_slots, ref)
        name = sc.name if sc.name not in new else f"{sc.name}-{len(new)}"
        new[name] = sc
        files[name] = str(path) if Path(path).is_file() else ref
    if not new:
        raise ValueError("no new tasks: give the preset's new_tasks or --new-tasks FILE")
    return Scenarios(train, new, files)


def env_config(preset: ReproducePreset, episode_steps: int | None = None) -> EnvConfig:
    """The preset's time scales and action mapping with its fixed number of UE slots."""
    update: dict[str, object] = {"ue_slots": preset.ue_slots}
    if episode_steps is not None:
        update["episode_steps"] = episode_steps
    return EnvConfig.model_validate({**preset.env.model_dump(), **update})


def make_env(
    scenario: ScenarioConfig, preset: ReproducePreset, episode_steps: int | None = None
) -> HierarchicalSlicingEnv:
    """The hierarchical env with the preset's time scales and a fixed number of UE slots."""
    return HierarchicalSlicingEnv(scenario, env_config(preset, episode_steps))


def task_scenario(train: ScenarioConfig, task: str) -> ScenarioConfig:
    """Training task `task` of the meta-training scenario on every one of its DUs (same radio and
    DU layout, so the interference stays that of the training scenario)."""
    if task not in train.assignment:
        known = ", ".join(dict.fromkeys(train.assignment))
        raise ValueError(f"{train.name!r} has no training task {task!r}; its tasks: {known}")
    data = train.model_dump()
    data |= {
        "name": f"{train.name}:{task}",
        "tasks": {task: data["tasks"][task]},
        "assignment": [task] * train.n_du,
    }
    return ScenarioConfig.model_validate(data)


def preset_train_config(
    preset: ReproducePreset,
    steps: int,
    updates_per_decision: int,
    eval_every: int | None = None,
    eval_steps: int | None = None,
) -> TrainConfig:
    """The single-learner training config of `preset` (what ``experiments.sb3_baselines`` takes):
    its env and fading, its high-level network sizes, γ, τ, batch, buffer, ``learning_starts``
    and noise, ``updates_per_decision`` gradient steps per high-level decision, no classical
    references. Periodic evaluation every `eval_every` steps (default: once, at the end) of
    `eval_steps` steps (default: one high-level window)."""
    period = preset.env.high_period_steps
    return TrainConfig(
        steps=steps,
        env=env_config(preset),
        fading=preset.fading,
        high=preset.high,
        low=preset.low,
        high_update_every=period,
        high_updates_per_step=updates_per_decision,
        eval_every=eval_every or steps,
        eval_steps=eval_steps or period,
        baseline_refs=(),
    )


def agent_config(preset: ReproducePreset, env: HierarchicalSlicingEnv | None = None) -> HierarchicalConfig:
    """The agent shape every method and task shares."""
    obs_high = 12 if env is None else env.obs_high_dim
    obs_low = 5 + 5 * preset.ue_slots if env is None else env.obs_low_dim
    return HierarchicalConfig(
        obs_high_dim=obs_high,
        obs_low_dim=obs_low,
        n_slices=3,
        max_ues=preset.ue_slots,
        high=preset.high,
        low=preset.low,
    )


def initial_params(config: HierarchicalConfig, seed: int, device: str = "cpu") -> dict[str, Tensor]:
    """θ_0: the random initialisation of run `seed` (DRL's init, MTL's, and θ_M's start)."""
    agent = HierarchicalAgent(config, seed=derive_seed(seed, "theta0"), device=device)
    return agent.get_params()


def make_pool(
    config: HierarchicalConfig,
    n_agents: int,
    params: Mapping[str, Tensor] | None,
    seed: int,
    device: str = "cpu",
) -> AgentPool:
    """`n_agents` agents (own noise/replay RNGs) all starting at `params`, fresh optimisers."""
    pool = AgentPool.create(config, n_agents, seed=seed, device=device)
    if params is not None:
        for agent in pool:
            agent.set_params({k: v.to(agent.device) for k, v in params.items()})
            agent.reset_optimizers()
    return pool


def with_traffic_spike(scenario: ScenarioConfig, factor: float, at_ms: float = 0.0) -> ScenarioConfig:
    """The scenario with every DU's arrival rates multiplied by `factor` from `at_ms` on."""
    event = DuEvent(at_ms=at_ms, kind="traffic_scale", dus="all", factor=factor)
    return scenario.model_copy(update={"events": [*scenario.events, event], "name": scenario.name + "+spike"})


def to_cpu(params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in params.items()}


def to_device(params: Mapping[str, Tensor], device: str | torch.device) -> dict[str, Tensor]:
    return {k: v.detach().to(device) for k, v in params.items()}
