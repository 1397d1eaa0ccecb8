"""Per-UE and per-(DU, slice) counters accumulated over a reporting window.

The simulator fills one :class:`WindowCounters` per window; windows can be merged (the high-level
agent's 100 ms window is the merge of ten 10 ms low-level windows), and KPIs are a pure function
of a window (:mod:`e2sim.kpi`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["WindowCounters"]

_F = np.float64
_I = np.int64


@dataclass
class WindowCounters:
    """What happened during a window of ``ttis`` TTIs. Arrays are per UE (N,) or per (DU, slice)."""

    n_ues: int
    n_du: int
    n_slices: int
    ttis: int = 0
    delivered_bits: np.ndarray = field(init=False)  # bits delivered to the UE (served from its queue)
    capacity_bits: np.ndarray = field(init=False)  # eq. 1 achievable bits on the UE's RBs
    arrived_bits: np.ndarray = field(init=False)  # offered traffic that arrived
    rbs: np.ndarray = field(init=False)  # RB·TTIs allocated to the UE
    latency_sum_ms: np.ndarray = field(init=False)  # sum of latencies of delivered packets
    latency_max_ms: np.ndarray = field(init=False)  # max latency of a delivered packet
    delivered_packets: np.ndarray = field(init=False)
    dropped_deadline: np.ndarray = field(init=False)  # packets dropped for exceeding the deadline
    dropped_overflow: np.ndarray = field(init=False)  # packets dropped at a full buffer
    backlog_bits: np.ndarray = field(init=False)  # queue content at the end of the window
    serving: np.ndarray = field(init=False)  # serving DU at the end of the window
    kover_rbs: np.ndarray = field(init=False)  # (DU, slice): Σ_TTI max(0, requested − quota)
    rb_used: np.ndarray = field(init=False)  # (DU, slice): Σ_TTI RBs used
    rb_quota: np.ndarray = field(init=False)  # (DU, slice): Σ_TTI RB quota in force
    handovers: int = 0

    def __post_init__(self) -> None:
        n, shape = self.n_ues, (self.n_du, self.n_slices)
        self.delivered_bits = np.zeros(n, _F)
        self.capacity_bits = np.zeros(n, _F)
        self.arrived_bits = np.zeros(n, _F)
        self.rbs = np.zeros(n, _I)
        self.latency_sum_ms = np.zeros(n, _F)
        self.latency_max_ms = np.zeros(n, _F)
        self.delivered_packets = np.zeros(n, _I)
        self.dropped_deadline = np.zeros(n, _I)
        self.dropped_overflow = np.zeros(n, _I)
        self.backlog_bits = np.zeros(n, _F)
        self.serving = np.zeros(n, np.int32)
        self.kover_rbs = np.zeros(shape, _I)
        self.rb_used = np.zeros(shape, _I)
        self.rb_quota = np.zeros(shape, _I)

    def merged(self, later: WindowCounters) -> WindowCounters:
        """The window made of this one followed by ``later`` (snapshots taken from ``later``)."""
        if (later.n_ues, later.n_du, later.n_slices) != (self.n_ues, self.n_du, self.n_slices):
            raise ValueError("cannot merge windows of different simulators")
        out = WindowCounters.__new__(WindowCounters)  # every field set below: no zeros to fill
        out.n_ues, out.n_du, out.n_slices = self.n_ues, self.n_du, self.n_slices
        out.ttis = self.ttis + later.ttis
        for name in (
            "delivered_bits",
            "capacity_bits",
            "arrived_bits",
            "rbs",
            "latency_sum_ms",
            "delivered_packets",
            "dropped_deadline",
            "dropped_overflow",
            "kover_rbs",
            "rb_used",
            "rb_quota",
        ):
            setattr(out, name, getattr(self, name) + getattr(later, name))
        out.latency_max_ms = np.maximum(self.latency_max_ms, later.latency_max_ms)
        out.backlog_bits = later.backlog_bits.copy()
        out.serving = later.serving.copy()
        out.handovers = self.handovers + later.handovers
        return out
