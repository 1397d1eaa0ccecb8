"""Evaluate trained HRL checkpoints and classical baselines on K seeds; mean ± 95 % CI per metric.

A policy is named by a baseline (``equal-rr``, …, ``random``), a training run directory or
checkpoint file, or a group ``NAME=PATH[,PATH…]`` of checkpoints (e.g. several training seeds),
whose runs (every checkpoint × every seed) are pooled. Trained policies act greedily (no
exploration) through :class:`~experiments.policy.GreedyPolicy` and run in the environment
configuration they were trained with (its episode length set to the evaluation's). Baselines
run with ``EnvConfig(low_action=…)`` — only ``random`` uses the low-level action mapping;
the classical ones schedule with their built-in RR/PF inside slices.

Every run is one episode of ``steps`` low-level steps from seed s ∈ {seed0, …, seed0 + K − 1};
all policies see the same seeds (same UE drops, traffic and fading draws up to their actions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from e2sim.config import SLICE_NAMES, ScenarioConfig
from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from e2sim.policies import BASELINES, Policy, make_baseline
from e2sim.runner import RunResult, run_policy
from experiments.checkpoint import CheckpointError, load_training_checkpoint
from experiments.policy import GreedyPolicy
from experiments.stats import mean_ci95
from xapps.agent import AgentPool, HierarchicalConfig

__all__ = [
    "SLICE_METRICS",
    "TOP_METRICS",
    "PolicyEvaluation",
    "PolicySpec",
    "evaluate",
    "load_pool",
    "parse_policy",
    "summary_row",
]

TOP_METRICS = ("return", "reward_high_mean", "jain", "rb_utilisation")
SLICE_METRICS = (
    "throughput_mbps",
    "latency_mean_ms",
    "latency_max_ms",
    "deadline_miss_rate",
    "sla_satisfaction",
    "qos",
    "rb_share",
)


SB3_PREFIX = "sb3:"


@dataclass(frozen=True)
class PolicySpec:
    """A baseline (``paths`` empty) or a group of trained checkpoints."""

    name: str
    paths: tuple[Path, ...] = ()

    @property
    def is_baseline(self) -> bool:
        return not self.paths


def parse_policy(text: str) -> PolicySpec:
    """``equal-rr`` | ``runs/p0`` | ``runs/p0/checkpoint.pt`` | ``hrl=runs/p0,runs/p1`` |
    ``sb3:RUN_DIR`` (a ``--learner`` baseline run, :mod:`experiments.sb3_baselines`)."""
    if text in BASELINES:
        return PolicySpec(text)
    if text.startswith(SB3_PREFIX):
        path = Path(text.removeprefix(SB3_PREFIX))
        if not path.is_dir():
            raise ValueError(f"policy {text!r}: {path} is not a run directory")
        return PolicySpec(text, (path,))
    name, sep, rest = text.partition("=")
    if sep:
        paths = tuple(Path(p) for p in rest.split(",") if p)
        if not name or not paths:
            raise ValueError(f"policy group {text!r}: expected NAME=PATH[,PATH...]")
        return PolicySpec(name, paths)
    path = Path(text)
    if not path.exists():
        raise ValueError(f"unknown policy {text!r}: not a baseline ({', '.join(BASELINES)}) nor a path")
    return PolicySpec(f"hrl:{text}", (path,))


def load_pool(path: Path, device: str | torch.device = "cpu") -> tuple[AgentPool, dict[str, Any]]:
    """The trained `AgentPool` of a checkpoint (run dir or file) and the checkpoint's ``meta``."""
    state = load_training_checkpoint(path)
    meta = dict(state["meta"])
    try:
        agent_cfg = HierarchicalConfig.model_validate(meta["agent"])
        n_du = len(state["pool"]["agents"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint meta/pool ({exc})") from exc
    pool = AgentPool.create(agent_cfg, n_du, device=device)
    pool.load_state_dict(state["pool"])
    return pool, meta


@dataclass(frozen=True)
class PolicyEvaluation:
    spec: PolicySpec
    results: tuple[RunResult, ...]


def _checkpoint_runner(path: Path, scenario: ScenarioConfig, steps: int) -> Callable[[int], RunResult]:
    pool, meta = load_pool(path)
    env_cfg = EnvConfig.model_validate({**meta["config"]["env"], "episode_steps": steps})
    env = HierarchicalSlicingEnv(scenario, env_cfg)
    if env.n_du != len(pool) or env.obs_low_dim != pool[0].config.obs_low_dim:
        raise CheckpointError(
            f"{path}: trained for {len(pool)} DUs / low obs {pool[0].config.obs_low_dim}, but scenario "
            f"{scenario.name!r} has {env.n_du} DUs / low obs {env.obs_low_dim}"
        )
    policy = GreedyPolicy(pool, name=str(path))
    return lambda seed: run_policy(env, policy, steps, seed=seed)


def _baseline_runner(
    name: str, scenario: ScenarioConfig, steps: int, low_action: str
) -> Callable[[int], RunResult]:
    env = HierarchicalSlicingEnv(
        scenario, EnvConfig.model_validate({"episode_steps": steps, "low_action": low_action})
    )

    def run(seed: int) -> RunResult:
        policy: Policy = make_baseline(name, env, seed=seed)
        return run_policy(env, policy, steps, seed=seed)

    return run


def evaluate(
    scenario: ScenarioConfig,
    specs: Sequence[PolicySpec],
    seeds: Sequence[int],
    steps: int,
    *,
    low_action: str = "share",
    progress: Callable[[str, int], None] | None = None,
) -> list[PolicyEvaluation]:
    """Run every policy on every seed (checkpoints of a group: each on every seed)."""
    out = []
    for spec in specs:
        runners: Iterable[Callable[[int], RunResult]]
        if spec.is_baseline:
            runners = [_baseline_runner(spec.name, scenario, steps, low_action)]
        elif spec.name.startswith(SB3_PREFIX):
            from experiments.sb3_baselines import run_dir_runner

            runners = (run_dir_runner(p, scenario, steps) for p in spec.paths)
        else:
            # Lazily: one checkpoint's agents (networks and replay) in memory at a time.
            runners = (_checkpoint_runner(p, scenario, steps) for p in spec.paths)
        results = []
        for runner in runners:
            for seed in seeds:
                results.append(runner(seed))
                if progress is not None:
                    progress(spec.name, seed)
            del runner  # release this checkpoint before the next one loads
        out.append(PolicyEvaluation(spec, tuple(results)))
    return out


def summary_row(ev: PolicyEvaluation) -> dict[str, Any]:
    """Flat row: ``METRIC_mean`` / ``METRIC_ci95`` for the whole-network metrics and
    ``SLICE_METRIC_mean`` / ``_ci95`` per slice (e.g. ``urllc_latency_max_ms_mean``)."""
    res = ev.results
    row: dict[str, Any] = {
        "policy": ev.spec.name,
        "checkpoints": [str(p) for p in ev.spec.paths],
        "scenario": res[0].scenario,
        "runs": len(res),
        "seeds": sorted({r.seed for r in res}),
        "steps": res[0].steps,
        "returns": [r.return_mean for r in res],
    }
    for m in TOP_METRICS:
        key = "return_mean" if m == "return" else m
        row[f"{m}_mean"], row[f"{m}_ci95"] = mean_ci95([getattr(r, key) for r in res])
    for i, s in enumerate(SLICE_NAMES):
        for m in SLICE_METRICS:
            vals = [getattr(r.slices[i], m) for r in res]
            row[f"{s}_{m}_mean"], row[f"{s}_{m}_ci95"] = mean_ci95(vals)
    return row
