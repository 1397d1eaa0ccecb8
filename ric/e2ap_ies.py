"""Typed E2AP information elements (O-RAN.WG3.E2AP §9.2) used by :mod:`ric.e2ap` messages.

Values are validated on construction (``E2EncodeError``, a ``ValueError``, when out of
range). The ``_…_to_asn`` / ``_…_from_asn`` helpers convert to and from pycrate's value
representation and are for :mod:`ric.e2ap` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ric.cause import Cause, cause_from_wire, cause_kind
from ric.e2sm_common import _check_range
from ric.errors import E2EncodeError
from ric.plmn import Plmn

__all__ = [
    "ComponentInterface",
    "Criticality",
    "CriticalityDiagnostics",
    "CriticalityDiagnosticsIe",
    "E2NodeComponentConfig",
    "E2NodeComponentConfigAck",
    "E2NodeComponentId",
    "GlobalGnbId",
    "GlobalRicId",
    "RanFunction",
    "RanFunctionIdItem",
    "RanFunctionRejected",
    "RicActionNotAdmitted",
    "RicActionToBeSetup",
    "RicActionType",
    "RicControlAckRequest",
    "RicIndicationType",
    "RicRequestId",
    "RicSubsequentAction",
    "RicSubsequentActionType",
    "RicTimeToWait",
    "TimeToWait",
    "TriggeringMessage",
    "TypeOfError",
]


class Criticality(Enum):
    REJECT = "reject"
    IGNORE = "ignore"
    NOTIFY = "notify"


class TriggeringMessage(Enum):
    INITIATING = "initiating-message"
    SUCCESSFUL = "successful-outcome"
    UNSUCCESSFUL = "unsuccessfull-outcome"  # sic, as spelled in the E2AP ASN.1


class TypeOfError(Enum):
    NOT_UNDERSTOOD = "not-understood"
    MISSING = "missing"


class TimeToWait(Enum):
    """How long an E2 node waits before retrying E2 setup (E2 Setup Failure)."""

    V1S = "v1s"
    V2S = "v2s"
    V5S = "v5s"
    V10S = "v10s"
    V20S = "v20s"
    V60S = "v60s"


class RicActionType(Enum):
    REPORT = "report"
    INSERT = "insert"
    POLICY = "policy"


class RicSubsequentActionType(Enum):
    CONTINUE = "continue"
    WAIT = "wait"


class RicTimeToWait(Enum):
    W1MS = "w1ms"
    W2MS = "w2ms"
    W5MS = "w5ms"
    W10MS = "w10ms"
    W20MS = "w20ms"
    W30MS = "w30ms"
    W40MS = "w40ms"
    W50MS = "w50ms"
    W100MS = "w100ms"
    W200MS = "w200ms"
    W500MS = "w500ms"
    W1S = "w1s"
    W2S = "w2s"
    W5S = "w5s"
    W10S = "w10s"
    W20S = "w20s"
    W60S = "w60s"


class RicIndicationType(Enum):
    REPORT = "report"
    INSERT = "insert"


class RicControlAckRequest(Enum):
    NO_ACK = "noAck"
    ACK = "ack"


class ComponentInterface(Enum):
    """E2 node component interface type (what an E2 node component configuration is for)."""

    NG = "ng"
    XN = "xn"
    E1 = "e1"
    F1 = "f1"
    W1 = "w1"
    S1 = "s1"
    X2 = "x2"


_U16 = 0xFFFF
_U36 = (1 << 36) - 1


@dataclass(frozen=True, slots=True)
class RicRequestId:
    """RIC request ID: requestor (the xApp) and instance (the subscription), 0..65535."""

    requestor: int
    instance: int

    def __post_init__(self) -> None:
        _check_range("RIC requestor ID", self.requestor, 0, _U16)
        _check_range("RIC instance ID", self.instance, 0, _U16)


@dataclass(frozen=True, slots=True)
class GlobalGnbId:
    """Global E2 node ID of a gNB (``gnb_id`` is ``gnb_id_bits`` long, 22..32).

    ``du_id`` / ``cu_up_id`` identify a DU / CU-UP E2 node of a split gNB.
    """

    plmn: Plmn
    gnb_id: int
    gnb_id_bits: int = 28
    cu_up_id: int | None = None
    du_id: int | None = None

    def __post_init__(self) -> None:
        _check_range("gNB ID length", self.gnb_id_bits, 22, 32)
        _check_range("gNB ID", self.gnb_id, 0, (1 << self.gnb_id_bits) - 1)
        for what, value in (("gNB-CU-UP-ID", self.cu_up_id), ("gNB-DU-ID", self.du_id)):
            if value is not None:
                _check_range(what, value, 0, _U36)


@dataclass(frozen=True, slots=True)
class GlobalRicId:
    """Global near-RT RIC ID (PLMN + 20-bit RIC ID)."""

    plmn: Plmn
    ric_id: int

    def __post_init__(self) -> None:
        _check_range("RIC ID", self.ric_id, 0, (1 << 20) - 1)


@dataclass(frozen=True, slots=True)
class RanFunction:
    """A RAN function an E2 node offers (``definition`` holds the E2SM bytes)."""

    id: int
    definition: bytes
    revision: int
    oid: str

    def __post_init__(self) -> None:
        _check_range("RAN function ID", self.id, 0, 4095)
        _check_range("RAN function revision", self.revision, 0, 4095)
        if not 1 <= len(self.oid) <= 1000:
            raise E2EncodeError("RAN function OID must have 1..1000 characters")


@dataclass(frozen=True, slots=True)
class RanFunctionIdItem:
    id: int
    revision: int = 0

    def __post_init__(self) -> None:
        _check_range("RAN function ID", self.id, 0, 4095)
        _check_range("RAN function revision", self.revision, 0, 4095)


@dataclass(frozen=True, slots=True)
class RanFunctionRejected:
    id: int
    cause: Cause

    def __post_init__(self) -> None:
        _check_range("RAN function ID", self.id, 0, 4095)


_NAMED = (ComponentInterface.NG, ComponentInterface.S1)
_PRINTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
"""The ASN.1 PrintableString alphabet (AMFName, MMEname). pycrate decodes other characters
but cannot encode them, so a name echoed back in an acknowledge must be checked here."""
_NUMBERED = (ComponentInterface.E1, ComponentInterface.F1, ComponentInterface.W1)


@dataclass(frozen=True, slots=True)
class E2NodeComponentId:
    """E2 node component ID: an AMF/MME ``name`` (NG, S1) or a ``node_id`` (E1, F1, W1).

    Xn and X2 component IDs (global node IDs) are not supported.
    """

    interface: ComponentInterface
    name: str | None = None
    node_id: int | None = None

    def __post_init__(self) -> None:
        if self.interface in _NAMED:
            if self.name is None or not 1 <= len(self.name) <= 150 or self.node_id is not None:
                raise E2EncodeError(f"{self.interface.value} component ID needs a name (1..150)")
            if not _PRINTABLE.issuperset(self.name):
                bad = sorted(set(self.name) - _PRINTABLE)
                raise E2EncodeError(f"{self.interface.value} component name: non-printable characters {bad}")
        elif self.interface in _NUMBERED:
            if self.node_id is None or self.name is not None:
                raise E2EncodeError(f"{self.interface.value} component ID needs a node_id")
            _check_range("component node ID", self.node_id, 0, _U36)
        else:
            raise E2EncodeError(f"{self.interface.value} component IDs are not supported")


@dataclass(frozen=True, slots=True)
class E2NodeComponentConfig:
    """An E2 node component configuration addition (E2 Setup Request)."""

    component: E2NodeComponentId
    request_part: bytes = b""
    response_part: bytes = b""


@dataclass(frozen=True, slots=True)
class E2NodeComponentConfigAck:
    """The RIC's acknowledgement of one component configuration (E2 Setup Response)."""

    component: E2NodeComponentId
    success: bool = True
    failure_cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class RicSubsequentAction:
    type: RicSubsequentActionType
    time_to_wait: RicTimeToWait = RicTimeToWait.W1MS


