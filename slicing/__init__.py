"""The slicing problem's contract, shared by the DU xApp and the simulator's training env.

Nothing here knows about E2, sockets or the simulator: a per-DU :class:`~slicing.window.KpiWindow`
holds what an E2 node measures over a reporting window (the E2SM-KPM measurements of
:mod:`slicing.measurements`), and :class:`~slicing.mdp.SlicingMdp` turns windows into both
levels' observations and rewards (SPEC §3, eq. 8–10) and actions into the controls an E2 node
applies (:class:`~slicing.controls.ControlPlan`: slice PRB quotas and per-UE PRB ratios, as
E2SM-RC style 2 / action 6 carries them). The xApp fills windows from decoded KPM indications;
the env fills the same windows in-process.
"""

from slicing.controls import ControlPlan, largest_remainder, quota_rbs, slice_rbs_of, ue_ratios
from slicing.mdp import (
    HIGH_FEATURES,
    LOW_GLOBAL,
    LOW_PER_UE,
    HierAction,
    HierObs,
    HierReward,
    MdpConfig,
    SlicingMdp,
    action_to_shares,
    high_block,
    shares_to_action,
)
from slicing.qos import WindowQos, qos_from_aggregates, window_qos
from slicing.slices import N_SLICES, SLICE_NAMES, CellSpec, SlaTable
from slicing.window import KpiWindow

__all__ = [
    "HIGH_FEATURES",
    "LOW_GLOBAL",
    "LOW_PER_UE",
    "N_SLICES",
    "SLICE_NAMES",
    "CellSpec",
    "ControlPlan",
    "HierAction",
    "HierObs",
    "HierReward",
    "KpiWindow",
    "MdpConfig",
    "SlaTable",
    "SlicingMdp",
    "WindowQos",
    "action_to_shares",
    "high_block",
    "largest_remainder",
    "qos_from_aggregates",
    "quota_rbs",
    "shares_to_action",
    "slice_rbs_of",
    "ue_ratios",
    "window_qos",
]
