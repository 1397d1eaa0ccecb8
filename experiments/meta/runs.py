"""The runs of a reproduction: what they are, what they need, where their results go.

A run is identified by (kind, name, seed):

- ``pretrain/-/s``: phase 1 of seed s (TL donors, MTL partner data, Static-Var variances);
- ``method/M/s``: method M adapted to every new task (a MAML-HRL method meta-trains first);
- ``baseline/B/s``: classical scheduler B evaluated on every new task;
- ``sweep/-/s``: the split sweep (:mod:`experiments.meta.sweep`) on the training and new tasks;
- ``learner/L/s``: off-the-shelf learner L (SB3 TD3) trained from scratch on every new task, at
  DRL's env-step budget — planned only where Stable-Baselines3 is installed
  (:mod:`experiments.meta.sb3_scratch`);
- ``scale/NxU/s``: meta-training at N DUs × U UEs per DU (Table 2).

Each run writes ``runs/KIND/NAME/seed{s}.json`` atomically when it finishes; a rerun skips
finished runs. Intermediate artifacts are resumable too: phase 1 writes its agents
(``pretrain/-/seed{s}.pt``) and a MAML-HRL run writes θ_M after meta-training
(``method/M/seed{s}.theta.pt``), so an adaptation interrupted midway restarts from θ_M
instead of meta-training again. A learner run trains into ``learner/L/seed{s}/TASK/`` (SB3's
``model.zip`` and logs); an interrupted one starts that task again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from experiments.meta import sb3_scratch
from experiments.meta.adapt import (
    MethodInit,
    adapt_task,
    eval_env,
    eval_seeds,
    evaluate_baseline,
    evaluate_on,
)
from experiments.meta.envs import Scenarios, agent_config, initial_params, load_scenarios, make_env, make_pool
from experiments.meta.metatrain import MetaLearner
from experiments.meta.preset import MAML_SCHEMES, PAPER_WEIGHTING, ReproducePreset
from experiments.meta.pretrain import mean_params, pretrain, static_var_means
from experiments.meta.scaling import run_scaling, size_label
from experiments.meta.sweep import TRAIN_KEY, run_sweep
from experiments.policy import GreedyPolicy

__all__ = [
    "RunContext",
    "RunSpec",
    "atomic_write_bytes",
    "dependencies",
    "execute_run",
    "load_result",
    "method_preset",
    "plan_runs",
    "result_path",
]

Kind = Literal["pretrain", "method", "baseline", "sweep", "learner", "scale"]


@dataclass(frozen=True, order=True)
class RunSpec:
    kind: Kind
    name: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}/seed{self.seed}"


@dataclass(frozen=True)
class RunContext:
    """What every run needs (picklable, sent to worker processes)."""

    preset: ReproducePreset
    out_dir: str
    device: str = "cpu"
    extra_new_tasks: tuple[str, ...] = ()

    def scenarios(self) -> Scenarios:
        return load_scenarios(self.preset, self.extra_new_tasks)


def plan_runs(preset: ReproducePreset) -> list[RunSpec]:
    """Every run of a reproduction, dependencies first."""
    seeds = preset.seed_list
    runs = [RunSpec("pretrain", "-", s) for s in seeds]
    runs += [RunSpec("method", m, s) for s in seeds for m in preset.methods]
    runs += [RunSpec("baseline", b, s) for s in seeds for b in preset.baselines]
    if preset.sweep.enabled:
        runs += [RunSpec("sweep", "-", s) for s in seeds]
    runs += [RunSpec("learner", name, s) for s in seeds for name in sb3_scratch.planned_learners()]
    if preset.scalability.enabled:
        n = preset.scalability.seeds or preset.seeds
        runs += [
            RunSpec("scale", size_label(z), s)
            for s in range(preset.first_seed, preset.first_seed + n)
            for z in preset.scalability.sizes
        ]
    return runs


def dependencies(spec: RunSpec, preset: ReproducePreset) -> list[RunSpec]:
    if spec.kind == "method" and preset.needs_pretrain(spec.name):
        return [RunSpec("pretrain", "-", spec.seed)]
    return []


def result_path(out_dir: str | Path, spec: RunSpec) -> Path:
    return Path(out_dir) / "runs" / spec.kind / spec.name / f"seed{spec.seed}.json"


def _artifact(out_dir: str | Path, spec: RunSpec, suffix: str) -> Path:
    return result_path(out_dir, spec).with_suffix(suffix)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file, fsync and rename: a kill never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _save_torch(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_torch(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_result(out_dir: str | Path, spec: RunSpec) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result_path(out_dir, spec).read_text(encoding="utf-8"))
    return data


# ---- executing one run ----------------------------------------------------------------------


def _run_pretrain(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    res = pretrain(sc, ctx.preset, spec.seed, ctx.device)
    _save_torch(
        _artifact(ctx.out_dir, spec, ".pt"),
        {"task_params": res.task_params, "partner_replay": res.partner_replay},
    )
    return {
        "pretrain": res.summary(),
        "train_tasks": sc.train_task_names,
        "trained_on_train": _trained_on_train(ctx, spec, sc, res.task_params),
    }


def _trained_on_train(
    ctx: RunContext, spec: RunSpec, sc: Scenarios, task_params: list[dict[str, Any]]
) -> list[float]:
    """Each phase-1 agent run greedily on its own training task (the split sweep's env seeds):
    per DU, the cumulative reward the report sets against the equal split."""
    preset = ctx.preset
    env = eval_env(sc.train, preset)
    pool = make_pool(agent_config(preset, env), env.n_du, None, 0, "cpu")
    for agent, params in zip(pool, task_params, strict=True):
        agent.set_params(params)
    seeds = eval_seeds(spec.seed, TRAIN_KEY, preset)
    return evaluate_on(env, lambda _s: GreedyPolicy(pool), preset, seeds).cumulative_reward_du


def _meta_init(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> tuple[dict[str, Any], dict[str, Any]]:
    """θ_M of a MAML-HRL run: loaded if this run already meta-trained, else meta-trained now."""
    path = _artifact(ctx.out_dir, spec, ".theta.pt")
    if path.is_file():
        saved = _load_torch(path)
        return saved["theta"], json.loads(saved["summary"])
    preset = ctx.preset
    static = None
    if spec.name == "maml-static-var":
        p1 = load_result(ctx.out_dir, RunSpec("pretrain", "-", spec.seed))
        static = static_var_means(p1["pretrain"]["td_history"])
    learner = MetaLearner(
        sc.train,
        method_preset(preset, spec.name),
        MAML_SCHEMES[spec.name],
        {k: v.to(ctx.device) for k, v in _start(ctx, spec, sc).items()},
        spec.seed,
        static_means=static,
        second_order=spec.name.endswith("-2nd"),
        device=ctx.device,
    )
    res = learner.run()
    summary = {
        "curve": res.curve,
        "weights": res.weights,
        "variances": res.variances,
        "delay_ms": res.delay_ms,
    }
    _save_torch(path, {"theta": res.theta, "summary": json.dumps(summary)})
    return dict(res.theta), summary


def method_preset(preset: ReproducePreset, method: str) -> ReproducePreset:
    """The preset a method meta-trains with: "paper as written" methods weight raw variances, T = 1."""
    if method not in PAPER_WEIGHTING:
        return preset
    meta = preset.meta.model_copy(update={"normalise": "none", "temperature": 1.0})
    return preset.model_copy(update={"meta": meta})


def _theta0(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    return initial_params(agent_config(ctx.preset, make_env(sc.train, ctx.preset)), spec.seed, "cpu")


def _start(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    """Where θ_M starts (and what the 'pretrained' control adapts from): θ_0 or the phase-1 mean."""
    if ctx.preset.meta.init == "random" and spec.name != "pretrained":
        return _theta0(ctx, spec, sc)
    art = _load_torch(_artifact(ctx.out_dir, RunSpec("pretrain", "-", spec.seed), ".pt"))
    return mean_params(art["task_params"])


def _greedy_on_train(ctx: RunContext, spec: RunSpec, sc: Scenarios, params: dict[str, Any]) -> float:
    preset = ctx.preset
    env = eval_env(sc.train, preset)
    pool = make_pool(agent_config(preset, env), env.n_du, params, 0, "cpu")
    seeds = eval_seeds(spec.seed, TRAIN_KEY, preset)
    return evaluate_on(env, lambda _s: GreedyPolicy(pool), preset, seeds).cumulative_reward


def _train_check(ctx: RunContext, spec: RunSpec, sc: Scenarios, init: dict[str, Any]) -> dict[str, float]:
    """θ_M (or the pretrained mean) greedy on the *training* tasks beside θ_0, before adaptation."""
    return {
        "init": _greedy_on_train(ctx, spec, sc, init),
        "theta0": _greedy_on_train(ctx, spec, sc, _theta0(ctx, spec, sc)),
    }


def _method_init(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> tuple[MethodInit, dict[str, Any] | None]:
    config = agent_config(ctx.preset, make_env(sc.train, ctx.preset))
    if spec.name == "pretrained":
        start = _start(ctx, spec, sc)
        return MethodInit(start), {"train_check": _train_check(ctx, spec, sc, start)}
    if spec.name in ("drl", "mtl", "tl"):
        theta0 = initial_params(config, spec.seed, "cpu")
        if spec.name == "drl":
            return MethodInit(theta0), None
        p1_spec = RunSpec("pretrain", "-", spec.seed)
        art = _load_torch(_artifact(ctx.out_dir, p1_spec, ".pt"))
        p1 = load_result(ctx.out_dir, p1_spec)["pretrain"]
        if spec.name == "tl":
            return MethodInit(art["task_params"][p1["donor"]]), {"donor": p1["donor"]}
        return MethodInit(theta0, art["partner_replay"]), {"partner": p1["partner"]}
    theta, summary = _meta_init(ctx, spec, sc)
    return MethodInit(theta), summary | {"train_check": _train_check(ctx, spec, sc, theta)}


def _run_method(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    init, meta = _method_init(ctx, spec, sc)
    tasks = [
        adapt_task(scn, name, ctx.preset, init, spec.seed, ctx.device) for name, scn in sc.new_tasks.items()
    ]
    return {"tasks": tasks, "meta": meta}


def _run_baseline(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    tasks = [
        evaluate_baseline(scn, name, ctx.preset, spec.name, spec.seed) for name, scn in sc.new_tasks.items()
    ]
    return {"tasks": tasks}


def _run_sweep(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    return {"sweep": run_sweep(sc, ctx.preset, spec.seed)}


def _run_learner(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    work = _artifact(ctx.out_dir, spec, "")
    tasks = [
        sb3_scratch.train_and_evaluate(scn, name, ctx.preset, spec.seed, work / name).as_dict()
        for name, scn in sc.new_tasks.items()
    ]
    return {"tasks": tasks}


def _run_scale(ctx: RunContext, spec: RunSpec, sc: Scenarios) -> dict[str, Any]:
    size = next(z for z in ctx.preset.scalability.sizes if size_label(z) == spec.name)
    return {"scale": run_scaling(sc.train, ctx.preset, size, spec.seed, ctx.device)}


_EXECUTORS: dict[str, Callable[[RunContext, RunSpec, Scenarios], dict[str, Any]]] = {
    "pretrain": _run_pretrain,
    "method": _run_method,
    "baseline": _run_baseline,
    "sweep": _run_sweep,
    "learner": _run_learner,
    "scale": _run_scale,
}


def execute_run(spec: RunSpec, ctx: RunContext) -> str:
    """Run `spec` unless its result file exists; write the result atomically. Returns its key."""
    path = result_path(ctx.out_dir, spec)
    if path.is_file():
        return spec.key
    torch.set_num_threads(1)
    start = time.perf_counter()
    body = _EXECUTORS[spec.kind](ctx, spec, ctx.scenarios())
    result = {"kind": spec.kind, "name": spec.name, "seed": spec.seed, "wall_s": time.perf_counter() - start}
    text = json.dumps(result | body, allow_nan=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    return spec.key