@dataclass(frozen=True, slots=True)
class RicActionToBeSetup:
    """One action of a RIC subscription (``definition`` holds the E2SM bytes)."""

    action_id: int
    action_type: RicActionType
    definition: bytes | None = None
    subsequent_action: RicSubsequentAction | None = None
    execution_order: int | None = None

    def __post_init__(self) -> None:
        _check_range("RIC action ID", self.action_id, 0, 255)
        if self.execution_order is not None:
            _check_range("RIC action execution order", self.execution_order, 0, 255)


@dataclass(frozen=True, slots=True)
class RicActionNotAdmitted:
    action_id: int
    cause: Cause

    def __post_init__(self) -> None:
        _check_range("RIC action ID", self.action_id, 0, 255)


@dataclass(frozen=True, slots=True)
class CriticalityDiagnosticsIe:
    criticality: Criticality
    ie_id: int
    type_of_error: TypeOfError

    def __post_init__(self) -> None:
        _check_range("IE ID", self.ie_id, 0, _U16)


@dataclass(frozen=True, slots=True)
class CriticalityDiagnostics:
    """What was wrong with a received message (Error Indication, failures)."""

    procedure_code: int | None = None
    triggering_message: TriggeringMessage | None = None
    procedure_criticality: Criticality | None = None
    request_id: RicRequestId | None = None
    ies: tuple[CriticalityDiagnosticsIe, ...] = ()

    def __post_init__(self) -> None:
        if self.procedure_code is not None:
            _check_range("procedure code", self.procedure_code, 0, 255)
        if len(self.ies) > 256:
            raise E2EncodeError("at most 256 IE criticality diagnostics")


