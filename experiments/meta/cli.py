"""Reproduce the paper's experiments (Algorithm 1: phase-1 HRL training, first-order MAML
meta-training with TD-variance task weights, adaptation to new tasks) and write a report.

Runs every (method, seed) pair of a preset — DRL from scratch, TL, MTL, MAML-HRL with uniform /
static-var / adaptive (softmin) / softmax weights, plus classical schedulers — over local worker
processes (or a Ray cluster), then writes OUT/report.md (claims table, Fig. 4–9, Tables 2–3),
the figures as PNG and every number in OUT/results.json.

Presets: quick (the smoke test: small networks, 3 seeds, ≤ 15 min on 2 CPU cores), standard
(the budget at which learning can show: 5 seeds, ≤ 2 h on 2 cores), paper (256-512-512, paper
budgets, 5 seeds; CPU-days), micro (plumbing check). Rerunning into the same --out skips
finished runs (kill and rerun to resume). Definitions: docs/reproduce.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.meta.pipeline import ReproduceOptions, reproduce
from experiments.meta.preset import PresetError, bundled_presets, load_preset

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        default="quick",
        help=f"bundled preset ({', '.join(bundled_presets())}) or a preset YAML file",
    )
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: reproduce-PRESET)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="parallel runs on this machine (default: number of CPU cores; 1 = in-process)",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the learners run")
    parser.add_argument("--seeds", type=int, default=None, help="override the preset's number of seeds")
    parser.add_argument(
        "--new-tasks",
        nargs="+",
        default=(),
        metavar="FILE",
        help="extra new-task scenario files to adapt to (all their DUs run the new task)",
    )
    parser.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster (e.g. auto or ray://host:10001; needs `pip install ray`)",
    )
    parser.add_argument("--no-estimate", action="store_true", help="skip the up-front runtime calibration")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _progress_bar(total_hint: int, enabled: bool) -> tuple[Any, Callable[[int, int], None] | None]:
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total_hint, unit="run", desc="reproduce", dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def run(args: argparse.Namespace) -> int:
    try:
        preset = load_preset(args.preset)
        if args.seeds is not None:
            preset = preset.model_copy(update={"seeds": args.seeds})
    except PresetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
            return 2
    import torch

    torch.set_num_threads(1)  # small networks, many processes: one thread each (workers do the same)
    out = args.out or Path(f"reproduce-{preset.name}")
    jobs = args.jobs or os.cpu_count() or 1
    options = ReproduceOptions(out, jobs, args.device, args.ray, tuple(args.new_tasks), not args.no_estimate)
    print(
        f"metahrl reproduce: preset {preset.name}, {preset.seeds} seeds, {jobs} job(s), out {out}", flush=True
    )
    from experiments.meta.runs import plan_runs

    bar, update = _progress_bar(len(plan_runs(preset)), not args.no_progress)
    try:
        results, report = reproduce(preset, options, log=lambda s: print(s, flush=True), progress=update)
    except (PresetError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {out / 'report.md'} and {out / 'results.json'} ({results['meta']['wall_s']:.0f} s)")
    for key, err in report.failed.items():
        print(f"FAILED {key}: {err}", file=sys.stderr)
    return 1 if report.failed else 0
