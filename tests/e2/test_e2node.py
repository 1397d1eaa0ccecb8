"""The simulator's E2 node service logic (KPM reports, RC controls), over an in-memory link."""

from __future__ import annotations

import numpy as np
import pytest

from e2sim.core import Simulator
from e2sim.e2node import DuNode, E2SimConfig, E2SimNodes, slice_snssais
from ric import e2ap, kpm, rc
from ric.cause import Cause, CauseRicRequest
from ric.e2ap import RicActionToBeSetup, RicActionType, RicControlRequest, RicRequestId, decode_e2ap
from ric.e2sm_common import GnbDuUeId, Snssai, UeId
from ric.events import (
    ControlAcknowledged,
    ControlFailed,
    IndicationReceived,
    SubscriptionFailed,
    SubscriptionRequested,
    SubscriptionSucceeded,
)
from ric.ids import SLICE_LEVEL_UE, ue_id, ue_index
from ric.link import NodeLink
from ric.plmn import Plmn
from tests.e2.conftest import PLMN, LinkPair, run_async
from tests.ric.conftest import vector
from tests.sim.conftest import small_scenario

NAMES = tuple(kpm.MEASUREMENTS)
SEED = 3


class FakeClient:
    """What DuNode needs of an E2NodeClient, over an in-memory NodeLink."""

    def __init__(self, link: NodeLink) -> None:
        self.link = link

    def now(self) -> float:
        return 0.0

    def send_indication(
        self, request_id: RicRequestId, action_id: int, header: bytes, message: bytes
    ) -> int | None:
        return self.link.send_indication(request_id, action_id, header, message, 0.0)


class Harness:
    """A simulator (3 DUs × 6 UEs, K = 12), DU 0's E2 node and a RIC link, plus a twin
    simulator stepped in lockstep to compute the expected measurements independently."""

    def __init__(self) -> None:
        scenario = small_scenario()
        self.sim = Simulator(scenario, seed=SEED)
        self.twin = Simulator(scenario, seed=SEED)
        self.runner = E2SimNodes(self.sim, E2SimConfig())
        self.pair = LinkPair()
        self.pair.setup()
        self.node: DuNode = self.runner.nodes[0]
        self.node.client = FakeClient(self.pair.node)  # type: ignore[assignment]
        self.snssais = slice_snssais(scenario.slice_sd)

    def subscribe(self, action: kpm.KpmActionDefinition | bytes, period_ms: int = 10) -> object:
        definition = action if isinstance(action, bytes) else kpm.encode_action_definition(action)
        trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(period_ms))
        self.pair.ric.subscribe(2, trigger, (RicActionToBeSetup(1, RicActionType.REPORT, definition),), 0.0)
        self.deliver_requests()
        (answer,) = self.pair.ric_events()
        return answer

    def deliver_requests(self) -> None:
        self.pair.pump()
        for ev in self.pair.node_events():
            assert isinstance(ev, SubscriptionRequested)
            self.node.subscription_requested(self.node.client, ev.request)  # type: ignore[arg-type]
            self.twin.collect()  # the node starts the subscription's window here
        self.pair.pump()

    def step(self, ttis: int) -> list[kpm.KpmIndicationMessage]:
        out = []
        for _ in range(ttis):
            self.runner.tick()
            self.twin.step(1)
        self.pair.pump()
        for ev in self.pair.ric_events():
            assert isinstance(ev, IndicationReceived)
            kpm.decode_indication_header(ev.indication.header)
            out.append(kpm.decode_indication_message(ev.indication.message))
        return out

    def control(self, quotas: list[rc.SlicePrbQuota], ue: UeId = SLICE_LEVEL_UE) -> tuple[bool, Cause | None]:
        header = rc.encode_control_header(rc.slice_prb_quota_header(ue))
        return self.raw_control(header, rc.encode_slice_prb_quota(quotas))

    def raw_control(self, header: bytes, message: bytes) -> tuple[bool, Cause | None]:
        self.pair.ric.control(3, header, message, 0.0)
        self.pair.pump()
        for ev in self.pair.node_events():
            self.node.control_requested(self.node.client, ev.request)  # type: ignore[arg-type, union-attr]
        self.pair.pump()
        (outcome,) = self.pair.ric_events()
        if isinstance(outcome, ControlAcknowledged):
            return True, None
        assert isinstance(outcome, ControlFailed)
        return False, outcome.failure.cause


@pytest.fixture
def h() -> Harness:
    return Harness()


