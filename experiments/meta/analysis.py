"""The report's adaptation analysis (issue 14): paired comparisons per task and pooled, shots to
threshold, the check that θ_M beats θ_0 on the training tasks, the weights' entropy.

Pairing: every value of seed s comes from the same θ_0 and the same evaluation env seeds, so a
comparison is the per-seed relative difference (a_s − b_s) / |b_s|, on one new task ("per task")
or on the mean over the new tasks ("pooled"), then mean ± 95 % CI over seeds.

The non-oracle static split (``static-train``) is the split sweep's grid split with the best mean
reward over the training tasks, evaluated on each new task (`experiments.meta.headroom`);
``static-pf`` uses each task's own hand-set split and is an **oracle**.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.meta.aggregate import Loaded, per_seed
from experiments.meta.headroom import SweepView, shots_to_threshold, summarise_sweeps
from experiments.meta.preset import MAML_SCHEMES, ReproducePreset
from experiments.meta.stats import mean_ci, paired_relative

__all__ = [
    "STATIC_TRAIN",
    "build_analysis",
    "entropy",
    "init_check",
    "init_summary_lines",
    "separation",
    "table3",
    "threshold_shots",
    "threshold_table",
    "trained_vs_equal",
    "weight_entropy",
]

STATIC_TRAIN = "static-train"
Seeds = dict[int, float]


def _shot_key(preset: ReproducePreset, wanted: int) -> str:
    grid = preset.curve_shots()
    below = [s for s in grid if s <= wanted]
    return str(below[-1] if below else grid[0])


def _sweeps(loaded: Loaded) -> dict[int, SweepView]:
    return {s: SweepView.from_result(r) for s, r in loaded.sweeps.items()}


def _static_train(loaded: Loaded, task: str | None) -> Seeds:
    out: Seeds = {}
    for seed, view in _sweeps(loaded).items():
        tasks = [t for t in view.new if task is None or t == task]
        if tasks:
            out[seed] = float(np.mean([view.train_split(t) for t in tasks]))
    return out


def _values(loaded: Loaded, key: str, task: str | None) -> dict[str, Seeds]:
    """policy → seed → cumulative reward at shot `key` (baselines and the static split: nominal)."""
    vals = {
        m: per_seed(r, lambda t: t["evals"][key]["cumulative_reward"], task)
        for m, r in loaded.methods.items()
    }
    vals |= {
        b: per_seed(r, lambda t: t["nominal"]["cumulative_reward"], task) for b, r in loaded.baselines.items()
    }
    static = _static_train(loaded, task)
    if static:
        vals[STATIC_TRAIN] = static
    return vals


def _paired(a: Seeds, b: Seeds) -> dict[str, Any]:
    seeds = sorted(set(a) & set(b))
    c = paired_relative([a[s] for s in seeds], [b[s] for s in seeds]).as_dict()
    return c | {"significant": bool(math.isfinite(c["lo"]) and (c["lo"] > 0 or c["hi"] < 0))}


def _separation_at(loaded: Loaded, shots: list[str], task: str | None) -> dict[str, Any]:
    vals = {k: _values(loaded, k, task) for k in shots}
    out: dict[str, Any] = {}
    for ref in ("drl", "maml-adaptive", STATIC_TRAIN):
        if ref not in vals[shots[0]]:
            continue
        out[ref] = {
            name: {k: _paired(vals[k][name], vals[k][ref]) for k in shots}
            for name in vals[shots[0]]
            if name != ref
        }
    return out


def separation(loaded: Loaded, preset: ReproducePreset, tasks: Sequence[str]) -> dict[str, Any]:
    """Every policy against DRL, adaptive MAML-HRL and the non-oracle static split at 0, 5 and
    T_new shots: pooled over the new tasks and per task. Classical schedulers and fixed splits do
    not adapt: their value is the same at every shot."""
    shots = list(dict.fromkeys([_shot_key(preset, 0), _shot_key(preset, 5), str(preset.adapt_iterations)]))
    return {
        "shots": [int(k) for k in shots],
        "reference": _separation_at(loaded, shots, None),
        "per_task": {t: _separation_at(loaded, shots, t) for t in tasks},
    }


# ---- shots to threshold ---------------------------------------------------------------------


def threshold_shots(loaded: Loaded, preset: ReproducePreset, method: str, task: str | None = None) -> Seeds:
    """seed → shots to threshold of `method` (mean over the new tasks, or on `task`); +∞ when some
    task never reaches its threshold. Empty without a sweep."""
    views, runs = _sweeps(loaded), loaded.methods.get(method, {})
    shots, frac = preset.curve_shots(), preset.adapt.threshold
    out: Seeds = {}
    for seed, res in runs.items():
        view = views.get(seed)
        if view is None:
            continue
        vals = [
            shots_to_threshold(t["evals"], shots, frac * view.best(t["task"]))
            for t in res["tasks"]
            if (task is None or t["task"] == task) and t["task"] in view.new
        ]
        if vals:
            out[seed] = float(np.mean(vals))
    return out


def _censored_summary(values: Seeds, t_new: int) -> dict[str, Any]:
    x = np.array(list(values.values()), np.float64)
    reached = np.isfinite(x)
    median = float(np.median(x)) if x.size else math.nan
    return {
        "per_seed": {str(s): (v if math.isfinite(v) else None) for s, v in values.items()},
        "reached": int(reached.sum()),
        "n": int(x.size),
        "median": median if math.isfinite(median) else None,
        "median_text": "–" if not x.size else (f"{median:.0f}" if math.isfinite(median) else f"> {t_new}"),
    }


def threshold_table(loaded: Loaded, preset: ReproducePreset, tasks: Sequence[str]) -> dict[str, Any]:
    """method → task → censored summary of shots to threshold (median over seeds, "> T_new" when
    fewer than half the seeds reach it)."""
    if not loaded.sweeps:
        return {}
    t_new = preset.adapt_iterations
    return {
        m: {t: _censored_summary(threshold_shots(loaded, preset, m, t), t_new) for t in tasks}
        for m in loaded.methods
    }


# ---- θ_M on the training tasks, weights' entropy ---------------------------------------------


def init_check(loaded: Loaded) -> dict[str, Any]:
    """Per meta-learned method (and the pretrained control): its initialisation run greedily on the
    training tasks against θ_0, paired by seed; ``beats`` when the CI is above 0."""
    out: dict[str, Any] = {}
    for m, runs in loaded.methods.items():
        checks = {
            s: r["meta"]["train_check"] for s, r in runs.items() if (r.get("meta") or {}).get("train_check")
        }
        if not checks:
            continue
        seeds = sorted(checks)
        init = [float(checks[s]["init"]) for s in seeds]
        base = [float(checks[s]["theta0"]) for s in seeds]
        rel = paired_relative(init, base)
        out[m] = {
            "init": mean_ci(init).as_dict(),
            "theta0": mean_ci(base).as_dict(),
            "vs_theta0_pct": rel.as_dict(),
            "beats": bool(math.isfinite(rel.lo) and rel.lo > 0),
        }
    return out


def trained_vs_equal(loaded: Loaded) -> dict[str, Any]:
    """After phase 1, per training task: its trained HRL agent (greedy) against the equal split and
    the task's best fixed split, on the same env seeds (the split sweep's), paired by seed.
    ``cis_apart`` when the trained agent's CI lies wholly above the equal split's."""
    seeds = sorted(
        s for s in loaded.pretrain if "trained_on_train" in loaded.pretrain[s] and s in loaded.sweeps
    )
    if not seeds:
        return {}
    views = {s: SweepView.from_result(loaded.sweeps[s]) for s in seeds}
    names: list[str] = loaded.pretrain[seeds[0]]["train_tasks"]
    out: dict[str, Any] = {}
    for d, name in enumerate(names):
        trained = [float(loaded.pretrain[s]["trained_on_train"][d]) for s in seeds]
        equal = [float(views[s].train[-1, d]) for s in seeds]  # the sweep puts the equal split last
        best = [float(views[s].train[:, d].max()) for s in seeds]
        t_ci, e_ci = mean_ci(trained), mean_ci(equal)
        out[name] = {
            "trained": t_ci.as_dict(),
            "equal": e_ci.as_dict(),
            "best_split": mean_ci(best).as_dict(),
            "vs_equal_pct": paired_relative(trained, equal).as_dict(),
            "vs_best_split_pct": paired_relative(trained, best).as_dict(),
            "cis_apart": bool(len(seeds) > 1 and t_ci.lo > e_ci.hi),
        }
    return out


def entropy(weights: Sequence[float]) -> float:
    """Normalised Shannon entropy H(w) / log n ∈ [0, 1] (1: uniform weights)."""
    w = np.asarray(weights, np.float64)
    if w.size < 2:
        return 1.0
    p = w[w > 0]
    return float(-(p * np.log(p)).sum() / math.log(w.size))


def weight_entropy(loaded: Loaded) -> dict[str, dict[str, dict[str, float | int]]]:
    """method → group → mean [CI] over seeds of the per-iteration normalised entropy."""
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    for m, runs in loaded.methods.items():
        metas = [r["meta"] for r in runs.values() if r.get("meta") and "weights" in r["meta"]]
        if not metas:
            continue
        out[m] = {
            g: mean_ci([float(np.mean([entropy(w) for w in meta["weights"][g]])) for meta in metas]).as_dict()
            for g in metas[0]["weights"]
        }
    return out


def init_summary_lines(checks: Mapping[str, Any]) -> list[str]:
    """One sentence per method: does its initialisation beat θ_0 on the training tasks?"""
    lines = []
    for m, c in checks.items():
        rel = c["vs_theta0_pct"]
        if c["beats"]:
            verdict = "beats θ_0"
        elif rel["n"] < 2:
            verdict = "cannot be told from θ_0 with one seed"
        else:
            verdict = "does **not** beat θ_0"
        lines.append(f"- {m}: {verdict} on the training tasks ({rel['mean']:+.1f} %, n = {rel['n']})")
    return lines


# ---- Table 3 and the whole section ----------------------------------------------------------


def table3(loaded: Loaded, preset: ReproducePreset) -> list[dict[str, Any]]:
    """Table 3 protocol: normalised reward at 30 shots and shots to threshold (unreached runs
    count as T_new + 1 in the mean, a lower bound; the censored median is in ``threshold_shots``)."""
    key, t_new = _shot_key(preset, 30), preset.adapt_iterations
    rows = []
    for m in (x for x in MAML_SCHEMES if x in loaded.methods):
        reward = per_seed(loaded.methods[m], lambda t: t["evals"][key]["normalised_reward"])
        shots = {
            s: (v if math.isfinite(v) else float(t_new + 1))
            for s, v in threshold_shots(loaded, preset, m).items()
        }
        rows.append(
            {
                "method": m,
                "scheme": MAML_SCHEMES[m],
                "shot": int(key),
                "normalised_reward": mean_ci(list(reward.values())).as_dict(),
                "shots_to_threshold": mean_ci(list(shots.values())).as_dict(),
                "per_seed": {"reward": reward, "shots": shots},
            }
        )
    return rows


def build_analysis(loaded: Loaded, preset: ReproducePreset, tasks: Sequence[str]) -> dict[str, Any]:
    return {
        "separation": separation(loaded, preset, tasks),
        "table3": table3(loaded, preset),
        "threshold_shots": threshold_table(loaded, preset, tasks),
        "init_check": init_check(loaded),
        "trained_vs_equal": trained_vs_equal(loaded),
        "weight_entropy": weight_entropy(loaded),
        "sweep": summarise_sweeps(loaded.sweeps, preset.sweep.min_headroom),
    }
