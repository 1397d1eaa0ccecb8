"""E2SM-KPM v03.00 service model: typed values and their APER codecs.

What a DU xApp and an E2 node exchange for performance measurement (O-RAN.WG3.E2SM-KPM):

* :class:`KpmRanFunctionDescription` — the RAN function definition advertised at E2 setup;
* :class:`KpmEventTrigger` — the report period (event trigger format 1);
* :class:`KpmActionDefinition` — what to measure: format 1 (node level, optional per-slice
  ``sliceID`` labels), format 2 (one UE), formats 4 and 5 (UE level, common condition or
  explicit UE list);
* :class:`KpmIndicationHeader`, :class:`KpmIndicationFormat1`, :class:`KpmIndicationFormat3`
  — the reports (node level, and one format-1 report per UE).

Every ``decode_*`` returns a typed value or raises :class:`ric.errors.E2smDecodeError`
carrying the Cause to answer with; every ``encode_*`` returns bytes or raises
:class:`ric.errors.E2EncodeError`. An action definition encoded with E2SM-KPM v02.01 (OSC
KPIMON-go) raises :class:`ric.errors.E2smVersionError`.

Not represented (dropped on decode): measurement IDs, distribution bins, label fields other
than the ones :class:`MeasLabel` has, action definition format 3 and indication format 2
(condition-based style 3, which srsRAN does not implement either; decoding them raises
:class:`~ric.errors.E2smDecodeError` with cause ``action-not-supported``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ric import _asn1, _kpm_fast
from ric._boundary import local_errors, peer_errors
from ric.cause import CauseRicRequest
from ric.e2sm_common import (
    BitString,
    Cgi,
    GnbDuUeId,
    RanFunctionName,
    Snssai,
    UeId,
    _cgi_from_asn,
    _cgi_to_asn,
    _check_range,
    _ran_function_name_from_asn,
    _ran_function_name_to_asn,
    _snssai_from_asn,
    _snssai_to_asn,
    _ue_id_from_asn,
    _ue_id_to_asn,
)
from ric.errors import E2EncodeError, E2smDecodeError, E2smVersionError
from ric.plmn import Plmn

__all__ = [
    "DRB_RLC_PACKET_DROP_RATE_DL",
    "DRB_RLC_SDU_DELAY_DL",
    "DRB_UE_THP_DL",
    "KPM_OID",
    "KPM_RAN_FUNCTION_ID",
    "KPM_SHORT_NAME",
    "MEASUREMENTS",
    "NO_LABEL",
    "RRU_PRB_AVAIL_DL",
    "RRU_PRB_USED_DL",
    "KpmActionDefinition",
    "KpmActionFormat",
    "KpmActionFormat1",
    "KpmActionFormat2",
    "KpmActionFormat4",
    "KpmActionFormat5",
    "KpmEventTrigger",
    "KpmEventTriggerStyle",
    "KpmIndicationFormat1",
    "KpmIndicationFormat3",
    "KpmIndicationHeader",
    "KpmIndicationMessage",
    "KpmRanFunctionDescription",
    "KpmReportStyle",
    "MeasDataItem",
    "MeasInfo",
    "MeasLabel",
    "MeasRecord",
    "MeasurementDef",
    "TestCondExpression",
    "TestCondType",
    "TestCondition",
    "TestEnum",
    "TestValue",
    "UeCondition",
    "UeMeasReport",
    "decode_action_definition",
    "decode_event_trigger",
    "decode_indication_header",
    "decode_indication_message",
    "decode_ran_function_description",
    "default_ran_function_description",
    "encode_action_definition",
    "encode_event_trigger",
    "encode_indication_header",
    "encode_indication_message",
    "encode_ran_function_description",
    "encode_ue_reports",
    "node_level_action",
    "ntp_timestamp",
    "ue_condition_action",
    "ue_list_action",
    "unix_time",
]

KPM_RAN_FUNCTION_ID = 2
KPM_OID = "1.3.6.1.4.1.53148.1.2.2.2"
KPM_SHORT_NAME = "ORAN-E2SM-KPM"

_U32 = 0xFFFF_FFFF


# ---------------------------------------------------------------------------------------
# Measurements (3GPP TS 28.552 names as srsRAN emits them)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasurementDef:
    """A measurement type: its TS 28.552 name, unit, and whether records are integers."""

    name: str
    unit: str
    integer: bool
    description: str


DRB_UE_THP_DL = MeasurementDef("DRB.UEThpDl", "kbit/s", True, "mean DL UE throughput")
DRB_RLC_SDU_DELAY_DL = MeasurementDef(
    "DRB.RlcSduDelayDl", "0.1 ms", False, "mean DL RLC SDU delay (value 25.0 = 2.5 ms)"
)
RRU_PRB_USED_DL = MeasurementDef("RRU.PrbUsedDl", "PRBs", True, "DL PRBs used")
RRU_PRB_AVAIL_DL = MeasurementDef("RRU.PrbAvailDl", "PRBs", True, "DL PRBs available")
DRB_RLC_PACKET_DROP_RATE_DL = MeasurementDef(
    "DRB.RlcPacketDropRateDl", "ratio", False, "DL RLC packet drop rate"
)

DRB_RLC_SDU_TRANSMITTED_VOLUME_DL = MeasurementDef(
    "DRB.RlcSduTransmittedVolumeDL", "kbit", False, "DL RLC SDU volume delivered to the UE"
)
DRB_PDCP_SDU_VOLUME_DL = MeasurementDef("DRB.PdcpSduVolumeDL", "Mbit", False, "DL PDCP SDU data volume")
RRC_CONN_MEAN = MeasurementDef("RRC.ConnMean", "UEs", True, "mean number of RRC-connected UEs")
# No TS 28.552 counterpart: documented project measurements (see slicing.measurements).
METAHRL_DELAY_MAX_DL = MeasurementDef(
    "metahrl.DRB.RlcSduDelayMaxDl", "0.1 ms", False, "largest DL RLC SDU delay of a delivered packet"
)
METAHRL_DEADLINE_DROP_DL = MeasurementDef(
    "metahrl.DRB.RlcSduDeadlineDropDl", "packets", True, "DL packets dropped at their deadline"
)
METAHRL_BUFFER_VOLUME_DL = MeasurementDef(
    "metahrl.DRB.RlcBufferVolumeDl", "kbit", False, "DL buffer occupancy at the end of the period"
)
METAHRL_RATE_PER_PRB_DL = MeasurementDef(
    "metahrl.UE.RatePerPrbDl", "kbit/s", False, "achievable DL rate of one PRB (scheduler CSI)"
)
METAHRL_PRB_OVER_QUOTA_DL = MeasurementDef(
    "metahrl.RRU.PrbOverQuotaDl", "PRBs", False, "DL PRBs requested above the slice quota (K_over)"
)

MEASUREMENTS: dict[str, MeasurementDef] = {
    m.name: m
    for m in (
        DRB_UE_THP_DL,
        DRB_RLC_SDU_DELAY_DL,
        RRU_PRB_USED_DL,
        RRU_PRB_AVAIL_DL,
        DRB_RLC_PACKET_DROP_RATE_DL,
        DRB_RLC_SDU_TRANSMITTED_VOLUME_DL,
        DRB_PDCP_SDU_VOLUME_DL,
        RRC_CONN_MEAN,
        METAHRL_DELAY_MAX_DL,
        METAHRL_DEADLINE_DROP_DL,
        METAHRL_BUFFER_VOLUME_DL,
        METAHRL_RATE_PER_PRB_DL,
        METAHRL_PRB_OVER_QUOTA_DL,
    )
}


# ---------------------------------------------------------------------------------------
# RAN function description
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KpmEventTriggerStyle:
    style: int = 1
    name: str = "Periodic Report"
    format_type: int = 1


@dataclass(frozen=True, slots=True)
class KpmReportStyle:
    """A REPORT style and the measurements it offers (IDs and bins are not kept)."""

    style: int
    name: str
    action_format: int
    measurements: tuple[str, ...]
    header_format: int = 1
    message_format: int = 1


@dataclass(frozen=True, slots=True)
class KpmRanFunctionDescription:
    """``E2SM-KPM-RANfunction-Description``."""

    name: RanFunctionName
    event_trigger_styles: tuple[KpmEventTriggerStyle, ...] = ()
    report_styles: tuple[KpmReportStyle, ...] = ()

    def report_style(self, style: int) -> KpmReportStyle | None:
        """The report style numbered ``style``, if offered."""
        return next((s for s in self.report_styles if s.style == style), None)


def default_ran_function_description(
    measurements: Sequence[str] = tuple(MEASUREMENTS),
) -> KpmRanFunctionDescription:
    """What srsRAN advertises (report styles 1-5), offering ``measurements`` in each."""
    names = tuple(measurements)
    styles = (
        (1, "E2 Node Measurement", 1, 1),
        (2, "E2 Node Measurement for a single UE", 2, 1),
        (3, "Condition-based, UE-level E2 Node Measurement", 3, 2),
        (4, "Common Condition-based, UE-level Measurement", 4, 3),
        (5, "E2 Node Measurement for multiple UEs", 5, 3),
    )
    return KpmRanFunctionDescription(
        RanFunctionName(KPM_SHORT_NAME, KPM_OID, "KPM Monitor"),
        (KpmEventTriggerStyle(),),
        tuple(KpmReportStyle(s, n, a, names, 1, m) for s, n, a, m in styles),
    )


def encode_ran_function_description(desc: KpmRanFunctionDescription) -> bytes:
    with local_errors("E2SM-KPM RAN function description"):
        value: dict[str, Any] = {"ranFunction-Name": _ran_function_name_to_asn(desc.name)}
        if desc.event_trigger_styles:
            value["ric-EventTriggerStyle-List"] = [
                {
                    "ric-EventTriggerStyle-Type": s.style,
                    "ric-EventTriggerStyle-Name": s.name,
                    "ric-EventTriggerFormat-Type": s.format_type,
                }
                for s in desc.event_trigger_styles
            ]
        if desc.report_styles:
            value["ric-ReportStyle-List"] = [_report_style_to_asn(s) for s in desc.report_styles]
        return _asn1.encode("kpm", "E2SM-KPM-RANfunction-Description", value)


def decode_ran_function_description(data: bytes) -> KpmRanFunctionDescription:
    """Decode a RAN function definition; pre-v03.00 layouts raise ``E2smDecodeError``."""
    with peer_errors("E2SM-KPM RAN function description"):
        v = _asn1.decode("kpm", "E2SM-KPM-RANfunction-Description", data)
        return KpmRanFunctionDescription(
            _ran_function_name_from_asn(v["ranFunction-Name"]),
            tuple(
                KpmEventTriggerStyle(
                    s["ric-EventTriggerStyle-Type"],
                    s["ric-EventTriggerStyle-Name"],
                    s["ric-EventTriggerFormat-Type"],
                )
                for s in v.get("ric-EventTriggerStyle-List", ())
            ),
            tuple(_report_style_from_asn(s) for s in v.get("ric-ReportStyle-List", ())),
        )


def _report_style_to_asn(s: KpmReportStyle) -> dict[str, Any]:
    return {
        "ric-ReportStyle-Type": s.style,
        "ric-ReportStyle-Name": s.name,
        "ric-ActionFormat-Type": s.action_format,
        "measInfo-Action-List": [{"measName": n} for n in s.measurements],
        "ric-IndicationHeaderFormat-Type": s.header_format,
        "ric-IndicationMessageFormat-Type": s.message_format,
    }


def _report_style_from_asn(s: dict[str, Any]) -> KpmReportStyle:
    return KpmReportStyle(
        s["ric-ReportStyle-Type"],
        s["ric-ReportStyle-Name"],
        s["ric-ActionFormat-Type"],
        tuple(m["measName"] for m in s["measInfo-Action-List"]),
        s["ric-IndicationHeaderFormat-Type"],
        s["ric-IndicationMessageFormat-Type"],
    )


# ---------------------------------------------------------------------------------------
# Event trigger
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KpmEventTrigger:
    """Event trigger format 1: report every ``period_ms`` milliseconds."""

    period_ms: int

    def __post_init__(self) -> None:
        _check_range("reporting period (ms)", self.period_ms, 1, _U32)


def encode_event_trigger(trigger: KpmEventTrigger) -> bytes:
    with local_errors("E2SM-KPM event trigger"):
        value = {
            "eventDefinition-formats": ("eventDefinition-Format1", {"reportingPeriod": trigger.period_ms})
        }
        return _asn1.encode("kpm", "E2SM-KPM-EventTriggerDefinition", value)


def decode_event_trigger(data: bytes) -> KpmEventTrigger:
    with peer_errors("E2SM-KPM event trigger", CauseRicRequest.EVENT_TRIGGER_NOT_SUPPORTED):
        v = _asn1.decode("kpm", "E2SM-KPM-EventTriggerDefinition", data)
        _fmt, body = v["eventDefinition-formats"]
        return KpmEventTrigger(body["reportingPeriod"])


# ---------------------------------------------------------------------------------------
# Measurement labels and info
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasLabel:
    """``MeasurementLabel`` (the fields the project uses; others are dropped on decode)."""

    no_label: bool = False
    plmn: Plmn | None = None
    slice_id: Snssai | None = None
    five_qi: int | None = None
    qfi: int | None = None
    qci: int | None = None
    sum: bool = False
    min: bool = False
    max: bool = False
    avg: bool = False


NO_LABEL = MeasLabel(no_label=True)

_LABEL_FLAGS = (("no_label", "noLabel"), ("sum", "sUM"), ("min", "min"), ("max", "max"), ("avg", "avg"))
_LABEL_INTS = (("five_qi", "fiveQI"), ("qfi", "qFI"), ("qci", "qCI"))


def _label_to_asn(label: MeasLabel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key in _LABEL_FLAGS:
        if getattr(label, attr):
            out[key] = "true"
    for attr, key in _LABEL_INTS:
        if getattr(label, attr) is not None:
            out[key] = getattr(label, attr)
    if label.plmn is not None:
        out["plmnID"] = label.plmn.to_bcd()
    if label.slice_id is not None:
        out["sliceID"] = _snssai_to_asn(label.slice_id)
    return out


def _label_from_asn(v: dict[str, Any]) -> MeasLabel:
    if len(v) == 1 and "noLabel" in v:
        return NO_LABEL
    plmn = v.get("plmnID")
    slice_id = v.get("sliceID")
    return MeasLabel(
        no_label="noLabel" in v,
        plmn=None if plmn is None else Plmn.from_bcd(plmn),
        slice_id=None if slice_id is None else _snssai_from_asn(slice_id),
        five_qi=v.get("fiveQI"),
        qfi=v.get("qFI"),
        qci=v.get("qCI"),
        sum="sUM" in v,
        min="min" in v,
        max="max" in v,
        avg="avg" in v,
    )


@dataclass(frozen=True, slots=True)
class MeasInfo:
    """A measurement to report (by name) and the labels to report it for.

    Each label yields one record per data item, in order: for measurements ``m1`` (labels
    ``a``, ``b``) and ``m2`` (one label) the records are ``m1/a, m1/b, m2``.
    """

    name: str
    labels: tuple[MeasLabel, ...] = (NO_LABEL,)

    def __post_init__(self) -> None:
        if not self.labels:
            raise E2EncodeError(f"measurement {self.name!r} needs at least one label")

    @classmethod
    def per_slice(cls, name: str, slices: Sequence[Snssai]) -> MeasInfo:
        """``name`` reported once per slice (``sliceID`` labels), or unlabeled if none."""
        if not slices:
            return cls(name)
        return cls(name, tuple(MeasLabel(slice_id=s) for s in slices))


def _meas_info_to_asn(m: MeasInfo) -> dict[str, Any]:
    return {
        "measType": ("measName", m.name),
        "labelInfoList": [{"measLabel": _label_to_asn(lab)} for lab in m.labels],
    }


def _meas_info_from_asn(v: dict[str, Any]) -> MeasInfo:
    kind, name = v["measType"]
    if kind != "measName":
        raise E2smDecodeError(
            "measurement IDs are not supported (use names)",
            cause=CauseRicRequest.ACTION_NOT_SUPPORTED,
        )
    return MeasInfo(name, tuple(_label_from_asn(x["measLabel"]) for x in v["labelInfoList"]))


# ---------------------------------------------------------------------------------------
# Action definition
# ---------------------------------------------------------------------------------------


class TestCondType(Enum):
    """``TestCond-Type`` alternatives (what a UE condition tests)."""

    __test__ = False  # not a pytest test class

    GBR = "gBR"
    AMBR = "aMBR"
    IS_STAT = "isStat"
    IS_CAT_M = "isCatM"
    RSRP = "rSRP"
    RSRQ = "rSRQ"
    UL_RSRP = "ul-rSRP"
    CQI = "cQI"
    FIVE_QI = "fiveQI"
    QCI = "qCI"
    S_NSSAI = "sNSSAI"


class TestCondExpression(Enum):
    __test__ = False

    EQUAL = "equal"
    GREATER_THAN = "greaterthan"
    LESS_THAN = "lessthan"
    CONTAINS = "contains"
    PRESENT = "present"


@dataclass(frozen=True, slots=True)
class TestEnum:
    """A ``valueEnum`` test value (an enumerated value's number)."""

    __test__ = False

    value: int


TestValue = bool | int | float | bytes | str | TestEnum | BitString


@dataclass(frozen=True, slots=True)
class TestCondition:
    """``TestCondInfo``: e.g. ``TestCondition(TestCondType.CQI, GREATER_THAN, 7)``."""

    __test__ = False

    test_type: TestCondType
    expression: TestCondExpression | None = None
    value: TestValue | None = None


@dataclass(frozen=True, slots=True)
class UeCondition:
    """One entry of a format-4 ``matchingUeCondList``."""

    test: TestCondition
    logical_or: bool = False


@dataclass(frozen=True, slots=True)
class KpmActionFormat1:
    """Node-level measurements (style 1), also the subscription info of formats 2, 4, 5."""

    measurements: tuple[MeasInfo, ...]
    granularity_ms: int
    cell: Cgi | None = None

    def __post_init__(self) -> None:
        if not self.measurements:
            raise E2EncodeError("an action definition needs at least one measurement")
        _check_range("granularity period (ms)", self.granularity_ms, 1, _U32)


@dataclass(frozen=True, slots=True)
class KpmActionFormat2:
    """Measurements of one UE (style 2)."""

    ue: UeId
    subscription: KpmActionFormat1


@dataclass(frozen=True, slots=True)
class KpmActionFormat4:
    """UE-level measurements for the UEs matching common conditions (style 4)."""

    conditions: tuple[UeCondition, ...]
    subscription: KpmActionFormat1

    def __post_init__(self) -> None:
        if not self.conditions:
            raise E2EncodeError("format 4 needs at least one UE condition")


@dataclass(frozen=True, slots=True)
class KpmActionFormat5:
    """UE-level measurements for an explicit list of at least two UEs (style 5)."""

    ues: tuple[UeId, ...]
    subscription: KpmActionFormat1

    def __post_init__(self) -> None:
        if len(self.ues) < 2:
            raise E2EncodeError("format 5 needs at least two UEs")


KpmActionFormat = KpmActionFormat1 | KpmActionFormat2 | KpmActionFormat4 | KpmActionFormat5


@dataclass(frozen=True, slots=True)
class KpmActionDefinition:
    """``E2SM-KPM-ActionDefinition``: the report style and its format-specific body."""

    style: int
    body: KpmActionFormat

    @property
    def measurements(self) -> tuple[MeasInfo, ...]:
        """The measurements subscribed, whatever the format."""
        if isinstance(self.body, KpmActionFormat1):
            return self.body.measurements
        return self.body.subscription.measurements

    @property
    def granularity_ms(self) -> int:
        if isinstance(self.body, KpmActionFormat1):
            return self.body.granularity_ms
        return self.body.subscription.granularity_ms


def node_level_action(
    measurements: Sequence[str], granularity_ms: int, slices: Sequence[Snssai] = ()
) -> KpmActionDefinition:
    """Style 1 / format 1; with ``slices``, every measurement is reported per slice."""
    infos = tuple(MeasInfo.per_slice(name, slices) for name in measurements)
    return KpmActionDefinition(1, KpmActionFormat1(infos, granularity_ms))


def ue_list_action(
    measurements: Sequence[str], granularity_ms: int, ues: Sequence[UeId]
) -> KpmActionDefinition:
    """Style 5 / format 5: ``measurements`` for each UE of ``ues`` (at least two)."""
    sub = KpmActionFormat1(tuple(MeasInfo(n) for n in measurements), granularity_ms)
    return KpmActionDefinition(5, KpmActionFormat5(tuple(ues), sub))


def ue_condition_action(
    measurements: Sequence[str], granularity_ms: int, conditions: Sequence[UeCondition]
) -> KpmActionDefinition:
    """Style 4 / format 4: ``measurements`` for each UE matching ``conditions``."""
    sub = KpmActionFormat1(tuple(MeasInfo(n) for n in measurements), granularity_ms)
    return KpmActionDefinition(4, KpmActionFormat4(tuple(conditions), sub))


def _format1_to_asn(f: KpmActionFormat1) -> dict[str, Any]:
    out: dict[str, Any] = {
        "measInfoList": [_meas_info_to_asn(m) for m in f.measurements],
        "granulPeriod": f.granularity_ms,
    }
    if f.cell is not None:
        out["cellGlobalID"] = _cgi_to_asn(f.cell)
    return out


def _format1_from_asn(v: dict[str, Any]) -> KpmActionFormat1:
    cell = v.get("cellGlobalID")
    return KpmActionFormat1(
        tuple(_meas_info_from_asn(m) for m in v["measInfoList"]),
        v["granulPeriod"],
        None if cell is None else _cgi_from_asn(cell),
    )


_TEST_VALUE_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "valueBool"),  # before int: bool is an int subclass
    (int, "valueInt"),
    (float, "valueReal"),
    (bytes, "valueOctS"),
    (str, "valuePrtS"),
)


