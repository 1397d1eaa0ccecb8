"""One DU's task as its xApp must know it: the carrier, the slices and their SLAs.

The MDP needs the cell (K, RB bandwidth, TTI) and each slice's SLA and reward normalisers
(eq. 9–10) — operator configuration, not something E2 reports. A :class:`DuTask` carries them
with the DU's E2 node name and slice identities, and serialises to the JSON task descriptor the
DU registers with the meta-controller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from slicing.slices import N_SLICES, SLICE_NAMES, CellSpec, SlaTable

__all__ = ["SLICE_SST", "DuTask"]

SLICE_SST = (1, 3, 2)
"""Slice/Service Type of eMBB, mMTC, URLLC (TS 23.501: eMBB 1, URLLC 2, MIoT 3)."""

_SLA_FIELDS = tuple(SlaTable.__dataclass_fields__)


@dataclass(frozen=True)
class DuTask:
    """DU ``du``'s task: E2 node name, PLMN, slice SDs, cell and one-row SLA table."""

    du: int
    node: str
    plmn: str
    slice_sd: tuple[int, ...]
    cell: CellSpec
    sla: SlaTable

    def __post_init__(self) -> None:
        if len(self.slice_sd) != N_SLICES:
            raise ValueError(f"DuTask.slice_sd: {N_SLICES} slice SDs expected, got {self.slice_sd}")
        if self.sla.n_du != 1:
            raise ValueError(f"DuTask.sla: one DU's row expected, got {self.sla.n_du}")

    def descriptor(self) -> dict[str, Any]:
        """JSON-safe description (NaN SLA terms as null)."""
        sla = {
            name: {f: _json_float(getattr(self.sla, f)[0, i]) for f in _SLA_FIELDS}
            for i, name in enumerate(SLICE_NAMES)
        }
        cell = {
            "n_rbs": self.cell.n_rbs,
            "rb_bandwidth_hz": self.cell.rb_bandwidth_hz,
            "tti_ms": self.cell.tti_ms,
        }
        return {
            "du": self.du,
            "node": self.node,
            "plmn": self.plmn,
            "slice_sd": list(self.slice_sd),
            "cell": cell,
            "sla": sla,
        }

    @classmethod
    def from_descriptor(cls, d: Mapping[str, Any]) -> DuTask:
        """Inverse of :meth:`descriptor`; ``ValueError`` naming the missing/bad field."""
        try:
            sla = {
                f: np.array([[_float(d["sla"][name][f]) for name in SLICE_NAMES]], np.float64)
                for f in _SLA_FIELDS
            }
            cell = CellSpec(
                int(d["cell"]["n_rbs"]), float(d["cell"]["rb_bandwidth_hz"]), float(d["cell"]["tti_ms"])
            )
            return cls(
                int(d["du"]),
                str(d["node"]),
                str(d["plmn"]),
                tuple(int(x) for x in d["slice_sd"]),
                cell,
                SlaTable(**sla),
            )
        except KeyError as exc:
            raise ValueError(f"task descriptor: missing field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"task descriptor: {exc}") from None


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _float(x: float | None) -> float:
    return math.nan if x is None else float(x)
