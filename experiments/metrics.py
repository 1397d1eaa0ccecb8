"""What the trainer logs: running sums over a log interval, and the rows of each log stream.

Sums are plain Python floats added in a fixed order, so a resumed run (which restores the partial
sums from its checkpoint) writes exactly the rows an uninterrupted run would.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from e2sim.config import SLICE_NAMES
from e2sim.kpi import SliceKpis
from e2sim.runner import RunResult
from xapps.agent import UpdateMetrics

__all__ = [
    "EPISODE_COLUMNS",
    "EVAL_COLUMNS",
    "TIMING_COLUMNS",
    "TRAIN_COLUMNS",
    "IntervalStats",
    "eval_row",
]

_SLICE_KPIS = ("qos", "thr_mbps", "lat_max_ms", "sla_sat", "rb_share")
_LEARNER = ("critic_loss", "actor_loss", "q_mean")

TRAIN_COLUMNS: tuple[str, ...] = (
    "step",
    "episode",
    "high_updates",
    "low_updates",
    "reward_high",
    *(f"reward_low_{s}" for s in SLICE_NAMES),
    *(f"{k}_{s}" for k in _SLICE_KPIS for s in SLICE_NAMES),
    *(f"{m}_{lvl}" for m in _LEARNER for lvl in ("high", "low")),
)
EVAL_COLUMNS: tuple[str, ...] = (
    "step",
    "policy",
    "return",
    "reward_high_mean",
    "reward_low_mean",
    "jain",
    "rb_utilisation",
    *(f"{k}_{s}" for k in _SLICE_KPIS for s in SLICE_NAMES),
)
EPISODE_COLUMNS: tuple[str, ...] = ("episode", "step", "return", "return_min_du", "return_max_du")
TIMING_COLUMNS: tuple[str, ...] = ("step", "wall_s", "env_steps_per_s", "updates_per_s")


class IntervalStats:
    """Sums and counts of named scalars since the last log row (NaNs are skipped)."""

    def __init__(self, sums: Mapping[str, Iterable[float]] | None = None) -> None:
        self._acc: dict[str, list[float]] = {k: [float(x) for x in v] for k, v in (sums or {}).items()}

    def add(self, name: str, value: float) -> None:
        if math.isfinite(value):
            acc = self._acc.setdefault(name, [0.0, 0.0])
            acc[0] += value
            acc[1] += 1.0

    def mean(self, name: str) -> float:
        s, n = self._acc.get(name, [0.0, 0.0])
        return s / n if n else math.nan

    def state(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self._acc.items()}

    def add_window(self, reward_high: np.ndarray, k: SliceKpis, n_rbs: int) -> None:
        """A closed high-level window: R_h and per-slice KPIs, averaged over DUs."""
        self.add("reward_high", float(np.mean(reward_high)))
        values = {
            "qos": k.qos,
            "thr_mbps": k.throughput_mbps,
            "lat_max_ms": k.latency_max_ms,
            "sla_sat": k.sla_met.astype(np.float64),
            "rb_share": k.rb_quota / n_rbs,
        }
        for key, arr in values.items():
            for i, s in enumerate(SLICE_NAMES):
                col = arr[:, i]
                if np.isfinite(col).any():
                    self.add(f"{key}_{s}", float(np.nanmean(col)))

    def add_low_reward(self, reward_low: np.ndarray) -> None:
        for i, s in enumerate(SLICE_NAMES):
            self.add(f"reward_low_{s}", float(np.mean(reward_low[:, i])))

    def add_update(self, level: str, m: UpdateMetrics) -> None:
        self.add(f"critic_loss_{level}", m.critic_loss)
        self.add(f"q_mean_{level}", m.q_mean)
        if m.actor_loss is not None:
            self.add(f"actor_loss_{level}", m.actor_loss)

    def row(self, **fixed: Any) -> dict[str, Any]:
        """A training log row: `fixed` columns plus every interval mean."""
        out: dict[str, Any] = dict(fixed)
        for c in TRAIN_COLUMNS:
            if c not in out:
                out[c] = self.mean(c)
        return out


def eval_row(step: int, res: RunResult) -> dict[str, Any]:
    """An evaluation log row from an `e2sim.runner.RunResult`."""
    row: dict[str, Any] = {
        "step": step,
        "policy": res.policy,
        "return": res.return_mean,
        "reward_high_mean": res.reward_high_mean,
        "reward_low_mean": res.reward_low_mean,
        "jain": res.jain,
        "rb_utilisation": res.rb_utilisation,
    }
    for s in res.slices:
        row[f"qos_{s.name}"] = s.qos
        row[f"thr_mbps_{s.name}"] = s.throughput_mbps
        row[f"lat_max_ms_{s.name}"] = s.latency_max_ms
        row[f"sla_sat_{s.name}"] = s.sla_satisfaction
        row[f"rb_share_{s.name}"] = s.rb_share
    return row