def _test_value_to_asn(value: TestValue) -> tuple[str, Any]:
    if isinstance(value, TestEnum):
        return ("valueEnum", value.value)
    if isinstance(value, BitString):
        return ("valueBitS", (value.data, value.length))
    for typ, kind in _TEST_VALUE_KINDS:
        if isinstance(value, typ):
            return (kind, value)
    raise E2EncodeError(f"unsupported test value {value!r}")


def _test_value_from_asn(v: tuple[str, Any]) -> TestValue:
    kind, value = v
    if kind == "valueEnum":
        return TestEnum(value)
    if kind == "valueBitS":
        return BitString(bytes(value[0]), value[1])
    if isinstance(value, TestValue):
        return value
    raise ValueError(f"unsupported test value {kind!r}")


def _condition_to_asn(c: UeCondition) -> dict[str, Any]:
    info: dict[str, Any] = {"testType": (c.test.test_type.value, "true")}
    if c.test.expression is not None:
        info["testExpr"] = c.test.expression.value
    if c.test.value is not None:
        info["testValue"] = _test_value_to_asn(c.test.value)
    out: dict[str, Any] = {"testCondInfo": info}
    if c.logical_or:
        out["logicalOR"] = "true"
    return out


def _condition_from_asn(v: dict[str, Any]) -> UeCondition:
    info = v["testCondInfo"]
    expr = info.get("testExpr")
    value = info.get("testValue")
    test = TestCondition(
        TestCondType(info["testType"][0]),
        None if expr is None else TestCondExpression(expr),
        None if value is None else _test_value_from_asn(value),
    )
    return UeCondition(test, "logicalOR" in v)


