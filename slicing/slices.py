"""Slices, their SLAs and the cell a DU controls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["EMBB", "MMTC", "N_SLICES", "SLICE_NAMES", "URLLC", "CellSpec", "SlaTable"]

N_SLICES = 3
"""L: eMBB, mMTC, URLLC — the one constant for the slice count."""

SLICE_NAMES = ("embb", "mmtc", "urllc")
EMBB, MMTC, URLLC = 0, 1, 2


@dataclass(frozen=True)
class CellSpec:
    """What the controller must know of a DU's carrier to turn reports into observations."""

    n_rbs: int = 100  # K
    rb_bandwidth_hz: float = 200e3
    tti_ms: float = 1.0

    @property
    def tti_s(self) -> float:
        return self.tti_ms * 1e-3

    def __post_init__(self) -> None:
        if self.n_rbs < 1 or self.rb_bandwidth_hz <= 0 or self.tti_ms <= 0:
            raise ValueError(f"invalid cell {self}")


@dataclass(frozen=True)
class SlaTable:
    """Per (DU, slice) SLA and reward normalisers (each DU's task); every array is (n_du, 3).

    NaN where a slice has no such SLA term (e.g. ``throughput_mbps`` outside eMBB).
    """

    throughput_mbps: NDArray[np.float64]  # eMBB SLA
    rate_kbps: NDArray[np.float64]  # mMTC λ
    latency_ms: NDArray[np.float64]  # URLLC SLA latency
    deadline_ms: NDArray[np.float64]  # drop deadline
    cm_mbps: NDArray[np.float64]  # eq. 9–10 c_m
    cx_mbps: NDArray[np.float64]  # eq. 9–10 c_x

    @property
    def n_du(self) -> int:
        return int(self.cx_mbps.shape[0])

    def rows(self, dus: NDArray[np.int64] | list[int]) -> SlaTable:
        """The SLA rows of some DUs (e.g. one DU's table for its xApp)."""
        idx = np.asarray(dus, np.int64)
        return SlaTable(**{k: np.asarray(getattr(self, k))[idx].copy() for k in self.__dataclass_fields__})