def _quota(sst: int, sd: int | None, ratio: int, plmn: Plmn = PLMN) -> rc.SlicePrbQuota:
    return rc.SlicePrbQuota(plmn, sst, sd, 0, ratio, 0)


# ---------------------------------------------------------------------------------------- KPM


def test_ue_level_reports_match_the_simulator_window(h: Harness) -> None:
    cond = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))
    assert isinstance(h.subscribe(kpm.ue_condition_action(NAMES, 10, [cond])), SubscriptionSucceeded)
    assert h.step(9) == []
    (msg,) = h.step(1)
    w = h.twin.collect()
    assert isinstance(msg, kpm.KpmIndicationFormat3)
    served = np.flatnonzero(w.serving == 0)
    assert [r.ue for r in msg.reports] == [ue_id(int(u)) for u in served]
    quota = w.rb_quota[0] / w.ttis
    for report, u in zip(msg.reports, served, strict=True):
        values = report.report.as_dict()
        assert values[(kpm.DRB_UE_THP_DL.name, kpm.NO_LABEL)] == round(w.delivered_bits[u] / 10)  # kbit/s
        assert values[(kpm.RRU_PRB_USED_DL.name, kpm.NO_LABEL)] == round(w.rbs[u] / 10)
        assert values[(kpm.RRU_PRB_AVAIL_DL.name, kpm.NO_LABEL)] == round(quota[h.sim.ues.slice[u]])
        delay = values[(kpm.DRB_RLC_SDU_DELAY_DL.name, kpm.NO_LABEL)]
        if w.delivered_packets[u]:
            assert delay == pytest.approx(w.latency_sum_ms[u] / w.delivered_packets[u] * 10)  # 0.1 ms
        else:
            assert delay is None
        drop = values[(kpm.DRB_RLC_PACKET_DROP_RATE_DL.name, kpm.NO_LABEL)]
        assert isinstance(drop, float) and 0.0 <= drop <= 1.0
    assert h.step(10)  # and every period after


def test_node_level_report_per_slice(h: Harness) -> None:
    action = kpm.node_level_action([kpm.RRU_PRB_USED_DL.name, kpm.RRU_PRB_AVAIL_DL.name], 20, h.snssais)
    h.subscribe(action, period_ms=20)
    (msg,) = h.step(20)
    w = h.twin.collect()
    assert isinstance(msg, kpm.KpmIndicationFormat1)
    values = msg.as_dict()
    for s, snssai in enumerate(h.snssais):
        label = kpm.MeasLabel(slice_id=snssai)
        assert values[(kpm.RRU_PRB_USED_DL.name, label)] == round(w.rb_used[0, s] / 20)
        assert values[(kpm.RRU_PRB_AVAIL_DL.name, label)] == round(w.rb_quota[0, s] / 20)


def test_explicit_ue_list_reports_only_this_dus_ues(h: Harness) -> None:
    ours = int(np.flatnonzero(h.sim.serving == 0)[0])
    other = int(np.flatnonzero(h.sim.serving == 1)[0])
    h.subscribe(kpm.ue_list_action(NAMES, 10, [ue_id(ours), ue_id(other)]))
    (msg,) = h.step(10)
    assert isinstance(msg, kpm.KpmIndicationFormat3)
    assert [r.ue for r in msg.reports] == [ue_id(ours)]


def test_kpimon_go_v0201_subscription_fails_with_a_cause(h: Harness) -> None:
    h.pair.node.receive_pdu(vector("e2ap_osc_kpimon_go_ric_subscription_request_capture"), 0.0)
    (ev,) = h.pair.node_events()
    assert isinstance(ev, SubscriptionRequested)
    h.node.subscription_requested(h.node.client, ev.request)  # type: ignore[arg-type]
    (answer,) = [decode_e2ap(p) for p in h.pair.node.data_to_send()]
    assert isinstance(answer, e2ap.RicSubscriptionFailure)
    assert answer.request_id == RicRequestId(123, 1)
    assert answer.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
    assert h.node.subscriptions == {}