def _action_body_to_asn(body: KpmActionFormat) -> tuple[str, dict[str, Any]]:
    if isinstance(body, KpmActionFormat1):
        return ("actionDefinition-Format1", _format1_to_asn(body))
    if isinstance(body, KpmActionFormat2):
        sub = _format1_to_asn(body.subscription)
        return ("actionDefinition-Format2", {"ueID": _ue_id_to_asn(body.ue), "subscriptInfo": sub})
    if isinstance(body, KpmActionFormat4):
        conds = [_condition_to_asn(c) for c in body.conditions]
        sub = _format1_to_asn(body.subscription)
        return ("actionDefinition-Format4", {"matchingUeCondList": conds, "subscriptionInfo": sub})
    ues = [{"ueID": _ue_id_to_asn(u)} for u in body.ues]
    sub = _format1_to_asn(body.subscription)
    return ("actionDefinition-Format5", {"matchingUEidList": ues, "subscriptionInfo": sub})


def _action_body_from_asn(v: tuple[str, dict[str, Any]]) -> KpmActionFormat:
    kind, body = v
    if kind == "actionDefinition-Format1":
        return _format1_from_asn(body)
    if kind == "actionDefinition-Format2":
        return KpmActionFormat2(_ue_id_from_asn(body["ueID"]), _format1_from_asn(body["subscriptInfo"]))
    if kind == "actionDefinition-Format4":
        conds = tuple(_condition_from_asn(c) for c in body["matchingUeCondList"])
        return KpmActionFormat4(conds, _format1_from_asn(body["subscriptionInfo"]))
    if kind == "actionDefinition-Format5":
        ues = tuple(_ue_id_from_asn(u["ueID"]) for u in body["matchingUEidList"])
        return KpmActionFormat5(ues, _format1_from_asn(body["subscriptionInfo"]))
    raise E2smDecodeError(
        f"KPM action definition {kind} is not supported",
        cause=CauseRicRequest.ACTION_NOT_SUPPORTED,
    )


