"""E2SM-RC (v01.03-compatible) service model: RAN control for slicing.

* :class:`RcControlHeader` — control header format 1 ``{ueID, ric-Style-Type,
  ric-ControlAction-ID}`` (format 2 is :class:`RcControlHeaderFormat2`);
* :class:`RcControlMessage` — control message format 1, a list of RAN parameters whose
  values are the recursive ``STRUCTURE`` / ``LIST`` tree (:class:`RanParameter`);
* :class:`RcControlOutcome` — control outcome format 1;
* :class:`RcRanFunctionDefinition` — the RAN function definition's control styles;
* :class:`SlicePrbQuota` — style 2 / action 6 "Slice-level PRB quota" as typed rows, with
  :func:`encode_slice_prb_quota` / :func:`decode_slice_prb_quota`.

Slice PRB quota parameter tree (what we emit; srsRAN's current numbering)::

    1 RRM Policy Ratio List (LIST) -> item:
      2 RRM Policy Ratio Group (STRUCTURE)
        3 RRM Policy (STRUCTURE)
          5 RRM Policy Member List (LIST) -> item:
            6 RRM Policy Member (STRUCTURE)
              7 PLMN Identity (3-octet BCD)
              8 S-NSSAI (STRUCTURE): 9 SST (1 octet), 10 SD (3 octets)
        11 Min PRB Policy Ratio, 12 Max PRB Policy Ratio, 13 Dedicated PRB Policy Ratio

On input we also accept the older srsRAN numbering (4 = member list, 6 = PLMN, 7 = S-NSSAI,
8/9 = SST/SD, 10/11/12 = ratios), trees without the 2 / 6 wrappers, and PLMN / SST / SD
sent as ASCII digits (``"00101"``, ``"1"``). Every decoder raises
:class:`ric.errors.E2smDecodeError` (cause ``control-message-invalid`` for control payloads)
on bad input; encoders raise :class:`ric.errors.E2EncodeError`.

Not represented: the RAN function definition's event-trigger / report / insert / policy
sections (dropped on decode), control message format 2, control outcome formats 2 and 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from ric import _asn1
from ric._boundary import local_errors, peer_errors
from ric.cause import CauseRicRequest
from ric.e2sm_common import (
    BitString,
    RanFunctionName,
    UeId,
    _check_range,
    _ran_function_name_from_asn,
    _ran_function_name_to_asn,
    _ue_id_from_asn,
    _ue_id_to_asn,
)
from ric.errors import E2EncodeError, E2smDecodeError
from ric.plmn import Plmn

__all__ = [
    "RC_ACTION_SLICE_PRB_QUOTA",
    "RC_OID",
    "RC_RAN_FUNCTION_ID",
    "RC_SHORT_NAME",
    "RC_STYLE_RADIO_RESOURCE_ALLOCATION",
    "ControlDecision",
    "RanElement",
    "RanList",
    "RanParameter",
    "RanParameterDefinition",
    "RanParameterInfo",
    "RanStructure",
    "RanValue",
    "RanValueType",
    "RcControlAction",
    "RcControlHeader",
    "RcControlHeaderFormat2",
    "RcControlMessage",
    "RcControlOutcome",
    "RcControlStyle",
    "RcOutcomeItem",
    "RcRanFunctionDefinition",
    "SlicePrbQuota",
    "decode_control_header",
    "decode_control_message",
    "decode_control_outcome",
    "decode_ran_function_definition",
    "decode_slice_prb_quota",
    "default_ran_function_definition",
    "encode_control_header",
    "encode_control_message",
    "encode_control_outcome",
    "encode_ran_function_definition",
    "encode_slice_prb_quota",
    "slice_prb_quota_header",
    "slice_prb_quota_message",
    "slice_prb_quotas_from_message",
]

RC_RAN_FUNCTION_ID = 3
RC_OID = "1.3.6.1.4.1.53148.1.1.2.3"
RC_SHORT_NAME = "ORAN-E2SM-RC"
RC_STYLE_RADIO_RESOURCE_ALLOCATION = 2
RC_ACTION_SLICE_PRB_QUOTA = 6

_U32 = 0xFFFF_FFFF
_INVALID = CauseRicRequest.CONTROL_MESSAGE_INVALID


# ---------------------------------------------------------------------------------------
# RAN parameter value tree
# ---------------------------------------------------------------------------------------

RanValue = bool | int | float | bytes | str | BitString
"""``RANParameter-Value``: BOOLEAN, INTEGER, REAL, OCTET STRING, PrintableString, BIT STRING."""


@dataclass(frozen=True, slots=True)
class RanElement:
    """A leaf. ``key=True`` is ``ElementTrue`` (a key element, value required)."""

    value: RanValue | None = None
    key: bool = False

    def __post_init__(self) -> None:
        if self.key and self.value is None:
            raise E2EncodeError("a key element (ElementTrue) needs a value")


@dataclass(frozen=True, slots=True)
class RanStructure:
    """``RANParameter-STRUCTURE``: parameters identified by ID."""

    params: tuple[RanParameter, ...] = ()

    def get(self, param_id: int) -> RanParameter | None:
        """The direct child parameter ``param_id``, if present."""
        return next((p for p in self.params if p.id == param_id), None)


@dataclass(frozen=True, slots=True)
class RanList:
    """``RANParameter-LIST``: items, each a structure."""

    items: tuple[RanStructure, ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise E2EncodeError("a RAN parameter LIST needs at least one item")


RanValueType = RanElement | RanStructure | RanList


@dataclass(frozen=True, slots=True)
class RanParameter:
    id: int
    value: RanValueType

    def __post_init__(self) -> None:
        _check_range("RAN parameter ID", self.id, 1, _U32)


_VALUE_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "valueBoolean"),  # before int: bool is an int subclass
    (int, "valueInt"),
    (float, "valueReal"),
    (bytes, "valueOctS"),
    (str, "valuePrintableString"),
)


def _value_to_asn(value: RanValue) -> tuple[str, Any]:
    if isinstance(value, BitString):
        return ("valueBitS", (value.data, value.length))
    for typ, kind in _VALUE_KINDS:
        if isinstance(value, typ):
            return (kind, value)
    raise E2EncodeError(f"not a RAN parameter value: {value!r}")


def _value_from_asn(v: tuple[str, Any]) -> RanValue:
    kind, value = v
    if kind == "valueBitS":
        return BitString(bytes(value[0]), value[1])
    if kind == "valueOctS":
        return bytes(value)
    if kind in ("valueBoolean", "valueInt", "valueReal", "valuePrintableString"):
        return value
    raise ValueError(f"unsupported RAN parameter value {kind!r}")


def _structure_to_asn(s: RanStructure) -> dict[str, Any]:
    if not s.params:
        return {}
    return {"sequence-of-ranParameters": [_param_to_asn(p) for p in s.params]}


def _param_to_asn(p: RanParameter) -> dict[str, Any]:
    return {"ranParameter-ID": p.id, "ranParameter-valueType": _value_type_to_asn(p.value)}


def _value_type_to_asn(v: RanValueType) -> tuple[str, dict[str, Any]]:
    if isinstance(v, RanElement):
        if v.key:
            return ("ranP-Choice-ElementTrue", {"ranParameter-value": _value_to_asn(v.value)})  # type: ignore[arg-type]
        body = {} if v.value is None else {"ranParameter-value": _value_to_asn(v.value)}
        return ("ranP-Choice-ElementFalse", body)
    if isinstance(v, RanStructure):
        return ("ranP-Choice-Structure", {"ranParameter-Structure": _structure_to_asn(v)})
    items = [_structure_to_asn(s) for s in v.items]
    return ("ranP-Choice-List", {"ranParameter-List": {"list-of-ranParameter": items}})


def _structure_from_asn(v: dict[str, Any]) -> RanStructure:
    return RanStructure(tuple(_param_from_asn(p) for p in v.get("sequence-of-ranParameters", ())))


def _param_from_asn(v: dict[str, Any]) -> RanParameter:
    return RanParameter(v["ranParameter-ID"], _value_type_from_asn(v["ranParameter-valueType"]))


def _value_type_from_asn(v: tuple[str, dict[str, Any]]) -> RanValueType:
    kind, body = v
    if kind == "ranP-Choice-ElementTrue":
        return RanElement(_value_from_asn(body["ranParameter-value"]), key=True)
    if kind == "ranP-Choice-ElementFalse":
        value = body.get("ranParameter-value")
        return RanElement(None if value is None else _value_from_asn(value))
    if kind == "ranP-Choice-Structure":
        return _structure_from_asn(body["ranParameter-Structure"])
    if kind == "ranP-Choice-List":
        items = body["ranParameter-List"]["list-of-ranParameter"]
        return RanList(tuple(_structure_from_asn(s) for s in items))
    raise ValueError(f"unsupported RAN parameter value type {kind!r}")


# ---------------------------------------------------------------------------------------
# Control header / message / outcome
# ---------------------------------------------------------------------------------------


class ControlDecision(Enum):
    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class RcControlHeader:
    """Control header format 1: the target UE, control style and control action."""

    ue: UeId
    style: int
    action_id: int
    decision: ControlDecision | None = None

    def __post_init__(self) -> None:
        _check_range("control action ID", self.action_id, 1, 65535)


@dataclass(frozen=True, slots=True)
class RcControlHeaderFormat2:
    """Control header format 2 (used with control message format 2)."""

    ue: UeId | None = None
    decision: ControlDecision | None = None


@dataclass(frozen=True, slots=True)
class RcControlMessage:
    """Control message format 1: the RAN parameters of the control action."""

    params: tuple[RanParameter, ...]


@dataclass(frozen=True, slots=True)
class RcOutcomeItem:
    id: int
    value: RanValue


@dataclass(frozen=True, slots=True)
class RcControlOutcome:
    """Control outcome format 1 (may be empty)."""

    params: tuple[RcOutcomeItem, ...] = ()


def encode_control_header(header: RcControlHeader | RcControlHeaderFormat2) -> bytes:
    with local_errors("E2SM-RC control header"):
        if isinstance(header, RcControlHeader):
            body: dict[str, Any] = {
                "ueID": _ue_id_to_asn(header.ue),
                "ric-Style-Type": header.style,
                "ric-ControlAction-ID": header.action_id,
            }
            fmt = "controlHeader-Format1"
        else:
            body = {} if header.ue is None else {"ueID": _ue_id_to_asn(header.ue)}
            fmt = "controlHeader-Format2"
        if header.decision is not None:
            body["ric-ControlDecision"] = header.decision.value
        return _asn1.encode("rc", "E2SM-RC-ControlHeader", {"ric-controlHeader-formats": (fmt, body)})


def decode_control_header(data: bytes) -> RcControlHeader | RcControlHeaderFormat2:
    with peer_errors("E2SM-RC control header", _INVALID):
        v = _asn1.decode("rc", "E2SM-RC-ControlHeader", data)
        fmt, body = v["ric-controlHeader-formats"]
        decision = body.get("ric-ControlDecision")
        dec = None if decision is None else ControlDecision(decision)
        if fmt == "controlHeader-Format1":
            ue = _ue_id_from_asn(body["ueID"])
            return RcControlHeader(ue, body["ric-Style-Type"], body["ric-ControlAction-ID"], dec)
        if fmt == "controlHeader-Format2":
            ue_v = body.get("ueID")
            return RcControlHeaderFormat2(None if ue_v is None else _ue_id_from_asn(ue_v), dec)
        raise E2smDecodeError(f"unsupported RC control header {fmt!r}", cause=_INVALID)


def encode_control_message(message: RcControlMessage) -> bytes:
    with local_errors("E2SM-RC control message"):
        body = {"ranP-List": [_param_to_asn(p) for p in message.params]}
        value = {"ric-controlMessage-formats": ("controlMessage-Format1", body)}
        return _asn1.encode("rc", "E2SM-RC-ControlMessage", value)


def decode_control_message(data: bytes) -> RcControlMessage:
    with peer_errors("E2SM-RC control message", _INVALID):
        v = _asn1.decode("rc", "E2SM-RC-ControlMessage", data)
        fmt, body = v["ric-controlMessage-formats"]
        if fmt != "controlMessage-Format1":
            raise E2smDecodeError(f"unsupported RC control message {fmt!r}", cause=_INVALID)
        return RcControlMessage(tuple(_param_from_asn(p) for p in body["ranP-List"]))


def encode_control_outcome(outcome: RcControlOutcome) -> bytes:
    with local_errors("E2SM-RC control outcome"):
        items = [
            {"ranParameter-ID": p.id, "ranParameter-value": _value_to_asn(p.value)} for p in outcome.params
        ]
        value = {"ric-controlOutcome-formats": ("controlOutcome-Format1", {"ranP-List": items})}
        return _asn1.encode("rc", "E2SM-RC-ControlOutcome", value)


def decode_control_outcome(data: bytes) -> RcControlOutcome:
    with peer_errors("E2SM-RC control outcome"):
        v = _asn1.decode("rc", "E2SM-RC-ControlOutcome", data)
        fmt, body = v["ric-controlOutcome-formats"]
        if fmt != "controlOutcome-Format1":
            raise E2smDecodeError(f"unsupported RC control outcome {fmt!r}")
        return RcControlOutcome(
            tuple(
                RcOutcomeItem(p["ranParameter-ID"], _value_from_asn(p["ranParameter-value"]))
                for p in body["ranP-List"]
            )
        )


# ---------------------------------------------------------------------------------------
# RAN function definition (control styles)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RanParameterDefinition:
    """The children of a STRUCTURE or LIST parameter, as a RAN function defines them."""

    kind: Literal["list", "structure"]
    params: tuple[RanParameterInfo, ...]


@dataclass(frozen=True, slots=True)
class RanParameterInfo:
    id: int
    name: str
    definition: RanParameterDefinition | None = None


@dataclass(frozen=True, slots=True)
class RcControlAction:
    action_id: int
    name: str
    params: tuple[RanParameterInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class RcControlStyle:
    style: int
    name: str
    actions: tuple[RcControlAction, ...] = ()
    header_format: int = 1
    message_format: int = 1
    call_process_id_format: int | None = None
    outcome_format: int = 1
    outcome_params: tuple[RanParameterInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class RcRanFunctionDefinition:
    """``E2SM-RC-RANFunctionDefinition`` (name and control styles only)."""

    name: RanFunctionName
    control_styles: tuple[RcControlStyle, ...] = ()

    def control_action(self, style: int, action_id: int) -> RcControlAction | None:
        """The control action ``action_id`` of control style ``style``, if offered."""
        for s in self.control_styles:
            if s.style == style:
                return next((a for a in s.actions if a.action_id == action_id), None)
        return None


_SLICE_PRB_QUOTA_PARAMS = (
    (1, "RRM Policy Ratio List"),
    (2, "RRM Policy Ratio Group"),
    (3, "RRM Policy"),
    (5, "RRM Policy Member List"),
    (6, "RRM Policy Member"),
    (7, "PLMN Identity"),
    (8, "S-NSSAI"),
    (9, "SST"),
    (10, "SD"),
    (11, "Min PRB Policy Ratio"),
    (12, "Max PRB Policy Ratio"),
    (13, "Dedicated PRB Policy Ratio"),
)


def default_ran_function_definition() -> RcRanFunctionDefinition:
    """RC control style 2 with action 6 "Slice-level PRB quota" (what srsRAN's DU offers)."""
    action = RcControlAction(
        RC_ACTION_SLICE_PRB_QUOTA,
        "Slice-level PRB quota",
        tuple(RanParameterInfo(i, n) for i, n in _SLICE_PRB_QUOTA_PARAMS),
    )
    style = RcControlStyle(RC_STYLE_RADIO_RESOURCE_ALLOCATION, "Radio Resource Allocation Control", (action,))
    return RcRanFunctionDefinition(RanFunctionName(RC_SHORT_NAME, RC_OID, "RAN Control"), (style,))


def _info_to_asn(p: RanParameterInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"ranParameter-ID": p.id, "ranParameter-name": p.name}
    if p.definition is not None:
        key = "ranParameter-List" if p.definition.kind == "list" else "ranParameter-STRUCTURE"
        choice = "choiceLIST" if p.definition.kind == "list" else "choiceSTRUCTURE"
        items = [_info_to_asn(c) for c in p.definition.params]
        out["ranParameter-Definition"] = {"ranParameter-Definition-Choice": (choice, {key: items})}
    return out


def _info_from_asn(v: dict[str, Any]) -> RanParameterInfo:
    definition = v.get("ranParameter-Definition")
    parsed = None
    if definition is not None:
        choice, body = definition["ranParameter-Definition-Choice"]
        if choice == "choiceLIST":
            parsed = RanParameterDefinition(
                "list", tuple(_info_from_asn(c) for c in body["ranParameter-List"])
            )
        elif choice == "choiceSTRUCTURE":
            children = tuple(_info_from_asn(c) for c in body["ranParameter-STRUCTURE"])
            parsed = RanParameterDefinition("structure", children)
    return RanParameterInfo(v["ranParameter-ID"], v["ranParameter-name"], parsed)


def _control_style_to_asn(s: RcControlStyle) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ric-ControlStyle-Type": s.style,
        "ric-ControlStyle-Name": s.name,
        "ric-ControlHeaderFormat-Type": s.header_format,
        "ric-ControlMessageFormat-Type": s.message_format,
        "ric-ControlOutcomeFormat-Type": s.outcome_format,
    }
    if s.actions:
        out["ric-ControlAction-List"] = [_control_action_to_asn(a) for a in s.actions]
    if s.call_process_id_format is not None:
        out["ric-CallProcessIDFormat-Type"] = s.call_process_id_format
    if s.outcome_params:
        out["ran-ControlOutcomeParameters-List"] = [_info_to_asn(p) for p in s.outcome_params]
    return out


