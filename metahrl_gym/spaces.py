"""Observation and action spaces of the views, built from the slicing contract's feature lists.

Every feature named in :data:`slicing.mdp.HIGH_FEATURES`, :data:`~slicing.mdp.LOW_GLOBAL` and
:data:`~slicing.mdp.LOW_PER_UE` has one :class:`Feature` entry here (bounds and meaning); a
feature added to the contract without one makes :func:`high_observation_space` raise, so the
spaces and the generated tables in ``docs/ecosystem.md`` (:func:`markdown_tables`) cannot drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from slicing.mdp import HIGH_FEATURES, LOW_GLOBAL, LOW_PER_UE
from slicing.slices import N_SLICES, SLICE_NAMES

__all__ = [
    "FEATURES",
    "Feature",
    "high_action_space",
    "high_observation_space",
    "low_action_space",
    "low_feature_names",
    "low_observation_space",
    "markdown_tables",
]

_INF = math.inf


@dataclass(frozen=True)
class Feature:
    low: float
    high: float
    meaning: str


FEATURES: dict[str, Feature] = {
    # high level, per slice
    "qos": Feature(0.0, 1.0, "SLA-normalised QoS of the last closed high-level window (eq. 5–7)"),
    "ue_fraction": Feature(0.0, _INF, "UEs in the slice / U (UE slots per slice)"),
    "last_share": Feature(0.0, 1.0, "slice share of the K RBs in force"),
    "demand_share": Feature(0.0, 2.0, "PRBs per TTI to carry what arrived + what waits, / K (capped at 2)"),
    # low level, per slice
    "q_avg": Feature(0.0, _INF, "mean UE throughput of the last step / c_x (eq. 10)"),
    "q_min": Feature(0.0, _INF, "minimum UE throughput / c_x"),
    "q_max": Feature(0.0, _INF, "maximum UE throughput / c_x"),
    "budget_share": Feature(0.0, 1.0, "the slice's PRB quota / K"),
    # low level, per UE slot
    "present": Feature(0.0, 1.0, "1 when a UE occupies the slot (UEs fill slots in increasing id)"),
    "last_alloc": Feature(0.0, _INF, "the UE's last allocation / the slice quota"),
    "throughput": Feature(0.0, 4.0, "the UE's throughput / c_x (capped at 4)"),
    "backlog": Feature(0.0, 1.0, "buffered bits / (c_x × window), capped at 10, / 10"),
    "spectral_eff": Feature(0.0, _INF, "bits per PRB·TTI / (B × TTI × 8)"),
}


def _feature(name: str) -> Feature:
    try:
        return FEATURES[name]
    except KeyError:
        raise KeyError(f"contract feature {name!r} has no entry in metahrl_gym.spaces.FEATURES") from None


def _box(names: list[str]) -> spaces.Box:
    lo = np.array([_feature(n).low for n in names], np.float32)
    hi = np.array([_feature(n).high for n in names], np.float32)
    return spaces.Box(lo, hi, dtype=np.float32)


def high_feature_names() -> list[str]:
    """Column names of ``HierObs.high[d]``: feature-major, three slices each."""
    return [f"{f}.{s}" for f in HIGH_FEATURES for s in SLICE_NAMES]


def low_feature_names(ue_slots: int) -> list[str]:
    """Column names of ``HierObs.low[d, l]``: the slice features, then feature-major per UE slot."""
    return [*LOW_GLOBAL, *(f"{f}.{u}" for f in LOW_PER_UE for u in range(ue_slots))]


def high_observation_space() -> spaces.Box:
    return _box([n.split(".")[0] for n in high_feature_names()])


def low_observation_space(ue_slots: int) -> spaces.Box:
    return _box([n.split(".")[0] for n in low_feature_names(ue_slots)])


def high_action_space() -> spaces.Box:
    """Slice scores in [-1, 1]: share = w / Σw with w = (a + 1)/2 + 1e-3 (``action_to_shares``)."""
    return spaces.Box(-1.0, 1.0, (N_SLICES,), np.float32)


def low_action_space(ue_slots: int) -> spaces.Box:
    """Per-UE-slot scores in [-1, 1]; a softmax over the present slots gives the UE shares."""
    return spaces.Box(-1.0, 1.0, (ue_slots,), np.float32)


def _bound(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:g}"


def _rows(names: tuple[str, ...], where: str) -> list[str]:
    rows = []
    for n in names:
        f = _feature(n)
        rows.append(f"| `{n}` | {where} | [{_bound(f.low)}, {_bound(f.high)}] | {f.meaning} |")
    return rows


def markdown_tables() -> str:
    """The observation / action / reward tables of ``docs/ecosystem.md`` (generated, see tests)."""
    head = ["| feature | columns | bounds | meaning |", "|---|---|---|---|"]
    high = [
        "**High level** — `SliceSplit-v0` observation, `Box((12,))`, feature-major: "
        "`[qos × 3 slices, ue_fraction × 3, last_share × 3, demand_share × 3]` (eMBB, mMTC, URLLC).",
        "",
        *head,
        *_rows(HIGH_FEATURES, "one per slice"),
    ]
    low = [
        "**Low level** — `SliceSchedule-v0` observation, `Box((5 + 5U,))`: the slice's features, "
        "then each per-UE feature for slots 0..U−1.",
        "",
        *head,
        *_rows(LOW_GLOBAL, "once"),
        *_rows(LOW_PER_UE, "one per UE slot"),
    ]
    act = [
        "| view | action | reward per step |",
        "|---|---|---|",
        "| `SliceSplit-v0`, PettingZoo `du<d>` | `Box(-1, 1, (3,))` slice scores → shares "
        "w/Σw, w = (a+1)/2 + 10⁻³ | R_h = Σ_l QoS_l over the high-level window (eq. 8), in [0, 3] |",
        "| `SliceSchedule-v0` | `Box(-1, 1, (U,))` UE-slot scores → softmax over present UEs "
        "→ integer RC ratios | r_l = σ(Q̄_m) − σ(K_over) of the slice (eq. 9–10), in (−1, 1) |",
    ]
    return "\n".join([*high, "", *low, "", *act]) + "\n"