def encode_action_definition(action: KpmActionDefinition) -> bytes:
    with local_errors("E2SM-KPM action definition"):
        value = {"ric-Style-Type": action.style, "actionDefinition-formats": _action_body_to_asn(action.body)}
        return _asn1.encode("kpm", "E2SM-KPM-ActionDefinition", value)


def decode_action_definition(data: bytes) -> KpmActionDefinition:
    """Decode a v03.00 action definition.

    Raises :class:`E2smVersionError` (cause ``action-not-supported``) when the bytes are a
    KPM v02.01 action definition, and :class:`E2smDecodeError` for anything else invalid.
    """
    try:
        with peer_errors("E2SM-KPM action definition", CauseRicRequest.ACTION_NOT_SUPPORTED):
            v = _asn1.decode("kpm", "E2SM-KPM-ActionDefinition", data)
    except E2smDecodeError as exc:
        _raise_if_kpm_v0201(data, exc)
        raise
    with peer_errors("E2SM-KPM action definition", CauseRicRequest.ACTION_NOT_SUPPORTED):
        return KpmActionDefinition(v["ric-Style-Type"], _action_body_from_asn(v["actionDefinition-formats"]))


def _raise_if_kpm_v0201(data: bytes, original: E2smDecodeError) -> None:
    try:
        v = _asn1.decode("kpm_v0201", "E2SM-KPM-ActionDefinition", data)
    except Exception:  # not v02.01 either: keep the v03.00 error
        return
    kind = v["actionDefinition-formats"][0].rsplit("-", 1)[-1].lower()
    raise E2smVersionError(
        f"E2SM-KPM v02.01 action definition (style {v['ric-Style-Type']}, {kind}); "
        "this node implements E2SM-KPM v03.00",
        version="v02.01",
        cause=CauseRicRequest.ACTION_NOT_SUPPORTED,
    ) from original


