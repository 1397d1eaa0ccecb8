"""Every number of the report, computed from the run result files (nothing here runs a simulation).

Conventions: a value "per seed" is first averaged over the new tasks (and their DUs) of that
seed; means and 95 % CIs are then taken over seeds (`stats.mean_ci`); comparisons between methods
are paired by seed (same θ_0, same environment seeds). Distributions (CDFs) are summarised by
their quantile functions: per seed the task-averaged quantile function, then mean ± CI per level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from experiments.meta.evaluation import QUANTILES
from experiments.meta.preset import ReproducePreset
from experiments.meta.runs import RunSpec, load_result, result_path
from experiments.meta.sb3_scratch import LABELS, scratch_env_steps, scratch_gradient_steps
from experiments.meta.scaling import size_label
from experiments.meta.stats import mean_ci, paired_relative

__all__ = ["Loaded", "ScratchRow", "build_results", "load_all", "per_seed"]

SLICES = ("eMBB", "mMTC", "URLLC")
KPI_LABELS = (
    "u_s: mean UE throughput (Mbit/s)",
    "d_s: quality-weighted capacity (Mbit/s)",
    "l_d: max latency (ms)",
)


@dataclass
class Loaded:
    """Run results by name and seed (missing runs are simply absent)."""

    methods: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    baselines: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    learners: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    pretrain: dict[int, dict[str, Any]] = field(default_factory=dict)
    sweeps: dict[int, dict[str, Any]] = field(default_factory=dict)  # seed → sweep result
    scale: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


def load_all(out_dir: str | Path, runs: Sequence[RunSpec]) -> Loaded:
    loaded = Loaded()
    for spec in runs:
        if not result_path(out_dir, spec).is_file():
            continue
        res = load_result(out_dir, spec)
        if spec.kind == "pretrain":
            loaded.pretrain[spec.seed] = res
        elif spec.kind == "sweep":
            loaded.sweeps[spec.seed] = res["sweep"]
        else:
            table = {
                "method": loaded.methods,
                "baseline": loaded.baselines,
                "learner": loaded.learners,
                "scale": loaded.scale,
            }[spec.kind]
            table.setdefault(spec.name, {})[spec.seed] = res
    return loaded


def per_seed(runs: Mapping[int, dict[str, Any]], value: Any, task: str | None = None) -> dict[int, float]:
    """seed → mean over the run's new tasks (only `task` if given) of ``value(task_result)``
    (NaN-free mean)."""
    out: dict[int, float] = {}
    for seed, res in runs.items():
        vals = [float(value(t)) for t in res["tasks"] if task is None or t["task"] == task]
        finite = [v for v in vals if np.isfinite(v)]
        out[seed] = float(np.mean(finite)) if finite else float("nan")
    return out


def _ci(values: Mapping[int, float]) -> dict[str, float | int]:
    return mean_ci(list(values.values())).as_dict()


def _paired(a: Mapping[int, float], b: Mapping[int, float]) -> dict[str, float | int]:
    seeds = sorted(set(a) & set(b))
    return paired_relative([a[s] for s in seeds], [b[s] for s in seeds]).as_dict()


def _shot_key(preset: ReproducePreset, wanted: int) -> str:
    """The evaluated shot closest to (not above, if possible) `wanted`."""
    grid = preset.curve_shots()
    below = [s for s in grid if s <= wanted]
    return str(below[-1] if below else grid[0])


# ---- learning curves, boxes, bars -----------------------------------------------------------


def _fig4(loaded: Loaded, preset: ReproducePreset) -> dict[str, Any]:
    shots = preset.curve_shots()
    methods = {
        m: {
            str(k): _ci(per_seed(runs, lambda t, k=k: t["evals"][str(k)]["cumulative_reward"])) for k in shots
        }
        for m, runs in loaded.methods.items()
    }
    baselines = {
        b: _ci(per_seed(runs, lambda t: t["nominal"]["cumulative_reward"]))
        for b, runs in loaded.baselines.items()
    }
    meta: dict[str, Any] = {}
    for m, runs in loaded.methods.items():
        curves = [r["meta"]["curve"] for r in runs.values() if r.get("meta") and "curve" in r["meta"]]
        if curves:
            arr = np.array(curves, dtype=np.float64)
            meta[m] = [mean_ci(arr[:, i]).as_dict() for i in range(arr.shape[1])]
    return {"shots": shots, "methods": methods, "baselines": baselines, "meta_training": meta}


def _fig5(loaded: Loaded, preset: ReproducePreset) -> dict[str, Any]:
    key = _shot_key(preset, 5)
    values = {
        m: [t["evals"][key]["cumulative_reward"] for r in runs.values() for t in r["tasks"]]
        for m, runs in loaded.methods.items()
    }
    values |= {
        b: [t["nominal"]["cumulative_reward"] for r in runs.values() for t in r["tasks"]]
        for b, runs in loaded.baselines.items()
    }
    return {"shot": int(key), "values": values}


def _fig8(loaded: Loaded, preset: ReproducePreset) -> dict[str, Any]:
    shots = [s for s in preset.adapt.shots.eval_shots if s <= preset.adapt_iterations]
    out: dict[str, Any] = {"shots": shots, "methods": {}, "baselines": {}}
    for m, runs in loaded.methods.items():
        out["methods"][m] = {
            SLICES[sl]: {
                str(k): _ci(per_seed(runs, lambda t, k=k, sl=sl: t["evals"][str(k)]["qos_mean"][sl]))
                for k in shots
            }
            for sl in range(3)
        }
    for b, runs in loaded.baselines.items():
        out["baselines"][b] = {
            SLICES[sl]: _ci(per_seed(runs, lambda t, sl=sl: t["nominal"]["qos_mean"][sl])) for sl in range(3)
        }
    return out


# ---- distributions (Fig. 6, 7, 9) -----------------------------------------------------------


def _band(per_seed_quantiles: list[list[float]]) -> dict[str, list[float]]:
    arr = np.array(per_seed_quantiles, dtype=np.float64)
    cis = [mean_ci(arr[:, i]) for i in range(arr.shape[1])]
    return {"mean": [c.mean for c in cis], "lo": [c.lo for c in cis], "hi": [c.hi for c in cis]}


def _quantile_bands(
    loaded: Loaded, field_name: str, final: str, task: str | None = None
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """policy → slice → band of the quantile function (at the final shot; baselines nominal)."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    sources = [(m, runs, lambda t: t["evals"][final]) for m, runs in loaded.methods.items()]
    sources += [(b, runs, lambda t: t["nominal"]) for b, runs in loaded.baselines.items()]
    for name, runs, pick in sources:
        per_slice: dict[str, dict[str, list[float]]] = {}
        for sl in range(3):
            seeds = []
            for res in runs.values():
                qs = [pick(t)[field_name][sl] for t in res["tasks"] if task is None or t["task"] == task]
                if qs:
                    seeds.append(list(np.nanmean(np.array(qs, dtype=np.float64), axis=0)))
            if seeds:
                per_slice[SLICES[sl]] = _band(seeds)
        out[name] = per_slice
    return out


