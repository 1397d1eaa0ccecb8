"""The sans-IO E2 links: an in-memory E2 node <-> RIC pair running every procedure."""

from __future__ import annotations

import pytest

from ric import e2ap
from ric.cause import CauseMisc, CauseProtocol, CauseRicRequest, CauseRicService
from ric.e2ap import (
    ErrorIndication,
    RicActionToBeSetup,
    RicActionType,
    RicControlAckRequest,
    RicControlRequest,
    RicRequestId,
    RicSubscriptionDeleteRequest,
    RicSubscriptionRequest,
    TimeToWait,
    decode_e2ap,
    encode_e2ap,
)
from ric.errors import LocalError
from ric.events import (
    ControlAcknowledged,
    ControlFailed,
    ControlRequested,
    ControlTimedOut,
    ErrorIndicationReceived,
    IndicationReceived,
    PeerProtocolError,
    ResetCompleted,
    ResetReceived,
    ResetTimedOut,
    SetupCompleted,
    SetupFailed,
    SetupRequested,
    SetupTimedOut,
    SubscriptionDeleted,
    SubscriptionFailed,
    SubscriptionRequested,
    SubscriptionSucceeded,
    SubscriptionTimedOut,
)
from ric.states import E2LocalStateError, LinkState
from tests.e2.conftest import LinkPair
from tests.ric.conftest import vector

ACTION = (RicActionToBeSetup(1, RicActionType.REPORT, b"\x01\x02"),)


def _subscribe(p: LinkPair) -> RicRequestId:
    rid = p.ric.subscribe(2, b"\x00\x09", ACTION, p.now)
    p.pump()
    (ev,) = p.node_events()
    assert isinstance(ev, SubscriptionRequested) and ev.request.request_id == rid
    p.node.accept_subscription(ev.request, [1], p.now)
    p.pump()
    (ok,) = p.ric_events()
    assert isinstance(ok, SubscriptionSucceeded) and ok.response.admitted == (1,)
    return rid


def _sent(p: LinkPair, tag: str) -> list[e2ap.E2apMessage]:
    return [decode_e2ap(pdu) for t, pdu in p.wire if t == tag]


def _last_error_indication(p: LinkPair, tag: str) -> ErrorIndication:
    last = _sent(p, tag)[-1]
    assert isinstance(last, ErrorIndication)
    return last


# ---------------------------------------------------------------------------------------- setup


def test_e2_setup(pair: LinkPair) -> None:
    tid = pair.node.start_setup(pair.now)
    assert pair.node.state is LinkState.SETUP_PENDING
    pair.pump()
    (req,) = pair.ric_events()
    assert isinstance(req, SetupRequested)
    assert [f.id for f in req.request.ran_functions] == [2, 3]
    assert pair.ric.name == "gnbd_001_001_000001_0"
    pair.ric.accept_setup([2, 3], pair.now)
    pair.pump()
    (done,) = pair.node_events()
    assert isinstance(done, SetupCompleted) and done.response.transaction_id == tid
    assert [f.id for f in done.response.accepted] == [2, 3]
    assert pair.node.state is pair.ric.state is LinkState.ESTABLISHED
    assert pair.node.next_timer() is None


def test_e2_setup_failure_then_retry(pair: LinkPair) -> None:
    first = pair.node.start_setup(pair.now)
    pair.pump()
    pair.ric_events()
    pair.ric.reject_setup(CauseRicService.RIC_RESOURCE_LIMIT, pair.now, TimeToWait.V1S)
    pair.pump()
    (failed,) = pair.node_events()
    assert isinstance(failed, SetupFailed)
    assert failed.failure.cause is CauseRicService.RIC_RESOURCE_LIMIT
    assert failed.failure.time_to_wait is TimeToWait.V1S
    assert pair.node.state is pair.ric.state is LinkState.IDLE
    second = pair.node.start_setup(pair.now)
    assert second != first
    pair.pump()
    pair.ric_events()
    pair.ric.accept_setup([2], pair.now)
    pair.pump()
    assert isinstance(pair.node_events()[0], SetupCompleted)