# ---------------------------------------------------------------------------------------
# pycrate value conversion (package-internal)
# ---------------------------------------------------------------------------------------


def _cause_to_asn(cause: Cause) -> tuple[str, str]:
    return (cause_kind(cause).value, cause.value)


def _cause_from_asn(v: tuple[str, str]) -> Cause:
    return cause_from_wire(v[0], v[1])


def _request_id_to_asn(r: RicRequestId) -> dict[str, int]:
    return {"ricRequestorID": r.requestor, "ricInstanceID": r.instance}


def _request_id_from_asn(v: dict[str, int]) -> RicRequestId:
    return RicRequestId(v["ricRequestorID"], v["ricInstanceID"])


def _node_id_to_asn(n: GlobalGnbId) -> tuple[str, dict[str, Any]]:
    gnb: dict[str, Any] = {
        "global-gNB-ID": {
            "plmn-id": n.plmn.to_bcd(),
            "gnb-id": ("gnb-ID", (n.gnb_id, n.gnb_id_bits)),
        }
    }
    if n.cu_up_id is not None:
        gnb["gNB-CU-UP-ID"] = n.cu_up_id
    if n.du_id is not None:
        gnb["gNB-DU-ID"] = n.du_id
    return ("gNB", gnb)


def _node_id_from_asn(v: tuple[str, dict[str, Any]]) -> GlobalGnbId:
    kind, body = v
    if kind != "gNB":
        raise ValueError(f"E2 node type {kind!r} is not supported (gNB only)")
    gid = body["global-gNB-ID"]
    value, nbits = gid["gnb-id"][1]
    return GlobalGnbId(
        Plmn.from_bcd(gid["plmn-id"]), value, nbits, body.get("gNB-CU-UP-ID"), body.get("gNB-DU-ID")
    )


def _ric_id_to_asn(r: GlobalRicId) -> dict[str, Any]:
    return {"pLMN-Identity": r.plmn.to_bcd(), "ric-ID": (r.ric_id, 20)}


def _ric_id_from_asn(v: dict[str, Any]) -> GlobalRicId:
    return GlobalRicId(Plmn.from_bcd(v["pLMN-Identity"]), v["ric-ID"][0])


def _ran_function_to_asn(f: RanFunction) -> dict[str, Any]:
    return {
        "ranFunctionID": f.id,
        "ranFunctionDefinition": f.definition,
        "ranFunctionRevision": f.revision,
        "ranFunctionOID": f.oid,
    }


def _ran_function_from_asn(v: dict[str, Any]) -> RanFunction:
    return RanFunction(
        v["ranFunctionID"], v["ranFunctionDefinition"], v["ranFunctionRevision"], v["ranFunctionOID"]
    )


_COMPONENT_CHOICE = {
    ComponentInterface.NG: ("e2nodeComponentInterfaceTypeNG", "amf-name"),
    ComponentInterface.S1: ("e2nodeComponentInterfaceTypeS1", "mme-name"),
    ComponentInterface.E1: ("e2nodeComponentInterfaceTypeE1", "gNB-CU-UP-ID"),
    ComponentInterface.F1: ("e2nodeComponentInterfaceTypeF1", "gNB-DU-ID"),
    ComponentInterface.W1: ("e2nodeComponentInterfaceTypeW1", "ng-eNB-DU-ID"),
}
_COMPONENT_BY_CHOICE = {choice: (iface, key) for iface, (choice, key) in _COMPONENT_CHOICE.items()}


def _component_id_to_asn(c: E2NodeComponentId) -> tuple[str, dict[str, Any]]:
    choice, key = _COMPONENT_CHOICE[c.interface]
    return (choice, {key: c.name if c.interface in _NAMED else c.node_id})


