"""The per-DU KPI window: what E2 nodes measured over one reporting window.

One window can hold several DUs (the training env fills all of them at once; a DU xApp holds
windows of its one DU, ``n_du = 1``). Per-UE arrays are flat over the reported UEs, each with
the DU (``du``, 0 … n_du − 1) that reported it — the DU serving it at the end of the window —
and its slice. Units are in the field names (converted from the wire units of
:mod:`slicing.measurements`).

Merging (the high level's 100 ms window is the merge of ten 10 ms windows): the merged window
holds the *later* window's UEs; a UE's volumes, drops and worst delay add up over the
consecutive windows in which the same DU reported it, and its end-of-window values (buffer,
rate per PRB) are the later window's. A UE that left a DU and came back restarts there. Slice
PRB figures are averaged over time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from slicing.slices import N_SLICES

__all__ = ["KpiWindow"]

_F = np.float64
_I = np.int64

_UE_SUMS = ("delivered_kbit", "arrived_kbit", "deadline_drops")
_UE_LAST = ("buffer_kbit", "rate_per_prb_kbps")
_SLICE_MEANS = ("slice_prb_quota", "slice_prb_used", "slice_prb_over")


@dataclass(frozen=True)
class KpiWindow:
    """Measurements of one reporting window of ``duration_ms`` for ``n_du`` DUs."""

    n_du: int
    duration_ms: float
    ue_id: NDArray[np.int64]  # (N,) unique per UE (E2 UE id, or simulator index in-process)
    du: NDArray[np.int64]  # (N,) reporting DU
    slice: NDArray[np.int64]  # (N,) slice index
    delivered_kbit: NDArray[np.float64]  # (N,)
    arrived_kbit: NDArray[np.float64]  # (N,)
    delay_max_ms: NDArray[np.float64]  # (N,) 0 when nothing was delivered
    deadline_drops: NDArray[np.int64]  # (N,)
    buffer_kbit: NDArray[np.float64]  # (N,) at the end of the window
    rate_per_prb_kbps: NDArray[np.float64]  # (N,) at the end of the window
    prb_used: NDArray[np.float64]  # (N,) mean PRBs per TTI
    slice_prb_quota: NDArray[np.float64]  # (n_du, 3) mean per TTI
    slice_prb_used: NDArray[np.float64]  # (n_du, 3) mean per TTI
    slice_prb_over: NDArray[np.float64]  # (n_du, 3) K_over, mean per TTI

    def __post_init__(self) -> None:
        n = len(self.ue_id)
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, np.ndarray):
                continue
            want = (self.n_du, N_SLICES) if f.name.startswith("slice_") else (n,)
            if v.shape != want:
                raise ValueError(f"KpiWindow.{f.name}: shape {v.shape}, expected {want}")
        if n and (self.du.min() < 0 or self.du.max() >= self.n_du):
            raise ValueError(f"KpiWindow.du: DU index outside 0..{self.n_du - 1}")
        if n and (self.slice.min() < 0 or self.slice.max() >= N_SLICES):
            raise ValueError(f"KpiWindow.slice: slice index outside 0..{N_SLICES - 1}")
        if self.duration_ms < 0 or not np.isfinite(self.duration_ms):
            raise ValueError(f"KpiWindow.duration_ms: {self.duration_ms}")

    @property
    def n_ues(self) -> int:
        return len(self.ue_id)

    @property
    def seg(self) -> NDArray[np.int64]:
        """(N,) flat (DU, slice) index of every UE."""
        return self.du * N_SLICES + self.slice

    @classmethod
    def empty(cls, n_du: int, duration_ms: float = 0.0) -> KpiWindow:
        z = np.zeros(0)
        zi = np.zeros(0, _I)
        s = np.zeros((n_du, N_SLICES))
        return cls(n_du, duration_ms, zi, zi, zi, z, z, z, zi, z, z, z, s, s.copy(), s.copy())

    def key_with(self, span: int) -> NDArray[np.int64]:
        """(N,) (DU, UE id) as one sortable key; ``span`` must exceed every UE id."""
        return self.du * span + self.ue_id

    def merged(self, later: KpiWindow) -> KpiWindow:
        """This window followed by ``later`` (see the module docs)."""
        if later.n_du != self.n_du:
            raise ValueError(f"cannot merge windows of {self.n_du} and {later.n_du} DUs")
        hit, src = self._match(later)
        upd: dict[str, object] = {}
        for name in _UE_SUMS:
            add = np.where(hit, getattr(self, name)[src], 0)
            upd[name] = getattr(later, name) + add.astype(getattr(later, name).dtype)
        upd["delay_max_ms"] = np.maximum(later.delay_max_ms, np.where(hit, self.delay_max_ms[src], 0.0))
        d0, d1 = self.duration_ms, later.duration_ms
        tot = d0 + d1
        ue_w = np.where(hit, self.prb_used[src], 0.0)
        # A UE present only in the later part used no PRBs here before it arrived.
        upd["prb_used"] = (later.prb_used * d1 + ue_w * d0) / tot if tot > 0 else later.prb_used.copy()
        for name in _SLICE_MEANS:
            a, b = getattr(self, name), getattr(later, name)
            upd[name] = (a * d0 + b * d1) / tot if tot > 0 else b.copy()
        return replace(later, duration_ms=tot, **upd)  # type: ignore[arg-type]

    def _match(self, later: KpiWindow) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """For each UE of ``later``: reported by the same DU here, and its index here."""
        if not self.n_ues:
            return np.zeros(later.n_ues, bool), np.zeros(later.n_ues, _I)
        span = int(max(self.ue_id.max(initial=0), later.ue_id.max(initial=0))) + 1
        k_old = self.key_with(span)
        k_new = later.key_with(span)
        order = np.argsort(k_old, kind="stable")
        pos = np.minimum(np.searchsorted(k_old[order], k_new), self.n_ues - 1)
        src = order[pos]
        return k_old[src] == k_new, src

    def of_du(self, du: int) -> KpiWindow:
        """DU ``du``'s part, as a one-DU window."""
        sel = self.du == du
        per_ue = {f.name: getattr(self, f.name)[sel] for f in fields(self) if _is_ue_field(f.name)}
        per_ue["du"] = np.zeros(int(sel.sum()), _I)
        per_slice = {name: getattr(self, name)[du : du + 1].copy() for name in _SLICE_MEANS}
        return KpiWindow(n_du=1, duration_ms=self.duration_ms, **per_ue, **per_slice)


def _is_ue_field(name: str) -> bool:
    return name not in ("n_du", "duration_ms") and not name.startswith("slice_")