def _control_action_to_asn(a: RcControlAction) -> dict[str, Any]:
    out: dict[str, Any] = {"ric-ControlAction-ID": a.action_id, "ric-ControlAction-Name": a.name}
    if a.params:
        out["ran-ControlActionParameters-List"] = [_info_to_asn(p) for p in a.params]
    return out


def _control_style_from_asn(v: dict[str, Any]) -> RcControlStyle:
    actions = tuple(
        RcControlAction(
            a["ric-ControlAction-ID"],
            a["ric-ControlAction-Name"],
            tuple(_info_from_asn(p) for p in a.get("ran-ControlActionParameters-List", ())),
        )
        for a in v.get("ric-ControlAction-List", ())
    )
    return RcControlStyle(
        v["ric-ControlStyle-Type"],
        v["ric-ControlStyle-Name"],
        actions,
        v["ric-ControlHeaderFormat-Type"],
        v["ric-ControlMessageFormat-Type"],
        v.get("ric-CallProcessIDFormat-Type"),
        v["ric-ControlOutcomeFormat-Type"],
        tuple(_info_from_asn(p) for p in v.get("ran-ControlOutcomeParameters-List", ())),
    )


def encode_ran_function_definition(definition: RcRanFunctionDefinition) -> bytes:
    with local_errors("E2SM-RC RAN function definition"):
        value: dict[str, Any] = {"ranFunction-Name": _ran_function_name_to_asn(definition.name)}
        if definition.control_styles:
            styles = [_control_style_to_asn(s) for s in definition.control_styles]
            value["ranFunctionDefinition-Control"] = {"ric-ControlStyle-List": styles}
        return _asn1.encode("rc", "E2SM-RC-RANFunctionDefinition", value)


