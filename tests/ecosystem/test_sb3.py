"""SB3 learners as baselines: `metahrl train --learner`, `metahrl eval --policy sb3:RUN_DIR`, and
evidence that SB3 TD3 learns on a tiny configuration (beats uniform random slice actions by more
than the seed spread)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from e2sim.env import EnvConfig
from experiments import sb3_compare_cli as compare
from experiments.config import config_from_dict
from experiments.sb3_baselines import _greedy_eval, run_dir_runner, train_baseline
from metahrl.cli import main
from tests.ecosystem.conftest import tiny_env, tiny_scenario

pytest.importorskip("stable_baselines3")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

EVAL_SEEDS = (0, 1, 2)
EVAL_STEPS = 80  # 20 decisions of 4 low-level steps


def _config(steps: int, **extra: Any) -> dict[str, Any]:
    return {
        "steps": steps,
        "env": tiny_env(80),
        "high": {"hidden_sizes": [64, 64], "batch_size": 64, "learning_starts": 64, "buffer_size": 5000,
                 "gamma": 0.9},
        "eval_every": steps,
        "eval_steps": EVAL_STEPS,
        "baseline_refs": [],
    } | extra  # fmt: skip


def _write_inputs(tmp: Path, steps: int) -> tuple[Path, Path]:
    sc, cfg = tmp / "scenario.yaml", tmp / "config.yaml"
    data = tiny_scenario().model_dump(mode="json")
    sc.write_text(yaml.safe_dump(data), encoding="utf-8")
    cfg.write_text(yaml.safe_dump(_config(steps)), encoding="utf-8")
    return sc, cfg


@pytest.mark.parametrize("learner", ["sb3-ppo", "sb3-sac"])
def test_train_cli_learner_then_eval_cli_sb3_policy(
    learner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc, cfg = _write_inputs(tmp_path, 160)
    out = tmp_path / "run"
    args = ["train", "--scenario", str(sc), "--config", str(cfg), "--learner", learner, "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    assert (out / "model.zip").is_file() and (out / "baseline.json").is_file()
    assert f"done: {learner}, 160 steps" in capsys.readouterr().out
    assert main([*args, "--no-progress"]) == 2  # the run exists: refused, nothing overwritten
    rc = main(["eval", "--scenario", str(sc), "--policy", f"sb3:{out}", "--policy", "equal-pf",
               "--seeds", "2", "--steps", "40", "--json", "--no-progress"])  # fmt: skip
    assert rc == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["policy"] for r in rows] == [f"sb3:{out}", "equal-pf"]
    assert rows[0]["seeds"] == [0, 1] and np.isfinite(rows[0]["reward_high_mean_mean"])
    assert 0.0 <= rows[0]["reward_high_mean_mean"] <= 3.0


def test_eval_rejects_a_directory_without_a_baseline_run(tmp_path: Path) -> None:
    sc, _ = _write_inputs(tmp_path, 160)
    assert main(["eval", "--scenario", str(sc), "--policy", f"sb3:{tmp_path}", "--no-progress"]) == 2


def _random_reference() -> list[float]:
    """Uniform random slice actions (PF inside slices) on the evaluation seeds."""
    sc = tiny_scenario()
    env_cfg = EnvConfig.model_validate({**tiny_env(EVAL_STEPS), "low_action": "share"})
    out = []
    for seed in EVAL_SEEDS:
        rng = np.random.default_rng(seed)

        def predict(obs: np.ndarray, rng: np.random.Generator = rng) -> np.ndarray:
            return rng.uniform(-1.0, 1.0, (*obs.shape[:1], 3)).astype(np.float32)

        res = _greedy_eval(predict, sc, env_cfg, "pf", EVAL_STEPS, seed, "uniform-random")
        out.append(res.reward_high_mean)
    return out


def test_sb3_td3_learns_to_beat_random_slice_actions(tmp_path: Path) -> None:
    """3 training seeds × 400 decisions (2 DUs share the policy); each trained policy is scored
    (mean R_h per window) on the 3 evaluation seeds. Learning happened when the mean beats
    uniform random actions on the same seeds by more than the two spreads together."""
    torch.set_num_threads(1)
    cfg = config_from_dict(_config(1600))
    learned = []
    for seed in (0, 1, 2):
        run = train_baseline(tiny_scenario(), cfg, "sb3-td3", seed, tmp_path / f"td3-{seed}")
        runner = run_dir_runner(run.out_dir, cfg.apply_fading(tiny_scenario()), EVAL_STEPS)
        learned.append(float(np.mean([runner(s).reward_high_mean for s in EVAL_SEEDS])))
    random_ref = _random_reference()
    print(f"TD3 mean R_h per training seed {learned}; uniform random per eval seed {random_ref}")
    gap = np.mean(learned) - np.mean(random_ref)
    spread = np.std(learned, ddof=1) + np.std(random_ref, ddof=1)
    assert gap > spread, f"TD3 {learned} vs random {random_ref}: gap {gap:.3f}, spread {spread:.3f}"


def _compare_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_compare_cli_targets_every_training_task_of_a_preset(tmp_path: Path) -> None:
    plan = compare.targets(_compare_args("--preset", "micro", "--steps", "40", "--out", str(tmp_path)))
    assert [t.task for t in plan] == ["busy", "calm"]
    for t in plan:
        assert t.scenario.assignment == [t.task] * 2 and list(t.scenario.tasks) == [t.task]
        assert t.out == tmp_path / t.task
        assert t.config.steps == 40 and t.config.high.hidden_sizes == (16,)  # the preset's networks
    assert compare.run(_compare_args("--task", "micro-busy", "--out", str(tmp_path))) == 2
    assert compare.run(_compare_args("--task", "micro:no-such-task", "--out", str(tmp_path))) == 2


def test_compare_cli_on_a_preset_task_writes_rows_per_task(tmp_path: Path) -> None:
    out = tmp_path / "h2h"
    args = _compare_args("--task", "micro:busy", "--steps", "30", "--seeds", "1", "--eval-seeds", "1",
                         "--eval-steps", "10", "--learner", "ddpg-split", "--learner", "sb3-td3",
                         "--reference", "equal-pf", "--out", str(out))  # fmt: skip
    assert compare.run(args) == 0
    rows = json.loads((out / "head_to_head.json").read_text(encoding="utf-8"))
    assert [r["policy"] for r in rows] == ["ddpg-split", "sb3-td3", "equal-pf"]
    assert {r["task"] for r in rows} == {"busy"}
    assert all(np.isfinite(r["reward_high_mean_mean"]) for r in rows)
    assert rows[1]["gradient_steps"] > 0
    meta = json.loads((out / "busy" / "sb3-td3-s0" / "baseline.json").read_text(encoding="utf-8"))
    assert meta["scenario"]["assignment"] == ["busy", "busy"]
    assert "micro-train:busy" in (out / "head_to_head.md").read_text(encoding="utf-8")
    assert (out / "learning_curves.png").stat().st_size > 1000