def _component_id_from_asn(v: tuple[str, dict[str, Any]]) -> E2NodeComponentId:
    choice, body = v
    if choice not in _COMPONENT_BY_CHOICE:
        raise ValueError(f"E2 node component ID {choice!r} is not supported")
    iface, key = _COMPONENT_BY_CHOICE[choice]
    if iface in _NAMED:
        return E2NodeComponentId(iface, name=body[key])
    return E2NodeComponentId(iface, node_id=body[key])


def _component_config_to_asn(c: E2NodeComponentConfig) -> dict[str, Any]:
    return {
        "e2nodeComponentInterfaceType": c.component.interface.value,
        "e2nodeComponentID": _component_id_to_asn(c.component),
        "e2nodeComponentConfiguration": {
            "e2nodeComponentRequestPart": c.request_part,
            "e2nodeComponentResponsePart": c.response_part,
        },
    }


def _component_config_from_asn(v: dict[str, Any]) -> E2NodeComponentConfig:
    conf = v["e2nodeComponentConfiguration"]
    return E2NodeComponentConfig(
        _component_id_from_asn(v["e2nodeComponentID"]),
        conf["e2nodeComponentRequestPart"],
        conf["e2nodeComponentResponsePart"],
    )


def _component_ack_to_asn(c: E2NodeComponentConfigAck) -> dict[str, Any]:
    ack: dict[str, Any] = {"updateOutcome": "success" if c.success else "failure"}
    if c.failure_cause is not None:
        ack["failureCause"] = _cause_to_asn(c.failure_cause)
    return {
        "e2nodeComponentInterfaceType": c.component.interface.value,
        "e2nodeComponentID": _component_id_to_asn(c.component),
        "e2nodeComponentConfigurationAck": ack,
    }


def _component_ack_from_asn(v: dict[str, Any]) -> E2NodeComponentConfigAck:
    ack = v["e2nodeComponentConfigurationAck"]
    cause = ack.get("failureCause")
    return E2NodeComponentConfigAck(
        _component_id_from_asn(v["e2nodeComponentID"]),
        ack["updateOutcome"] == "success",
        None if cause is None else _cause_from_asn(cause),
    )


def _action_to_asn(a: RicActionToBeSetup) -> dict[str, Any]:
    out: dict[str, Any] = {"ricActionID": a.action_id, "ricActionType": a.action_type.value}
    if a.definition is not None:
        out["ricActionDefinition"] = a.definition
    if a.subsequent_action is not None:
        out["ricSubsequentAction"] = {
            "ricSubsequentActionType": a.subsequent_action.type.value,
            "ricTimeToWait": a.subsequent_action.time_to_wait.value,
        }
    if a.execution_order is not None:
        out["ricActionExecutionOrder"] = a.execution_order
    return out


def _action_from_asn(v: dict[str, Any]) -> RicActionToBeSetup:
    sub = v.get("ricSubsequentAction")
    return RicActionToBeSetup(
        v["ricActionID"],
        RicActionType(v["ricActionType"]),
        v.get("ricActionDefinition"),
        None
        if sub is None
        else RicSubsequentAction(
            RicSubsequentActionType(sub["ricSubsequentActionType"]), RicTimeToWait(sub["ricTimeToWait"])
        ),
        v.get("ricActionExecutionOrder"),
    )


def _diagnostics_to_asn(d: CriticalityDiagnostics) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.procedure_code is not None:
        out["procedureCode"] = d.procedure_code
    if d.triggering_message is not None:
        out["triggeringMessage"] = d.triggering_message.value
    if d.procedure_criticality is not None:
        out["procedureCriticality"] = d.procedure_criticality.value
    if d.request_id is not None:
        out["ricRequestorID"] = _request_id_to_asn(d.request_id)
    if d.ies:
        out["iEsCriticalityDiagnostics"] = [
            {"iECriticality": i.criticality.value, "iE-ID": i.ie_id, "typeOfError": i.type_of_error.value}
            for i in d.ies
        ]
    return out


def _diagnostics_from_asn(v: dict[str, Any]) -> CriticalityDiagnostics:
    trig = v.get("triggeringMessage")
    crit = v.get("procedureCriticality")
    req = v.get("ricRequestorID")
    return CriticalityDiagnostics(
        v.get("procedureCode"),
        None if trig is None else TriggeringMessage(trig),
        None if crit is None else Criticality(crit),
        None if req is None else _request_id_from_asn(req),
        tuple(
            CriticalityDiagnosticsIe(
                Criticality(i["iECriticality"]), i["iE-ID"], TypeOfError(i["typeOfError"])
            )
            for i in v.get("iEsCriticalityDiagnostics", ())
        ),
    )