def decode_ran_function_definition(data: bytes) -> RcRanFunctionDefinition:
    with peer_errors("E2SM-RC RAN function definition"):
        v = _asn1.decode("rc", "E2SM-RC-RANFunctionDefinition", data)
        control = v.get("ranFunctionDefinition-Control", {})
        return RcRanFunctionDefinition(
            _ran_function_name_from_asn(v["ranFunction-Name"]),
            tuple(_control_style_from_asn(s) for s in control.get("ric-ControlStyle-List", ())),
        )


# ---------------------------------------------------------------------------------------
# Style 2 / action 6: slice-level PRB quota
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlicePrbQuota:
    """One RRM policy: PRB ratios (percent, 0..100) for the slice ``(plmn, sst, sd)``."""

    plmn: Plmn
    sst: int
    sd: int | None
    min_ratio: int
    max_ratio: int
    dedicated_ratio: int

    def __post_init__(self) -> None:
        _check_range("SST", self.sst, 0, 0xFF)
        if self.sd is not None:
            _check_range("SD", self.sd, 0, 0xFF_FFFF)
        for what, ratio in (
            ("min PRB ratio", self.min_ratio),
            ("max PRB ratio", self.max_ratio),
            ("dedicated PRB ratio", self.dedicated_ratio),
        ):
            _check_range(what, ratio, 0, 100)