def _distributions(loaded: Loaded, preset: ReproducePreset, tasks: Sequence[str]) -> dict[str, Any]:
    final = str(preset.adapt_iterations)
    return {
        "levels": list(QUANTILES),
        "fig6": _quantile_bands(loaded, "kpi_quantiles", final),
        "fig7": _quantile_bands(loaded, "ue_throughput_quantiles", final),
        "fig9": {task: _quantile_bands(loaded, "kpi_quantiles", final, task) for task in tasks[:3]},
    }


# ---- tables ---------------------------------------------------------------------------------


def _table2(loaded: Loaded, preset: ReproducePreset) -> list[dict[str, Any]]:
    sizes = [size_label(z) for z in preset.scalability.sizes]
    if not sizes or sizes[0] not in loaded.scale:
        return []
    base = loaded.scale[sizes[0]]
    base_it = {s: float(r["scale"]["converge_iteration"]) for s, r in base.items()}
    base_rw = {s: float(r["scale"]["final_reward"]) for s, r in base.items()}
    rows = []
    for label in sizes:
        runs = loaded.scale.get(label, {})
        it = {s: float(r["scale"]["converge_iteration"]) for s, r in runs.items()}
        rw = {s: float(r["scale"]["final_reward"]) for s, r in runs.items()}
        common = sorted(set(rw) & set(base_rw))
        delay = {s: float(np.mean(r["scale"]["delay_ms"])) for s, r in runs.items()}
        rows.append(
            {
                "size": label,
                "converge_iteration": _ci(it),
                "converge_change_pct": _paired(it, base_it),
                "final_reward": _ci(rw),
                "reward_change": mean_ci([rw[s] - base_rw[s] for s in common]).as_dict(),
                "converged_fraction": float(np.mean([r["scale"]["converged"] for r in runs.values()]))
                if runs
                else float("nan"),
                "meta_update_ms": _ci(delay),
                "n_params": next((r["scale"]["n_params"] for r in runs.values()), 0),
            }
        )
    return rows


def _extended(loaded: Loaded, preset: ReproducePreset) -> dict[str, Any]:
    final = str(preset.adapt_iterations)

    def spike_drop(nominal: Mapping[str, Any], spike: Mapping[str, Any]) -> float:
        n, s = nominal["cumulative_reward"], spike["cumulative_reward"]
        return 100.0 * (n - s) / abs(n) if n else float("nan")

    out: dict[str, Any] = {}
    for m, runs in loaded.methods.items():
        out[m] = {
            "latency_ms": _ci(per_seed(runs, lambda t: t["evals"][final]["latency_mean_ms"])),
            "jain": _ci(per_seed(runs, lambda t: t["evals"][final]["jain"])),
            "spike_degradation_pct": _ci(per_seed(runs, lambda t: spike_drop(t["evals"][final], t["spike"]))),
        }
    for b, runs in loaded.baselines.items():
        out[b] = {
            "latency_ms": _ci(per_seed(runs, lambda t: t["nominal"]["latency_mean_ms"])),
            "jain": _ci(per_seed(runs, lambda t: t["nominal"]["jain"])),
            "spike_degradation_pct": _ci(per_seed(runs, lambda t: spike_drop(t["nominal"], t["spike"]))),
        }
    return out


