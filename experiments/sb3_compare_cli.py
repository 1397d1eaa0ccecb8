"""Head to head: our DDPG (``ddpg-split``) vs Stable-Baselines3 learners on the high-level split.

Every learner trains with ``experiments.sb3_baselines.train_baseline`` on the same scenario,
config (env-step budget, networks), low rule and training seeds; each trained policy is then
evaluated greedily on the same evaluation seeds and KPIs as ``metahrl eval``, beside classical
references. Writes to --out: one run directory per learner × seed, ``head_to_head.json`` (rows as
``metahrl eval --json`` plus ``wall_s_per_1000_steps``), ``head_to_head.md`` (the table) and
``learning_curves.png`` (greedy eval R_h vs env steps, mean and range over seeds).

On the training tasks of a reproduction preset (``experiments/meta/presets/``): ``--task
PRESET:TASK`` (repeatable) or ``--preset PRESET`` (all its training tasks). Each task runs on every
DU of the preset's training scenario (same radio and DU layout), with the preset's env, high-level
network sizes, γ, τ, batch, buffer and noise, and its phase-1 update rate (``pretrain``:
``updates_per_round`` every ``update_every`` env steps) unless ``--config`` is given; the default
budget is the preset's phase-1 budget (``pretrain.episodes`` episodes). Each task gets its own
subdirectory of --out; the JSON and Markdown in --out hold every task (rows carry ``task``) and
``learning_curves.png`` one panel per task.

Over our trained slice agents: ``--low ckpt:PATH`` runs the slice agents of a ``metahrl train``
checkpoint inside slices (greedy, frozen; :mod:`experiments.slice_low`); ``{seed}`` in PATH
becomes each training seed, so learner seed s splits over the slice agents of HRL run s. The
checkpoints themselves (their own high level) are then evaluated too, as row ``hrl (--low
checkpoints)``.

Examples:
  python -m experiments.sb3_compare_cli --scenario paper --config paper --steps 4000 --low uniform \\
      --learner ddpg-split --learner sb3-td3 --learner sb3-sac --seeds 3 --out runs/h2h-paper
  python -m experiments.sb3_compare_cli --preset quick --steps 2000 --seeds 3 --out runs/h2h-quick
  python -m experiments.sb3_compare_cli --scenario experiments/scenarios/small.yaml --config tiny \\
      --learner sb3-td3 --low 'ckpt:runs/small-s{seed}' --seeds 3 --out runs/h2h-small-over-hrl
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
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
from experiments.meta.envs import load_scenarios, preset_train_config, task_scenario
from experiments.meta.preset import PresetError, ReproducePreset, load_preset
from experiments.sb3_baselines import LEARNERS, BaselineRun, run_dir_runner, train_baseline
from experiments.slice_low import LOW_HELP, LowError, LowSpec, parse_low

__all__ = ["HRL_ROW", "Target", "add_arguments", "low_specs", "run", "targets"]

HRL_ROW = "hrl (--low checkpoints)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument("--config", default=None, help="training config (YAML path or bundled name)")
    p.add_argument(
        "--task",
        action="append",
        default=[],
        metavar="PRESET:TASK",
        help="a training task of a reproduction preset instead of --scenario (repeatable)",
    )
    p.add_argument("--preset", default=None, help="every training task of this reproduction preset")
    p.add_argument("--steps", type=int, default=None, help="env steps per run (default: the config's)")
    p.add_argument(
        "--eval-every", type=int, default=None, help="env steps between curve points (preset tasks: steps/8)"
    )
    p.add_argument("--learner", action="append", choices=LEARNERS, default=[], help="repeatable")
    p.add_argument(
        "--low",
        default="pf",
        metavar="LOW",
        help=f"{LOW_HELP}; in ckpt:PATH, {{seed}} becomes each training seed",
    )
    p.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (default 3)")
    p.add_argument("--eval-seeds", type=int, default=3, help="evaluation seeds 0..N-1 (default 3)")
    p.add_argument("--eval-steps", type=int, default=500, help="env steps per evaluation run (default 500)")
    p.add_argument("--reference", action="append", default=[], help="classical reference (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output directory")


@dataclass(frozen=True)
class Target:
    """One head-to-head: a scenario, the config every learner trains with, where it writes."""

    task: str | None  # the preset's training task (None: --scenario)
    scenario: ScenarioConfig
    config: TrainConfig
    out: Path


def _with(cfg: TrainConfig, steps: int | None, eval_every: int | None) -> TrainConfig:
    update = {k: v for k, v in (("steps", steps), ("eval_every", eval_every)) if v is not None}
    return TrainConfig.model_validate(cfg.model_dump() | update) if update else cfg


def _phase1_updates_per_decision(preset: ReproducePreset) -> int:
    p1 = preset.pretrain
    return max(1, round(preset.env.high_period_steps * p1.updates_per_round / p1.update_every))


def _preset_config(preset: ReproducePreset, args: argparse.Namespace) -> TrainConfig:
    if args.config is not None:
        return _with(load_train_config(args.config), args.steps, args.eval_every)
    steps = args.steps or preset.pretrain.episodes * preset.env.episode_steps
    every = args.eval_every or max(steps // 8, preset.env.high_period_steps)
    updates = _phase1_updates_per_decision(preset)
    return preset_train_config(preset, steps, updates, eval_every=every, eval_steps=preset.adapt.eval_steps)


def _task_refs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(preset, task) pairs; task None = every training task of the preset."""
    refs: list[tuple[str, str | None]] = [(args.preset, None)] if args.preset else []
    for ref in args.task:
        preset, sep, task = ref.rpartition(":")
        if not sep or not preset or not task:
            raise ValueError(f"--task {ref!r}: expected PRESET:TASK (e.g. quick:surge)")
        refs.append((preset, task))
    return refs


