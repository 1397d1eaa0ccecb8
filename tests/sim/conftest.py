from __future__ import annotations

from typing import Any

import pytest

from e2sim.config import ScenarioConfig
from e2sim.scenario import scenario_from_dict


def small_scenario(**overrides: Any) -> ScenarioConfig:
    """3 DUs × 6 UEs (2 per slice), 12 RBs: small enough for loop references."""
    data: dict[str, Any] = {
        "name": "small",
        "n_du": 3,
        "radio": {"n_rbs": 12, "total_bandwidth_hz": 2.4e6},
        "tasks": {
            "t": {
                "embb": {"n_ues": 2},
                "mmtc": {"n_ues": 2},
                "urllc": {"n_ues": 2},
            }
        },
        "assignment": {"default": "t"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return scenario_from_dict(data, "small")


@pytest.fixture
def small() -> ScenarioConfig:
    return small_scenario()