def slice_prb_quota_header(ue: UeId) -> RcControlHeader:
    """The control header of a style 2 / action 6 request for ``ue``."""
    return RcControlHeader(ue, RC_STYLE_RADIO_RESOURCE_ALLOCATION, RC_ACTION_SLICE_PRB_QUOTA)


def _leaf(value: RanValue) -> RanElement:
    return RanElement(value)


def _struct(*params: tuple[int, RanValueType]) -> RanStructure:
    return RanStructure(tuple(RanParameter(i, v) for i, v in params))


def _quota_policy(q: SlicePrbQuota) -> RanStructure:
    snssai: list[tuple[int, RanValueType]] = [(9, _leaf(bytes([q.sst])))]
    if q.sd is not None:
        snssai.append((10, _leaf(q.sd.to_bytes(3, "big"))))
    member = _struct((6, _struct((7, _leaf(q.plmn.to_bcd())), (8, _struct(*snssai)))))
    policy = _struct((5, RanList((member,))))
    group = _struct(
        (3, policy),
        (11, _leaf(q.min_ratio)),
        (12, _leaf(q.max_ratio)),
        (13, _leaf(q.dedicated_ratio)),
    )
    return _struct((2, group))


def slice_prb_quota_message(quotas: Sequence[SlicePrbQuota]) -> RcControlMessage:
    """The control message (current srsRAN numbering, BCD PLMN) for ``quotas``."""
    if not quotas:
        raise E2EncodeError("at least one slice PRB quota is needed")
    return RcControlMessage((RanParameter(1, RanList(tuple(_quota_policy(q) for q in quotas))),))


