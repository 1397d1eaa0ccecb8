"""Evaluate trained HRL policies and classical baselines on K seeds.

Prints return (Σ R_h per DU over the run, eq. 8), mean R_h per 100 ms window (0–3), Jain's index
and RB utilisation, then per slice: throughput (Mbit/s, mean UE), mean and max latency (ms;
max = eq. 7's l_d averaged over windows), deadline-miss rate, SLA satisfaction (fraction of
DU × 100 ms windows meeting the SLA) and QoS — each as mean ± 95 % CI (Student's t over runs).

A policy is a baseline name, a training run directory (or its checkpoint.pt), or a group
NAME=DIR,DIR,... of runs (e.g. training seeds) pooled over every run × seed. Trained policies act
greedily in the env settings they were trained with; every policy sees seeds 0..K-1
(or --seed0..).

Examples:
  metahrl eval --scenario paper --policy runs/paper-s0 --policy equal-rr --seeds 5
  metahrl eval --policy hrl=runs/s0,runs/s1,runs/s2 --all-baselines --seeds 3 --steps 1000 --json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from tqdm import tqdm

from e2sim.cli import add_scenario_argument, json_safe
from e2sim.config import SLICE_NAMES
from e2sim.policies import BASELINES
from e2sim.scenario import ScenarioError, load_scenario
from experiments.checkpoint import CheckpointError
from experiments.config import prepare_scenario
from experiments.evaluate import PolicySpec, evaluate, parse_policy, summary_row

__all__ = ["add_arguments", "format_table", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="POLICY",
        help=f"baseline ({', '.join(BASELINES)}), run dir / checkpoint file, NAME=DIR,DIR,... "
        "or sb3:RUN_DIR (a `metahrl train --learner` baseline run) (repeatable)",
    )
    p.add_argument("--all-baselines", action="store_true", help="also evaluate every baseline")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds K (default: 3)")
    p.add_argument("--seed0", type=int, default=0, help="first seed (default: 0)")
    p.add_argument("--steps", type=int, default=1000, help="env steps of 10 ms per run (default: 1000)")
    p.add_argument(
        "--fading",
        choices=("full", "scheduled"),
        default="scheduled",
        help="fading mode for every policy (default: scheduled, statistically identical to full)",
    )
    p.add_argument(
        "--low-action",
        choices=("request", "simplex", "share"),
        default="share",
        help="per-UE action mapping for the random baseline (default: share, as HRL trains by default)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _pm(mean: float, ci: float, fmt: str) -> str:
    if not math.isfinite(mean):
        return "-"
    return f"{mean:{fmt}}" + ("" if not math.isfinite(ci) else f" ± {ci:{fmt}}")


def format_table(rows: list[dict[str, Any]], header: str) -> str:
    width = max(12, *(len(r["policy"]) for r in rows)) + 2
    lines = [header, ""]
    cols = (("return", ".1f"), ("reward_high_mean", ".3f"), ("jain", ".3f"), ("rb_utilisation", ".3f"))
    lines.append(
        f"{'policy':<{width}}" + "".join(f"{h:>18}" for h in ("return", "mean R_h", "Jain", "RB util"))
    )
    for r in rows:
        cells = "".join(f"{_pm(r[f'{m}_mean'], r[f'{m}_ci95'], f):>18}" for m, f in cols)
        lines.append(f"{r['policy']:<{width}}{cells}")
    slice_cols = (
        ("throughput_mbps", ".3f", "thr Mbit/s"),
        ("latency_mean_ms", ".2f", "lat ms"),
        ("latency_max_ms", ".2f", "max lat ms"),
        ("deadline_miss_rate", ".3f", "miss rate"),
        ("sla_satisfaction", ".3f", "SLA sat"),
        ("qos", ".3f", "QoS"),
    )
    for s in SLICE_NAMES:
        lines += ["", f"{s:<{width}}" + "".join(f"{h:>17}" for _, _, h in slice_cols)]
        for r in rows:
            cells = "".join(f"{_pm(r[f'{s}_{m}_mean'], r[f'{s}_{m}_ci95'], f):>17}" for m, f, _ in slice_cols)
            lines.append(f"{r['policy']:<{width}}{cells}")
    return "\n".join(lines)


def _specs(args: argparse.Namespace) -> list[PolicySpec]:
    specs = [parse_policy(p) for p in args.policy]
    if args.all_baselines:
        have = {s.name for s in specs}
        specs += [PolicySpec(b) for b in BASELINES if b not in have]
    if not specs:
        raise ValueError("give at least one --policy (or --all-baselines)")
    return specs


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.steps < 1:
        print("error: --seeds and --steps must be >= 1", file=sys.stderr)
        return 2
    try:
        specs = _specs(args)
        scenario = prepare_scenario(load_scenario(args.scenario), args.fading)
    except (ValueError, ScenarioError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seeds = list(range(args.seed0, args.seed0 + args.seeds))
    total = sum(max(1, len(s.paths)) for s in specs) * len(seeds)
    bar = tqdm(total=total, unit="run", disable=args.no_progress, file=sys.stderr, desc="eval")

    def progress(name: str, seed: int) -> None:
        bar.set_postfix_str(f"{name} seed {seed}", refresh=False)
        bar.update(1)

    try:
        evals = evaluate(scenario, specs, seeds, args.steps, low_action=args.low_action, progress=progress)
    except (CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    rows = [summary_row(e) for e in evals]
    if args.json:
        print(json.dumps(json_safe(rows), allow_nan=False))
        return 0
    header = (
        f"scenario {scenario.name} · seeds {seeds[0]}..{seeds[-1]} · {args.steps} steps "
        f"({args.steps / 100:.1f} s at 10 ms/step) per run · mean ± 95 % CI (Student's t over runs)"
    )
    print(format_table(rows, header))
    return 0
