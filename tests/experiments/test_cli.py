"""`metahrl train` and `metahrl eval` as a user runs them (tiny settings)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from experiments.checkpoint import CHECKPOINT_NAME, load_training_checkpoint
from metahrl.cli import main
from tests.experiments.conftest import SMALL, micro_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def micro_yaml(tmp_path: Path) -> Path:
    f = tmp_path / "micro.yaml"
    f.write_text(yaml.safe_dump(micro_config().model_dump(mode="json")))
    return f


def _train(out: Path, cfg: Path, *extra: str) -> int:
    args = ["train", "--scenario", str(SMALL), "--config", str(cfg), "--seed", "5", "--out", str(out)]
    return main([*args, "--no-progress", *extra])


def test_train_resume_and_eval(tmp_path: Path, micro_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert _train(out, micro_yaml, "--steps", "40") == 0
    assert "done: 40 steps" in capsys.readouterr().out
    assert _train(out, micro_yaml, "--steps", "60") == 2  # exists: needs --resume
    assert "already holds a training run" in capsys.readouterr().err
    assert _train(out, micro_yaml, "--steps", "60", "--resume") == 0
    assert load_training_checkpoint(out)["trainer"]["step"] == 60
    assert "done: 60 steps" in capsys.readouterr().out

    args = ["eval", "--scenario", str(SMALL), "--policy", str(out)]
    args += ["--policy", "equal-rr", "--policy", "random"]
    assert main([*args, "--seeds", "2", "--steps", "20", "--json", "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in rows] == [f"hrl:{out}", "equal-rr", "random"]
    for r in rows:
        assert r["runs"] == 2 and r["seeds"] == [0, 1] and r["steps"] == 20
        assert isinstance(r["return_mean"], float) and isinstance(r["return_ci95"], float)
        for s in ("embb", "mmtc", "urllc"):
            for m in ("throughput_mbps", "latency_max_ms", "sla_satisfaction", "qos"):
                assert f"{s}_{m}_mean" in r and f"{s}_{m}_ci95" in r

    assert main([*args, "--seeds", "2", "--steps", "20", "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert "±" in table and "equal-rr" in table and "urllc" in table and "max lat ms" in table


def test_cli_errors(tmp_path: Path, micro_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _train(tmp_path / "none", micro_yaml, "--resume") == 2
    assert "no checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 0\n")
    assert _train(tmp_path / "x", bad) == 2
    assert "field 'steps'" in capsys.readouterr().err
    assert main(["eval", "--policy", "no-such-policy", "--no-progress"]) == 2
    assert "unknown policy" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / CHECKPOINT_NAME).write_bytes(b"junk")
    assert main(["eval", "--scenario", str(SMALL), "--policy", str(broken), "--no-progress"]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_saves_a_checkpoint(tmp_path: Path, micro_yaml: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "metahrl", "train", "--scenario", str(SMALL), "--config", str(micro_yaml),
           "--steps", "100000", "--out", str(out), "--no-progress"]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        timing = out / "timing.csv"  # first row written from inside the training loop
        while not (timing.is_file() and len(timing.read_text().splitlines()) > 1):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "resume with --resume" in err
    step = load_training_checkpoint(out)["trainer"]["step"]
    assert step > 0


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["eval", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "eval" in out if argv == ["--help"] else "--seed" in out or "--seeds" in out
