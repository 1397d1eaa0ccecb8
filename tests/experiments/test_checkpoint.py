"""Checkpoints: corrupt or foreign ones fail with a clear error; a failed write keeps the last good."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from e2sim.config import ScenarioConfig
from e2sim.scenario import load_scenario
from experiments import checkpoint as ckpt
from experiments.checkpoint import CheckpointError
from experiments.config import TrainConfig
from experiments.train import RunExistsError, Trainer
from tests.experiments.conftest import micro_config


@pytest.fixture(scope="module")
def run_dir(small: ScenarioConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    cfg = micro_config(steps=40, eval_every=40, checkpoint_every=40, log_every=20)
    assert Trainer(small, cfg, seed=1, out_dir=out).run().finished
    return out


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    for f in run_dir.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    return out


def _resume(scenario: ScenarioConfig, cfg: TrainConfig, out: Path, seed: int = 1) -> Trainer:
    return Trainer(scenario, cfg, seed=seed, out_dir=out, resume=True)


def test_resume_with_other_config_is_refused(small: ScenarioConfig, run_dir: Path, tmp_path: Path) -> None:
    out = _copy(run_dir, tmp_path)
    other = micro_config(steps=40, eval_every=40, checkpoint_every=40, log_every=20, update_every=3)
    with pytest.raises(CheckpointError, match=r"different run.*update_every"):
        _resume(small, other, out)


def test_resume_with_other_seed_or_scenario_is_refused(
    small: ScenarioConfig, run_dir: Path, tmp_path: Path
) -> None:
    out = _copy(run_dir, tmp_path)
    cfg = micro_config(steps=40, eval_every=40, checkpoint_every=40, log_every=20)
    with pytest.raises(CheckpointError, match=r"different run.*seed"):
        _resume(small, cfg, out, seed=2)
    paper = load_scenario("paper")
    with pytest.raises(CheckpointError, match="different run"):
        _resume(paper.model_copy(update={"n_du": 3, "assignment": ["default"] * 3}), cfg, out)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip-env", "empty"])
def test_corrupt_checkpoint_is_a_clear_error(
    small: ScenarioConfig, run_dir: Path, tmp_path: Path, damage: str
) -> None:
    out = _copy(run_dir, tmp_path)
    path = out / ckpt.CHECKPOINT_NAME
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid file whose pickled environment bytes were altered
        state = torch.load(path, weights_only=True)
        state["env"][len(state["env"]) // 2] ^= 0xFF
        torch.save(state, path)
    cfg = micro_config(steps=40, eval_every=40, checkpoint_every=40, log_every=20)
    with pytest.raises(CheckpointError) as err:
        _resume(small, cfg, out)
    assert "checkpoint" in str(err.value)


def test_missing_checkpoint(small: ScenarioConfig, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        _resume(small, micro_config(), tmp_path)


def test_fresh_start_over_an_existing_run_is_refused(small: ScenarioConfig, run_dir: Path) -> None:
    with pytest.raises(RunExistsError):
        Trainer(small, micro_config(), seed=1, out_dir=run_dir)


def test_failed_write_keeps_the_last_good_checkpoint(
    small: ScenarioConfig, run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _copy(run_dir, tmp_path)
    before = (out / ckpt.CHECKPOINT_NAME).read_bytes()
    cfg = micro_config(steps=40, eval_every=40, checkpoint_every=40, log_every=20)
    trainer = _resume(small, cfg, out)
    real_save = torch.save

    def dying_save(obj: object, f: Any, *args: object, **kwargs: object) -> None:
        real_save({"partial": torch.zeros(3)}, f)  # some bytes reach the tmp file, then the "kill"
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    monkeypatch.undo()
    assert (out / ckpt.CHECKPOINT_NAME).read_bytes() == before
    assert _resume(small, cfg, out).step == 40
