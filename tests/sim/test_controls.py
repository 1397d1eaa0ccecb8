"""Control surface: validation with the state unchanged, over-budget handling, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from e2sim.core import ControlError, Simulator
from tests.sim.conftest import small_scenario


def state(sim: Simulator) -> bytes:
    return pickle.dumps((sim.slice_rbs, sim.ue_rbs, sim.explicit, sim.scheduler_pf, sim.slice_over_rbs))


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda s: s.set_slice_rbs(np.ones((2, 3))), "expected shape (3, 3)"),
        (lambda s: s.set_slice_rbs(-np.ones((3, 3))), "negative"),
        (lambda s: s.set_slice_rbs(np.full((3, 3), np.nan)), "NaN"),
        (lambda s: s.set_slice_rbs(np.full((3, 3), 1.5)), "integers"),
        (lambda s: s.set_slice_rbs([["a", "b", "c"]] * 3), "not numeric"),
        (lambda s: s.set_slice_shares(np.zeros((3, 3))), "positive sum"),
        (lambda s: s.set_allocation(np.ones(5)), "expected shape (18,)"),
        (lambda s: s.set_allocation(np.r_[np.ones(17), -1]), "negative"),
        (lambda s: s.set_ue_rbs([0, 99], [1, 1]), "out of range"),
        (lambda s: s.set_ue_rbs([0, 0], [1, 1]), "duplicates"),
        (lambda s: s.set_ue_rbs([0.5], [1]), "integer"),
        (lambda s: s.set_scheduler("fifo"), "'rr' or 'pf'"),  # type: ignore[arg-type]
        (lambda s: s.set_slice_rbs(np.ones((1, 3)), dus=[7]), "DU indices"),
    ],
)
def test_bad_control_rejected_state_unchanged(call, needle: str) -> None:
    sim = Simulator(small_scenario(), seed=0)
    ref = Simulator(small_scenario(), seed=0)
    before = state(sim)
    with pytest.raises(ControlError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        call(sim)
    assert state(sim) == before
    sim.step(50)
    ref.step(50)
    np.testing.assert_array_equal(sim.collect().delivered_bits, ref.collect().delivered_bits)


def test_slice_quota_over_k_is_scaled_and_counted() -> None:
    sim = Simulator(small_scenario(), seed=0)
    sim.set_slice_rbs([[12, 6, 6], [4, 4, 4], [0, 0, 0]])
    np.testing.assert_array_equal(sim.slice_rbs.sum(1), [12, 12, 0])
    np.testing.assert_array_equal(sim.slice_rbs[0], [6, 3, 3])
    np.testing.assert_array_equal(sim.slice_over_rbs, [12, 0, 0])


def test_ue_allocation_over_slice_budget_is_k_over() -> None:
    sim = Simulator(small_scenario(), seed=0)
    sim.set_slice_rbs(np.full((3, 3), 4))
    sim.set_allocation(np.full(sim.n_ues, 3))  # 2 UEs × 3 = 6 > 4 where a slice has 2 UEs
    sim.step(10)
    w = sim.collect()
    seg_n = np.bincount(sim._seg, minlength=9).reshape(3, 3)
    want_over = np.maximum(seg_n * 3 - 4, 0) * 10
    np.testing.assert_array_equal(w.kover_rbs, want_over)
    # Granted RBs never exceed the quota, and the whole quota is used when over.
    used = w.rb_used / 10
    assert (used <= 4).all()
    assert (used[want_over > 0] == 4).all()


def test_builtin_schedulers_fill_quota_for_backlogged_ues() -> None:
    for kind in ("rr", "pf"):
        sim = Simulator(
            small_scenario(tasks={"t": {"embb": {"n_ues": 2, "rate_mbps": [50.0, 60.0]}}}), seed=0
        )
        sim.set_scheduler(kind)  # type: ignore[arg-type]
        sim.set_slice_rbs(np.tile([8, 2, 2], (3, 1)))
        sim.step(200)
        w = sim.collect()
        # eMBB offers far more than 8 RBs carry: the whole eMBB quota is used on every DU
        # that has eMBB UEs, by both schedulers.
        has = np.bincount(sim._seg, minlength=9).reshape(3, 3)[:, 0] > 0
        assert (w.rb_used[has, 0] == 8 * 200).all(), kind


def test_same_seed_same_trajectory_and_seed_matters() -> None:
    def run(seed: int) -> np.ndarray:
        sim = Simulator(small_scenario(), seed=seed)
        sim.step(300)
        w = sim.collect()
        return np.concatenate([w.delivered_bits, w.latency_sum_ms, sim.positions.ravel()])

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.array_equal(run(4), run(5))


def test_latency_and_deadline_drops() -> None:
    # One URLLC UE with plenty of RBs: every packet is delivered in the TTI it arrives (1 ms).
    sc = small_scenario(
        n_du=1, tasks={"t": {"embb": {"n_ues": 0}, "mmtc": {"n_ues": 0}, "urllc": {"n_ues": 1}}}
    )
    sim = Simulator(sc, seed=0)
    sim.set_slice_rbs([[0, 0, 12]])
    sim.step(2000)
    w = sim.collect()
    assert w.delivered_packets[0] > 300  # 200 packets/s
    assert w.latency_max_ms[0] == 1.0
    assert w.latency_sum_ms[0] == pytest.approx(w.delivered_packets[0] * 1.0)
    # No RBs: every packet waits until its 10 ms deadline and is dropped.
    sim.set_slice_rbs([[12, 0, 0]])
    sim.step(2000)
    w = sim.collect()
    assert w.delivered_packets[0] == 0
    assert w.dropped_deadline[0] > 300
    assert (sim.queue_bits <= 10 * 512).all()  # at most the last 10 ms of arrivals wait
