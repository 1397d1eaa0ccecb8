"""eq. 5–7 and the normalised QoS against hand computations on a hand-made window."""

from __future__ import annotations

import numpy as np
import pytest

from e2sim.counters import WindowCounters
from e2sim.kpi import compute_kpis, jain, sla_table
from tests.sim.conftest import small_scenario


def hand_window() -> tuple[WindowCounters, np.ndarray, np.ndarray]:
    """One DU, 100 TTIs (0.1 s). UEs: 0,1 eMBB; 2,3,4 mMTC; 5,6 URLLC."""
    w = WindowCounters(n_ues=7, n_du=1, n_slices=3)
    w.ttis = 100
    w.serving[:] = 0
    ue_slice = np.array([0, 0, 1, 1, 1, 2, 2], np.int8)
    # eMBB: 0.6 and 0.3 Mbit delivered in 0.1 s → 6 and 3 Mbit/s.
    w.delivered_bits[:2] = [0.6e6, 0.3e6]
    w.arrived_bits[:2] = [0.8e6, 0.8e6]
    # mMTC: λ = 8 kbit/s → 800 bits in 0.1 s. UE 2 gets 1000 bits (served), UE 3 gets 500 bits
    # with an empty buffer (served: nothing waits), UE 4 gets 0 with 1000 bits waiting (not served).
    w.delivered_bits[2:5] = [1000, 500, 0]
    w.arrived_bits[2:5] = [1000, 500, 1000]
    w.backlog_bits[2:5] = [0, 0, 1000]
    # URLLC: delivered packet latencies: UE 5 max 3 ms, UE 6 max 4 ms; no drops.
    w.latency_max_ms[5:7] = [3.0, 4.0]
    w.latency_sum_ms[5:7] = [10.0, 12.0]
    w.delivered_packets[5:7] = [5, 4]
    w.delivered_bits[5:7] = [2560, 2048]
    w.arrived_bits[5:7] = [2560, 2048]
    sla_rate = np.array([0, 0, 8e3, 8e3, 8e3, 0, 0])
    return w, ue_slice, sla_rate


def test_eq5_to_7_by_hand() -> None:
    sc = small_scenario(n_du=1)
    w, ue_slice, sla_rate = hand_window()
    k = compute_kpis(w, ue_slice, sla_rate, sla_table(sc), tti_ms=1.0)
    # eq. 5: mean of 6 and 3 Mbit/s.
    assert k.throughput_mbps[0, 0] == pytest.approx(4.5)
    assert k.throughput_min_mbps[0, 0] == pytest.approx(3.0)
    assert k.throughput_max_mbps[0, 0] == pytest.approx(6.0)
    # eq. 6: 2 of 3 devices served × Σ C_i = (2/3) × (10 + 5 + 0) kbit/s.
    assert k.served_fraction[0, 1] == pytest.approx(2 / 3)
    assert k.density_capacity_mbps[0, 1] == pytest.approx(2 / 3 * 0.015)
    # eq. 7: max latency over URLLC UEs; mean over packets = 22 ms / 9.
    assert k.latency_max_ms[0, 2] == pytest.approx(4.0)
    assert k.latency_mean_ms[0, 2] == pytest.approx(22 / 9)
    # QoS: eMBB target = min(SLA 5, offered 8) → 4.5/5; URLLC 4 ms ≤ 5 ms SLA → 1;
    # mMTC: served fraction 2/3 × min(1, 15 kbit/s / min(24, 25 kbit/s)) = 2/3 × 15/24.
    assert k.qos[0, 0] == pytest.approx(0.9)
    assert k.qos[0, 1] == pytest.approx(2 / 3 * 15 / 24)
    assert k.qos[0, 2] == pytest.approx(1.0)
    assert not k.sla_met[0, 0] and not k.sla_met[0, 1] and k.sla_met[0, 2]


def test_urllc_qos_falls_linearly_to_deadline_and_counts_drops() -> None:
    sc = small_scenario(n_du=1)  # URLLC SLA 5 ms, deadline 10 ms
    w, ue_slice, sla_rate = hand_window()
    w.latency_max_ms[6] = 7.5
    k = compute_kpis(w, ue_slice, sla_rate, sla_table(sc), tti_ms=1.0)
    assert k.qos[0, 2] == pytest.approx(0.5)
    w.dropped_deadline[5] = 1
    k = compute_kpis(w, ue_slice, sla_rate, sla_table(sc), tti_ms=1.0)
    assert k.qos[0, 2] == pytest.approx(0.0)
    assert k.deadline_miss_rate[0, 2] == pytest.approx(1 / 10)


def test_jain_index() -> None:
    assert jain(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert jain(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(0.25)
    assert jain(np.array([1.0, 2.0])) == pytest.approx(9 / 10)


def test_window_merge_adds_and_takes_max() -> None:
    a, _, _ = hand_window()
    b, _, _ = hand_window()
    b.latency_max_ms[5] = 9.0
    m = a.merged(b)
    assert m.ttis == 200
    np.testing.assert_allclose(m.delivered_bits, 2 * a.delivered_bits)
    assert m.latency_max_ms[5] == 9.0 and m.latency_max_ms[6] == 4.0
