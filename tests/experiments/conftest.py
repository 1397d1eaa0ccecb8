"""Shared fixtures: the small CI scenario and a micro training config (seconds, not minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from e2sim.config import ScenarioConfig
from e2sim.scenario import load_scenario
from experiments.config import TrainConfig, config_from_dict

SMALL = Path(__file__).resolve().parents[2] / "experiments" / "scenarios" / "small.yaml"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Bit-exactness is per thread count; the tests pin it (and restore the caller's)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small() -> ScenarioConfig:
    return load_scenario(SMALL)


def micro_config(**overrides: object) -> TrainConfig:
    """120 steps with two episode boundaries, logs/evals/checkpoints at odd multiples."""
    net = {"hidden_sizes": [16, 16], "batch_size": 16, "learning_starts": 16, "buffer_size": 400}
    base: dict[str, object] = {
        "steps": 120,
        "env": {"episode_steps": 50},
        "high": net | {"random_steps": 3},
        "low": net,
        "learning_starts": 30,
        "update_every": 2,
        "log_every": 20,
        "eval_every": 40,
        "eval_steps": 20,
        "checkpoint_every": 50,
        "baseline_refs": ["equal-rr"],
    }
    return config_from_dict(base | overrides)


@pytest.fixture
def micro() -> TrainConfig:
    return micro_config()
