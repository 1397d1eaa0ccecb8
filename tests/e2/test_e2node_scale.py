"""What lets the E2 nodes serve many DUs: reports on the period's grid, UEs grouped once per
window, and the node's CPU counted by phase."""

from __future__ import annotations

import numpy as np

from e2sim.e2node import _UeGroups
from ric import kpm
from ric.events import SubscriptionSucceeded
from ric.ids import ue_index
from tests.e2.test_e2node import NAMES, Harness

PRESENT = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))


def test_reports_fall_on_the_period_grid_whenever_the_subscription_came() -> None:
    """Outside lockstep a subscription made at TTI 3 first reports at TTI 10 (covering TTIs
    3-9), then every 10; one made at TTI 13 reports at TTI 20 with it — so every subscription
    of a period shares the simulator's window collections."""
    h = Harness()
    h.step(3)
    assert isinstance(h.subscribe(kpm.ue_condition_action(NAMES, 10, [PRESENT])), SubscriptionSucceeded)
    assert h.step(6) == []  # TTI 9
    (first,) = h.step(1)  # TTI 10
    assert isinstance(first, kpm.KpmIndicationFormat3)
    used = NAMES.index("RRU.PrbUsedDl")
    w = h.twin.collect()  # the twin's window since the subscription (TTIs 3-9)
    assert w.ttis == 7
    got = {ue_index(r.ue): r.report.data[0].records[used] for r in first.reports}
    want = {u: int(np.rint(w.rbs[u] / 7)) for u in got if u is not None}
    assert got == want  # the first window is the 7 TTIs since the subscription
    h.step(3)  # TTI 13
    assert isinstance(h.subscribe(kpm.node_level_action(["RRU.PrbUsedDl"], 10)), SubscriptionSucceeded)
    assert h.step(6) == []  # TTI 19
    assert len(h.step(1)) == 2  # TTI 20: both subscriptions report
    assert h.runner.sim.t == 20


def test_ue_groups_equal_a_scan_per_du_and_slice() -> None:
    rng = np.random.default_rng(4)
    n_du, n = 5, 400
    serving = rng.integers(0, n_du, n).astype(np.int32)
    serving[serving == 3] = 2  # a DU serving nobody
    ue_slice = rng.integers(0, 3, n).astype(np.int8)
    groups = _UeGroups.of(serving, ue_slice, n_du)
    for du in range(n_du):
        served = np.flatnonzero(serving == du)
        np.testing.assert_array_equal(groups.served(du), served)
        for sl in range(3):
            np.testing.assert_array_equal(groups.of_slice(du, sl), served[ue_slice[served] == sl])


def test_the_node_counts_its_cpu_by_phase() -> None:
    h = Harness()
    h.subscribe(kpm.ue_condition_action(NAMES, 10, [PRESENT]))
    h.step(100)
    cpu = h.runner.cpu
    assert cpu.step_s > 0 and cpu.reports_s > 0 and cpu.controls_s == 0
    stats = h.runner.stats()
    assert stats["cpu_step_s"] == round(cpu.step_s, 6) and stats["cpu_reports_s"] == round(cpu.reports_s, 6)