def encode_slice_prb_quota(quotas: Sequence[SlicePrbQuota]) -> bytes:
    """Encode ``quotas`` as an E2SM-RC control message (style 2, action 6)."""
    return encode_control_message(slice_prb_quota_message(quotas))


def decode_slice_prb_quota(data: bytes) -> tuple[SlicePrbQuota, ...]:
    """Decode a style 2 / action 6 control message into quota rows (any known variant)."""
    message = decode_control_message(data)
    with peer_errors("slice PRB quota", _INVALID):
        return slice_prb_quotas_from_message(message)


@dataclass(frozen=True, slots=True)
class _Numbering:
    member_list: int
    member: int | None
    plmn: int
    snssai: int
    sst: int
    sd: int
    ratios: tuple[int, int, int]


_CURRENT = _Numbering(5, 6, 7, 8, 9, 10, (11, 12, 13))
_LEGACY = _Numbering(4, None, 6, 7, 8, 9, (10, 11, 12))


def slice_prb_quotas_from_message(message: RcControlMessage) -> tuple[SlicePrbQuota, ...]:
    """Read quota rows from a decoded control message; ``ValueError`` if it is not one.

    A policy listing several member slices yields one row per member (same ratios).
    """
    top = next((p for p in message.params if p.id == 1), None)
    if top is None or not isinstance(top.value, RanList):
        raise ValueError("no RRM Policy Ratio List (RAN parameter 1)")
    return tuple(q for item in top.value.items for q in _policy_quotas(item))


