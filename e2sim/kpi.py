"""Slice KPIs (paper eq. 5–7) and SLA-normalised slice QoS, per DU and slice, from a window.

Definitions (SPEC §2; the choices are ours and documented here):

- C_i, a UE's throughput, is what it was *delivered* in the window (bits / window length) —
  eq. 1's achievable rate on its RBs is reported too (``capacity_mbps``), but an RB given to an
  empty buffer carries nothing, so delivered throughput is what a user experiences.
- eMBB (eq. 5): u_s = mean C_i over the slice's UEs. QoS = min(1, u_s / target) with
  target = min(SLA throughput, mean offered rate in the window): a slice whose UEs ask for less
  than the SLA and get all of it meets the SLA. "SLA met" allows 5 % below the target, as a
  window boundary shifts some queued traffic into the next window.
- mMTC (eq. 6): d_s = (Σ 1(device served) / N) · Σ C_i. A device is *served* when C_i ≥ λ_i,
  or when its buffer is empty at the end of the window (a device that offered less than λ_i
  and got all of it through is not starved). QoS = served fraction × min(1, Σ C_i / min(N·λ,
  Σ arrivals)): with Poisson arrivals a window can carry less than N·λ through no fault of the
  scheduler, so the capacity term is measured against what could have been delivered.
- URLLC (eq. 7): l_d = max latency τ_i of a delivered packet; a packet dropped at its deadline
  counts as latency = deadline. QoS = 1 at or below the SLA latency, falling linearly to 0 at the
  deadline.
- Jain's index is over each UE's served ratio — delivered / arrived bits in the window, capped at
  1 (1 when nothing arrived) — so a slice where every UE gets the same fraction of what it
  asked for scores 1, whatever the UEs' rates.
- A slice with no UEs on a DU has QoS 1 (nothing to violate) and NaN raw KPIs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from e2sim.config import ScenarioConfig
from e2sim.counters import WindowCounters
from slicing import SlaTable, qos_from_aggregates

__all__ = ["SlaTable", "SliceKpis", "compute_kpis", "jain", "sla_table"]

_L = 3


def sla_table(scenario: ScenarioConfig) -> SlaTable:
    """Per (DU, slice) SLA and reward normalisers, from each DU's task."""
    shape = (scenario.n_du, _L)
    f = {k: np.full(shape, np.nan) for k in SlaTable.__dataclass_fields__}
    for du in range(scenario.n_du):
        for sl, tr in enumerate(scenario.task_of(du).slices):
            f["throughput_mbps"][du, sl] = tr.sla_throughput_mbps or np.nan
            f["rate_kbps"][du, sl] = tr.sla_rate_kbps or np.nan
            f["latency_ms"][du, sl] = tr.sla_latency_ms or np.nan
            f["deadline_ms"][du, sl] = tr.deadline_ms
            f["cm_mbps"][du, sl] = tr.reward_cm_mbps
            f["cx_mbps"][du, sl] = tr.cx_mbps
    return SlaTable(**f)


@dataclass(frozen=True)
class SliceKpis:
    """KPIs of one window; every array is (n_du, 3) unless noted. Units in the names."""

    window_ms: float
    n_ues: NDArray[np.int64]
    throughput_mbps: NDArray[np.float64]  # mean UE throughput (eq. 5 for eMBB)
    throughput_min_mbps: NDArray[np.float64]  # Q_m of eq. 9
    throughput_max_mbps: NDArray[np.float64]  # Q_x
    capacity_mbps: NDArray[np.float64]  # mean UE eq. 1 achievable rate on its RBs
    served_fraction: NDArray[np.float64]  # fraction of devices served (eq. 6 indicator)
    density_capacity_mbps: NDArray[np.float64]  # d_s of eq. 6
    latency_max_ms: NDArray[np.float64]  # l_d of eq. 7 (delivered packets)
    latency_mean_ms: NDArray[np.float64]
    deadline_miss_rate: NDArray[np.float64]  # dropped at deadline / (delivered + dropped)
    loss_rate: NDArray[np.float64]  # all drops (deadline + overflow) / packets finished
    jain: NDArray[np.float64]
    rb_used: NDArray[np.float64]  # mean RBs per TTI
    rb_quota: NDArray[np.float64]  # mean quota per TTI
    kover_rbs: NDArray[np.float64]  # mean K_over per TTI
    qos: NDArray[np.float64]  # SLA-normalised QoS in [0, 1]
    sla_met: NDArray[np.bool_]
    du_jain: NDArray[np.float64]  # (n_du,) Jain's index over all the DU's UEs
    du_throughput_mbps: NDArray[np.float64]  # (n_du,) total delivered

    @property
    def rb_utilisation(self) -> NDArray[np.float64]:
        """(n_du,) fraction of the DU's quota actually used."""
        return self.rb_used.sum(1) / np.maximum(self.rb_quota.sum(1), 1e-9)