# ---------------------------------------------------------------------------------------
# Indication header
# ---------------------------------------------------------------------------------------

_NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


def ntp_timestamp(unix_seconds: float) -> int:
    """The 64-bit NTP timestamp (32.32 fixed point, epoch 1900) of a Unix time."""
    whole = int(unix_seconds)
    frac = int((unix_seconds - whole) * (1 << 32))
    return ((whole + _NTP_UNIX_OFFSET) << 32) | frac


def unix_time(ntp: int) -> float:
    """The Unix time of a 64-bit NTP timestamp (inverse of :func:`ntp_timestamp`)."""
    return (ntp >> 32) - _NTP_UNIX_OFFSET + (ntp & _U32) / (1 << 32)


@dataclass(frozen=True, slots=True)
class KpmIndicationHeader:
    """Indication header format 1.

    ``collect_start_time`` is the 8-octet ``TimeStamp`` as an unsigned integer; the
    standard means an NTP timestamp (see :func:`ntp_timestamp`), srsRAN puts Unix seconds.
    """

    collect_start_time: int
    file_format_version: str | None = None
    sender_name: str | None = None
    sender_type: str | None = None
    vendor_name: str | None = None

    def __post_init__(self) -> None:
        _check_range("collection start time", self.collect_start_time, 0, (1 << 64) - 1)


