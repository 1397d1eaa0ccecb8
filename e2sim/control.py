"""Apply the slicing contract's :class:`~slicing.controls.ControlPlan` to the simulator.

The training env applies a whole plan at once; an E2 node applies the same integers one RC
control at a time (:func:`apply_slice_ratios`, :func:`apply_ue_ratios`), with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from e2sim.core import Simulator
from slicing import ControlPlan, quota_rbs

__all__ = ["apply_plan", "apply_slice_ratios", "apply_ue_ratios"]


def apply_slice_ratios(sim: Simulator, ratio: NDArray[np.int64], dus: Sequence[int] | None = None) -> None:
    """Slice quotas from max PRB ratios (percent): (D, 3), or one row per DU of ``dus``."""
    sim.set_slice_rbs(quota_rbs(ratio, sim.n_rbs), dus=dus)


def apply_ue_ratios(sim: Simulator, ue_id: NDArray[np.int64], ratio: NDArray[np.int64]) -> None:
    """Per-UE shares of their slice (percent), applied every TTI to the UEs with data.
    ``ue_id`` are E2 UE ids (simulator index + 1)."""
    sim.set_ue_shares(np.asarray(ue_id, np.int64) - 1, np.asarray(ratio, np.float64) / 100.0)


def apply_plan(sim: Simulator, plan: ControlPlan) -> None:
    """Every DU's slice quotas, then its UEs' ratios (when the plan has any)."""
    apply_slice_ratios(sim, plan.slice_ratio)
    if len(plan.ue_id):
        apply_ue_ratios(sim, plan.ue_id, plan.ue_ratio)
