"""Table 2: meta-training cost and reward as the network grows (N_DU DUs × N_UE UEs per DU).

The training scenario of size (N_DU, N_UE) is built from the preset's training scenario: its
tasks are assigned to the N_DU DUs in turn, and each task's slice populations are rescaled to
N_UE UEs per DU (same slice proportions, every slice ≥ 1 UE), with the eMBB per-UE rate scaled
inversely so that each DU's offered eMBB load stays that of its task. Agents get
⌈1.5 × largest slice⌉ UE slots. Meta-training uses the adaptive (softmin) weights.

Per iteration the curve holds the normalised reward of θ_M's exploring episodes on all training
DUs: mean R_h per 100 ms window / 3 ∈ [0, 1]. "Iterations to converge" is the settling point of
that curve (`stats.settling_point`: smoothed over ⌈T/10⌉ iterations, then the first iteration
after which it stays within ±tolerance of its final value).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from e2sim.config import ScenarioConfig
from experiments.meta.envs import agent_config, initial_params, make_env
from experiments.meta.metatrain import MetaLearner
from experiments.meta.preset import ReproducePreset
from experiments.meta.stats import settling_point

__all__ = ["run_scaling", "scaled_scenario", "size_label", "sized_preset"]


def size_label(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _split(counts: list[int], total: int) -> list[int]:
    """`total` split in proportion to `counts` (largest remainder, each part ≥ 1)."""
    w = np.maximum(np.asarray(counts, np.float64), 1e-9)
    exact = w / w.sum() * (total - len(counts)) + 1.0
    base = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - base))[: total - int(base.sum())]:
        base[i] += 1
    return [int(x) for x in base]


def scaled_scenario(base: ScenarioConfig, n_du: int, n_ue: int) -> ScenarioConfig:
    """`base`'s tasks over `n_du` DUs (in turn), each rescaled to `n_ue` UEs (module docs)."""
    tasks: dict[str, Any] = {}
    for name in dict.fromkeys(base.assignment):
        task = base.tasks[name]
        counts = _split([s.n_ues for s in task.slices], n_ue)
        data = task.model_dump()
        old_embb = max(task.embb.n_ues, 1)
        for key, n in zip(("embb", "mmtc", "urllc"), counts, strict=True):
            data[key]["n_ues"] = n
        if task.embb.rate_mbps is not None:
            f = old_embb / counts[0]
            data["embb"]["rate_mbps"] = [task.embb.rate_mbps[0] * f, task.embb.rate_mbps[1] * f]
        tasks[name] = data
    order = list(dict.fromkeys(base.assignment))
    assignment = [base.assignment[d % base.n_du] for d in range(n_du)]
    return ScenarioConfig.model_validate(
        {
            "name": f"{base.name}-{n_du}x{n_ue}",
            "n_du": n_du,
            "radio": base.radio.model_dump(),
            "tasks": {k: tasks[k] for k in order},
            "assignment": assignment,
        }
    )


def sized_preset(preset: ReproducePreset, ue_slots: int) -> ReproducePreset:
    """The preset with the agent shape and replay capacity of a scalability run."""
    cap = preset.scalability.buffer_size
    return preset.model_copy(
        update={
            "ue_slots": ue_slots,
            "high": preset.high.model_copy(update={"buffer_size": min(cap, preset.high.buffer_size)}),
            "low": preset.low.model_copy(update={"buffer_size": min(cap, preset.low.buffer_size)}),
        }
    )


def run_scaling(
    base: ScenarioConfig,
    preset: ReproducePreset,
    size: tuple[int, int],
    seed: int,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Meta-train at one size; the curve, its settling point and the meta-update delays."""
    sc_cfg = preset.scalability
    scenario = scaled_scenario(base, *size)
    largest = max(s.n_ues for t in scenario.tasks.values() for s in t.slices)
    sized = sized_preset(preset, math.ceil(1.5 * largest))
    env = make_env(scenario, sized, sc_cfg.episode_steps)
    theta0 = initial_params(agent_config(sized, env), seed, device)
    meta_cfg = preset.meta.model_copy(
        update={
            "iterations": sc_cfg.iterations,
            "episodes": sc_cfg.episodes,
            "query_episodes": 1,
            "inner_steps": sc_cfg.inner_steps,
        }
    )
    learner = MetaLearner(
        scenario,
        sized,
        "softmin",
        theta0,
        seed,
        config=meta_cfg,
        episode_steps=sc_cfg.episode_steps,
        device=device,
    )
    result = learner.run(progress=progress)
    windows = sc_cfg.episode_steps // preset.env.high_period_steps
    curve = [r / (3.0 * windows) for r in result.curve]
    smooth = max(1, math.ceil(len(curve) / 10))
    idx, converged = settling_point(curve, sc_cfg.tolerance, smooth)
    tail = curve[-max(1, round(0.2 * len(curve))) :]
    return {
        "size": list(size),
        "scenario": scenario.name,
        "curve": curve,
        "converge_iteration": idx + 1,
        "converged": converged,
        "final_reward": float(np.mean(tail)),
        "delay_ms": result.delay_ms,
        "n_params": int(sum(v.numel() for v in result.theta.values())),
        "ue_slots": sized.ue_slots,
    }