def _weights(loaded: Loaded) -> dict[str, dict[str, list[float]]]:
    """MAML-HRL methods: each group's task weights, mean over seeds and meta-iterations."""
    out: dict[str, dict[str, list[float]]] = {}
    for m, runs in loaded.methods.items():
        metas = [r["meta"] for r in runs.values() if r.get("meta") and "weights" in r["meta"]]
        if not metas:
            continue
        groups = metas[0]["weights"]
        out[m] = {
            g: [float(x) for x in np.mean([np.mean(meta["weights"][g], axis=0) for meta in metas], axis=0)]
            for g in groups
        }
    return out


@dataclass(frozen=True)
class ScratchRow:
    """A from-scratch learner on the new tasks after DRL's env-step budget (means [95 % CI] over
    seeds of the task means; ``vs`` = paired relative difference of the cumulative reward, %)."""

    policy: str
    label: str
    env_steps: int  # per task
    gradient_steps: dict[str, float | int]  # per task and learner
    cumulative_reward: dict[str, float | int]
    normalised_reward: dict[str, float | int]
    qos: dict[str, dict[str, float | int]]  # slice → CI
    latency_ms: dict[str, float | int]
    jain: dict[str, float | int]
    vs: dict[str, dict[str, float | int]]  # reference method → paired CI

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_SCRATCH_REFS = ("drl", "maml-adaptive")
_DRL_LABEL = "DRL from scratch (ours, HRL)"


def _scratch_row(
    policy: str,
    label: str,
    runs: Mapping[int, dict[str, Any]],
    pick: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    gradient_steps: Callable[[Mapping[str, Any]], float],
    refs: Mapping[str, dict[int, float]],
    env_steps: int,
) -> ScratchRow:
    reward = per_seed(runs, lambda t: pick(t)["cumulative_reward"])
    return ScratchRow(
        policy=policy,
        label=label,
        env_steps=env_steps,
        gradient_steps=_ci(per_seed(runs, gradient_steps)),
        cumulative_reward=_ci(reward),
        normalised_reward=_ci(per_seed(runs, lambda t: pick(t)["normalised_reward"])),
        qos={SLICES[sl]: _ci(per_seed(runs, lambda t, sl=sl: pick(t)["qos_mean"][sl])) for sl in range(3)},
        latency_ms=_ci(per_seed(runs, lambda t: pick(t)["latency_mean_ms"])),
        jain=_ci(per_seed(runs, lambda t: pick(t)["jain"])),
        vs={ref: _paired(reward, r) for ref, r in refs.items() if ref != policy},
    )


def _scratch(loaded: Loaded, preset: ReproducePreset) -> dict[str, Any]:
    """DRL from scratch (after T_new shots) beside every off-the-shelf learner trained from
    scratch for the same env steps on each new task (``sb3_scratch``)."""
    final, steps = str(preset.adapt_iterations), scratch_env_steps(preset)
    refs = {
        m: per_seed(loaded.methods[m], lambda t: t["evals"][final]["cumulative_reward"])
        for m in _SCRATCH_REFS
        if m in loaded.methods
    }
    rows: list[ScratchRow] = []
    if "drl" in loaded.methods:
        drl_updates = float(scratch_gradient_steps(preset))
        drl = loaded.methods["drl"]
        rows.append(
            _scratch_row(
                "drl", _DRL_LABEL, drl, lambda t: t["evals"][final], lambda t: drl_updates, refs, steps
            )
        )
    for name, runs in loaded.learners.items():
        label = LABELS.get(name, name)
        rows.append(
            _scratch_row(
                name, label, runs, lambda t: t["nominal"], lambda t: t["gradient_steps"], refs, steps
            )
        )
    return {"env_steps": steps, "rows": [r.as_dict() for r in rows]}


def build_results(loaded: Loaded, preset: ReproducePreset, tasks: Sequence[str]) -> dict[str, Any]:
    """The figure/table numbers of the paper's layout (`analysis.build_analysis` adds the
    separation, Table 3 and the adaptation analysis; `claims.evaluate_claims` the claims)."""
    return {
        "fig4": _fig4(loaded, preset),
        "fig5": _fig5(loaded, preset),
        "distributions": _distributions(loaded, preset, tasks),
        "fig8": _fig8(loaded, preset),
        "table2": _table2(loaded, preset),
        "extended": _extended(loaded, preset),
        "task_weights": _weights(loaded),
        "scratch": _scratch(loaded, preset),
    }
