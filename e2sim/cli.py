"""Run the simulator with a classical policy and print per-slice KPIs.

One step is one low-level decision interval (10 TTIs = 10 ms by default); the slice split is
re-decided every 10 steps (100 ms). KPIs are whole-run means over DUs and 100 ms windows:
throughput (mean UE throughput, Mbit/s), latency (mean and eq. 7 max, ms), deadline-miss
rate, SLA satisfaction (fraction of DU-windows meeting the slice SLA), QoS (SLA-normalised,
0–1) and Jain's index (demand-normalised).

Examples:
  metahrl sim                                      # paper scenario, equal split + PF
  metahrl sim --scenario stadium --policy proportional-pf --steps 3000 --json
  metahrl sim --scenario my_site.yaml --out trace.csv
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from e2sim.policies import BASELINES, make_baseline
from e2sim.runner import RunResult, Trace, run_policy
from e2sim.scenario import ScenarioError, bundled_scenarios, load_scenario

__all__ = ["add_arguments", "add_scenario_argument", "format_result", "json_safe", "run"]


def add_scenario_argument(p: argparse.ArgumentParser) -> None:
    """``--scenario``: a bundled scenario name or a YAML path (every command that runs one)."""
    p.add_argument(
        "--scenario",
        default="paper",
        help=f"bundled scenario ({', '.join(bundled_scenarios())}) or a YAML path (default: paper)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument(
        "--policy", default="equal-pf", choices=BASELINES, help="classical policy (default: equal-pf)"
    )
    p.add_argument("--steps", type=int, default=1000, help="low-level steps of 10 ms (default: 1000 = 10 s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--fading",
        choices=("full", "scheduled"),
        default=None,
        help="override the scenario's fading mode (full: every RU-UE-RB link; scheduled: used links only)",
    )
    p.add_argument("--out", type=Path, default=None, help="write a per-step trace (.csv or .parquet)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def format_result(res: RunResult) -> str:
    lines = [
        f"scenario {res.scenario} · policy {res.policy} · seed {res.seed} · {res.steps} steps "
        f"({res.sim_seconds:.1f} s simulated)",
        f"return {res.return_mean:.2f} (Σ R_h per DU) · mean R_h {res.reward_high_mean:.3f}/3 · "
        f"mean r_low {res.reward_low_mean:.3f} · Jain {res.jain:.3f} · RB utilisation "
        f"{res.rb_utilisation:.1%} · handovers {res.handovers}",
        "",
        f"{'slice':<6} {'thr Mbit/s':>10} {'lat ms':>7} {'max ms':>7} {'miss':>7} "
        f"{'SLA sat':>7} {'QoS':>6} {'Jain':>6} {'RB share':>8}",
    ]
    for s in res.slices:
        lat = "-" if math.isnan(s.latency_mean_ms) else f"{s.latency_mean_ms:.2f}"
        mx = "-" if math.isnan(s.latency_max_ms) else f"{s.latency_max_ms:.1f}"
        lines.append(
            f"{s.name:<6} {s.throughput_mbps:>10.3f} {lat:>7} {mx:>7} {s.deadline_miss_rate:>7.2%} "
            f"{s.sla_satisfaction:>7.1%} {s.qos:>6.3f} {s.jain:>6.3f} {s.rb_share:>8.1%}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        print("error: --steps must be >= 1", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    scenario = scenario.with_fading(args.fading)
    env = HierarchicalSlicingEnv(scenario, EnvConfig(episode_steps=max(args.steps, 1)))
    policy = make_baseline(args.policy, env, seed=args.seed)
    trace = Trace() if args.out else None
    bar = tqdm(total=args.steps, unit="step", disable=args.no_progress, file=sys.stderr, desc=args.policy)

    def progress(i: int) -> None:
        bar.update(1)

    try:
        res = run_policy(env, policy, args.steps, seed=args.seed, trace=trace, progress=progress)
    finally:
        bar.close()
        if trace is not None and args.out:
            trace.write(args.out)
            print(f"trace written to {args.out}", file=sys.stderr)
    out: dict[str, Any] = res.as_dict()
    if args.json:
        print(json.dumps(json_safe(out), allow_nan=False))
    else:
        print(format_result(res))
    return 0


def json_safe(x: Any) -> Any:
    """``x`` with every non-finite float (NaN, ±inf) replaced by None, for strict JSON."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
