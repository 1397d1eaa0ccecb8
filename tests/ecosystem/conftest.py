from __future__ import annotations

from typing import Any

from e2sim.config import ScenarioConfig
from e2sim.scenario import scenario_from_dict


def tiny_scenario(n_du: int = 2) -> ScenarioConfig:
    """2 DUs × 7 UEs on 25 RBs: eMBB offers more than an equal split carries, so the split matters."""
    data: dict[str, Any] = {
        "name": "eco-tiny",
        "n_du": n_du,
        "radio": {"n_rbs": 25, "total_bandwidth_hz": 5e6, "fading": "scheduled"},
        "tasks": {
            "t": {
                "embb": {"n_ues": 3, "rate_mbps": [6, 8], "sla_throughput_mbps": 7},
                "mmtc": {"n_ues": 2},
                "urllc": {"n_ues": 2},
            }
        },
        "assignment": {"default": "t"},
    }
    return scenario_from_dict(data, "eco-tiny")


def tiny_env(episode_steps: int = 40) -> dict[str, Any]:
    """Core-env settings for fast tests: 2-TTI low steps, a decision every 4 of them."""
    return {"episode_steps": episode_steps, "low_period_ttis": 2, "high_period_steps": 4}
