"""Train the hierarchical RL agents (one per DU) from scratch on a scenario.

Writes to --out: train/eval/episodes logs (CSV + JSONL), timing (wall clock), config.yaml,
baselines.json, learning_curve.png and checkpoint.pt (everything needed to resume exactly:
networks, optimizers, replay, noise and RNG state, the simulator, counters, log offsets).
Checkpoints are written every checkpoint_every steps, at the end, and on Ctrl-C (press it twice
to abort without saving). --resume continues the run in --out as if it had not stopped; the
scenario, seed and config must be the ones it started with (--steps may grow).

Settings come from --config (a YAML file or a bundled name: paper, tiny) over the documented
defaults of experiments.config.TrainConfig; --steps overrides the config's step count.

--learner trains a baseline instead of the HRL agents: the high-level slice split only, with
Stable-Baselines3 (sb3-td3, sb3-sac, sb3-ppo; needs the 'sb3' extra) or our DDPG (ddpg-split),
one policy shared by every DU on the metahrl_gym view, per-UE scheduling by --low (a rule, or
ckpt:PATH: the slice agents of an hrl run, greedy and frozen); the same env steps, network sizes
and evaluation as the config (see experiments.sb3_baselines). Evaluate it with
`metahrl eval --policy sb3:RUN_DIR`.

Examples:
  metahrl train --scenario paper --config paper --seed 0 --out runs/paper-s0
  metahrl train --scenario paper --config paper --learner sb3-td3 --out runs/paper-td3-s0
  metahrl train --scenario paper --config paper --learner sb3-td3 --low ckpt:runs/paper-s0 \\
      --out runs/paper-td3-over-hrl-s0
  metahrl train --scenario paper --config paper --seed 0 --out runs/paper-s0 --resume
  metahrl train --scenario experiments/scenarios/small.yaml --config tiny --steps 2000 --out runs/tiny
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from tqdm import tqdm

from e2sim.cli import add_scenario_argument
from e2sim.scenario import ScenarioError, load_scenario
from experiments.checkpoint import CheckpointError
from experiments.config import ConfigError, TrainConfig, bundled_configs, load_train_config
from experiments.sb3_baselines import LEARNERS
from experiments.slice_low import LOW_HELP, LowError, argparse_low
from experiments.train import RunExistsError, Trainer

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument("--seed", type=int, default=0, help="run seed: agents and training episodes (default: 0)")
    p.add_argument("--steps", type=int, default=None, help="total env steps (default: the config's)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/SCENARIO-sSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument(
        "--config",
        default=None,
        help=f"training config: YAML path or bundled name ({', '.join(bundled_configs())}); "
        "default: TrainConfig defaults",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--learner",
        choices=("hrl", *LEARNERS),
        default="hrl",
        help="hrl (default: our hierarchical agents) or a high-level baseline learner (see above)",
    )
    p.add_argument(
        "--low", type=argparse_low, default=None, metavar="LOW", help=f"baseline learners: {LOW_HELP}"
    )


def _config(args: argparse.Namespace) -> TrainConfig:
    cfg = load_train_config(args.config)
    update: dict[str, Any] = {}
    if args.steps is not None:
        update["steps"] = args.steps
    if args.threads is not None:
        update["threads"] = args.threads
    return TrainConfig.model_validate(cfg.model_dump() | update) if update else cfg


class _Progress:
    """tqdm bar: env steps/s, updates/s, recent mean R_h and per-slice QoS."""

    def __init__(self, trainer: Trainer, disable: bool) -> None:
        cfg = trainer.config
        self.bar = tqdm(
            total=cfg.steps, initial=trainer.step, unit="step", disable=disable, file=sys.stderr,
            desc="train", dynamic_ncols=True,
        )  # fmt: skip
        self._mark = (time.perf_counter(), trainer.high_updates + trainer.low_updates)
        self._every = max(1, min(cfg.log_every, 50))

    def __call__(self, t: Trainer) -> None:
        self.bar.update(1)
        if t.step % self._every:
            return
        now, updates = time.perf_counter(), t.high_updates + t.low_updates
        ups = (updates - self._mark[1]) / max(now - self._mark[0], 1e-9)
        self._mark = (now, updates)
        post = f"upd/s {ups:.0f}"
        row = t.last_train_row
        if row is not None:
            qos = "/".join(f"{row[f'qos_{s}']:.2f}" for s in ("embb", "mmtc", "urllc"))
            post += f" R_h {row['reward_high']:.3f} QoS {qos}"
        if t.last_eval_row is not None:
            post += f" eval R_h {t.last_eval_row['reward_high_mean']:.3f}"
        self.bar.set_postfix_str(post, refresh=False)


def _install_sigint(flag: list[bool]) -> Any:
    """First Ctrl-C: ask the loop to checkpoint and stop; second: the default (abort)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.append(True)
        print("\ninterrupt: saving a checkpoint… (Ctrl-C again to abort)", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    return signal.signal(signal.SIGINT, handler)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
        scenario = load_scenario(args.scenario)
    except (ConfigError, ScenarioError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(cfg.threads)
    if args.learner != "hrl":
        return _run_baseline(args, scenario, cfg)
    if args.low is not None:
        print("error: --low is for --learner sb3-…/ddpg-split (an hrl run trains its own slice agents)",
              file=sys.stderr)  # fmt: skip
        return 2
    out = args.out or Path("runs") / f"{scenario.name}-s{args.seed}"
    try:
        trainer = Trainer(scenario, cfg, args.seed, out, resume=args.resume)
    except (CheckpointError, RunExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stop: list[bool] = []
    previous = _install_sigint(stop)
    progress = _Progress(trainer, args.no_progress)
    try:
        result = trainer.run(should_stop=lambda: bool(stop), on_step=progress)
    finally:
        progress.bar.close()
        signal.signal(signal.SIGINT, previous)
    where = f"{result.out_dir}/checkpoint.pt"
    if not result.finished:
        print(f"stopped at step {result.step}; checkpoint {where} (resume with --resume)", file=sys.stderr)
        return 130
    ev = result.last_eval
    if ev is not None:
        print(f"done: {result.step} steps; last greedy eval R_h {ev['reward_high_mean']:.3f}, return "
              f"{ev['return']:.2f}; logs and checkpoint in {result.out_dir}")  # fmt: skip
    return 0


def _run_baseline(args: argparse.Namespace, scenario: Any, cfg: TrainConfig) -> int:
    """``--learner sb3-…|ddpg-split``: train the high-level baseline (experiments.sb3_baselines)."""
    from experiments.sb3_baselines import train_baseline

    if args.resume:
        print(f"error: --resume is for hrl runs; a {args.learner} run restarts from scratch", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / f"{scenario.name}-{args.learner}-s{args.seed}"
    try:
        res = train_baseline(scenario, cfg, args.learner, args.seed, out, low=args.low or "pf")
    except LowError as err:
        print(f"error: --low {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        print(
            f"error: {err.name} is missing; install the extra: pip install 'oran-metahrl[sb3]'",
            file=sys.stderr,
        )
        return 2
    except RunExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ev = res.last_eval
    speed = f"{res.wall_s_per_1000_steps:.2f} s per 1,000"
    print(f"done: {args.learner}, {res.steps} steps ({speed}); last greedy eval R_h "
          f"{ev['reward_high_mean']:.3f}, return {ev['return']:.2f}; run in {res.out_dir}")  # fmt: skip
    return 0
