"""``--low ckpt:PATH``: a `metahrl train` checkpoint's slice agents, greedy and frozen, schedule inside
slices while an SB3 learner splits — the same per-UE actions as the checkpoint's agents, end to
end through `metahrl train --learner`, `metahrl eval --policy sb3:` and the head-to-head CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from numpy.typing import NDArray

from e2sim.env import EnvConfig, HierObs
from experiments import sb3_compare_cli as compare
from experiments.config import config_from_dict
from experiments.evaluate import PolicySpec, evaluate, load_pool
from experiments.policy import GreedyLow
from experiments.sb3_baselines import _greedy_eval, load_split_policy
from experiments.slice_low import LowError, SliceLow, parse_low
from experiments.train import Trainer
from metahrl.cli import main
from metahrl_gym.parallel import SliceSplitParallelEnv
from tests.ecosystem.conftest import tiny_env, tiny_scenario
from xapps.agent import AgentPool

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HRL_STEPS = 120  # 30 decisions of 4 low-level steps: enough for gradient steps on every learner


def _hrl_config() -> dict[str, Any]:
    nets = {"hidden_sizes": [32, 32], "batch_size": 32, "learning_starts": 40, "buffer_size": 2000}
    return {
        "steps": HRL_STEPS, "env": tiny_env(80), "high": nets | {"gamma": 0.9},
        "low": nets | {"actor_lr": 0.001}, "learning_starts": 40, "eval_every": HRL_STEPS,
        "eval_steps": 40, "baseline_refs": [], "checkpoint_every": HRL_STEPS, "log_every": 40,
    }  # fmt: skip


def _sb3_config(steps: int) -> dict[str, Any]:
    return {
        "steps": steps, "env": tiny_env(80), "eval_every": steps, "eval_steps": 40, "baseline_refs": [],
        "high": {"hidden_sizes": [32, 32], "batch_size": 32, "learning_starts": 32, "buffer_size": 2000},
    }  # fmt: skip


@pytest.fixture(scope="module")
def hrl_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained `metahrl train` run directory on the tiny scenario (seed 0)."""
    out = tmp_path_factory.mktemp("hrl") / "hrl-s0"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-32 updates: more threads only contend on a shared machine
    try:
        assert Trainer(tiny_scenario(), config_from_dict(_hrl_config()), seed=0, out_dir=out).run().finished
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Scenario and SB3 config YAML files for the CLIs."""
    tmp = tmp_path_factory.mktemp("inputs")
    sc, cfg = tmp / "scenario.yaml", tmp / "config.yaml"
    sc.write_text(yaml.safe_dump(tiny_scenario().model_dump(mode="json")), encoding="utf-8")
    cfg.write_text(yaml.safe_dump(_sb3_config(96)), encoding="utf-8")
    return sc, cfg


def _env_cfg() -> EnvConfig:
    return config_from_dict(_sb3_config(96)).env


def _agents_greedy_low(pool: AgentPool, obs: HierObs) -> NDArray[np.float32]:
    """Each DU's slice actors μ(s), masked, called one by one: the checkpoint's own low level."""
    out = np.empty(obs.ue_mask.shape, np.float32)
    for d, agent in enumerate(pool):
        for i, low in enumerate(agent.low):
            out[d, i] = low.act(obs.low[d, i], False, mask=obs.ue_mask[d, i])
    return out


class _Recording:
    """A LowDriver that records what the wrapped driver saw and answered."""

    def __init__(self, inner: GreedyLow) -> None:
        self.inner, self.scheduler = inner, inner.scheduler
        self.seen: list[tuple[HierObs, NDArray[np.float64]]] = []

    def ue_action(self, obs: HierObs) -> NDArray[np.float64]:
        action = self.inner.ue_action(obs)
        self.seen.append((obs, action.copy()))
        return action


def test_driver_acts_exactly_as_the_checkpoint_slice_agents_inside_the_view(hrl_run: Path) -> None:
    sc = tiny_scenario()
    low = SliceLow(parse_low(f"ckpt:{hrl_run}"), sc, _env_cfg())
    assert low.pool is not None
    driver = _Recording(GreedyLow(low.pool))
    penv = SliceSplitParallelEnv(scenario=sc, env=tiny_env(80), low_driver=driver)
    penv.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(6):  # 6 decisions × 4 low-level steps, random splits
        penv.step({a: rng.uniform(-1, 1, 3).astype(np.float32) for a in penv.agents})
    reference, _ = load_pool(hrl_run)  # loaded separately from the file
    assert len(driver.seen) == 24
    for o, action in driver.seen:
        np.testing.assert_array_equal(action, _agents_greedy_low(reference, o))
        present = o.ue_mask.astype(bool)
        assert (action[~present] == -1).all() and np.ptp(action[present]) > 0  # real, masked scores
    budgets = {tuple(np.round(o.low[:, :, 3].ravel(), 3)) for o, _ in driver.seen}
    assert len(budgets) > 1  # the agents saw the learner's changing splits


def test_checkpoint_high_level_over_the_driver_is_the_checkpoint_itself(hrl_run: Path) -> None:
    """The checkpoint's own high actors splitting over the driver give `metahrl eval`'s run of
    the checkpoint, bit for bit: the driver is exactly that run's low level."""
    sc, steps = tiny_scenario(), 40
    pool, meta = load_pool(hrl_run)
    env_cfg = EnvConfig.model_validate(meta["config"]["env"])

    def predict(obs: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.stack([agent.high.act(obs[d], False) for d, agent in enumerate(pool)])

    low = SliceLow(parse_low(f"ckpt:{hrl_run}"), sc, env_cfg)
    for seed in (0, 1):
        mine = _greedy_eval(predict, sc, env_cfg, low, steps, seed, "split-over-driver")
        [ref] = evaluate(sc, [PolicySpec("hrl", (hrl_run,))], [seed], steps)
        assert mine.return_mean == ref.results[0].return_mean
        assert [s.qos for s in mine.slices] == [s.qos for s in ref.results[0].slices]


def test_sb3_td3_over_checkpoint_slice_agents_trains_saves_and_evaluates(
    hrl_run: Path, inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc, cfg = inputs
    ckpt = tmp_path / "copy.pt"  # a copy, so the test may change it afterwards
    ckpt.write_bytes((hrl_run / "checkpoint.pt").read_bytes())
    out = tmp_path / "td3"
    rc = main(["train", "--scenario", str(sc), "--config", str(cfg), "--learner", "sb3-td3", "--low",
               f"ckpt:{ckpt}", "--out", str(out), "--no-progress"])  # fmt: skip
    assert rc == 0 and (out / "model.zip").is_file()
    assert "done: sb3-td3, 96 steps" in capsys.readouterr().out
    meta = json.loads((out / "baseline.json").read_text(encoding="utf-8"))
    assert meta["low"] == f"ckpt:{ckpt.resolve()}" and meta["low_checkpoint"]["seed"] == 0
    assert len(meta["low_checkpoint"]["sha256"]) == 64

    rc = main(["eval", "--scenario", str(sc), "--policy", f"sb3:{out}", "--seeds", "2", "--steps", "40",
               "--json", "--no-progress"])  # fmt: skip
    assert rc == 0
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # `metahrl eval` ran the checkpoint's slice agents, not a rule: same numbers as by hand
    predict, _ = load_split_policy(out)
    sc_cfg, env_cfg = config_from_dict(_sb3_config(96)).apply_fading(tiny_scenario()), _env_cfg()
    low = SliceLow(parse_low(f"ckpt:{ckpt}"), sc_cfg, env_cfg)
    by_hand = [_greedy_eval(predict, sc_cfg, env_cfg, low, 40, s, "x").return_mean for s in (0, 1)]
    with_pf = [_greedy_eval(predict, sc_cfg, env_cfg, "pf", 40, s, "x").return_mean for s in (0, 1)]
    assert row["returns"] == by_hand and by_hand != with_pf

    ckpt.write_bytes(ckpt.read_bytes() + b"\0")  # the checkpoint changes after training
    rc = main(["eval", "--scenario", str(sc), "--policy", f"sb3:{out}", "--seeds", "1", "--steps", "40",
               "--no-progress"])  # fmt: skip
    assert rc == 2 and "checkpoint changed" in capsys.readouterr().err


def _train_argv(sc: Path, cfg: Path, low: str, out: Path) -> list[str]:
    return ["train", "--scenario", str(sc), "--config", str(cfg), "--learner", "sb3-td3", "--low", low,
            "--out", str(out), "--no-progress"]  # fmt: skip


def test_a_missing_checkpoint_fails_naming_low(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc, cfg = inputs
    with pytest.raises(SystemExit) as exc:
        main(_train_argv(sc, cfg, f"ckpt:{tmp_path / 'nowhere'}", tmp_path / "out"))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --low" in err and "no checkpoint at" in err
    with pytest.raises(SystemExit):
        main(_train_argv(sc, cfg, "best", tmp_path / "out"))
    assert "argument --low" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_an_unfit_checkpoint_fails_naming_low(
    hrl_run: Path, inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc, cfg = inputs
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert main(_train_argv(sc, cfg, f"ckpt:{junk}", tmp_path / "a")) == 2
    assert capsys.readouterr().err.startswith(f"error: --low ckpt:{junk}: cannot read checkpoint")
    three = tmp_path / "three.yaml"  # the checkpoint has 2 DUs
    three.write_text(yaml.safe_dump(tiny_scenario(3).model_dump(mode="json")), encoding="utf-8")
    assert main(_train_argv(three, cfg, f"ckpt:{hrl_run}", tmp_path / "b")) == 2
    assert "--low" in (err := capsys.readouterr().err) and "2 DUs" in err
    request = EnvConfig(**tiny_env(80), low_action="request")
    with pytest.raises(LowError, match="low_action 'share' \\(run: 'request'\\)"):
        SliceLow(parse_low(f"ckpt:{hrl_run}"), tiny_scenario(), request)
    argv = ["train", "--scenario", str(sc), "--config", str(cfg), "--low", f"ckpt:{hrl_run}", "--out",
            str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2 and "--low is for --learner" in capsys.readouterr().err  # hrl: its own
    assert not any((tmp_path / d).exists() for d in "abc")


def _compare_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_compare_cli_over_checkpoints_per_seed_adds_the_checkpoints_row(
    hrl_run: Path, inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sc, cfg = inputs
    template = f"ckpt:{hrl_run.parent}/hrl-s{{seed}}"
    common = ("--scenario", str(sc), "--config", str(cfg), "--learner", "sb3-td3", "--low", template,
              "--eval-seeds", "1", "--eval-steps", "40", "--reference", "equal-pf")  # fmt: skip
    assert compare.run(_compare_args(*common, "--seeds", "2", "--out", str(tmp_path / "x"))) == 2
    assert "error: --low ckpt:" in (err := capsys.readouterr().err) and "hrl-s1" in err  # no seed 1
    out = tmp_path / "h2h"
    assert compare.run(_compare_args(*common, "--steps", "32", "--seeds", "1", "--out", str(out))) == 0
    rows = json.loads((out / "head_to_head.json").read_text(encoding="utf-8"))
    assert [r["policy"] for r in rows] == ["sb3-td3", compare.HRL_ROW, "equal-pf"]
    assert rows[1]["checkpoints"] == [str(hrl_run.resolve() / "checkpoint.pt")]
    assert all(np.isfinite(r["reward_high_mean_mean"]) for r in rows)