@pytest.mark.parametrize(
    ("definition", "period", "cause"),
    [
        (kpm.node_level_action(["DRB.UEThpDl"], 10), 5, CauseRicRequest.EVENT_TRIGGER_NOT_SUPPORTED),
        (kpm.node_level_action(["CQI"], 10), 10, CauseRicRequest.ACTION_NOT_SUPPORTED),
        (
            kpm.ue_condition_action(
                ["DRB.UEThpDl"], 10, [kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.CQI))]
            ),
            10,
            CauseRicRequest.ACTION_NOT_SUPPORTED,
        ),
        (
            kpm.node_level_action(["DRB.UEThpDl"], 10, [Snssai(9, 9)]),
            10,
            CauseRicRequest.ACTION_NOT_SUPPORTED,
        ),
        (b"\x01\x02\x03", 10, CauseRicRequest.ACTION_NOT_SUPPORTED),
    ],
    ids=["period-below-10ms", "unknown-measurement", "cqi-condition", "unknown-slice", "garbage"],
)
def test_subscriptions_the_node_cannot_serve(
    h: Harness, definition: kpm.KpmActionDefinition | bytes, period: int, cause: Cause
) -> None:
    answer = h.subscribe(definition, period)
    assert isinstance(answer, SubscriptionFailed) and answer.failure.cause is cause


def test_partly_admitted_subscription(h: Harness) -> None:
    good = kpm.encode_action_definition(kpm.node_level_action(["RRU.PrbUsedDl"], 10))
    bad = kpm.encode_action_definition(kpm.node_level_action(["CQI"], 10))
    trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(10))
    actions = (
        RicActionToBeSetup(1, RicActionType.REPORT, good),
        RicActionToBeSetup(2, RicActionType.REPORT, bad),
    )
    h.pair.ric.subscribe(2, trigger, actions, 0.0)
    h.deliver_requests()
    (ok,) = h.pair.ric_events()
    assert isinstance(ok, SubscriptionSucceeded)
    assert ok.response.admitted == (1,)
    assert [(a.action_id, a.cause) for a in ok.response.not_admitted] == [
        (2, CauseRicRequest.ACTION_NOT_SUPPORTED)
    ]


def test_released_drops_every_subscription(h: Harness) -> None:
    h.subscribe(kpm.node_level_action(["RRU.PrbUsedDl"], 10))
    h.node.released(h.node.client, "test")  # type: ignore[arg-type]
    assert h.node.subscriptions == {} and h.step(20) == []


# ---------------------------------------------------------------------------------------- RC


def test_slice_level_quota_sets_the_dus_slice_budgets(h: Harness) -> None:
    quotas = [_quota(1, 1, 50), _quota(3, 2, 30), _quota(2, 3, 20)]  # eMBB, mMTC, URLLC
    assert h.control(quotas) == (True, None)
    assert h.sim.slice_rbs[0].tolist() == [6, 4, 2]  # round(ratio % × K), K = 12
    assert h.sim.slice_rbs[1].tolist() == [4, 4, 4]  # other DUs untouched
    assert h.control([_quota(1, None, 40)]) == (True, None)  # SD omitted: the SST selects
    assert h.sim.slice_rbs[0].tolist() == [5, 4, 2]
    assert h.control([_quota(2, 3, 50)]) == (True, None)  # 5 + 4 + 6 > K: the simulator scales down
    assert h.sim.slice_rbs[0].sum() == 12 and h.sim.slice_over_rbs[0] == 3


def test_per_ue_quota_sets_that_ues_share_of_its_slice(h: Harness) -> None:
    embb = np.flatnonzero((h.sim.serving == 0) & (h.sim.ues.slice == 0))
    assert len(embb) >= 2
    assert h.control([_quota(1, 1, 75)], ue=ue_id(int(embb[0]))) == (True, None)
    assert h.control([_quota(1, 1, 25)], ue=ue_id(int(embb[1]))) == (True, None)
    assert h.sim.ue_share[embb[0]] == 0.75 and h.sim.ue_share[embb[1]] == 0.25
    assert h.sim.weighted[0, 0] and not h.sim.explicit[0, 0]
    h.sim.collect()
    h.step(50)  # the slice's quota splits by the shares among the UEs with data
    got = h.sim.collect().rbs[embb]
    assert got[0] > got[1] > 0 and (got[2:] == 0).all()  # the rest of the slice has share 0


