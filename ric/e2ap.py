"""E2AP messages as typed values, and their APER codec (pycrate's O-RAN E2AP module).

:func:`encode_e2ap` turns one of the message dataclasses below into E2AP-PDU bytes;
:func:`decode_e2ap` turns bytes back into a message or raises
:class:`ric.errors.E2DecodeError` — never anything else:

* undecodable or truncated input, trailing octets, a missing mandatory IE or an invalid
  value: :class:`~ric.errors.E2DecodeError` (``cause`` = a protocol cause);
* a well-formed PDU of a procedure this module does not type (E2 Connection Update, RIC
  Service Update, ... or a non-standard procedure code):
  :class:`~ric.errors.E2UnknownProcedureError`, carrying the procedure code, message kind
  and criticality so the link layer can answer with an Error Indication.

Encoding uses the procedure and IE criticalities of the E2AP standard and its IE order.
Decoding accepts other criticalities (srsRAN / OSC send ``ignore`` for RIC Subscription),
ignores unknown IEs of criticality ``ignore``/``notify`` and rejects unknown IEs of
criticality ``reject``. E2SM payloads (event triggers, action definitions, indication and
control headers/messages, RAN function definitions) are carried as ``bytes``; see
:mod:`ric.kpm` and :mod:`ric.rc`.

The pycrate codec is shared process state: calls are serialised by a lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from ric import _e2ap_pycrate
from ric._boundary import local_errors
from ric.cause import Cause, CauseProtocol
from ric.e2ap_ies import (
    ComponentInterface,
    Criticality,
    CriticalityDiagnostics,
    CriticalityDiagnosticsIe,
    E2NodeComponentConfig,
    E2NodeComponentConfigAck,
    E2NodeComponentId,
    GlobalGnbId,
    GlobalRicId,
    RanFunction,
    RanFunctionIdItem,
    RanFunctionRejected,
    RicActionNotAdmitted,
    RicActionToBeSetup,
    RicActionType,
    RicControlAckRequest,
    RicIndicationType,
    RicRequestId,
    RicSubsequentAction,
    RicSubsequentActionType,
    RicTimeToWait,
    TimeToWait,
    TriggeringMessage,
    TypeOfError,
    _action_from_asn,
    _action_to_asn,
    _cause_from_asn,
    _cause_to_asn,
    _component_ack_from_asn,
    _component_ack_to_asn,
    _component_config_from_asn,
    _component_config_to_asn,
    _diagnostics_from_asn,
    _diagnostics_to_asn,
    _node_id_from_asn,
    _node_id_to_asn,
    _ran_function_from_asn,
    _ran_function_to_asn,
    _request_id_from_asn,
    _request_id_to_asn,
    _ric_id_from_asn,
    _ric_id_to_asn,
)
from ric.e2sm_common import _check_range
from ric.errors import E2DecodeError, E2EncodeError, E2UnknownProcedureError, MessageKind

__all__ = [
    "ComponentInterface",
    "Criticality",
    "CriticalityDiagnostics",
    "CriticalityDiagnosticsIe",
    "E2NodeComponentConfig",
    "E2NodeComponentConfigAck",
    "E2NodeComponentId",
    "E2SetupFailure",
    "E2SetupRequest",
    "E2SetupResponse",
    "E2apMessage",
    "ErrorIndication",
    "GlobalGnbId",
    "GlobalRicId",
    "MessageKind",
    "RanFunction",
    "RanFunctionIdItem",
    "RanFunctionRejected",
    "ResetRequest",
    "ResetResponse",
    "RicActionNotAdmitted",
    "RicActionToBeSetup",
    "RicActionType",
    "RicControlAckRequest",
    "RicControlAcknowledge",
    "RicControlFailure",
    "RicControlRequest",
    "RicIndication",
    "RicIndicationType",
    "RicRequestId",
    "RicSubscriptionDeleteFailure",
    "RicSubscriptionDeleteRequest",
    "RicSubscriptionDeleteResponse",
    "RicSubscriptionFailure",
    "RicSubscriptionRequest",
    "RicSubscriptionResponse",
    "RicSubsequentAction",
    "RicSubsequentActionType",
    "RicTimeToWait",
    "TimeToWait",
    "TriggeringMessage",
    "TypeOfError",
    "decode_e2ap",
    "encode_e2ap",
]

_INIT = MessageKind.INITIATING
_OK = MessageKind.SUCCESSFUL
_FAIL = MessageKind.UNSUCCESSFUL


def _check_transaction(transaction_id: int) -> None:
    _check_range("transaction ID", transaction_id, 0, 255)


def _check_function(ran_function_id: int) -> None:
    _check_range("RAN function ID", ran_function_id, 0, 4095)


def _check_non_empty(what: str, items: tuple[Any, ...], limit: int) -> None:
    if not 1 <= len(items) <= limit:
        raise E2EncodeError(f"{what} must have 1..{limit} entries, got {len(items)}")


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class E2SetupRequest:
    PROCEDURE_CODE: ClassVar[int] = 1
    KIND: ClassVar[MessageKind] = _INIT

    transaction_id: int
    node_id: GlobalGnbId
    ran_functions: tuple[RanFunction, ...]
    component_configs: tuple[E2NodeComponentConfig, ...]

    def __post_init__(self) -> None:
        _check_transaction(self.transaction_id)
        _check_non_empty("RAN functions", self.ran_functions, 256)
        _check_non_empty("E2 node component configurations", self.component_configs, 1024)


@dataclass(frozen=True, slots=True)
class E2SetupResponse:
    PROCEDURE_CODE: ClassVar[int] = 1
    KIND: ClassVar[MessageKind] = _OK

    transaction_id: int
    ric_id: GlobalRicId
    component_acks: tuple[E2NodeComponentConfigAck, ...]
    accepted: tuple[RanFunctionIdItem, ...] = ()
    rejected: tuple[RanFunctionRejected, ...] = ()

    def __post_init__(self) -> None:
        _check_transaction(self.transaction_id)
        _check_non_empty("E2 node component acknowledgements", self.component_acks, 1024)


@dataclass(frozen=True, slots=True)
class E2SetupFailure:
    PROCEDURE_CODE: ClassVar[int] = 1
    KIND: ClassVar[MessageKind] = _FAIL

    transaction_id: int
    cause: Cause
    time_to_wait: TimeToWait | None = None
    diagnostics: CriticalityDiagnostics | None = None

    def __post_init__(self) -> None:
        _check_transaction(self.transaction_id)


@dataclass(frozen=True, slots=True)
class RicSubscriptionRequest:
    PROCEDURE_CODE: ClassVar[int] = 8
    KIND: ClassVar[MessageKind] = _INIT

    request_id: RicRequestId
    ran_function_id: int
    event_trigger: bytes
    actions: tuple[RicActionToBeSetup, ...]

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)
        _check_non_empty("RIC actions", self.actions, 16)


@dataclass(frozen=True, slots=True)
class RicSubscriptionResponse:
    PROCEDURE_CODE: ClassVar[int] = 8
    KIND: ClassVar[MessageKind] = _OK

    request_id: RicRequestId
    ran_function_id: int
    admitted: tuple[int, ...]
    not_admitted: tuple[RicActionNotAdmitted, ...] = ()

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)
        _check_non_empty("admitted RIC actions", self.admitted, 16)
        for action_id in self.admitted:
            _check_range("RIC action ID", action_id, 0, 255)


@dataclass(frozen=True, slots=True)
class RicSubscriptionFailure:
    PROCEDURE_CODE: ClassVar[int] = 8
    KIND: ClassVar[MessageKind] = _FAIL

    request_id: RicRequestId
    ran_function_id: int
    cause: Cause
    diagnostics: CriticalityDiagnostics | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicSubscriptionDeleteRequest:
    PROCEDURE_CODE: ClassVar[int] = 9
    KIND: ClassVar[MessageKind] = _INIT

    request_id: RicRequestId
    ran_function_id: int

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicSubscriptionDeleteResponse:
    PROCEDURE_CODE: ClassVar[int] = 9
    KIND: ClassVar[MessageKind] = _OK

    request_id: RicRequestId
    ran_function_id: int

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicSubscriptionDeleteFailure:
    PROCEDURE_CODE: ClassVar[int] = 9
    KIND: ClassVar[MessageKind] = _FAIL

    request_id: RicRequestId
    ran_function_id: int
    cause: Cause
    diagnostics: CriticalityDiagnostics | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicIndication:
    PROCEDURE_CODE: ClassVar[int] = 5
    KIND: ClassVar[MessageKind] = _INIT

    request_id: RicRequestId
    ran_function_id: int
    action_id: int
    indication_type: RicIndicationType
    header: bytes
    message: bytes
    sn: int | None = None
    call_process_id: bytes | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)
        _check_range("RIC action ID", self.action_id, 0, 255)
        if self.sn is not None:
            _check_range("RIC indication SN", self.sn, 0, 65535)


@dataclass(frozen=True, slots=True)
class RicControlRequest:
    PROCEDURE_CODE: ClassVar[int] = 4
    KIND: ClassVar[MessageKind] = _INIT

    request_id: RicRequestId
    ran_function_id: int
    header: bytes
    message: bytes
    call_process_id: bytes | None = None
    ack_request: RicControlAckRequest | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicControlAcknowledge:
    PROCEDURE_CODE: ClassVar[int] = 4
    KIND: ClassVar[MessageKind] = _OK

    request_id: RicRequestId
    ran_function_id: int
    call_process_id: bytes | None = None
    outcome: bytes | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class RicControlFailure:
    PROCEDURE_CODE: ClassVar[int] = 4
    KIND: ClassVar[MessageKind] = _FAIL

    request_id: RicRequestId
    ran_function_id: int
    cause: Cause
    call_process_id: bytes | None = None
    outcome: bytes | None = None

    def __post_init__(self) -> None:
        _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class ErrorIndication:
    PROCEDURE_CODE: ClassVar[int] = 2
    KIND: ClassVar[MessageKind] = _INIT

    transaction_id: int | None = None
    request_id: RicRequestId | None = None
    ran_function_id: int | None = None
    cause: Cause | None = None
    diagnostics: CriticalityDiagnostics | None = None

    def __post_init__(self) -> None:
        if self.transaction_id is not None:
            _check_transaction(self.transaction_id)
        if self.ran_function_id is not None:
            _check_function(self.ran_function_id)


@dataclass(frozen=True, slots=True)
class ResetRequest:
    PROCEDURE_CODE: ClassVar[int] = 3
    KIND: ClassVar[MessageKind] = _INIT

    transaction_id: int
    cause: Cause

    def __post_init__(self) -> None:
        _check_transaction(self.transaction_id)


@dataclass(frozen=True, slots=True)
class ResetResponse:
    PROCEDURE_CODE: ClassVar[int] = 3
    KIND: ClassVar[MessageKind] = _OK

    transaction_id: int
    diagnostics: CriticalityDiagnostics | None = None

    def __post_init__(self) -> None:
        _check_transaction(self.transaction_id)


E2apMessage = (
    E2SetupRequest
    | E2SetupResponse
    | E2SetupFailure
    | RicSubscriptionRequest
    | RicSubscriptionResponse
    | RicSubscriptionFailure
    | RicSubscriptionDeleteRequest
    | RicSubscriptionDeleteResponse
    | RicSubscriptionDeleteFailure
    | RicIndication
    | RicControlRequest
    | RicControlAcknowledge
    | RicControlFailure
    | ErrorIndication
    | ResetRequest
    | ResetResponse
)


# ---------------------------------------------------------------------------------------
# IE layouts: (IE id, message attribute(s), pycrate open-type name, converters)
# ---------------------------------------------------------------------------------------

Conv = Callable[[Any], Any]


class _Ie(NamedTuple):
    ie_id: int
    attrs: tuple[str, ...]
    type_name: str
    to_asn: Conv
    from_asn: Conv
    mandatory: bool = True


def _same(x: Any) -> Any:
    return x


def _enum_to(x: Any) -> Any:
    return x.value


def _container_list(item_set: str, item_id: int, item_type: str, to: Conv, frm: Conv) -> tuple[Conv, Conv]:
    """Converters for a ``SEQUENCE OF ProtocolIE-SingleContainer`` list IE."""

    def to_asn(values: tuple[Any, ...]) -> list[dict[str, Any]]:
        crit = _e2ap_pycrate.ie_criticality(item_set, item_id)
        return [{"id": item_id, "criticality": crit, "value": (item_type, to(v))} for v in values]

    def from_asn(items: list[dict[str, Any]]) -> tuple[Any, ...]:
        if any(i["id"] != item_id for i in items):
            raise ValueError(f"unexpected item IE in {item_type} list")
        return tuple(frm(i["value"][1]) for i in items)

    return to_asn, from_asn


def _ie(ie_id: int, attr: str, type_name: str, convs: tuple[Conv, Conv], mandatory: bool = True) -> _Ie:
    return _Ie(ie_id, (attr,), type_name, convs[0], convs[1], mandatory)


_PLAIN = (_same, _same)
_REQUEST_ID = _ie(29, "request_id", "RICrequestID", (_request_id_to_asn, _request_id_from_asn))
_FUNCTION_ID = _ie(5, "ran_function_id", "RANfunctionID", _PLAIN)
_TRANSACTION = _ie(49, "transaction_id", "TransactionID", _PLAIN)
_CAUSE_CONV = (_cause_to_asn, _cause_from_asn)
_CAUSE = _ie(1, "cause", "Cause", _CAUSE_CONV)
_DIAG = _ie(2, "diagnostics", "CriticalityDiagnostics", (_diagnostics_to_asn, _diagnostics_from_asn), False)
_CALL_PROCESS = _ie(20, "call_process_id", "RICcallProcessID", _PLAIN, False)
_OUTCOME = _ie(32, "outcome", "RICcontrolOutcome", _PLAIN, False)


def _subscription_details_to(v: tuple[bytes, tuple[RicActionToBeSetup, ...]]) -> dict[str, Any]:
    trigger, actions = v
    to_list, _ = _ACTION_LIST
    return {"ricEventTriggerDefinition": trigger, "ricAction-ToBeSetup-List": to_list(actions)}


def _subscription_details_from(v: dict[str, Any]) -> tuple[bytes, tuple[RicActionToBeSetup, ...]]:
    _, from_list = _ACTION_LIST
    return v["ricEventTriggerDefinition"], from_list(v["ricAction-ToBeSetup-List"])


_ACTION_LIST = _container_list(
    "RICaction_ToBeSetup_ItemIEs", 19, "RICaction-ToBeSetup-Item", _action_to_asn, _action_from_asn
)


def _admitted_to(a: int) -> dict[str, int]:
    return {"ricActionID": a}


def _admitted_from(v: dict[str, int]) -> int:
    return v["ricActionID"]


def _not_admitted_to(a: RicActionNotAdmitted) -> dict[str, Any]:
    return {"ricActionID": a.action_id, "cause": _cause_to_asn(a.cause)}


def _not_admitted_from(v: dict[str, Any]) -> RicActionNotAdmitted:
    return RicActionNotAdmitted(v["ricActionID"], _cause_from_asn(v["cause"]))


def _function_id_to(f: RanFunctionIdItem) -> dict[str, int]:
    return {"ranFunctionID": f.id, "ranFunctionRevision": f.revision}


def _function_id_from(v: dict[str, int]) -> RanFunctionIdItem:
    return RanFunctionIdItem(v["ranFunctionID"], v["ranFunctionRevision"])


def _rejected_to(f: RanFunctionRejected) -> dict[str, Any]:
    return {"ranFunctionID": f.id, "cause": _cause_to_asn(f.cause)}


def _rejected_from(v: dict[str, Any]) -> RanFunctionRejected:
    return RanFunctionRejected(v["ranFunctionID"], _cause_from_asn(v["cause"]))


class _Layout(NamedTuple):
    name: str  # pycrate message name (E2AP-PDU open type)
    ie_set: str  # pycrate IE set holding the IE criticalities
    ies: tuple[_Ie, ...]


_LAYOUTS: dict[type[E2apMessage], _Layout] = {
    E2SetupRequest: _Layout(
        "E2setupRequest",
        "E2setupRequestIEs",
        (
            _TRANSACTION,
            _ie(3, "node_id", "GlobalE2node-ID", (_node_id_to_asn, _node_id_from_asn)),
            _ie(
                10,
                "ran_functions",
                "RANfunctions-List",
                _container_list(
                    "RANfunction_ItemIEs", 8, "RANfunction-Item", _ran_function_to_asn, _ran_function_from_asn
                ),
            ),
            _ie(
                50,
                "component_configs",
                "E2nodeComponentConfigAddition-List",
                _container_list(
                    "E2nodeComponentConfigAddition_ItemIEs",
                    51,
                    "E2nodeComponentConfigAddition-Item",
                    _component_config_to_asn,
                    _component_config_from_asn,
                ),
            ),
        ),
    ),
    E2SetupResponse: _Layout(
        "E2setupResponse",
        "E2setupResponseIEs",
        (
            _TRANSACTION,
            _ie(4, "ric_id", "GlobalRIC-ID", (_ric_id_to_asn, _ric_id_from_asn)),
            _ie(
                9,
                "accepted",
                "RANfunctionsID-List",
                _container_list(
                    "RANfunctionID_ItemIEs", 6, "RANfunctionID-Item", _function_id_to, _function_id_from
                ),
                False,
            ),
            _ie(
                13,
                "rejected",
                "RANfunctionsIDcause-List",
                _container_list(
                    "RANfunctionIDcause_ItemIEs", 7, "RANfunctionIDcause-Item", _rejected_to, _rejected_from
                ),
                False,
            ),
            _ie(
                52,
                "component_acks",
                "E2nodeComponentConfigAdditionAck-List",
                _container_list(
                    "E2nodeComponentConfigAdditionAck_ItemIEs",
                    53,
                    "E2nodeComponentConfigAdditionAck-Item",
                    _component_ack_to_asn,
                    _component_ack_from_asn,
                ),
            ),
        ),
    ),
    E2SetupFailure: _Layout(
        "E2setupFailure",
        "E2setupFailureIEs",
        (
            _TRANSACTION,
            _CAUSE,
            _ie(31, "time_to_wait", "TimeToWait", (_enum_to, TimeToWait), False),
            _DIAG,
        ),
    ),
    RicSubscriptionRequest: _Layout(
        "RICsubscriptionRequest",
        "RICsubscriptionRequest_IEs",
        (
            _REQUEST_ID,
            _FUNCTION_ID,
            _Ie(
                30,
                ("event_trigger", "actions"),
                "RICsubscriptionDetails",
                _subscription_details_to,
                _subscription_details_from,
            ),
        ),
    ),
    RicSubscriptionResponse: _Layout(
        "RICsubscriptionResponse",
        "RICsubscriptionResponse_IEs",
        (
            _REQUEST_ID,
            _FUNCTION_ID,
            _ie(
                17,
                "admitted",
                "RICaction-Admitted-List",
                _container_list(
                    "RICaction_Admitted_ItemIEs", 14, "RICaction-Admitted-Item", _admitted_to, _admitted_from
                ),
            ),
            _ie(
                18,
                "not_admitted",
                "RICaction-NotAdmitted-List",
                _container_list(
                    "RICaction_NotAdmitted_ItemIEs",
                    16,
                    "RICaction-NotAdmitted-Item",
                    _not_admitted_to,
                    _not_admitted_from,
                ),
                False,
            ),
        ),
    ),
    RicSubscriptionFailure: _Layout(
        "RICsubscriptionFailure", "RICsubscriptionFailure_IEs", (_REQUEST_ID, _FUNCTION_ID, _CAUSE, _DIAG)
    ),
    RicSubscriptionDeleteRequest: _Layout(
        "RICsubscriptionDeleteRequest", "RICsubscriptionDeleteRequest_IEs", (_REQUEST_ID, _FUNCTION_ID)
    ),
    RicSubscriptionDeleteResponse: _Layout(
        "RICsubscriptionDeleteResponse", "RICsubscriptionDeleteResponse_IEs", (_REQUEST_ID, _FUNCTION_ID)
    ),
    RicSubscriptionDeleteFailure: _Layout(
        "RICsubscriptionDeleteFailure",
        "RICsubscriptionDeleteFailure_IEs",
        (_REQUEST_ID, _FUNCTION_ID, _CAUSE, _DIAG),
    ),
    RicIndication: _Layout(
        "RICindication",
        "RICindication_IEs",
        (
            _REQUEST_ID,
            _FUNCTION_ID,
            _ie(15, "action_id", "RICactionID", _PLAIN),
            _ie(27, "sn", "RICindicationSN", _PLAIN, False),
            _ie(28, "indication_type", "RICindicationType", (_enum_to, RicIndicationType)),
            _ie(25, "header", "RICindicationHeader", _PLAIN),
            _ie(26, "message", "RICindicationMessage", _PLAIN),
            _CALL_PROCESS,
        ),
    ),
    RicControlRequest: _Layout(
        "RICcontrolRequest",
        "RICcontrolRequest_IEs",
        (
            _REQUEST_ID,
            _FUNCTION_ID,
            _CALL_PROCESS,
            _ie(22, "header", "RICcontrolHeader", _PLAIN),
            _ie(23, "message", "RICcontrolMessage", _PLAIN),
            _ie(21, "ack_request", "RICcontrolAckRequest", (_enum_to, RicControlAckRequest), False),
        ),
    ),
    RicControlAcknowledge: _Layout(
        "RICcontrolAcknowledge",
        "RICcontrolAcknowledge_IEs",
        (_REQUEST_ID, _FUNCTION_ID, _CALL_PROCESS, _OUTCOME),
    ),
    RicControlFailure: _Layout(
        "RICcontrolFailure",
        "RICcontrolFailure_IEs",
        (_REQUEST_ID, _FUNCTION_ID, _CALL_PROCESS, _CAUSE, _OUTCOME),
    ),
    ErrorIndication: _Layout(
        "ErrorIndication",
        "ErrorIndication_IEs",
        (
            _TRANSACTION._replace(mandatory=False),
            _REQUEST_ID._replace(mandatory=False),
            _FUNCTION_ID._replace(mandatory=False),
            _CAUSE._replace(mandatory=False),
            _DIAG,
        ),
    ),
    ResetRequest: _Layout("ResetRequest", "ResetRequestIEs", (_TRANSACTION, _CAUSE)),
    ResetResponse: _Layout("ResetResponse", "ResetResponseIEs", (_TRANSACTION, _DIAG)),
}

_BY_PROCEDURE: dict[tuple[MessageKind, int], type[E2apMessage]] = {
    (cls.KIND, cls.PROCEDURE_CODE): cls for cls in _LAYOUTS
}


# ---------------------------------------------------------------------------------------
# Encode
# ---------------------------------------------------------------------------------------


def encode_e2ap(message: E2apMessage) -> bytes:
    """APER-encode ``message`` as an E2AP-PDU (raises :class:`E2EncodeError`)."""
    layout = _LAYOUTS.get(type(message))
    if layout is None:
        raise E2EncodeError(f"not an E2AP message: {message!r}")
    with local_errors(type(message).__name__):
        ies = []
        for ie in layout.ies:
            value = _get(message, ie)
            if value is None:
                if ie.mandatory:
                    raise E2EncodeError(f"{type(message).__name__}: {ie.attrs[0]} is mandatory")
                continue
            crit = _e2ap_pycrate.ie_criticality(layout.ie_set, ie.ie_id)
            ies.append({"id": ie.ie_id, "criticality": crit, "value": (ie.type_name, ie.to_asn(value))})
        code = message.PROCEDURE_CODE
        body = {
            "procedureCode": code,
            "criticality": _e2ap_pycrate.procedure_criticality(code),
            "value": (layout.name, {"protocolIEs": ies}),
        }
        return _e2ap_pycrate.encode((message.KIND.value, body))


def _get(message: E2apMessage, ie: _Ie) -> Any:
    values = tuple(getattr(message, a) for a in ie.attrs)
    if any(v is None or v == () for v in values):
        return None
    return values[0] if len(values) == 1 else values


# ---------------------------------------------------------------------------------------
# Decode
# ---------------------------------------------------------------------------------------


def decode_e2ap(data: bytes) -> E2apMessage:
    """Decode one E2AP-PDU into a typed message (raises :class:`E2DecodeError` only)."""
    try:
        raw = _e2ap_pycrate.decode(data)
        kind = MessageKind(raw[0])
        code = int(raw[1]["procedureCode"])
        msg_name, msg_value = raw[1]["value"]
        criticality = str(raw[1]["criticality"])
    except Exception as exc:
        raise E2DecodeError(f"undecodable E2AP-PDU: {type(exc).__name__}: {exc}") from exc
    ids = _identifiers(msg_value)
    cls = _BY_PROCEDURE.get((kind, code))
    if cls is None:
        raise E2UnknownProcedureError(
            f"E2AP procedure {code} ({kind.value}) is not handled",
            procedure_code=code,
            kind=kind,
            criticality=criticality,
            standard=not str(msg_name).startswith("_unk"),
            **ids,
        )
    try:
        return _from_ies(cls, msg_value["protocolIEs"])
    except E2DecodeError:
        raise
    except Exception as exc:
        raise E2DecodeError(
            f"invalid {cls.__name__}: {type(exc).__name__}: {exc}",
            cause=CauseProtocol.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE,
            procedure_code=code,
            kind=kind,
            **ids,
        ) from exc


def _from_ies(cls: type[E2apMessage], protocol_ies: list[dict[str, Any]]) -> E2apMessage:
    layout = _LAYOUTS[cls]
    known = {ie.ie_id for ie in layout.ies}
    by_id: dict[int, Any] = {}
    for item in protocol_ies:
        ie_id = item["id"]
        if ie_id in by_id:
            raise ValueError(f"IE {ie_id} present twice")
        if ie_id not in known:
            if item["criticality"] == "reject":
                raise ValueError(f"unknown IE {ie_id} with criticality reject")
            continue
        by_id[ie_id] = item["value"][1]
    kwargs: dict[str, Any] = {}
    for ie in layout.ies:
        if ie.ie_id not in by_id:
            if ie.mandatory:
                raise ValueError(f"mandatory IE {ie.ie_id} ({ie.type_name}) missing")
            continue
        value = ie.from_asn(by_id[ie.ie_id])
        kwargs.update(zip(ie.attrs, value if len(ie.attrs) > 1 else (value,), strict=True))
    return cls(**kwargs)


def _identifiers(msg_value: Any) -> dict[str, Any]:
    """Best-effort transaction / request / RAN function IDs, for error reports."""
    out: dict[str, Any] = {}
    try:
        for item in msg_value["protocolIEs"]:
            value = item["value"][1]
            if item["id"] == 49 and isinstance(value, int):
                out["transaction_id"] = value
            elif item["id"] == 29 and isinstance(value, dict):
                out["request_id"] = (value["ricRequestorID"], value["ricInstanceID"])
            elif item["id"] == 5 and isinstance(value, int):
                out["ran_function_id"] = value
    except (TypeError, KeyError, IndexError):
        pass
    return out
