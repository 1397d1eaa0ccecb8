"""The adaptation-shot protocol config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meta_controller.shots import AdaptationConfig


def test_defaults_follow_algorithm_1() -> None:
    cfg = AdaptationConfig()
    assert (cfg.episodes_per_shot, cfg.updates_per_shot, cfg.batch_size) == (1, 1, 128)
    assert cfg.eval_shots == (0, 5, 30)


@pytest.mark.parametrize(
    "bad",
    [
        {"episodes_per_shot": 0},
        {"updates_per_shot": -1},
        {"eval_shots": (5, 0)},
        {"eval_shots": ()},
        {"eval_shots": (-1, 3)},
        {"shots": 3},
    ],
)
def test_invalid_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AdaptationConfig.model_validate(bad)