def _policy_quotas(item: RanStructure) -> Iterable[SlicePrbQuota]:
    group = _child(item, 2) if item.get(2) is not None else item
    policy = _child(group, 3)
    numbering = _CURRENT if policy.get(5) is not None else _LEGACY
    members = policy.get(numbering.member_list)
    if members is None or not isinstance(members.value, RanList):
        raise ValueError("no RRM Policy Member List (RAN parameter 5 or 4)")
    ratios = tuple(_int_leaf(group, i) for i in numbering.ratios)
    for member in members.value.items:
        if numbering.member is not None and member.get(numbering.member) is not None:
            member = _child(member, numbering.member)
        plmn, ascii_form = _parse_plmn(_leaf_value(member, numbering.plmn))
        snssai = _child(member, numbering.snssai)
        sst = _parse_number(_leaf_value(snssai, numbering.sst), 1, ascii_form)
        sd_param = snssai.get(numbering.sd)
        sd = None if sd_param is None else _parse_number(_leaf_value(snssai, numbering.sd), 3, ascii_form)
        yield SlicePrbQuota(plmn, sst, sd, *ratios)


def _child(s: RanStructure, param_id: int) -> RanStructure:
    p = s.get(param_id)
    if p is None or not isinstance(p.value, RanStructure):
        raise ValueError(f"RAN parameter {param_id} (STRUCTURE) missing")
    return p.value