_HEADER_FIELDS = (
    ("file_format_version", "fileFormatversion"),
    ("sender_name", "senderName"),
    ("sender_type", "senderType"),
    ("vendor_name", "vendorName"),
)


def encode_indication_header(header: KpmIndicationHeader) -> bytes:
    """Encode a header; all but the timestamp is encoded once per distinct rest and reused
    (octets 1-8 hold the timestamp whatever the rest is: see :func:`decode_indication_header`)."""
    rest = tuple(getattr(header, attr) for attr, _ in _HEADER_FIELDS)
    template = _header_template(rest)
    if template is None:
        return _encode_header(header)
    return template[:1] + header.collect_start_time.to_bytes(8, "big") + template[9:]


@lru_cache(maxsize=256)
def _header_template(rest: tuple[str | None, ...]) -> bytes | None:
    """The header's octets with a zero timestamp, or None where the layout is not the fixed one."""
    data = _encode_header(KpmIndicationHeader(0, *rest))
    probe = _encode_header(KpmIndicationHeader((1 << 64) - 1, *rest))
    fixed = len(data) >= 9 and not data[0] & 0xE0
    if not fixed or probe != data[:1] + b"\xff" * 8 + data[9:]:
        return None
    return data


def _encode_header(header: KpmIndicationHeader) -> bytes:
    with local_errors("E2SM-KPM indication header"):
        body: dict[str, Any] = {"colletStartTime": header.collect_start_time.to_bytes(8, "big")}
        for attr, key in _HEADER_FIELDS:
            if getattr(header, attr) is not None:
                body[key] = getattr(header, attr)
        value = {"indicationHeader-formats": ("indicationHeader-Format1", body)}
        return _asn1.encode("kpm", "E2SM-KPM-IndicationHeader", value)


