"""Control surface: validation with the state unchanged, over-budget handling, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from e2sim.core import ControlError, Simulator
from tests.sim.conftest import small_scenario


def state(sim: Simulator) -> bytes:
    controls = ("slice_rbs", "ue_rbs", "explicit", "ue_share", "weighted", "scheduler_pf", "slice_over_rbs")
    return pickle.dumps([getattr(sim, name) for name in controls])


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
        (lambda s: s.set_ue_shares([0, 99], [1.0, 1.0]), "out of range"),
        (lambda s: s.set_ue_shares([0], [np.nan]), "NaN"),
        (lambda s: s.set_share_allocation(-np.ones(18)), "negative"),
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


def _weighted_reference(
    sim: Simulator, ue: np.ndarray, quota: int, backlogged: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Loop reference of one TTI's share split among one slice's backlogged UEs."""
    w = np.array([sim.ue_share[u] if backlogged[u] else 0.0 for u in ue])
    if w.sum() <= 0:
        w = backlogged[ue].astype(float)
    exact = quota * w / w.sum()
    base = np.floor(exact).astype(int)
    return base, exact - base


def test_ue_shares_split_quota_among_ues_with_data_every_tti() -> None:
    sc = small_scenario(tasks={"t": {"embb": {"n_ues": 3, "rate_mbps": [50.0, 60.0]}}})
    sim = Simulator(sc, seed=0)
    sim.set_slice_rbs(np.tile([10, 1, 1], (3, 1)))
    shares = np.where(sim.ues.slice == 0, 0.0, 1.0)
    embb = np.flatnonzero((sim.ues.slice == 0) & (sim.serving == 0))
    assert len(embb) >= 2
    shares[embb] = np.arange(1, len(embb) + 1, dtype=float)  # 1 : 2 : 3 …
    sim.set_share_allocation(shares)
    sim.step(2)  # CBR at 50–60 Mbit/s: a packet arrives every TTI from now on
    for _ in range(20):
        sim.step(1)
        got = sim.last_allocation[embb]
        base, _ = _weighted_reference(sim, embb, 10, np.ones(sim.n_ues, bool))
        # Floor of the exact split plus at most one RB of the remainder, summing to the quota.
        assert ((got - base >= 0) & (got - base <= 1)).all(), (got, base)
        assert got.sum() == 10
    # Always backlogged, so the split is the shares' largest-remainder split of the quota
    # (1 : 2 : 3 of 10 → 2, 3, 5 for three UEs).
    assert sim._q_len[embb].min() > 0
    base, frac = _weighted_reference(sim, embb, 10, np.ones(sim.n_ues, bool))
    want = base.copy()
    want[np.argsort(-frac, kind="stable")[: 10 - base.sum()]] += 1
    np.testing.assert_array_equal(sim.last_allocation[embb], want)
    assert sim.collect().rb_used[0, 0] == 10 * 22
    assert sim.weighted.all() and not sim.explicit.any()
    sim.release_ue_control()
    assert not sim.weighted.any() and (sim.ue_share == 0).all()


def test_zero_shares_fall_back_to_an_equal_split() -> None:
    sc = small_scenario(tasks={"t": {"embb": {"n_ues": 3, "rate_mbps": [50.0, 60.0]}}})
    sim = Simulator(sc, seed=0)
    sim.set_slice_rbs(np.tile([9, 2, 1], (3, 1)))
    sim.set_share_allocation(np.zeros(sim.n_ues))
    sim.step(3)
    embb = np.flatnonzero((sim.ues.slice == 0) & (sim.serving == 0))
    got = sim.last_allocation[embb]
    assert got.sum() == 9 and got.max() - got.min() <= 1  # no RB idles; equal up to the remainder


def test_ue_shares_are_work_conserving_unlike_fixed_counts() -> None:
    """Sparse Poisson traffic: fixed per-UE counts waste RBs on empty queues and delay the
    others; shares hand the whole quota to whoever has data, so latency is lower."""
    sc = small_scenario(tasks={"t": {"urllc": {"n_ues": 6}}})

    def run(mode: str) -> float:
        sim = Simulator(sc, seed=3)
        sim.set_slice_rbs(np.tile([4, 2, 6], (3, 1)))
        if mode == "share":
            sim.set_share_allocation(np.ones(sim.n_ues))
        else:  # 1 RB per UE: the URLLC slice's 6 RBs, one per UE (2 per slice per DU on average)
            sim.set_allocation(np.ones(sim.n_ues, np.int64))
        sim.step(3000)
        w = sim.collect()
        u = sim.ues.slice == 2
        return float(w.latency_sum_ms[u].sum() / max(w.delivered_packets[u].sum(), 1))

    assert run("share") < run("fixed")


def test_pickle_from_before_ue_shares_still_loads() -> None:
    sim = Simulator(small_scenario(), seed=0)
    sim.step(5)
    state = pickle.loads(pickle.dumps(dict(sim.__dict__)))  # a deep copy of the state
    del state["ue_share"], state["weighted"]  # as pickled by a version without per-UE shares
    old = Simulator.__new__(Simulator)
    old.__setstate__(state)
    old.step(5)
    sim.step(5)
    np.testing.assert_array_equal(old.collect().delivered_bits, sim.collect().delivered_bits)


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