def test_e2_setup_timeout_with_injected_time(pair: LinkPair) -> None:
    pair.node.start_setup(pair.now)
    assert pair.node.next_timer() == pytest.approx(5.0)
    to_ric = pair.node.data_to_send()  # held back: the RIC answers late
    pair.advance(4.9)
    assert pair.node.events() == []
    pair.advance(0.2)
    (ev,) = pair.node_events()
    assert isinstance(ev, SetupTimedOut)
    assert pair.node.state is LinkState.IDLE
    assert pair.node.counters.timeouts["setup"] == 1
    # the late answer no longer matches any state: Error Indication naming the cause
    pair.ric.receive_pdu(to_ric[0], pair.now)
    pair.ric_events()
    pair.ric.accept_setup([2, 3], pair.now)
    pair.pump()
    (err,) = pair.node_events()
    assert isinstance(err, PeerProtocolError) and err.answer == "ErrorIndication"
    assert "E2 node in state idle cannot receive E2SetupResponse" in err.description
    assert (
        _last_error_indication(pair, "node->ric").cause
        is CauseProtocol.MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE
    )


def test_setup_response_with_wrong_transaction_id(pair: LinkPair) -> None:
    tid = pair.node.start_setup(pair.now)
    pair.node.data_to_send()
    ack = e2ap.E2NodeComponentConfigAck(pair.node.component_configs[0].component)
    wrong = e2ap.E2SetupResponse((tid + 1) % 256, e2ap.GlobalRicId(pair.node.node_id.plmn, 1), (ack,))
    pair.node.receive_pdu(encode_e2ap(wrong), pair.now)
    (err,) = pair.node_events()
    assert isinstance(err, PeerProtocolError) and "transaction ID" in err.description
    assert pair.node.state is LinkState.SETUP_PENDING  # still waiting for the right answer
    answer = decode_e2ap(pair.node.data_to_send()[0])
    assert isinstance(answer, ErrorIndication) and answer.transaction_id == wrong.transaction_id


# ---------------------------------------------------------------------------------------- subscriptions


def test_subscription_indications_and_delete(up: LinkPair) -> None:
    rid = _subscribe(up)
    assert rid == RicRequestId(42, 1)
    assert up.ric.active_subscriptions() == {rid: 2} == up.node.active_subscriptions()
    sns = [up.node.send_indication(rid, 1, b"hdr", b"msg", up.now) for _ in range(3)]
    up.pump()
    events = up.ric_events()
    assert sns == [0, 1, 2]
    assert [e.indication.sn for e in events if isinstance(e, IndicationReceived)] == [0, 1, 2]
    up.ric.delete_subscription(rid, up.now)
    up.pump()
    (node_ev,) = up.node_events()
    (ric_ev,) = up.ric_events()
    assert isinstance(node_ev, SubscriptionDeleted) and node_ev.request_id == rid
    assert isinstance(ric_ev, SubscriptionDeleted) and ric_ev.request_id == rid
    assert up.ric.active_subscriptions() == {} == up.node.active_subscriptions()
    with pytest.raises(E2LocalStateError, match="cannot send RicIndication"):
        up.node.send_indication(rid, 1, b"hdr", b"msg", up.now)


def test_request_ids_are_allocated_per_kind(up: LinkPair) -> None:
    a, b = _subscribe(up), _subscribe(up)
    control = up.ric.control(3, b"h", b"m", up.now)
    assert (a, b, control) == (RicRequestId(42, 1), RicRequestId(42, 2), RicRequestId(42, 1))


def test_subscription_refused_by_the_node(up: LinkPair) -> None:
    rid = up.ric.subscribe(2, b"\x00\x09", ACTION, up.now)
    up.pump()
    (ev,) = up.node_events()
    assert isinstance(ev, SubscriptionRequested)
    up.node.reject_subscription(ev.request, CauseRicRequest.ACTION_NOT_SUPPORTED, up.now)
    up.pump()
    (failed,) = up.ric_events()
    assert isinstance(failed, SubscriptionFailed)
    assert failed.failure.request_id == rid and failed.failure.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
    assert up.ric.active_subscriptions() == {}