_HEADER_REST: dict[bytes, tuple[str | None, ...]] = {}
_HEADER_REST_KEPT = 256


def decode_indication_header(data: bytes) -> KpmIndicationHeader:
    """Decode a header; a node sends the same header but for the timestamp, so the rest is
    decoded once per distinct encoding of it and reused.

    Without extensions (the first three bits zero) the aligned-PER layout is fixed: octet 0
    holds the extension and presence bits, octets 1-8 the ``colletStartTime`` octet string,
    and what follows (the optional strings) starts at octet 9, whatever the timestamp is.
    """
    if len(data) >= 9 and not data[0] & 0xE0:
        key = data[:1] + data[9:]
        rest = _HEADER_REST.get(key)
        if rest is not None:
            return KpmIndicationHeader(int.from_bytes(data[1:9], "big"), *rest)
    with peer_errors("E2SM-KPM indication header"):
        v = _asn1.decode("kpm", "E2SM-KPM-IndicationHeader", data)
        body = v["indicationHeader-formats"][1]
        header = KpmIndicationHeader(
            int.from_bytes(body["colletStartTime"], "big"),
            *(body.get(key) for _attr, key in _HEADER_FIELDS),
        )
    fixed_layout = len(data) >= 9 and not data[0] & 0xE0
    if fixed_layout and header.collect_start_time == int.from_bytes(data[1:9], "big"):
        if len(_HEADER_REST) >= _HEADER_REST_KEPT:
            _HEADER_REST.clear()
        _HEADER_REST[data[:1] + data[9:]] = tuple(getattr(header, attr) for attr, _key in _HEADER_FIELDS)
    return header


# ---------------------------------------------------------------------------------------
# Indication message
# ---------------------------------------------------------------------------------------

MeasRecord = int | float | None
"""One measurement value: ``int`` (0..2**32-1), ``float`` (REAL) or ``None`` (noValue)."""


@dataclass(frozen=True, slots=True)
class MeasDataItem:
    """The records of one granularity period, in measurement/label order."""

    records: tuple[MeasRecord, ...]
    incomplete: bool = False

    def __post_init__(self) -> None:
        if not self.records:
            raise E2EncodeError("a measurement data item needs at least one record")
        for r in self.records:
            if r is None or type(r) is float:
                continue
            if type(r) is not int or not 0 <= r <= _U32:
                raise E2EncodeError(f"measurement record must be int 0..2**32-1, float or None: {r!r}")


@dataclass(frozen=True, slots=True)
class KpmIndicationFormat1:
    """Indication message format 1 (also each UE's report inside format 3).

    ``measurements`` may be omitted (the records then follow the subscription's order).
    """

    data: tuple[MeasDataItem, ...]
    measurements: tuple[MeasInfo, ...] | None = None
    granularity_ms: int | None = None

    def __post_init__(self) -> None:
        if not self.data:
            raise E2EncodeError("an indication needs at least one measurement data item")
        if self.measurements is not None and not self.measurements:
            raise E2EncodeError("measurements, when given, must not be empty")
        if self.granularity_ms is not None:
            _check_range("granularity period (ms)", self.granularity_ms, 1, _U32)

    def columns(self, measurements: Sequence[MeasInfo] | None = None) -> tuple[tuple[str, MeasLabel], ...]:
        """``(name, label)`` of each record position.

        Taken from this message's ``measurements`` or else from ``measurements`` (the
        subscription's action definition).
        """
        infos = self.measurements if self.measurements is not None else measurements
        if infos is None:
            raise ValueError("the report lists no measurements; pass the subscribed ones")
        return tuple((m.name, label) for m in infos for label in m.labels)

    def as_dict(
        self, measurements: Sequence[MeasInfo] | None = None, period: int = -1
    ) -> dict[tuple[str, MeasLabel], MeasRecord]:
        """Records of data item ``period`` (default: the last) keyed by ``(name, label)``."""
        cols = self.columns(measurements)
        records = self.data[period].records
        if len(records) != len(cols):
            raise ValueError(f"{len(records)} records for {len(cols)} measurement columns")
        return dict(zip(cols, records, strict=True))


@dataclass(frozen=True, slots=True)
class UeMeasReport:
    ue: UeId
    report: KpmIndicationFormat1


@dataclass(frozen=True, slots=True)
class KpmIndicationFormat3:
    """Indication message format 3: one format-1 report per UE (styles 4 and 5)."""

    reports: tuple[UeMeasReport, ...]

    def __post_init__(self) -> None:
        if not self.reports:
            raise E2EncodeError("format 3 needs at least one UE report")


KpmIndicationMessage = KpmIndicationFormat1 | KpmIndicationFormat3