def _leaf_value(s: RanStructure, param_id: int) -> RanValue:
    p = s.get(param_id)
    if p is None or not isinstance(p.value, RanElement) or p.value.value is None:
        raise ValueError(f"RAN parameter {param_id} (element with a value) missing")
    return p.value.value


def _int_leaf(s: RanStructure, param_id: int) -> int:
    value = _leaf_value(s, param_id)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"RAN parameter {param_id} must be an integer, got {value!r}")
    return value


def _parse_plmn(value: RanValue) -> tuple[Plmn, bool]:
    """PLMN as 3 BCD octets, or as 5-6 ASCII digits (then SST/SD are ASCII too)."""
    if isinstance(value, bytes) and len(value) == 3:
        return Plmn.from_bcd(value), False
    if isinstance(value, bytes):
        return Plmn.parse(value.decode("ascii")), True
    if isinstance(value, str):
        return Plmn.parse(value), True
    raise ValueError(f"PLMN identity must be octets or digits, got {value!r}")


def _parse_number(value: RanValue, octets: int, ascii_form: bool) -> int:
    """SST (1 octet) / SD (3 octets) as binary octets, ASCII decimal digits or an integer."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) or (isinstance(value, bytes) and (ascii_form or len(value) != octets)):
        text = value if isinstance(value, str) else value.decode("ascii")
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"not a decimal number: {value!r}")
        return int(text)
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    raise ValueError(f"not a number: {value!r}")
