"""Fill the slicing contract's :class:`~slicing.window.KpiWindow` from the simulator's counters.

The training env and the E2 nodes both call :func:`kpi_window`, so the window an xApp decodes
from KPM is, up to unit conversions on the wire, the window the env observes in-process.
"""

from __future__ import annotations

import numpy as np

from e2sim.core import Simulator
from e2sim.counters import WindowCounters
from slicing import CellSpec, KpiWindow
from slicing import measurements as meas

__all__ = ["arrived_wire_of", "cell_spec", "delay_wire_of", "kpi_window"]


def arrived_wire_of(w: WindowCounters) -> np.ndarray:
    """(N,) arrived volume per UE in the wire's unit (Mbit)."""
    return np.asarray(meas.arrived_wire(w.arrived_bits * 1e-3), np.float64)


def delay_wire_of(w: WindowCounters) -> np.ndarray:
    """(N,) worst delay per UE in the wire's unit (0.1 ms)."""
    return np.asarray(meas.delay_wire(w.latency_max_ms.astype(np.float64)), np.float64)


def cell_spec(sim: Simulator) -> CellSpec:
    r = sim.radio
    return CellSpec(n_rbs=sim.n_rbs, rb_bandwidth_hz=r.rb_bandwidth_hz, tti_ms=r.tti_ms)


def kpi_window(w: WindowCounters, sim: Simulator) -> KpiWindow:
    """Every UE of the network, reported by the DU serving it at the end of window ``w``
    (collected just now: buffer and rate per PRB are read from the simulator's present state).

    UE ids are simulator indices + 1, as E2 carries them (``ric.ids.ue_id``). Values whose
    wire unit differs are held as decode(encode(x)) (:mod:`slicing.measurements`), so an xApp
    decoding this window from KPM gets the same floats."""
    ttis = w.ttis
    tti_ms = sim.radio.tti_ms
    per = 1.0 / max(ttis, 1)
    quota = w.rb_quota * per if ttis else sim.slice_rbs.astype(np.float64)
    return KpiWindow(
        n_du=sim.n_du,
        duration_ms=ttis * tti_ms,
        ue_id=np.arange(1, sim.n_ues + 1, dtype=np.int64),
        du=w.serving.astype(np.int64),
        slice=sim.ues.slice.astype(np.int64),
        delivered_kbit=w.delivered_bits * 1e-3,
        arrived_kbit=meas.arrived_kbit(arrived_wire_of(w)),
        delay_max_ms=meas.delay_ms(delay_wire_of(w)),
        deadline_drops=w.dropped_deadline.astype(np.int64),
        buffer_kbit=w.backlog_bits * 1e-3,
        rate_per_prb_kbps=np.asarray(sim.rate_est, np.float64) / tti_ms,
        prb_used=w.rbs * per,
        slice_prb_quota=np.asarray(quota, np.float64),
        slice_prb_used=w.rb_used * per,
        slice_prb_over=w.kover_rbs * per,
    )