def encode_indication_message(message: KpmIndicationMessage) -> bytes:
    """APER-encode an indication message (fast path for the common subset)."""
    with local_errors("E2SM-KPM indication message"):
        fast = _kpm_fast.encode_indication(message)
        if fast is not None:
            return fast
        if isinstance(message, KpmIndicationFormat3):  # asn1tools mis-frames big open types
            body = _asn1.encode("kpm", "E2SM-KPM-IndicationMessage-Format3", _format3_to_asn(message))
            return _kpm_fast.wrap_format3(body)
        value = {
            "indicationMessage-formats": ("indicationMessage-Format1", _indication_format1_to_asn(message))
        }
        return _asn1.encode("kpm", "E2SM-KPM-IndicationMessage", value)


def encode_ue_reports(
    ue_ids: NDArray[np.integer],
    columns: Sequence[NDArray[np.generic]],
    measurements: tuple[MeasInfo, ...],
    granularity_ms: int,
) -> bytes:
    """APER-encode format 3 from measurement columns: UE ``GnbDuUeId(ue_ids[u])`` reports
    ``columns[i][u]`` for ``measurements[i]`` (an integer column gives INTEGER records, a
    float column REAL ones) with ``granularity_ms``. The same bytes as
    :func:`encode_indication_message` of that typed message, packed for all UEs at once."""
    fast = _kpm_fast.encode_format3_columns(ue_ids, columns, measurements, granularity_ms)
    if fast is not None:
        return fast
    values = [c.tolist() for c in columns]
    reports = tuple(
        UeMeasReport(
            GnbDuUeId(int(u)),
            KpmIndicationFormat1((MeasDataItem(tuple(v[j] for v in values)),), measurements, granularity_ms),
        )
        for j, u in enumerate(np.asarray(ue_ids).tolist())
    )
    return encode_indication_message(KpmIndicationFormat3(reports))


def decode_indication_message(data: bytes) -> KpmIndicationMessage:
    with peer_errors("E2SM-KPM indication message"):
        fast = _kpm_fast.decode_indication(data)
        if fast is not None:
            return fast
        body = _kpm_fast.unwrap_format3(data)
        if body is not None:
            return _format3_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage-Format3", body))
        return _indication_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage", data))


def _record_to_asn(r: MeasRecord) -> tuple[str, Any]:
    if r is None:
        return ("noValue", None)
    if type(r) is float:
        return ("real", r)
    return ("integer", r)


def _record_from_asn(v: tuple[str, Any]) -> MeasRecord:
    kind, value = v
    if kind == "noValue":
        return None
    if kind == "real":
        return float(value)
    return int(value)


def _indication_format1_to_asn(m: KpmIndicationFormat1) -> dict[str, Any]:
    data = []
    for item in m.data:
        d: dict[str, Any] = {"measRecord": [_record_to_asn(r) for r in item.records]}
        if item.incomplete:
            d["incompleteFlag"] = "true"
        data.append(d)
    out: dict[str, Any] = {"measData": data}
    if m.measurements is not None:
        out["measInfoList"] = [_meas_info_to_asn(x) for x in m.measurements]
    if m.granularity_ms is not None:
        out["granulPeriod"] = m.granularity_ms
    return out


def _indication_format1_from_asn(v: dict[str, Any]) -> KpmIndicationFormat1:
    data = tuple(
        MeasDataItem(tuple(_record_from_asn(r) for r in d["measRecord"]), "incompleteFlag" in d)
        for d in v["measData"]
    )
    infos = v.get("measInfoList")
    return KpmIndicationFormat1(
        data,
        None if infos is None else tuple(_meas_info_from_asn(x) for x in infos),
        v.get("granulPeriod"),
    )


def _format3_to_asn(message: KpmIndicationFormat3) -> dict[str, Any]:
    reports = [
        {"ueID": _ue_id_to_asn(r.ue), "measReport": _indication_format1_to_asn(r.report)}
        for r in message.reports
    ]
    return {"ueMeasReportList": reports}


def _format3_from_asn(v: dict[str, Any]) -> KpmIndicationFormat3:
    return KpmIndicationFormat3(
        tuple(
            UeMeasReport(_ue_id_from_asn(r["ueID"]), _indication_format1_from_asn(r["measReport"]))
            for r in v["ueMeasReportList"]
        )
    )


def _indication_to_asn(message: KpmIndicationMessage) -> dict[str, Any]:
    """The whole message as asn1tools values (only correct below 16 KiB for format 3)."""
    if isinstance(message, KpmIndicationFormat1):
        return {
            "indicationMessage-formats": ("indicationMessage-Format1", _indication_format1_to_asn(message))
        }
    return {"indicationMessage-formats": ("indicationMessage-Format3", _format3_to_asn(message))}


def _indication_from_asn(v: dict[str, Any]) -> KpmIndicationMessage:
    kind, body = v["indicationMessage-formats"]
    if kind == "indicationMessage-Format1":
        return _indication_format1_from_asn(body)
    if kind == "indicationMessage-Format3":
        return _format3_from_asn(body)
    raise E2smDecodeError(f"KPM indication {kind} is not supported")
