"""Resume is exact: stopping (Ctrl-C path) or being killed, then resuming, ends bit-identical to an
uninterrupted run — agent parameters, optimizer/replay state, environment and every log file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from e2sim.config import ScenarioConfig
from experiments.config import TrainConfig
from experiments.train import Trainer

LOGS = [f"{n}.{ext}" for n in ("train", "eval", "episodes") for ext in ("csv", "jsonl")]


class Killed(Exception):
    """Stands in for SIGKILL: the run dies without writing anything more."""


def _flat(x: object, prefix: str = "") -> dict[str, object]:
    if isinstance(x, dict):
        out: dict[str, object] = {}
        for k, v in x.items():
            out |= _flat(v, f"{prefix}.{k}")
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out |= _flat(v, f"{prefix}[{i}]")
        return out
    return {prefix: x}


def assert_same_state(a: Trainer, b: Trainer) -> None:
    sa, sb = _flat(a.pool.state_dict()), _flat(b.pool.state_dict())
    assert sa.keys() == sb.keys()
    for key, va in sa.items():
        vb = sb[key]
        if isinstance(va, torch.Tensor):
            assert isinstance(vb, torch.Tensor) and torch.equal(va, vb), key
        else:
            assert va == vb, key
    assert a.step == b.step and a.episode == b.episode
    assert (a.high_updates, a.low_updates) == (b.high_updates, b.low_updates)
    assert a.env.sim is not None and b.env.sim is not None
    assert (a.env.sim.queue_bits == b.env.sim.queue_bits).all()
    assert a.env.sim.t == b.env.sim.t


def assert_same_logs(a: Path, b: Path) -> None:
    for name in LOGS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def straight(small: ScenarioConfig, tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    from tests.experiments.conftest import micro_config

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight")
    trainer = Trainer(small, micro_config(), seed=3, out_dir=out)
    assert trainer.run().finished
    return trainer


def test_stop_then_resume_is_bit_exact(small: ScenarioConfig, micro: TrainConfig, straight: Trainer,
                                       tmp_path: Path) -> None:  # fmt: skip
    first = Trainer(small, micro, seed=3, out_dir=tmp_path)
    res = first.run(should_stop=lambda: first.step == 73)  # mid-episode, mid-log-interval
    assert not res.finished and res.step == 73
    resumed = Trainer(small, micro, seed=3, out_dir=tmp_path, resume=True)
    assert resumed.step == 73
    assert resumed.run().finished
    assert_same_state(straight, resumed)
    assert_same_logs(straight.out_dir, tmp_path)


def test_kill_between_checkpoints_then_resume_is_bit_exact(
    small: ScenarioConfig, micro: TrainConfig, straight: Trainer, tmp_path: Path
) -> None:
    first = Trainer(small, micro, seed=3, out_dir=tmp_path)

    def kill(t: Trainer) -> None:
        if t.step == 91:  # last checkpoint at 50; logs hold rows up to 80 by now
            raise Killed

    with pytest.raises(Killed):
        first.run(on_step=kill)
    resumed = Trainer(small, micro, seed=3, out_dir=tmp_path, resume=True)
    assert resumed.step == 50  # back to the last checkpoint; later log rows cut away
    assert resumed.run().finished
    assert_same_state(straight, resumed)
    assert_same_logs(straight.out_dir, tmp_path)


def test_resume_can_extend_a_finished_run(small: ScenarioConfig, micro: TrainConfig, straight: Trainer,
                                          tmp_path: Path) -> None:  # fmt: skip
    short = micro.model_copy(update={"steps": 80})
    assert Trainer(small, short, seed=3, out_dir=tmp_path).run().finished
    resumed = Trainer(small, micro, seed=3, out_dir=tmp_path, resume=True)
    assert resumed.run().finished
    assert_same_state(straight, resumed)  # 80 is a multiple of log_every and eval_every
    assert_same_logs(straight.out_dir, tmp_path)


def test_run_writes_its_artifacts(straight: Trainer) -> None:
    out = straight.out_dir
    for name in [*LOGS, "timing.csv", "config.yaml", "baselines.json", "learning_curve.png", "checkpoint.pt"]:
        assert (out / name).is_file(), name
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train_rows = (out / "train.csv").read_text().splitlines()
    assert len(train_rows) == 1 + 120 // 20
    eval_rows = (out / "eval.jsonl").read_text().splitlines()
    assert len(eval_rows) == 1 + 1 + 120 // 40  # baseline ref + step 0 + every 40
