"""`reproduce`: plan the runs, estimate their cost, run what is missing, write the report.

Output directory layout::

    OUT/manifest.json     the preset and new tasks this directory belongs to (a rerun must match)
    OUT/runs/…            one JSON per finished run (+ phase-1 agents and θ_M checkpoints)
    OUT/results.json      every number of the report (NaN → null)
    OUT/report.md         the report; OUT/fig*.png its figures
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from experiments.meta import sb3_scratch
from experiments.meta.aggregate import build_results, load_all
from experiments.meta.analysis import build_analysis
from experiments.meta.budget import describe
from experiments.meta.claims import evaluate_claims
from experiments.meta.dispatch import DispatchReport, make_dispatcher, run_all
from experiments.meta.envs import Scenarios
from experiments.meta.estimate import calibrate, predict
from experiments.meta.figures import draw_all
from experiments.meta.preset import PresetError, ReproducePreset
from experiments.meta.report import render_report
from experiments.meta.runs import RunContext, RunSpec, atomic_write_bytes, plan_runs

__all__ = ["ReproduceOptions", "check_manifest", "estimate_runtime", "reproduce", "write_report"]


@dataclass(frozen=True)
class ReproduceOptions:
    out_dir: Path
    jobs: int = 1
    device: str = "cpu"
    ray_address: str | None = None
    extra_new_tasks: tuple[str, ...] = ()
    estimate: bool = True


def _json_safe(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def check_manifest(out_dir: Path, preset: ReproducePreset, extra_new_tasks: Sequence[str]) -> None:
    """Bind `out_dir` to this preset; refuse a directory that holds a different reproduction."""
    manifest = {"preset": preset.model_dump(mode="json"), "extra_new_tasks": list(extra_new_tasks)}
    path = out_dir / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != manifest:
            raise PresetError(
                f"{out_dir} holds a reproduction with a different preset or new tasks; "
                "use another --out (or delete it) — finished runs are only reused for the same settings"
            )
        return
    atomic_write_bytes(path, json.dumps(manifest, indent=2).encode("utf-8"))


def estimate_runtime(
    scenarios: Scenarios, preset: ReproducePreset, jobs: int, device: str = "cpu"
) -> dict[str, Any]:
    costs = calibrate(scenarios, preset, device)
    parts = predict(preset, scenarios, costs)
    total = sum(parts.values())
    return {
        "cpu_s": parts,
        "total_cpu_s": total,
        "wall_s": total / max(jobs, 1),
        "calibration_s": costs.calibration_s,
        "unit_costs": {"env_step_du_s": costs.env_step_du, "update_s": costs.update},
    }


def write_report(
    out_dir: Path, ctx: RunContext, runs: Sequence[RunSpec], meta: dict[str, Any], failures: dict[str, str]
) -> dict[str, Any]:
    """Aggregate the run results into results.json, the figures and report.md."""
    scenarios = ctx.scenarios()
    loaded = load_all(out_dir, runs)
    results = build_results(loaded, ctx.preset, list(scenarios.new_tasks))
    results |= build_analysis(loaded, ctx.preset, list(scenarios.new_tasks))
    results["claims"] = [c.as_dict() for c in evaluate_claims(loaded, ctx.preset, results)]
    results["scratch"]["note"] = sb3_scratch.note()
    meta = meta | {
        "train_tasks": scenarios.train_task_names,
        "new_tasks": [
            (n, scenarios.new_task_files[n], sc.description.strip()) for n, sc in scenarios.new_tasks.items()
        ],
        "t_new": ctx.preset.adapt_iterations,
        "budgets": describe(ctx.preset.learning_budgets()),
    }
    results = _json_safe({"meta": meta} | results)
    figures = draw_all(results, out_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False), encoding="utf-8")
    (out_dir / "report.md").write_text(render_report(meta, results, figures, failures), encoding="utf-8")
    return results


def reproduce(
    preset: ReproducePreset,
    options: ReproduceOptions,
    log: Callable[[str], None] = lambda s: None,
    progress: Callable[[int, int], Any] | None = None,
) -> tuple[dict[str, Any], DispatchReport]:
    """Run every missing run of `preset` and write the report into ``options.out_dir``."""
    start = time.perf_counter()
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, preset, options.extra_new_tasks)
    ctx = RunContext(preset, str(out), options.device, options.extra_new_tasks)
    runs = plan_runs(preset)
    estimate = None
    if options.estimate:
        estimate = estimate_runtime(ctx.scenarios(), preset, options.jobs, options.device)
        log(_estimate_text(estimate, options.jobs))
    dispatcher = make_dispatcher(options.jobs, options.ray_address, options.device)
    try:
        report = run_all(runs, ctx, dispatcher, progress)
    finally:
        dispatcher.close()
    meta = {
        "preset": preset.model_dump(mode="json"),
        "seeds": preset.seed_list,
        "device": options.device,
        "jobs": options.jobs,
        "wall_s": time.perf_counter() - start,
        "estimate": estimate,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "runs": {
            "finished_now": len(report.finished),
            "reused": len(report.skipped),
            "failed": len(report.failed),
        },
    }
    results = write_report(out, ctx, runs, meta, report.failed)
    return results, report


def _estimate_text(est: dict[str, Any], jobs: int) -> str:
    parts = ", ".join(f"{k} {v / 60:.1f}" for k, v in est["cpu_s"].items())
    return (
        f"runtime estimate: ~{est['wall_s'] / 60:.1f} min on {jobs} worker(s) "
        f"({est['total_cpu_s'] / 60:.1f} CPU-min: {parts}; calibrated in {est['calibration_s']:.1f} s; "
        "a lower bound on a loaded machine)"
    )
