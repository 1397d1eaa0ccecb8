"""E2SM-KPM v03.00 typed codec, and the fast indication path against the asn1tools path."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric import _asn1, _kpm_fast, kpm
from ric.cause import CauseRicRequest
from ric.e2sm_common import BitString, GnbCuUpUeId, GnbDuUeId, GnbUeId, Guami, NrCgi, Snssai, UeId
from ric.errors import E2EncodeError, E2smDecodeError
from ric.kpm import (
    NO_LABEL,
    KpmActionDefinition,
    KpmActionFormat1,
    KpmActionFormat2,
    KpmActionFormat4,
    KpmActionFormat5,
    KpmIndicationFormat1,
    KpmIndicationFormat3,
    KpmIndicationHeader,
    MeasDataItem,
    MeasInfo,
    MeasLabel,
    TestCondExpression,
    TestCondition,
    TestCondType,
    TestEnum,
    UeCondition,
    UeMeasReport,
)
from ric.plmn import Plmn
from slicing import measurements as meas

PLMN = Plmn("001", "01")
NAMES = tuple(kpm.MEASUREMENTS)
GUAMI = Guami(PLMN, 1, 2, 3)


def test_measurement_registry() -> None:
    assert NAMES[:5] == (
        "DRB.UEThpDl",
        "DRB.RlcSduDelayDl",
        "RRU.PrbUsedDl",
        "RRU.PrbAvailDl",
        "DRB.RlcPacketDropRateDl",
    )
    assert kpm.DRB_UE_THP_DL.integer and not kpm.DRB_RLC_SDU_DELAY_DL.integer
    # Every measurement of the slicing contract is served; project-only ones are prefixed.
    contract = set(meas.UE_MEASUREMENTS) | set(meas.SLICE_MEASUREMENTS)
    assert contract <= set(NAMES)
    standard = {"DRB.", "RRU.", "RRC."}
    assert all(n.startswith("metahrl.") or n[:4] in standard for n in NAMES)


def test_ran_function_description_round_trip() -> None:
    desc = kpm.default_ran_function_description()
    assert kpm.decode_ran_function_description(kpm.encode_ran_function_description(desc)) == desc
    style4 = desc.report_style(4)
    assert style4 is not None and (style4.action_format, style4.message_format) == (4, 3)
    assert desc.report_style(9) is None


@pytest.mark.parametrize("period", [1, 1000, 10000, 2**32 - 1])
def test_event_trigger_round_trip(period: int) -> None:
    trig = kpm.KpmEventTrigger(period)
    assert kpm.decode_event_trigger(kpm.encode_event_trigger(trig)) == trig


def test_event_trigger_range() -> None:
    with pytest.raises(E2EncodeError):
        kpm.KpmEventTrigger(0)


SUB = KpmActionFormat1(tuple(MeasInfo(n) for n in NAMES[:2]), 1000)
ACTIONS = [
    kpm.node_level_action(NAMES, 1000),
    kpm.node_level_action(NAMES, 500, slices=[Snssai(1), Snssai(2, 0x000021)]),
    KpmActionDefinition(1, KpmActionFormat1(SUB.measurements, 100, NrCgi(PLMN, 0x19B0))),
    KpmActionDefinition(
        1,
        KpmActionFormat1(
            (
                MeasInfo(
                    "DRB.UEThpDl",
                    (MeasLabel(plmn=PLMN, five_qi=9, qfi=1, qci=8, sum=True, min=True, max=True, avg=True),),
                ),
            ),
            1000,
        ),
    ),
    KpmActionDefinition(2, KpmActionFormat2(GnbUeId(5, GUAMI, (1,)), SUB)),
    kpm.ue_list_action(NAMES, 1000, [GnbDuUeId(1), GnbDuUeId(2, b"12345678"), GnbCuUpUeId(3)]),
    kpm.ue_condition_action(
        NAMES,
        1000,
        [
            UeCondition(TestCondition(TestCondType.UL_RSRP, TestCondExpression.LESS_THAN, 1000)),
            UeCondition(
                TestCondition(TestCondType.S_NSSAI, TestCondExpression.EQUAL, b"\x01"), logical_or=True
            ),
            UeCondition(TestCondition(TestCondType.CQI, TestCondExpression.GREATER_THAN, 2.5)),
            UeCondition(TestCondition(TestCondType.IS_STAT, None, True)),
            UeCondition(TestCondition(TestCondType.FIVE_QI, TestCondExpression.PRESENT, TestEnum(3))),
            UeCondition(TestCondition(TestCondType.GBR, TestCondExpression.CONTAINS, "x")),
            UeCondition(TestCondition(TestCondType.QCI, None, BitString(b"\xa0", 3))),
            UeCondition(TestCondition(TestCondType.RSRQ)),
        ],
    ),
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: f"style{a.style}")
def test_action_definition_round_trip(action: KpmActionDefinition) -> None:
    data = kpm.encode_action_definition(action)
    assert kpm.decode_action_definition(data) == action
    assert action.measurements and action.granularity_ms > 0


def test_action_definition_format_rules() -> None:
    with pytest.raises(E2EncodeError):
        KpmActionFormat5((GnbDuUeId(1),), SUB)  # at least two UEs
    with pytest.raises(E2EncodeError):
        KpmActionFormat4((), SUB)
    with pytest.raises(E2EncodeError):
        KpmActionFormat1((), 1000)
    with pytest.raises(E2EncodeError):
        MeasInfo("x", ())


def test_per_slice_labels() -> None:
    info = MeasInfo.per_slice("DRB.UEThpDl", [Snssai(1), Snssai(2, 3)])
    assert info.labels == (MeasLabel(slice_id=Snssai(1)), MeasLabel(slice_id=Snssai(2, 3)))
    assert MeasInfo.per_slice("DRB.UEThpDl", []).labels == (NO_LABEL,)


def test_format3_action_definition_is_refused_with_cause() -> None:
    value = {
        "ric-Style-Type": 3,
        "actionDefinition-formats": (
            "actionDefinition-Format3",
            {
                "measCondList": [
                    {
                        "measType": ("measName", "CQI"),
                        "matchingCond": [{"matchingCondChoice": ("measLabel", {"noLabel": "true"})}],
                    }
                ],
                "granulPeriod": 1000,
            },
        ),
    }
    data = _asn1.encode("kpm", "E2SM-KPM-ActionDefinition", value)
    with pytest.raises(E2smDecodeError) as info:
        kpm.decode_action_definition(data)
    assert info.value.cause is CauseRicRequest.ACTION_NOT_SUPPORTED


def test_indication_header_round_trip_and_ntp() -> None:
    t = 1_700_000_000.25
    header = KpmIndicationHeader(kpm.ntp_timestamp(t), "v3", "du-1", "DU", "oran-metahrl")
    assert kpm.decode_indication_header(kpm.encode_indication_header(header)) == header
    assert kpm.unix_time(header.collect_start_time) == pytest.approx(t)
    srsran_style = KpmIndicationHeader(1_700_000_000)
    assert kpm.decode_indication_header(kpm.encode_indication_header(srsran_style)) == srsran_style


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**64 - 1),
    st.none() | st.text(alphabet="v0.3", max_size=15),
    st.none() | st.text(alphabet="abc -1", max_size=400),
    st.none() | st.text(alphabet="DU", max_size=8),
    st.none() | st.text(alphabet="oran-metahrl", max_size=32),
)
def test_indication_header_reuse_matches_asn1tools(
    t: int, version: str | None, sender: str | None, kind: str | None, vendor: str | None
) -> None:
    """The part after the timestamp is decoded once and reused: every timestamp still comes
    out as asn1tools decodes it, the first time and when the rest is known."""
    header = KpmIndicationHeader(t, version, sender, kind, vendor)
    data = kpm.encode_indication_header(header)
    for other in (t, (t * 7 + 1) % 2**64):
        again = kpm.encode_indication_header(KpmIndicationHeader(other, *_header_rest(header)))
        assert kpm.decode_indication_header(again) == KpmIndicationHeader(other, *_header_rest(header))
        reference = _asn1.decode("kpm", "E2SM-KPM-IndicationHeader", again)["indicationHeader-formats"][1]
        assert kpm.decode_indication_header(again).collect_start_time == int.from_bytes(
            reference["colletStartTime"], "big"
        )
    assert kpm.decode_indication_header(data) == header


def _header_rest(h: KpmIndicationHeader) -> tuple[str | None, ...]:
    return (h.file_format_version, h.sender_name, h.sender_type, h.vendor_name)


def test_fast_decoder_mixes_octet_and_bit_paths() -> None:
    """UE reports the octet path reads (integers and reals only) next to ones it hands back
    to the bit reader (noValue, incompleteFlag, over 127 records) in one message."""
    infos_ = tuple(MeasInfo(n) for n in NAMES)
    many = (*(float(i) / 3 for i in range(130)), 0.0, -0.0, math.inf, 7, 2**32 - 1)
    reports = (
        _ue_report(1, infos_),
        UeMeasReport(GnbDuUeId(2), KpmIndicationFormat1((MeasDataItem((1, None, 2.5)),), infos_, 10)),
        UeMeasReport(GnbDuUeId(3, b"12345678"), KpmIndicationFormat1((MeasDataItem((4, 5.5), True),))),
        UeMeasReport(
            GnbDuUeId(2**32 - 1),
            KpmIndicationFormat1(
                (MeasDataItem(many), MeasDataItem((1,))),
            ),
        ),
        _ue_report(5, None),
        _ue_report(6, infos_),
    )
    msg = KpmIndicationFormat3(reports)
    data = _slow_encode(msg)
    assert _kpm_fast.decode_indication(data) == msg
    node = KpmIndicationFormat1((MeasDataItem((3, 1.25, 0.0)), MeasDataItem((None, 2))), infos_[:3], 10)
    assert _kpm_fast.decode_indication(_slow_encode(node)) == node


def _ue_report(i: int, infos: tuple[MeasInfo, ...] | None) -> UeMeasReport:
    records = (1000 + i, 12.5 + i, 10, 106, 0.01)
    return UeMeasReport(GnbDuUeId(i), KpmIndicationFormat1((MeasDataItem(records),), infos, 1000))


def test_ue_level_indication_round_trip_and_lookup() -> None:
    infos = tuple(MeasInfo(n) for n in NAMES[:5])
    msg = KpmIndicationFormat3(tuple(_ue_report(i, infos) for i in range(30)))
    data = kpm.encode_indication_message(msg)
    decoded = kpm.decode_indication_message(data)
    assert decoded == msg
    assert isinstance(decoded, KpmIndicationFormat3)
    first = decoded.reports[3].report.as_dict()
    assert first[("DRB.UEThpDl", NO_LABEL)] == 1003
    assert first[("DRB.RlcSduDelayDl", NO_LABEL)] == 15.5


def test_report_without_measurement_list_uses_the_subscription() -> None:
    report = KpmIndicationFormat1((MeasDataItem((1, 2)), MeasDataItem((3, None))))
    decoded = kpm.decode_indication_message(kpm.encode_indication_message(report))
    assert isinstance(decoded, KpmIndicationFormat1)
    with pytest.raises(ValueError):
        decoded.as_dict()
    assert decoded.as_dict(SUB.measurements) == {
        ("DRB.UEThpDl", NO_LABEL): 3,
        ("DRB.RlcSduDelayDl", NO_LABEL): None,
    }
    assert decoded.as_dict(SUB.measurements, period=0)[("DRB.UEThpDl", NO_LABEL)] == 1


def test_record_validation() -> None:
    for bad in (-1, 2**32, True, "1"):
        with pytest.raises(E2EncodeError):
            MeasDataItem((bad,))  # type: ignore[arg-type]
    with pytest.raises(E2EncodeError):
        MeasDataItem(())


# ---------------------------------------------------------------------------------------
# Fast path == asn1tools path
# ---------------------------------------------------------------------------------------

names = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?",
    min_size=1,
    max_size=150,
)
snssais = st.builds(Snssai, st.integers(0, 255), st.none() | st.integers(0, 0xFFFFFF))
labels = st.one_of(
    st.just(NO_LABEL),
    st.just(MeasLabel()),
    st.builds(MeasLabel, no_label=st.booleans(), slice_id=snssais),
    st.builds(MeasLabel, qci=st.integers(0, 255), slice_id=st.none() | snssais),  # outside the fast subset
)
infos = st.builds(MeasInfo, names, st.lists(labels, min_size=1, max_size=3).map(tuple))
records = st.one_of(
    st.none(),
    st.integers(0, 2**32 - 1),
    st.floats(allow_nan=False, width=64),
)
data_items = st.builds(MeasDataItem, st.lists(records, min_size=1, max_size=6).map(tuple), st.booleans())
format1 = st.builds(
    KpmIndicationFormat1,
    st.lists(data_items, min_size=1, max_size=3).map(tuple),
    st.none() | st.lists(infos, min_size=1, max_size=4).map(tuple),
    st.none() | st.integers(1, 2**32 - 1),
)
ue_ids: st.SearchStrategy[UeId] = st.one_of(
    st.builds(GnbDuUeId, st.integers(0, 2**32 - 1), st.none() | st.binary(min_size=8, max_size=8)),
    st.builds(GnbUeId, st.integers(0, 2**40 - 1), st.just(GUAMI)),  # outside the fast subset
)


@st.composite
def format3(draw: st.DrawFn) -> KpmIndicationFormat3:
    shared = draw(st.none() | st.lists(infos, min_size=1, max_size=3).map(tuple))
    reports = []
    for _ in range(draw(st.integers(1, 6))):
        report = draw(format1)
        if shared is not None and draw(st.booleans()):  # the srsRAN shape: same list for every UE
            report = KpmIndicationFormat1(report.data, shared, report.granularity_ms)
        reports.append(UeMeasReport(draw(ue_ids), report))
    return KpmIndicationFormat3(tuple(reports))


def _slow_encode(message: kpm.KpmIndicationMessage) -> bytes:
    return _asn1.encode("kpm", "E2SM-KPM-IndicationMessage", kpm._indication_to_asn(message))


def _slow_decode(data: bytes) -> kpm.KpmIndicationMessage:
    return kpm._indication_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage", data))


@settings(max_examples=150, deadline=None)
@given(st.one_of(format1, format3()))
def test_fast_path_matches_asn1tools(message: kpm.KpmIndicationMessage) -> None:
    reference = _slow_encode(message)
    fast = _kpm_fast.encode_indication(message)
    assert fast is None or fast == reference
    assert _slow_decode(reference) == message
    decoded = _kpm_fast.decode_indication(reference)
    assert decoded is None or decoded == message
    assert kpm.decode_indication_message(reference) == message


def test_fast_path_covers_the_srsran_shape() -> None:
    infos_ = tuple(MeasInfo(n) for n in NAMES)
    msg = KpmIndicationFormat3(tuple(_ue_report(i, infos_) for i in range(30)))
    assert _kpm_fast.encode_indication(msg) is not None
    assert _kpm_fast.decode_indication(_slow_encode(msg)) == msg
    sliced = KpmIndicationFormat1(
        (MeasDataItem((1, 2)),), (MeasInfo.per_slice("DRB.UEThpDl", [Snssai(1), Snssai(2, 5)]),)
    )
    assert _kpm_fast.encode_indication(sliced) == _slow_encode(sliced)


def test_special_reals_round_trip() -> None:
    msg = KpmIndicationFormat1((MeasDataItem((math.inf, -math.inf, 0.0, -2.5e-300, 1e300)),))
    assert kpm.decode_indication_message(kpm.encode_indication_message(msg)) == msg
    nan = kpm.decode_indication_message(
        kpm.encode_indication_message(KpmIndicationFormat1((MeasDataItem((math.nan,)),)))
    )
    assert isinstance(nan, KpmIndicationFormat1) and math.isnan(nan.data[0].records[0])  # type: ignore[arg-type]


def test_fast_decoder_defers_on_trailing_data_and_truncation() -> None:
    data = kpm.encode_indication_message(KpmIndicationFormat3((_ue_report(1, None), _ue_report(2, None))))
    for bad in (data + b"\x00", data[:-1], data[:5]):
        assert _kpm_fast.decode_indication(bad) is None
        with pytest.raises(E2smDecodeError):
            kpm.decode_indication_message(bad)


# ---------------------------------------------------------------------------------------
# Big reports: PER length fragmentation of the format-3 open type
# ---------------------------------------------------------------------------------------


def _big_report(n: int, ue: type[GnbDuUeId] | type[GnbUeId]) -> KpmIndicationFormat3:
    infos_ = tuple(MeasInfo(name) for name in NAMES)
    reports = []
    for i in range(n):
        ue_id: UeId = GnbDuUeId(i) if ue is GnbDuUeId else GnbUeId(i, GUAMI)
        reports.append(
            UeMeasReport(ue_id, KpmIndicationFormat1((MeasDataItem((i, 1.5, 3, 4, 0.1)),), infos_, 1000))
        )
    return KpmIndicationFormat3(tuple(reports))


@pytest.mark.parametrize(("n", "ue"), [(200, GnbDuUeId), (600, GnbDuUeId), (150, GnbUeId)])
def test_reports_over_16_kib_round_trip(n: int, ue: type[GnbDuUeId] | type[GnbUeId]) -> None:
    msg = _big_report(n, ue)
    data = kpm.encode_indication_message(msg)
    assert len(data) > 16384
    assert (_kpm_fast.encode_indication(msg) is not None) == (ue is GnbDuUeId)
    assert kpm.decode_indication_message(data) == msg
    body = _kpm_fast.unwrap_format3(data)
    assert body is not None
    assert _asn1.decode("kpm", "E2SM-KPM-IndicationMessage-Format3", body) == kpm._format3_to_asn(msg)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 16385, 49152, 65536, 70000, 140000])
def test_open_type_fragmentation_matches_per_octet_string_framing(size: int) -> None:
    """Compare with asn1tools' (correct) chunking of an unconstrained OCTET STRING."""
    import asn1tools

    octets = asn1tools.compile_string("T DEFINITIONS ::= BEGIN O ::= OCTET STRING END", "per")
    body = bytes(i % 251 for i in range(size))
    framed = _kpm_fast.wrap_format3(body)
    assert framed[:2] == b"\x40\x00"  # extension bit, choice extension bit, index 0, padding
    assert framed[2:] == octets.encode("O", body)
    assert _kpm_fast.unwrap_format3(framed) == body
    with pytest.raises(ValueError):
        _kpm_fast.unwrap_format3(framed + b"\x00")


def test_asn1tools_open_type_limit_raises_instead_of_emitting_bad_bytes() -> None:
    action = kpm.ue_list_action(NAMES, 1000, [GnbDuUeId(i) for i in range(5000)])  # > 16 KiB
    with pytest.raises(E2EncodeError, match="trailing"):
        kpm.encode_action_definition(action)
    fits = kpm.ue_list_action(NAMES, 1000, [GnbDuUeId(i) for i in range(2000)])
    assert kpm.decode_action_definition(kpm.encode_action_definition(fits)) == fits