def jain(x: NDArray[np.float64]) -> float:
    """Jain's fairness index (Σx)² / (n Σx²); 1 for an empty or all-zero vector."""
    x = np.asarray(x, dtype=np.float64)
    s2 = float((x * x).sum())
    return 1.0 if x.size == 0 or s2 == 0 else float(x.sum() ** 2 / (x.size * s2))


def _seg_jain(seg: NDArray[np.int64], x: NDArray[np.float64], n_seg: int) -> NDArray[np.float64]:
    n = np.bincount(seg, minlength=n_seg)
    s1 = np.bincount(seg, weights=x, minlength=n_seg)
    s2 = np.bincount(seg, weights=x * x, minlength=n_seg)
    return np.where(s2 > 0, s1**2 / np.maximum(n * s2, 1e-300), 1.0)


def compute_kpis(
    w: WindowCounters,
    ue_slice: NDArray[np.int8],
    ue_sla_rate_bps: NDArray[np.float64],
    sla: SlaTable,
    tti_ms: float,
) -> SliceKpis:
    """KPIs of a window, grouping UEs by their serving DU at the end of the window."""
    n_du, n_seg = w.n_du, w.n_du * _L
    shape = (n_du, _L)
    window_s = max(w.ttis, 1) * tti_ms * 1e-3
    seg = w.serving.astype(np.int64) * _L + ue_slice
    cnt = np.bincount(seg, minlength=n_seg)
    has = cnt > 0
    safe = np.maximum(cnt, 1)

    def seg_mean(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.where(has, np.bincount(seg, weights=x, minlength=n_seg) / safe, np.nan)

    thr = w.delivered_bits / window_s / 1e6  # Mbit/s per UE
    tmin = np.full(n_seg, np.inf)
    tmax = np.full(n_seg, -np.inf)
    np.minimum.at(tmin, seg, thr)
    np.maximum.at(tmax, seg, thr)
    served = (w.delivered_bits / window_s >= ue_sla_rate_bps) | (w.backlog_bits <= 0)
    served_frac = seg_mean(served.astype(np.float64))
    sum_thr = np.bincount(seg, weights=thr, minlength=n_seg)
    lat_max = np.zeros(n_seg)
    np.maximum.at(lat_max, seg, w.latency_max_ms)
    pk = np.bincount(seg, weights=w.delivered_packets, minlength=n_seg)
    dd = np.bincount(seg, weights=w.dropped_deadline, minlength=n_seg)
    do = np.bincount(seg, weights=w.dropped_overflow, minlength=n_seg)
    lat_sum = np.bincount(seg, weights=w.latency_sum_ms, minlength=n_seg)
    norm_thr = np.where(
        w.arrived_bits > 0, np.minimum(w.delivered_bits / np.maximum(w.arrived_bits, 1e-12), 1.0), 1.0
    )
    ttis = max(w.ttis, 1)

    r = lambda x: np.asarray(x, dtype=np.float64).reshape(shape)  # noqa: E731
    k = dict(
        throughput_mbps=r(seg_mean(thr)),
        throughput_min_mbps=r(np.where(has, tmin, np.nan)),
        throughput_max_mbps=r(np.where(has, tmax, np.nan)),
        capacity_mbps=r(seg_mean(w.capacity_bits / window_s / 1e6)),
        served_fraction=r(served_frac),
        density_capacity_mbps=r(np.where(has, served_frac * sum_thr, np.nan)),
        latency_max_ms=r(np.where(has, lat_max, np.nan)),
        latency_mean_ms=r(np.where(pk > 0, lat_sum / np.maximum(pk, 1), np.nan)),
        deadline_miss_rate=r(np.where(pk + dd > 0, dd / np.maximum(pk + dd, 1), 0.0)),
        loss_rate=r(np.where(pk + dd + do > 0, (dd + do) / np.maximum(pk + dd + do, 1), 0.0)),
        jain=r(_seg_jain(seg, norm_thr, n_seg)),
    )
    arrived_mbps = np.bincount(seg, weights=w.arrived_bits, minlength=n_seg) / window_s / 1e6
    qos, met = qos_from_aggregates(
        n_ues=r(cnt),
        throughput_mbps=k["throughput_mbps"],
        served_fraction=k["served_fraction"],
        density_capacity_mbps=k["density_capacity_mbps"],
        latency_max_ms=k["latency_max_ms"],
        deadline_drops=r(dd),
        arrived_mbps=r(arrived_mbps),
        sla=sla,
    )
    du_seg = w.serving.astype(np.int64)
    return SliceKpis(
        window_ms=w.ttis * tti_ms,
        n_ues=cnt.reshape(shape).astype(np.int64),
        rb_used=w.rb_used / ttis,
        rb_quota=w.rb_quota / ttis,
        kover_rbs=w.kover_rbs / ttis,
        qos=qos,
        sla_met=met,
        du_jain=_seg_jain(du_seg, norm_thr, n_du),
        du_throughput_mbps=np.bincount(du_seg, weights=thr, minlength=n_du).astype(np.float64),
        **k,
    )