def targets(args: argparse.Namespace) -> list[Target]:
    """What to run: the preset tasks named by --preset/--task, else --scenario with --config."""
    refs = _task_refs(args)
    if not refs:
        cfg = _with(load_train_config(args.config), args.steps, args.eval_every)
        return [Target(None, cfg.apply_fading(load_scenario(args.scenario)), cfg, args.out)]
    out: list[Target] = []
    for name, task in refs:
        preset = load_preset(name)
        train = load_scenarios(preset).train
        cfg = _preset_config(preset, args)
        for t in [task] if task else list(dict.fromkeys(train.assignment)):
            out.append(Target(t, cfg.apply_fading(task_scenario(train, t)), cfg, args.out / t))
    return out


def low_specs(args: argparse.Namespace) -> list[LowSpec]:
    """``--low`` for each training seed (``{seed}`` in a ckpt: path substituted); LowError if bad."""
    return [parse_low(args.low.replace("{seed}", str(seed))) for seed in range(args.seeds)]


def _train_all(target: Target, args: argparse.Namespace) -> dict[str, list[BaselineRun]]:
    runs: dict[str, list[BaselineRun]] = {}
    lows = low_specs(args)
    for learner in args.learner or ["ddpg-split", "sb3-td3", "sb3-sac"]:
        for seed in range(args.seeds):
            out = target.out / f"{learner}-s{seed}"
            res = train_baseline(target.scenario, target.config, learner, seed, out, low=lows[seed])
            r_h, wall = res.last_eval["reward_high_mean"], res.wall_s_per_1000_steps
            print(f"{target.scenario.name} {learner} seed {seed}: eval R_h {r_h:.3f} "
                  f"({wall:.1f} s / 1000 steps)", file=sys.stderr)  # fmt: skip
            runs.setdefault(learner, []).append(res)
    return runs


def _evaluate(target: Target, runs: dict[str, list[BaselineRun]], args: argparse.Namespace) -> list[Any]:
    sc, seeds = target.scenario, list(range(args.eval_seeds))
    rows = []
    for learner, group in runs.items():
        results = [run_dir_runner(r.out_dir, sc, args.eval_steps)(s) for r in group for s in seeds]
        row = summary_row(
            PolicyEvaluation(PolicySpec(learner, tuple(r.out_dir for r in group)), tuple(results))
        )
        row["wall_s_per_1000_steps"] = float(np.mean([r.wall_s_per_1000_steps for r in group]))
        row["gradient_steps"] = float(np.mean([r.gradient_steps for r in group]))
        rows.append(row)
    refs = [PolicySpec(name) for name in args.reference or ["equal-pf", "proportional-pf"]]
    ckpts = tuple(dict.fromkeys(s.checkpoint for s in low_specs(args) if s.checkpoint is not None))
    if ckpts:  # the slice agents' own HRL runs, their high level included
        refs.insert(0, PolicySpec(HRL_ROW, ckpts))
    rows += [summary_row(e) for e in evaluate(sc, refs, seeds, args.eval_steps)]
    return [r | {"task": target.task} for r in rows]


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


def _plot_panel(ax: Any, runs: dict[str, list[BaselineRun]], title: str) -> None:
    for learner, group in runs.items():
        curves = [[r for r in read_jsonl(g.out_dir / "eval.jsonl") if r["policy"] == learner] for g in group]
        n = min(len(c) for c in curves)
        steps = [c["step"] for c in curves[0][:n]]
        vals = np.array([[c["reward_high_mean"] for c in curve[:n]] for curve in curves])
        ax.plot(steps, vals.mean(0), label=learner)
        ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.2)
    ax.set_xlabel("env steps (10 ms)")
    ax.set_ylabel("greedy eval mean R_h (0–3)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)


def _plot(panels: list[tuple[str, dict[str, list[BaselineRun]]]], path: Path) -> None:
    """Every target's learning curves in one figure (one panel each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(panels), 4)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    for ax, (title, runs) in zip(axes.flat, panels, strict=False):
        _plot_panel(ax, runs, title)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _header(target: Target, args: argparse.Namespace) -> str:
    cfg = target.config
    return (f"scenario {target.scenario.name} · {cfg.steps} env steps · {args.seeds} training seeds × "
            f"{args.eval_seeds} eval seeds of {args.eval_steps} steps · low {args.low} · "
            f"networks {list(cfg.high.hidden_sizes)} · mean ± 95 % CI")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        low_specs(args)
    except LowError as exc:
        print(f"error: --low {exc}", file=sys.stderr)
        return 2
    try:
        plan = targets(args)
    except (ValueError, PresetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(plan[0].config.threads)
    rows: list[Any] = []
    tables: list[str] = []
    panels: list[tuple[str, dict[str, list[BaselineRun]]]] = []
    for target in plan:
        try:
            runs = _train_all(target, args)
        except LowError as exc:
            print(f"error: --low {exc}", file=sys.stderr)
            return 2
        rows += _evaluate(target, runs, args)
        tables.append(_table([r for r in rows if r["task"] == target.task], _header(target, args)))
        panels.append((f"{target.scenario.name}: low = {args.low}", runs))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "head_to_head.json").write_text(
        json.dumps(json_safe(rows), allow_nan=False), encoding="utf-8"
    )
    (args.out / "head_to_head.md").write_text("\n".join(tables), encoding="utf-8")
    _plot(panels, args.out / "learning_curves.png")
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m experiments.sb3_compare_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