def test_subscription_timeout_and_late_answer(up: LinkPair) -> None:
    rid = up.ric.subscribe(2, b"\x00\x09", ACTION, up.now)
    up.pump()
    (ev,) = up.node_events()
    up.advance(5.01)
    (timed_out,) = up.ric_events()
    assert isinstance(timed_out, SubscriptionTimedOut) and timed_out.request_id == rid
    assert isinstance(ev, SubscriptionRequested)
    up.node.accept_subscription(ev.request, [1], up.now)
    up.pump()
    (late,) = up.ric_events()
    assert isinstance(late, PeerProtocolError) and late.cause is CauseRicRequest.REQUEST_ID_UNKNOWN
    assert _last_error_indication(up, "ric->node").request_id == rid


def test_duplicate_subscription_request_is_refused(up: LinkPair) -> None:
    rid = _subscribe(up)
    dup = RicSubscriptionRequest(rid, 2, b"\x00\x09", ACTION)
    up.node.receive_pdu(encode_e2ap(dup), up.now)
    (err,) = up.node_events()
    assert isinstance(err, PeerProtocolError) and err.answer == "RicSubscriptionFailure"
    (answer,) = [decode_e2ap(p) for p in up.node.data_to_send()]
    assert isinstance(answer, e2ap.RicSubscriptionFailure)
    assert answer.cause is CauseRicRequest.DUPLICATE_RIC_REQUEST_ID
    assert up.node.active_subscriptions() == {rid: 2}  # the original stays


def test_delete_of_unknown_subscription(up: LinkPair) -> None:
    up.node.receive_pdu(encode_e2ap(RicSubscriptionDeleteRequest(RicRequestId(42, 99), 2)), up.now)
    (answer,) = [decode_e2ap(p) for p in up.node.data_to_send()]
    assert isinstance(answer, e2ap.RicSubscriptionDeleteFailure)
    assert answer.cause is CauseRicRequest.REQUEST_ID_UNKNOWN


def test_request_for_a_ran_function_not_offered(up: LinkPair) -> None:
    with pytest.raises(E2LocalStateError, match="RAN function 7 was not accepted"):
        up.ric.subscribe(7, b"", ACTION, up.now)
    bad = RicSubscriptionRequest(RicRequestId(42, 5), 7, b"\x00\x09", ACTION)
    up.node.receive_pdu(encode_e2ap(bad), up.now)
    (answer,) = [decode_e2ap(p) for p in up.node.data_to_send()]
    assert isinstance(answer, e2ap.RicSubscriptionFailure)
    assert answer.cause is CauseRicRequest.RAN_FUNCTION_ID_INVALID


# ---------------------------------------------------------------------------------------- controls


def test_control_acknowledged_and_failed(up: LinkPair) -> None:
    first = up.ric.control(3, b"h1", b"m1", up.now, call_process_id=b"\x00\x07")
    second = up.ric.control(3, b"h2", b"m2", up.now)
    up.pump()
    requests = [e.request for e in up.node_events() if isinstance(e, ControlRequested)]
    assert [r.request_id for r in requests] == [first, second]
    assert requests[0].ack_request is RicControlAckRequest.ACK
    up.node.acknowledge_control(requests[0], up.now, outcome=b"\x00")
    up.node.fail_control(requests[1], CauseRicRequest.CONTROL_FAILED_TO_EXECUTE, up.now)
    up.pump()
    ack, failed = up.ric_events()
    assert isinstance(ack, ControlAcknowledged) and ack.acknowledge.request_id == first
    assert ack.acknowledge.call_process_id == b"\x00\x07" and ack.acknowledge.outcome == b"\x00"
    assert isinstance(failed, ControlFailed) and failed.failure.request_id == second
    assert failed.failure.cause is CauseRicRequest.CONTROL_FAILED_TO_EXECUTE
    assert up.ric.next_timer() is None


def test_control_timeout(up: LinkPair) -> None:
    rid = up.ric.control(3, b"h", b"m", up.now)
    up.pump()
    up.node_events()  # the node never answers
    up.advance(4.0)
    assert up.ric.events() == []
    up.advance(1.5)
    (ev,) = up.ric_events()
    assert isinstance(ev, ControlTimedOut) and ev.request_id == rid