@pytest.mark.parametrize(
    ("quotas", "ue", "cause"),
    [
        ([_quota(9, 9, 10)], SLICE_LEVEL_UE, CauseRicRequest.CONTROL_MESSAGE_INVALID),  # unknown slice
        ([_quota(1, 1, 10, Plmn("123", "45"))], SLICE_LEVEL_UE, CauseRicRequest.CONTROL_MESSAGE_INVALID),
        ([rc.SlicePrbQuota(PLMN, 1, 1, 60, 40, 0)], SLICE_LEVEL_UE, CauseRicRequest.CONTROL_MESSAGE_INVALID),
        ([_quota(1, 1, 10)], GnbDuUeId(999), CauseRicRequest.CONTROL_MESSAGE_INVALID),  # unknown UE
        ([_quota(1, 1, 10), _quota(3, 2, 10)], "ours", CauseRicRequest.CONTROL_MESSAGE_INVALID),  # two rows
        ([_quota(2, 3, 10)], "ours", CauseRicRequest.CONTROL_MESSAGE_INVALID),  # not the UE's slice
        ([_quota(1, 1, 10)], "other", CauseRicRequest.CONTROL_FAILED_TO_EXECUTE),  # not served here
    ],
    ids=["unknown-slice", "other-plmn", "min-above-max", "unknown-ue", "two-rows", "wrong-slice", "other-du"],
)
def test_bad_controls_fail_with_a_cause(
    h: Harness, quotas: list[rc.SlicePrbQuota], ue: UeId | str, cause: Cause
) -> None:
    before = (h.sim.slice_rbs.copy(), h.sim.ue_rbs.copy())
    if isinstance(ue, str):
        du = 0 if ue == "ours" else 1
        ue = ue_id(int(np.flatnonzero((h.sim.serving == du) & (h.sim.ues.slice == 0))[0]))
    assert h.control(quotas, ue) == (False, cause)
    assert (h.sim.slice_rbs == before[0]).all() and (h.sim.ue_rbs == before[1]).all()


def test_controls_of_another_kind_or_undecodable(h: Harness) -> None:
    handover = rc.encode_control_header(rc.RcControlHeader(SLICE_LEVEL_UE, 3, 1))
    message = rc.encode_slice_prb_quota([_quota(1, 1, 10)])
    assert h.raw_control(handover, message) == (False, CauseRicRequest.ACTION_NOT_SUPPORTED)
    header = rc.encode_control_header(rc.slice_prb_quota_header(SLICE_LEVEL_UE))
    assert h.raw_control(header, b"\x00garbage") == (False, CauseRicRequest.CONTROL_MESSAGE_INVALID)


def test_srsran_slice_quota_request_is_understood(h: Harness) -> None:
    """srsRAN's captured control (slice level, PLMN 123/45) decodes; only the PLMN is foreign."""
    request = decode_e2ap(vector("e2ap_srsran_ric_control_request_slice_prb_quota"))
    assert isinstance(request, RicControlRequest)
    assert h.raw_control(request.header, request.message) == (False, CauseRicRequest.CONTROL_MESSAGE_INVALID)


# ---------------------------------------------------------------------------------------- pacing


def test_realtime_pacing_with_an_injected_clock() -> None:
    """--realtime: TTI t is simulated once the wall clock reaches t + 1 ms; a stall is caught up
    by running the late TTIs back to back (no sleep)."""
    sim = Simulator(small_scenario(), seed=0)
    now = [100.0]
    slept: list[float] = []

    def clock() -> float:
        return now[0] + (0.005 if sim.t >= 5 else 0.0)  # a 5 ms stall after TTI 5

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    runner = E2SimNodes(sim, E2SimConfig(realtime=True, duration_s=0.02), clock=clock, sleep=sleep)
    run_async(runner._step_loop())
    assert sim.t == 20
    real = [d for d in slept if d > 1e-9]  # (float rounding may leave ~1e-14 s "sleeps")
    assert len(real) == 15 and all(d == pytest.approx(0.001) for d in real)
    assert clock() == pytest.approx(100.020)


def test_a_ue_that_hands_over_is_reported_by_its_new_du(h: Harness) -> None:
    cond = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))
    h.subscribe(kpm.ue_condition_action(NAMES, 10, [cond]))
    (before,) = h.step(10)
    assert isinstance(before, kpm.KpmIndicationFormat3)
    for sim in (h.sim, h.twin):
        sim.set_du_active(1, False)  # DU 1's UEs hand over to DU 0 or DU 2
    moved = {int(u) for u in np.flatnonzero((h.sim.ues.home_du == 1) & (h.sim.serving == 0))}
    assert moved
    (after,) = h.step(10)
    assert isinstance(after, kpm.KpmIndicationFormat3)
    reported = {ue_index(r.ue) for r in after.reports}
    assert moved <= reported and not moved & {ue_index(r.ue) for r in before.reports}
