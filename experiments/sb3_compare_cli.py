"""Head to head: our DDPG (``ddpg-split``) vs Stable-Baselines3 learners on the high-level split.

Every learner trains with ``experiments.sb3_baselines.train_baseline`` on the same scenario,
config (env-step budget, networks), low rule and training seeds; each trained policy is then
evaluated greedily on the same evaluation seeds and KPIs as ``metahrl eval``, beside classical
references. Writes to --out: one run directory per learner × seed, ``head_to_head.json`` (rows as
``metahrl eval --json`` plus ``wall_s_per_1000_steps``), ``head_to_head.md`` (the table) and
``learning_curves.png`` (greedy eval R_h vs env steps, mean and range over seeds).

Example:
  python -m experiments.sb3_compare_cli --scenario paper --config paper --steps 4000 --low uniform \\
      --learner ddpg-split --learner sb3-td3 --learner sb3-sac --seeds 3 --out runs/h2h-paper
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from e2sim.cli import add_scenario_argument, json_safe
from e2sim.config import ScenarioConfig
from e2sim.scenario import load_scenario
from experiments.config import TrainConfig, load_train_config
from experiments.evaluate import PolicyEvaluation, PolicySpec, evaluate, summary_row
from experiments.logs import read_jsonl
from experiments.sb3_baselines import LEARNERS, BaselineRun, run_dir_runner, train_baseline

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument("--config", default=None, help="training config (YAML path or bundled name)")
    p.add_argument("--steps", type=int, default=None, help="env steps per run (default: the config's)")
    p.add_argument("--learner", action="append", choices=LEARNERS, default=[], help="repeatable")
    p.add_argument("--low", choices=("pf", "rr", "uniform"), default="pf", help="per-UE rule (default pf)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (default 3)")
    p.add_argument("--eval-seeds", type=int, default=3, help="evaluation seeds 0..N-1 (default 3)")
    p.add_argument("--eval-steps", type=int, default=500, help="env steps per evaluation run (default 500)")
    p.add_argument("--reference", action="append", default=[], help="classical reference (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output directory")


def _train_all(
    sc: ScenarioConfig, cfg: TrainConfig, args: argparse.Namespace
) -> dict[str, list[BaselineRun]]:
    runs: dict[str, list[BaselineRun]] = {}
    for learner in args.learner or ["ddpg-split", "sb3-td3", "sb3-sac"]:
        for seed in range(args.seeds):
            out = args.out / f"{learner}-s{seed}"
            res = train_baseline(sc, cfg, learner, seed, out, low=args.low)
            r_h, wall = res.last_eval["reward_high_mean"], res.wall_s_per_1000_steps
            print(f"{learner} seed {seed}: eval R_h {r_h:.3f} ({wall:.1f} s / 1000 steps)", file=sys.stderr)
            runs.setdefault(learner, []).append(res)
    return runs


def _evaluate(sc: ScenarioConfig, runs: dict[str, list[BaselineRun]], args: argparse.Namespace) -> list[Any]:
    seeds = list(range(args.eval_seeds))
    rows = []
    for learner, group in runs.items():
        results = [run_dir_runner(r.out_dir, sc, args.eval_steps)(s) for r in group for s in seeds]
        row = summary_row(
            PolicyEvaluation(PolicySpec(learner, tuple(r.out_dir for r in group)), tuple(results))
        )
        row["wall_s_per_1000_steps"] = float(np.mean([r.wall_s_per_1000_steps for r in group]))
        rows.append(row)
    refs = [PolicySpec(name) for name in args.reference or ["equal-pf", "proportional-pf"]]
    rows += [summary_row(e) for e in evaluate(sc, refs, seeds, args.eval_steps)]
    return rows


def _table(rows: list[dict[str, Any]], header: str) -> str:
    kpis = ("qos", "throughput_mbps", "latency_max_ms")
    cols = ["return", "reward_high_mean"] + [f"{s}_{m}" for s in ("embb", "mmtc", "urllc") for m in kpis]
    lines = [
        header,
        "",
        "| policy | " + " | ".join(cols) + " | s / 1000 steps |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for r in rows:
        cells = [f"{r[f'{c}_mean']:.3f} ± {r[f'{c}_ci95']:.3f}" for c in cols]
        wall = r.get("wall_s_per_1000_steps")
        lines.append(
            f"| {r['policy']} | " + " | ".join(cells) + f" | {'-' if wall is None else f'{wall:.1f}'} |"
        )
    return "\n".join(lines) + "\n"


def _plot(runs: dict[str, list[BaselineRun]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for learner, group in runs.items():
        curves = [[r for r in read_jsonl(g.out_dir / "eval.jsonl") if r["policy"] == learner] for g in group]
        n = min(len(c) for c in curves)
        steps = [c["step"] for c in curves[0][:n]]
        vals = np.array([[c["reward_high_mean"] for c in curve[:n]] for curve in curves])
        ax.plot(steps, vals.mean(0), label=learner)
        ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.2)
    ax.set_xlabel("env steps (10 ms)")
    ax.set_ylabel("greedy eval mean R_h (0–3)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    cfg = load_train_config(args.config)
    if args.steps is not None:
        cfg = TrainConfig.model_validate(cfg.model_dump() | {"steps": args.steps})
    torch.set_num_threads(cfg.threads)
    sc = cfg.apply_fading(load_scenario(args.scenario))
    runs = _train_all(sc, cfg, args)
    rows = _evaluate(sc, runs, args)
    header = (f"scenario {sc.name} · {cfg.steps} env steps · {args.seeds} training seeds × {args.eval_seeds} "
              f"eval seeds of {args.eval_steps} steps · low {args.low} · mean ± 95 % CI")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "head_to_head.json").write_text(
        json.dumps(json_safe(rows), allow_nan=False), encoding="utf-8"
    )
    table = _table(rows, header)
    (args.out / "head_to_head.md").write_text(table, encoding="utf-8")
    _plot(runs, args.out / "learning_curves.png", f"{sc.name}: high-level learners, low = {args.low}")
    print(table)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m experiments.sb3_compare_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