def test_control_without_acknowledge_request(up: LinkPair) -> None:
    request = RicControlRequest(RicRequestId(9, 9), 3, b"h", b"m", ack_request=RicControlAckRequest.NO_ACK)
    up.node.receive_pdu(encode_e2ap(request), up.now)
    (ev,) = up.node_events()
    assert isinstance(ev, ControlRequested)
    up.node.acknowledge_control(ev.request, up.now)
    assert up.node.data_to_send() == []  # noAck: nothing on the wire


# ---------------------------------------------------------------------------------------- peer errors


@pytest.mark.parametrize("side", ["node", "ric"])
def test_garbage_gets_an_error_indication_and_the_link_keeps_working(up: LinkPair, side: str) -> None:
    link = up.node if side == "node" else up.ric
    link.receive_pdu(b"\xff\x00garbage", up.now)
    (err,) = link.events()
    assert isinstance(err, PeerProtocolError) and err.cause is CauseProtocol.TRANSFER_SYNTAX_ERROR
    assert link.counters.decode_errors == 1 and link.counters.peer_errors == 1
    up.pump()
    tag = "node->ric" if side == "node" else "ric->node"
    assert _last_error_indication(up, tag).cause is CauseProtocol.TRANSFER_SYNTAX_ERROR
    other = up.ric if side == "node" else up.node
    (got,) = other.events()
    assert isinstance(got, ErrorIndicationReceived)
    _subscribe(up)  # still established


def test_unexpected_message_in_a_state_names_role_state_and_message(pair: LinkPair) -> None:
    control = RicControlRequest(RicRequestId(1, 1), 3, b"h", b"m")
    pair.node.receive_pdu(encode_e2ap(control), pair.now)
    (err,) = pair.node_events()
    assert isinstance(err, PeerProtocolError)
    assert err.description == "E2 node in state idle cannot receive RicControlRequest"
    assert err.cause is CauseProtocol.MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE
    (answer,) = [decode_e2ap(p) for p in pair.node.data_to_send()]
    assert isinstance(answer, ErrorIndication)
    assert answer.request_id == RicRequestId(1, 1) and answer.ran_function_id == 3
    assert answer.diagnostics is not None and answer.diagnostics.procedure_code == 4


def test_indication_for_an_unknown_subscription(up: LinkPair) -> None:
    stray = e2ap.RicIndication(RicRequestId(42, 77), 2, 1, e2ap.RicIndicationType.REPORT, b"h", b"m", 0)
    up.ric.receive_pdu(encode_e2ap(stray), up.now)
    (err,) = up.ric_events()
    assert isinstance(err, PeerProtocolError) and err.cause is CauseRicRequest.REQUEST_ID_UNKNOWN
    assert "near-RT RIC" in err.description and "RicIndication" in err.description


def test_an_error_indication_is_never_answered(pair: LinkPair) -> None:
    pair.node.receive_pdu(encode_e2ap(ErrorIndication(cause=CauseMisc.UNSPECIFIED)), pair.now)
    (ev,) = pair.node_events()
    assert isinstance(ev, ErrorIndicationReceived)
    assert pair.node.data_to_send() == []
    assert pair.node.counters.error_indications_received == 1


def test_undecodable_request_with_readable_ids_gets_its_failure(up: LinkPair) -> None:
    # A Subscription Delete Request relabelled as procedure 8 decodes as a RIC Subscription
    # Request that lacks its mandatory subscription details.
    pdu = bytearray(encode_e2ap(RicSubscriptionDeleteRequest(RicRequestId(42, 3), 2)))
    assert pdu[1] == 9
    pdu[1] = 8
    up.node.receive_pdu(bytes(pdu), up.now)
    (err,) = up.node_events()
    assert isinstance(err, PeerProtocolError) and err.answer == "RicSubscriptionFailure"
    (answer,) = [decode_e2ap(p) for p in up.node.data_to_send()]
    assert isinstance(answer, e2ap.RicSubscriptionFailure) and answer.request_id == RicRequestId(42, 3)
    assert answer.cause is CauseProtocol.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE


def test_unknown_procedures_follow_their_criticality(up: LinkPair) -> None:
    up.node.receive_pdu(vector("e2ap_srsran_e2connection_update"), up.now)  # criticality reject
    (answer,) = [decode_e2ap(p) for p in up.node.data_to_send()]
    assert isinstance(answer, ErrorIndication) and answer.transaction_id == 3
    assert answer.cause is CauseProtocol.ABSTRACT_SYNTAX_ERROR_REJECT
    up.node.receive_pdu(vector("e2ap_osc_prestandard_subscription_request_negative"), up.now)  # ignore
    assert up.node.data_to_send() == []
    assert up.node.counters.ignored == 1
    assert [e.answer for e in up.node_events() if isinstance(e, PeerProtocolError)] == [
        "ErrorIndication",
        None,
    ]


def test_we_cannot_send_what_the_state_forbids(pair: LinkPair) -> None:
    with pytest.raises(
        E2LocalStateError, match="near-RT RIC in state idle cannot send RicSubscriptionRequest"
    ):
        pair.ric.subscribe(2, b"", ACTION, pair.now)
    with pytest.raises(LocalError):
        pair.ric.accept_setup([2], pair.now)  # no E2 Setup Request pending
    assert pair.ric.data_to_send() == []


# ---------------------------------------------------------------------------------------- reset


def test_reset_by_the_ric_releases_everything(up: LinkPair) -> None:
    rid = _subscribe(up)
    up.ric.control(3, b"h", b"m", up.now)
    up.ric.reset(CauseMisc.OM_INTERVENTION, up.now)
    assert up.ric.state is LinkState.RESET_PENDING
    up.pump()
    node_events = up.node_events()
    assert isinstance(node_events[-1], ResetReceived) and node_events[-1].cause is CauseMisc.OM_INTERVENTION
    (done,) = [e for e in up.ric_events() if isinstance(e, ResetCompleted)]
    assert up.ric.state is up.node.state is LinkState.ESTABLISHED
    assert up.ric.active_subscriptions() == {} == up.node.active_subscriptions()
    assert up.ric.next_timer() is None and done.transaction_id >= 0
    with pytest.raises(E2LocalStateError):
        up.node.send_indication(rid, 1, b"h", b"m", up.now)
    _subscribe(up)  # works again


def test_reset_by_the_node_drops_messages_in_flight(up: LinkPair) -> None:
    rid = _subscribe(up)
    up.ric.control(3, b"h", b"m", up.now)  # in flight when the node resets
    up.node.reset(CauseMisc.HARDWARE_FAILURE, up.now)
    to_node = up.ric.data_to_send()
    for pdu in to_node:
        up.node.receive_pdu(pdu, up.now)
    assert up.node.counters.ignored == 1 and up.node.events() == []
    up.pump()
    assert isinstance(up.ric_events()[-1], ResetReceived)
    assert isinstance(up.node_events()[-1], ResetCompleted)
    assert rid not in up.ric.active_subscriptions()


def test_reset_timeout(up: LinkPair) -> None:
    up.node.reset(CauseMisc.UNSPECIFIED, up.now)
    up.node.data_to_send()  # lost
    up.advance(6.0)
    (ev,) = up.node_events()
    assert isinstance(ev, ResetTimedOut)
    assert up.node.state is LinkState.ESTABLISHED


def test_kpimon_v0201_subscription_passes_e2ap_to_the_application(up: LinkPair) -> None:
    """The E2AP layer accepts the KPIMON-go request; the KPM layer refuses it (test_e2node)."""
    up.node.receive_pdu(vector("e2ap_osc_kpimon_go_ric_subscription_request_capture"), up.now)
    (ev,) = up.node_events()
    assert isinstance(ev, SubscriptionRequested) and ev.request.request_id == RicRequestId(123, 1)


def test_counters(up: LinkPair) -> None:
    _subscribe(up)
    flat = up.ric.counters.as_dict()
    assert flat["sent.RicSubscriptionRequest"] == 1 and flat["received.RicSubscriptionResponse"] == 1
    assert flat["bytes_sent"] > 0 and flat["peer_errors"] == 0


def test_timers_due_together_expire_in_order(up: LinkPair) -> None:
    a = up.ric.control(3, b"h", b"m", up.now)
    b = up.ric.control(3, b"h", b"m", up.now)  # same deadline
    up.advance(10.0)
    assert [e.request_id for e in up.ric_events() if isinstance(e, ControlTimedOut)] == [a, b]
