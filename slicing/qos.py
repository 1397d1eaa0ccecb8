"""Slice KPIs and SLA-normalised QoS of a window (paper eq. 5–7; definitions in ``e2sim.kpi``).

:func:`qos_from_aggregates` is the one implementation of the per-slice QoS normalisation; the
simulator's full KPI report (``e2sim.kpi.compute_kpis``) and :func:`window_qos` (what the
agents are rewarded with, from a :class:`~slicing.window.KpiWindow`) both call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from slicing.slices import EMBB, MMTC, N_SLICES, URLLC, SlaTable
from slicing.window import KpiWindow

__all__ = ["WindowQos", "qos_from_aggregates", "window_qos"]


@dataclass(frozen=True)
class WindowQos:
    """Per (DU, slice) figures of one window; every array is (n_du, 3)."""

    n_ues: NDArray[np.int64]
    throughput_mbps: NDArray[np.float64]  # mean UE throughput (NaN without UEs)
    throughput_min_mbps: NDArray[np.float64]
    throughput_max_mbps: NDArray[np.float64]
    latency_max_ms: NDArray[np.float64]  # worst delay of a delivered packet (NaN without UEs)
    deadline_drops: NDArray[np.int64]
    qos: NDArray[np.float64]  # SLA-normalised, in [0, 1]
    sla_met: NDArray[np.bool_]
    kover_rbs: NDArray[np.float64]  # mean K_over per TTI
    prb_quota: NDArray[np.float64]
    prb_used: NDArray[np.float64]


def qos_from_aggregates(
    *,
    n_ues: NDArray[np.float64],
    throughput_mbps: NDArray[np.float64],
    served_fraction: NDArray[np.float64],
    density_capacity_mbps: NDArray[np.float64],
    latency_max_ms: NDArray[np.float64],
    deadline_drops: NDArray[np.float64],
    arrived_mbps: NDArray[np.float64],
    sla: SlaTable,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """QoS in [0, 1] and SLA met, per (DU, slice), from the slice aggregates of a window."""
    e, m, u = EMBB, MMTC, URLLC
    cnt = n_ues
    qos = np.ones_like(cnt, dtype=np.float64)
    met = np.ones_like(cnt, dtype=bool)
    has = cnt > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        thr = throughput_mbps[:, e]
        # The SLA cannot ask for more than the UEs offered: target = min(SLA, mean arrived rate).
        target = np.minimum(sla.throughput_mbps[:, e], arrived_mbps[:, e] / np.maximum(cnt[:, e], 1))
        qos[:, e] = np.where(has[:, e] & (target > 0), np.minimum(1.0, thr / target), 1.0)
        # Met when within 5 % of the target (queueing shifts a little traffic across windows).
        met[:, e] = ~has[:, e] | (thr >= 0.95 * target)
        need = np.minimum(cnt[:, m] * sla.rate_kbps[:, m] * 1e-3, arrived_mbps[:, m])  # Mbit/s
        d_s = density_capacity_mbps[:, m]
        frac = served_fraction[:, m]
        cap_term = np.where(need > 0, np.minimum(1.0, d_s / np.maximum(frac * need, 1e-12)), 1.0)
        qos[:, m] = np.where(has[:, m], frac * cap_term, 1.0)
        met[:, m] = ~has[:, m] | (served_fraction[:, m] >= 1.0)
        lat_d = np.nan_to_num(latency_max_ms[:, u])
        lat = np.where(deadline_drops[:, u] > 0, sla.deadline_ms[:, u], lat_d)
        lat = np.maximum(lat, lat_d)
        span = sla.deadline_ms[:, u] - sla.latency_ms[:, u]
        q_u = np.clip((sla.deadline_ms[:, u] - lat) / np.maximum(span, 1e-9), 0.0, 1.0)
        qos[:, u] = np.where(has[:, u], q_u, 1.0)
        met[:, u] = ~has[:, u] | (lat <= sla.latency_ms[:, u])
    return np.nan_to_num(qos, nan=1.0), met


def window_qos(w: KpiWindow, sla: SlaTable, min_duration_ms: float) -> WindowQos:
    """Slice figures of a window. Throughput is delivered volume over the window's duration
    (at least ``min_duration_ms``, one TTI, so an empty first window reads as zero)."""
    if sla.n_du != w.n_du:
        raise ValueError(f"SLA table for {sla.n_du} DUs, window of {w.n_du}")
    n_seg = w.n_du * N_SLICES
    shape = (w.n_du, N_SLICES)
    seg = w.seg
    dur = max(w.duration_ms, min_duration_ms)
    cnt = np.bincount(seg, minlength=n_seg)
    has = cnt > 0
    thr = w.delivered_kbit / dur  # kbit/ms = Mbit/s
    sum_thr = np.bincount(seg, weights=thr, minlength=n_seg)
    tmin = np.full(n_seg, np.inf)
    tmax = np.full(n_seg, -np.inf)
    np.minimum.at(tmin, seg, thr)
    np.maximum.at(tmax, seg, thr)
    lam_kbps = np.nan_to_num(sla.rate_kbps).ravel()[seg]
    served = (thr * 1e3 >= lam_kbps) | (w.buffer_kbit <= 0)
    n_served = np.bincount(seg, weights=served, minlength=n_seg)
    served_frac = np.where(has, n_served / np.maximum(cnt, 1), np.nan)
    lat_max = np.zeros(n_seg)
    np.maximum.at(lat_max, seg, w.delay_max_ms)
    drops = np.bincount(seg, weights=w.deadline_drops, minlength=n_seg)
    arrived = np.bincount(seg, weights=w.arrived_kbit, minlength=n_seg) / dur

    def r(x: NDArray[Any]) -> NDArray[np.float64]:
        return np.asarray(x, np.float64).reshape(shape)

    mean_thr = r(np.where(has, sum_thr / np.maximum(cnt, 1), np.nan))
    qos, met = qos_from_aggregates(
        n_ues=r(cnt),
        throughput_mbps=mean_thr,
        served_fraction=r(served_frac),
        density_capacity_mbps=r(np.where(has, served_frac * sum_thr, np.nan)),
        latency_max_ms=r(np.where(has, lat_max, np.nan)),
        deadline_drops=r(drops),
        arrived_mbps=r(arrived),
        sla=sla,
    )
    return WindowQos(
        n_ues=cnt.reshape(shape).astype(np.int64),
        throughput_mbps=mean_thr,
        throughput_min_mbps=r(np.where(has, tmin, np.nan)),
        throughput_max_mbps=r(np.where(has, tmax, np.nan)),
        latency_max_ms=r(np.where(has, lat_max, np.nan)),
        deadline_drops=drops.reshape(shape).astype(np.int64),
        qos=qos,
        sla_met=met,
        kover_rbs=w.slice_prb_over.copy(),
        prb_quota=w.slice_prb_quota.copy(),
        prb_used=w.slice_prb_used.copy(),
    )
