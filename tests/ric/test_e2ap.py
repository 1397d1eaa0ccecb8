"""E2AP typed codec: round trips of every message type, criticalities, error reporting."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric import _e2ap_pycrate
from ric.cause import (
    CauseE2Node,
    CauseMisc,
    CauseProtocol,
    CauseRicRequest,
    CauseRicService,
    CauseTransport,
    cause_from_wire,
    cause_kind,
)
from ric.e2ap import (
    ComponentInterface,
    Criticality,
    CriticalityDiagnostics,
    CriticalityDiagnosticsIe,
    E2apMessage,
    E2NodeComponentConfig,
    E2NodeComponentConfigAck,
    E2NodeComponentId,
    E2SetupFailure,
    E2SetupRequest,
    E2SetupResponse,
    ErrorIndication,
    GlobalGnbId,
    GlobalRicId,
    RanFunction,
    RanFunctionIdItem,
    RanFunctionRejected,
    ResetRequest,
    ResetResponse,
    RicActionNotAdmitted,
    RicActionToBeSetup,
    RicActionType,
    RicControlAcknowledge,
    RicControlAckRequest,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicIndicationType,
    RicRequestId,
    RicSubscriptionDeleteFailure,
    RicSubscriptionDeleteRequest,
    RicSubscriptionDeleteResponse,
    RicSubscriptionFailure,
    RicSubscriptionRequest,
    RicSubscriptionResponse,
    RicSubsequentAction,
    RicSubsequentActionType,
    RicTimeToWait,
    TimeToWait,
    TriggeringMessage,
    TypeOfError,
    decode_e2ap,
    encode_e2ap,
)
from ric.errors import (
    E2DecodeError,
    E2EncodeError,
    E2UnknownProcedureError,
    LocalError,
    MessageKind,
    PeerError,
)
from ric.kpm import KPM_OID, default_ran_function_description, encode_ran_function_description
from ric.plmn import Plmn
from ric.rc import RC_OID, default_ran_function_definition, encode_ran_function_definition

PLMN = Plmn("001", "01")
REQ = RicRequestId(123, 7)
NODE = GlobalGnbId(PLMN, 0x19B, 28, du_id=1)
NG = E2NodeComponentId(ComponentInterface.NG, name="nginterf")
F1 = E2NodeComponentId(ComponentInterface.F1, node_id=4294967297)
DIAG = CriticalityDiagnostics(
    procedure_code=8,
    triggering_message=TriggeringMessage.INITIATING,
    procedure_criticality=Criticality.REJECT,
    request_id=REQ,
    ies=(CriticalityDiagnosticsIe(Criticality.REJECT, 30, TypeOfError.MISSING),),
)
KPM_FUNCTION = RanFunction(2, encode_ran_function_description(default_ran_function_description()), 0, KPM_OID)
RC_FUNCTION = RanFunction(3, encode_ran_function_definition(default_ran_function_definition()), 1, RC_OID)

MESSAGES: list[E2apMessage] = [
    E2SetupRequest(
        0,
        NODE,
        (KPM_FUNCTION, RC_FUNCTION),
        (E2NodeComponentConfig(NG, b"req", b"resp"), E2NodeComponentConfig(F1)),
    ),
    E2SetupResponse(
        0,
        GlobalRicId(PLMN, 0xAACCE),
        (
            E2NodeComponentConfigAck(NG),
            E2NodeComponentConfigAck(F1, False, CauseE2Node.E2NODE_COMPONENT_UNKNOWN),
        ),
        (RanFunctionIdItem(2), RanFunctionIdItem(3, 1)),
        (RanFunctionRejected(4, CauseRicService.RAN_FUNCTION_NOT_SUPPORTED),),
    ),
    E2SetupResponse(255, GlobalRicId(PLMN, 0), (E2NodeComponentConfigAck(NG),)),
    E2SetupFailure(1, CauseTransport.TRANSPORT_RESOURCE_UNAVAILABLE, TimeToWait.V60S, DIAG),
    E2SetupFailure(1, CauseMisc.OM_INTERVENTION),
    RicSubscriptionRequest(
        REQ,
        2,
        b"\x08\x03\xe7",
        (
            RicActionToBeSetup(1, RicActionType.REPORT, b"\x00\x01"),
            RicActionToBeSetup(
                2,
                RicActionType.INSERT,
                None,
                RicSubsequentAction(RicSubsequentActionType.WAIT, RicTimeToWait.W60S),
                execution_order=3,
            ),
        ),
    ),
    RicSubscriptionResponse(REQ, 2, (1,), (RicActionNotAdmitted(2, CauseRicRequest.ACTION_NOT_SUPPORTED),)),
    RicSubscriptionResponse(REQ, 2, (1, 2, 3)),
    RicSubscriptionFailure(REQ, 2, CauseRicRequest.EVENT_TRIGGER_NOT_SUPPORTED, DIAG),
    RicSubscriptionDeleteRequest(REQ, 2),
    RicSubscriptionDeleteResponse(REQ, 2),
    RicSubscriptionDeleteFailure(REQ, 2, CauseRicRequest.REQUEST_ID_UNKNOWN),
    RicIndication(REQ, 2, 1, RicIndicationType.REPORT, b"hdr", b"msg" * 100, sn=65535),
    RicIndication(REQ, 2, 1, RicIndicationType.INSERT, b"", b"", call_process_id=b"\x01"),
    RicControlRequest(REQ, 3, b"\x01\x00", b"\x00", ack_request=RicControlAckRequest.ACK),
    RicControlRequest(REQ, 3, b"h", b"m", call_process_id=b"cp", ack_request=RicControlAckRequest.NO_ACK),
    RicControlAcknowledge(REQ, 3),
    RicControlAcknowledge(REQ, 3, b"cp", b"outcome"),
    RicControlFailure(REQ, 3, CauseRicRequest.CONTROL_MESSAGE_INVALID, outcome=b"o"),
    ErrorIndication(),
    ErrorIndication(5, REQ, 2, CauseProtocol.TRANSFER_SYNTAX_ERROR, DIAG),
    ResetRequest(9, CauseMisc.UNSPECIFIED),
    ResetResponse(9),
    ResetResponse(9, CriticalityDiagnostics()),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: E2apMessage) -> None:
    data = encode_e2ap(message)
    assert decode_e2ap(data) == message
    assert encode_e2ap(decode_e2ap(data)) == data


def test_every_message_type_is_round_tripped() -> None:
    assert {type(m) for m in MESSAGES} == set(typing.get_args(E2apMessage))


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_criticalities_follow_the_standard_tables(message: E2apMessage) -> None:
    kind, body = _e2ap_pycrate.decode(encode_e2ap(message))
    assert (kind, body["procedureCode"]) == (message.KIND.value, message.PROCEDURE_CODE)
    expected_procedure = "ignore" if message.PROCEDURE_CODE in (2, 5) else "reject"
    assert body["criticality"] == expected_procedure
    for ie in body["value"][1]["protocolIEs"]:
        if ie["id"] in (1, 2, 31):  # Cause (mostly), diagnostics and time-to-wait are "ignore"
            continue
        assert ie["criticality"] == "reject", ie["id"]


def test_srsran_style_ie_criticalities() -> None:
    _, body = _e2ap_pycrate.decode(encode_e2ap(MESSAGES[0]))
    functions = next(ie for ie in body["value"][1]["protocolIEs"] if ie["id"] == 10)
    assert {item["criticality"] for item in functions["value"][1]} == {"ignore"}


# ---------------------------------------------------------------------------------------
# Malformed PDUs
# ---------------------------------------------------------------------------------------


def _raw(kind: str, code: int, name: str, ies: list[dict[str, Any]]) -> bytes:
    return _e2ap_pycrate.encode(
        (kind, {"procedureCode": code, "criticality": "reject", "value": (name, {"protocolIEs": ies})})
    )


REQ_IE = {
    "id": 29,
    "criticality": "reject",
    "value": ("RICrequestID", {"ricRequestorID": 1, "ricInstanceID": 2}),
}
FUNC_IE = {"id": 5, "criticality": "reject", "value": ("RANfunctionID", 3)}


def test_missing_mandatory_ie() -> None:
    data = _raw("initiatingMessage", 9, "RICsubscriptionDeleteRequest", [REQ_IE])
    with pytest.raises(E2DecodeError) as info:
        decode_e2ap(data)
    err = info.value
    assert err.cause is CauseProtocol.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE
    assert (err.procedure_code, err.kind, err.request_id) == (9, MessageKind.INITIATING, (1, 2))
    assert not isinstance(err, E2UnknownProcedureError)


def test_duplicate_ie() -> None:
    data = _raw("initiatingMessage", 9, "RICsubscriptionDeleteRequest", [REQ_IE, FUNC_IE, FUNC_IE])
    with pytest.raises(E2DecodeError, match="twice"):
        decode_e2ap(data)


def _delete_request_with_extra_ie(ie_id: int, criticality: int) -> bytes:
    """A RIC Subscription Delete Request (srsRAN test vector) plus one foreign IE.

    pycrate refuses to encode an IE outside the message's IE set, so the PDU is built by
    hand: an IE is id (2 octets), criticality (2 bits, padded), length, value.
    """
    ies = bytes.fromhex("001d000500007b0015000500020093")
    extra = ie_id.to_bytes(2, "big") + bytes([criticality << 6, 2]) + b"\x00\x93"
    body = b"\x00\x00\x03" + ies + extra
    return bytes.fromhex("000900") + bytes([len(body)]) + body  # initiating, code 9, reject


def test_unknown_ie_with_criticality_ignore_is_skipped_and_reject_is_refused() -> None:
    expected = RicSubscriptionDeleteRequest(RicRequestId(123, 21), 147)
    assert decode_e2ap(_delete_request_with_extra_ie(999, criticality=1)) == expected  # ignore
    assert decode_e2ap(_delete_request_with_extra_ie(999, criticality=2)) == expected  # notify
    with pytest.raises(E2DecodeError, match="unknown IE 999"):
        decode_e2ap(_delete_request_with_extra_ie(999, criticality=0))  # reject


def test_invalid_ie_value_is_a_decode_error() -> None:
    bad_plmn = {
        "id": 4,
        "criticality": "reject",
        "value": ("GlobalRIC-ID", {"pLMN-Identity": b"\xff\xff\xff", "ric-ID": (1, 20)}),
    }
    acks = encode_e2ap(MESSAGES[2])
    _, body = _e2ap_pycrate.decode(acks)
    ies = [ie if ie["id"] != 4 else bad_plmn for ie in body["value"][1]["protocolIEs"]]
    data = _raw("successfulOutcome", 1, "E2setupResponse", ies)
    with pytest.raises(E2DecodeError) as info:
        decode_e2ap(data)
    assert info.value.transaction_id == 255


def test_unsupported_message_kind_of_known_procedure() -> None:
    # RIC Service Query (6) is standard but not typed here.
    data = _e2ap_pycrate.encode(
        (
            "initiatingMessage",
            {
                "procedureCode": 6,
                "criticality": "ignore",
                "value": (
                    "RICserviceQuery",
                    {
                        "protocolIEs": [
                            {"id": 49, "criticality": "reject", "value": ("TransactionID", 17)},
                        ]
                    },
                ),
            },
        )
    )
    with pytest.raises(E2UnknownProcedureError) as info:
        decode_e2ap(data)
    assert (info.value.procedure_code, info.value.standard, info.value.transaction_id) == (6, True, 17)


# ---------------------------------------------------------------------------------------
# Local errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: RicRequestId(65536, 0),
        lambda: RicSubscriptionDeleteRequest(REQ, 4096),
        lambda: ResetRequest(256, CauseMisc.UNSPECIFIED),
        lambda: RicSubscriptionRequest(REQ, 1, b"", ()),
        lambda: RicSubscriptionResponse(REQ, 1, ()),
        lambda: GlobalGnbId(PLMN, 1 << 28, 28),
        lambda: GlobalRicId(PLMN, 1 << 20),
        lambda: E2NodeComponentId(ComponentInterface.NG),
        lambda: E2NodeComponentId(ComponentInterface.XN, name="x"),
        lambda: RicIndication(REQ, 1, 256, RicIndicationType.REPORT, b"", b""),
        lambda: E2SetupRequest(0, NODE, (), (E2NodeComponentConfig(NG),)),
    ],
)
def test_invalid_values_raise_local_errors(build: Any) -> None:
    with pytest.raises(E2EncodeError) as info:
        build()
    assert isinstance(info.value, LocalError) and isinstance(info.value, ValueError)
    assert not isinstance(info.value, PeerError)


def test_encode_rejects_non_messages_and_bad_strings() -> None:
    with pytest.raises(E2EncodeError):
        encode_e2ap("not a message")  # type: ignore[arg-type]
    bad_oid = RanFunction(2, b"", 0, "é")
    with pytest.raises(E2EncodeError):
        encode_e2ap(E2SetupRequest(0, NODE, (bad_oid,), (E2NodeComponentConfig(NG),)))


# ---------------------------------------------------------------------------------------
# Causes
# ---------------------------------------------------------------------------------------


def test_cause_enums_match_the_e2ap_asn1() -> None:
    ies = _e2ap_pycrate._module().E2AP_IEs
    groups = {
        "CauseRICrequest": CauseRicRequest,
        "CauseRICservice": CauseRicService,
        "CauseE2node": CauseE2Node,
        "CauseTransport": CauseTransport,
        "CauseProtocol": CauseProtocol,
        "CauseMisc": CauseMisc,
    }
    for asn_name, enum in groups.items():
        assert [m.value for m in enum] == list(getattr(ies, asn_name)._cont.keys()), asn_name


def test_same_wire_value_in_two_groups_stays_distinct() -> None:
    assert CauseMisc.UNSPECIFIED != CauseProtocol.UNSPECIFIED
    assert cause_from_wire("misc", "unspecified") is CauseMisc.UNSPECIFIED
    assert cause_kind(CauseTransport.UNSPECIFIED).value == "transport"


# ---------------------------------------------------------------------------------------
# Property: random indications and control requests round-trip
# ---------------------------------------------------------------------------------------

request_ids = st.builds(RicRequestId, st.integers(0, 65535), st.integers(0, 65535))


@settings(max_examples=60, deadline=None)
@given(
    request_ids,
    st.integers(0, 4095),
    st.integers(0, 255),
    st.sampled_from(RicIndicationType),
    st.binary(max_size=300),
    st.binary(max_size=3000),
    st.none() | st.integers(0, 65535),
    st.none() | st.binary(max_size=20),
)
def test_indication_property(
    req: RicRequestId,
    fid: int,
    aid: int,
    typ: RicIndicationType,
    hdr: bytes,
    msg: bytes,
    sn: int | None,
    cp: bytes | None,
) -> None:
    m = RicIndication(req, fid, aid, typ, hdr, msg, sn, cp)
    assert decode_e2ap(encode_e2ap(m)) == m


@settings(max_examples=40, deadline=None)
@given(
    request_ids,
    st.binary(max_size=200),
    st.binary(max_size=2000),
    st.none() | st.sampled_from(RicControlAckRequest),
)
def test_control_request_property(
    req: RicRequestId, hdr: bytes, msg: bytes, ack: RicControlAckRequest | None
) -> None:
    m = RicControlRequest(req, 3, hdr, msg, ack_request=ack)
    assert decode_e2ap(encode_e2ap(m)) == m
