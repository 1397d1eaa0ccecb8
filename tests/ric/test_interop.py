"""Conformance on captured bytes from other E2 stacks (../shared/interop/e2/*.json).

Every vector the README marks decodable must decode through our typed API (or, for the
one E2AP procedure we do not type, through the codec layer), and re-encode byte for byte
where that is possible; every negative vector must be rejected with our peer-error class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ric import _e2ap_pycrate, e2ap, kpm, rc
from ric.cause import CauseMisc, CauseProtocol, CauseRicRequest
from ric.e2ap_ies import ComponentInterface, RicControlAckRequest, RicRequestId
from ric.e2sm_common import GnbDuUeId, GnbUeId
from ric.errors import E2DecodeError, E2smDecodeError, E2smVersionError, E2UnknownProcedureError, MessageKind
from ric.plmn import Plmn

from .conftest import VECTORS, needs_vectors, vector

pytestmark = needs_vectors

E2AP_VECTORS = sorted(n for n, v in VECTORS.items() if v.protocol.startswith("E2AP"))
E2AP_DECODABLE = [n for n in E2AP_VECTORS if VECTORS[n].pycrate_decodes]

# Typed re-encoding is byte-identical unless the peer used criticalities other than the
# standard's (we always send the standard's); those differ in criticality fields only.
PEER_CRITICALITIES = {
    "e2ap_flexric_agent_e2setup_request": "RANfunction-Item criticality reject (standard: ignore)",
    "e2ap_osc_e2sim_bouncer_ric_indication_insert": "RICindication criticality reject (standard: ignore)",
    "e2ap_osc_e2sim_style_e2setup_request_kpm_v1": "RANfunction-Item criticality reject",
    "e2ap_osc_kpimon_go_ric_subscription_request_capture": "RICsubscription criticality ignore",
    "e2ap_radisys_e2setup_request": "component config items criticality ignore (standard: reject)",
    "e2ap_srsran_ric_subscription_request": "RICsubscription criticality ignore (standard: reject)",
}
UNTYPED_STANDARD_PROCEDURES = {"e2ap_srsran_e2connection_update": 11}

# E2SM vector -> (decoder, encoder or None when the vector must be rejected).
Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]
E2SM_CODECS: dict[str, tuple[Decoder, Encoder | None]] = {
    "kpm_osc_kpimon_go_event_trigger_capture": (kpm.decode_event_trigger, kpm.encode_event_trigger),
    "kpm_srsran_ranfunction_description_capture": (
        kpm.decode_ran_function_description,
        kpm.encode_ran_function_description,
    ),
    "kpm_v3_indication_message_format1_cqi": (kpm.decode_indication_message, kpm.encode_indication_message),
    "kpm_osc_kpimon_go_action_definition_capture": (kpm.decode_action_definition, None),
    "kpm_radisys_ranfunction_description_negative": (kpm.decode_ran_function_description, None),
    "rc_radisys_ranfunction_definition_negative": (rc.decode_ran_function_definition, None),
    "rc_srsran_asn1_control_header": (rc.decode_control_header, rc.encode_control_header),
    "rc_srsran_control_header_handover": (rc.decode_control_header, rc.encode_control_header),
    "rc_srsran_control_header_slice_prb_quota": (rc.decode_control_header, rc.encode_control_header),
    "rc_srsran_asn1_control_message_ascii_plmn": (rc.decode_control_message, rc.encode_control_message),
    "rc_srsran_control_message_handover": (rc.decode_control_message, rc.encode_control_message),
    "rc_srsran_control_message_slice_prb_quota": (rc.decode_control_message, rc.encode_control_message),
}


def test_every_vector_is_covered() -> None:
    e2sm = {n for n, v in VECTORS.items() if not v.protocol.startswith("E2AP")}
    assert e2sm == set(E2SM_CODECS), "new E2SM vector: add its decoder to E2SM_CODECS"
    for name, (_, encoder) in E2SM_CODECS.items():
        assert VECTORS[name].pycrate_decodes == (encoder is not None), name


# ---------------------------------------------------------------------------------------
# E2AP
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", E2AP_DECODABLE)
def test_e2ap_codec_layer_reencodes_identically(name: str) -> None:
    data = vector(name)
    assert _e2ap_pycrate.encode(_e2ap_pycrate.decode(data)) == data


@pytest.mark.parametrize("name", sorted(set(E2AP_DECODABLE) - set(UNTYPED_STANDARD_PROCEDURES)))
def test_e2ap_typed_decode_and_reencode(name: str) -> None:
    data = vector(name)
    message = e2ap.decode_e2ap(data)
    encoded = e2ap.encode_e2ap(message)
    if name in PEER_CRITICALITIES:
        assert encoded != data
        assert _without_criticality(_e2ap_pycrate.decode(encoded)) == _without_criticality(
            _e2ap_pycrate.decode(data)
        ), PEER_CRITICALITIES[name]
    else:
        assert encoded == data
    assert e2ap.decode_e2ap(encoded) == message


def _without_criticality(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_criticality(v) for k, v in value.items() if k != "criticality"}
    if isinstance(value, list | tuple):
        return type(value)(_without_criticality(v) for v in value)
    return value


@pytest.mark.parametrize(("name", "code"), sorted(UNTYPED_STANDARD_PROCEDURES.items()))
def test_e2ap_untyped_standard_procedure_is_reported(name: str, code: int) -> None:
    with pytest.raises(E2UnknownProcedureError) as info:
        e2ap.decode_e2ap(vector(name))
    err = info.value
    assert (err.procedure_code, err.kind, err.standard) == (code, MessageKind.INITIATING, True)
    assert err.transaction_id == 3
    assert err.cause is CauseProtocol.ABSTRACT_SYNTAX_ERROR_REJECT


def test_e2ap_prestandard_osc_pdu_is_rejected() -> None:
    with pytest.raises(E2UnknownProcedureError) as info:
        e2ap.decode_e2ap(vector("e2ap_osc_prestandard_subscription_request_negative"))
    assert (info.value.procedure_code, info.value.standard, info.value.criticality) == (201, False, "ignore")


@pytest.mark.parametrize("name", E2AP_DECODABLE)
def test_e2ap_trailing_and_truncated_input_is_rejected(name: str) -> None:
    data = vector(name)
    for bad in (data + b"\x00", data + data, data[:-1], b""):
        with pytest.raises(E2DecodeError):
            e2ap.decode_e2ap(bad)
    step = max(1, len(data) // 40)
    for end in range(0, len(data), step):
        with pytest.raises(E2DecodeError):
            e2ap.decode_e2ap(data[:end])


def test_srsran_e2_setup_request_content() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_srsran_e2setup_request_capture"))
    assert isinstance(m, e2ap.E2SetupRequest)
    assert m.transaction_id == 0
    assert (m.node_id.plmn, m.node_id.gnb_id, m.node_id.gnb_id_bits) == (Plmn("001", "01"), 0x19B, 28)
    (function,) = m.ran_functions
    assert (function.id, function.oid, function.revision) == (2, kpm.KPM_OID, 0)
    (config,) = m.component_configs
    assert (config.component.interface, config.component.name) == (ComponentInterface.NG, "nginterf")
    desc = kpm.decode_ran_function_description(function.definition)
    assert desc.name.oid == kpm.KPM_OID
    assert [s.style for s in desc.report_styles] == [1, 2, 3, 4, 5]
    assert {"DRB.UEThpDl", "RRU.PrbAvailDl", "DRB.RlcPacketDropRateDl"} <= set(
        desc.report_styles[0].measurements
    )


def test_radisys_e2_setup_request_functions_fail_e2sm_version_check() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_radisys_e2setup_request"))
    assert isinstance(m, e2ap.E2SetupRequest)
    assert [f.oid for f in m.ran_functions] == [kpm.KPM_OID, rc.RC_OID]
    assert [c.component.interface for c in m.component_configs] == [
        ComponentInterface.F1,
        ComponentInterface.NG,
    ]
    with pytest.raises(E2smDecodeError):
        kpm.decode_ran_function_description(m.ran_functions[0].definition)
    with pytest.raises(E2smDecodeError):
        rc.decode_ran_function_definition(m.ran_functions[1].definition)


def test_flexric_e2_setup_request_quirks() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_flexric_agent_e2setup_request"))
    assert isinstance(m, e2ap.E2SetupRequest)
    (function,) = m.ran_functions
    assert (function.id, function.oid) == (147, "ORAN-E2SM-KPM")  # OID field holds the short name
    desc = kpm.decode_ran_function_description(function.definition)
    assert (desc.name.short_name, desc.report_styles) == ("ORAN-E2SM-KPM", ())


def test_osc_e2sim_kpm_v1_function_is_not_kpm_v3() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_osc_e2sim_style_e2setup_request_kpm_v1"))
    assert isinstance(m, e2ap.E2SetupRequest)
    with pytest.raises(E2smDecodeError):
        kpm.decode_ran_function_description(m.ran_functions[0].definition)


def test_e2_setup_responses() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_osc_i_release_e2setup_response_capture"))
    assert isinstance(m, e2ap.E2SetupResponse)
    assert (m.ric_id.plmn, m.ric_id.ric_id) == (Plmn("310", "411"), 0xAACCE)
    assert [(f.id, f.revision) for f in m.accepted] == [(2, 0)]
    assert m.component_acks[0].success


def test_kpimon_go_subscription_request() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_osc_kpimon_go_ric_subscription_request_capture"))
    assert isinstance(m, e2ap.RicSubscriptionRequest)
    assert (m.request_id.requestor, m.request_id.instance, m.ran_function_id) == (123, 1, 2)
    assert kpm.decode_event_trigger(m.event_trigger) == kpm.KpmEventTrigger(10000)
    (action,) = m.actions
    assert action.definition == vector("kpm_osc_kpimon_go_action_definition_capture")
    with pytest.raises(E2smVersionError):
        kpm.decode_action_definition(action.definition)


def test_srsran_subscription_response_and_delete() -> None:
    resp = e2ap.decode_e2ap(vector("e2ap_srsran_ric_subscription_response_capture"))
    assert resp == e2ap.RicSubscriptionResponse(RicRequestId(123, 1), 2, (1,))
    delete = e2ap.decode_e2ap(vector("e2ap_srsran_ric_subscription_delete_request"))
    assert delete == e2ap.RicSubscriptionDeleteRequest(RicRequestId(123, 21), 147)


def test_srsran_control_failure() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_srsran_asn1_ric_control_failure"))
    assert m == e2ap.RicControlFailure(RicRequestId(1021, 0), 3, CauseMisc.UNSPECIFIED)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("e2ap_srsran_ric_control_request_slice_prb_quota", [("12345", 22, 33, 10, 30, 100)]),
        ("e2ap_srsran_asn1_ric_control_request_slice_prb_quota_ascii_plmn", [("00101", 1, 0, 5, 25, 100)]),
        (
            "e2ap_srsran_legacy_ric_control_request_two_slices",
            [("50501", 1, 0, 5, 51, 70), ("50501", 1, 5, 5, 51, 30)],
        ),
    ],
)
def test_slice_prb_quota_control_requests(name: str, expected: list[tuple[Any, ...]]) -> None:
    m = e2ap.decode_e2ap(vector(name))
    assert isinstance(m, e2ap.RicControlRequest)
    assert (m.ran_function_id, m.ack_request) == (3, RicControlAckRequest.ACK)
    header = rc.decode_control_header(m.header)
    assert isinstance(header, rc.RcControlHeader)
    assert (header.style, header.action_id) == (2, 6)
    quotas = rc.decode_slice_prb_quota(m.message)
    got = [(str(q.plmn), q.sst, q.sd, q.min_ratio, q.max_ratio, q.dedicated_ratio) for q in quotas]
    assert got == expected


def test_handover_control_request() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_srsran_ric_control_request_handover"))
    assert isinstance(m, e2ap.RicControlRequest)
    header = rc.decode_control_header(m.header)
    assert isinstance(header, rc.RcControlHeader) and isinstance(header.ue, GnbUeId)
    assert (header.ue.amf_ue_ngap_id, header.ue.cu_ue_f1ap_ids, header.style, header.action_id) == (
        7,
        (1,),
        3,
        1,
    )
    msg = rc.decode_control_message(m.message)
    leaf = msg.params[0].value
    for pid in (2, 3, 4):
        assert isinstance(leaf, rc.RanStructure)
        (param,) = leaf.params
        assert param.id == pid
        leaf = param.value
    assert leaf == rc.RanElement(bytes.fromhex("0000f1100000019b10"))


def test_bouncer_indication_carries_opaque_payloads() -> None:
    m = e2ap.decode_e2ap(vector("e2ap_osc_e2sim_bouncer_ric_indication_insert"))
    assert isinstance(m, e2ap.RicIndication)
    assert (m.request_id.requestor, m.request_id.instance, m.action_id, m.sn) == (123, 50, 1, 112)
    assert (len(m.header), len(m.message), m.call_process_id) == (16, 36, bytes.fromhex("70000000"))


# ---------------------------------------------------------------------------------------
# E2SM
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, c in E2SM_CODECS.items() if c[1] is not None))
def test_e2sm_decode_and_reencode_identically(name: str) -> None:
    decoder, encoder = E2SM_CODECS[name]
    assert encoder is not None
    data = vector(name)
    value = decoder(data)
    assert encoder(value) == data
    for bad in (data + b"\x00", data[:-1]):
        with pytest.raises(E2smDecodeError):
            decoder(bad)


@pytest.mark.parametrize("name", sorted(n for n, c in E2SM_CODECS.items() if c[1] is None))
def test_e2sm_negative_vectors_are_rejected(name: str) -> None:
    decoder, _ = E2SM_CODECS[name]
    with pytest.raises(E2smDecodeError):
        decoder(vector(name))


def test_kpimon_go_v0201_action_definition_gets_a_precise_error() -> None:
    with pytest.raises(E2smVersionError) as info:
        kpm.decode_action_definition(vector("kpm_osc_kpimon_go_action_definition_capture"))
    assert info.value.version == "v02.01"
    assert info.value.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
    assert "v02.01" in str(info.value)


def test_kpm_indication_vector_content() -> None:
    m = kpm.decode_indication_message(vector("kpm_v3_indication_message_format1_cqi"))
    assert isinstance(m, kpm.KpmIndicationFormat1)
    assert m.as_dict() == {("CQI", kpm.NO_LABEL): 0}
    assert m.granularity_ms is None


def test_rc_slice_prb_quota_encoding_matches_srsran_byte_for_byte() -> None:
    quota = rc.SlicePrbQuota(
        Plmn("123", "45"), sst=22, sd=33, min_ratio=10, max_ratio=30, dedicated_ratio=100
    )
    assert rc.encode_slice_prb_quota([quota]) == vector("rc_srsran_control_message_slice_prb_quota")
    assert rc.decode_slice_prb_quota(vector("rc_srsran_control_message_slice_prb_quota")) == (quota,)


def test_rc_slice_prb_quota_header_matches_srsran() -> None:
    header = rc.slice_prb_quota_header(GnbDuUeId(0))
    assert rc.encode_control_header(header) == vector("rc_srsran_control_header_slice_prb_quota")


def test_ascii_plmn_message_is_reemitted_in_current_form() -> None:
    quotas = rc.decode_slice_prb_quota(vector("rc_srsran_asn1_control_message_ascii_plmn"))
    assert quotas == (rc.SlicePrbQuota(Plmn("001", "01"), 1, 0, 5, 25, 100),)
    reencoded = rc.encode_slice_prb_quota(quotas)
    assert reencoded != vector("rc_srsran_asn1_control_message_ascii_plmn")
    tree = rc.decode_control_message(reencoded)
    member = _path(tree.params[0].value, 2, 3, 5, 6)
    assert member.get(7) == rc.RanParameter(7, rc.RanElement(bytes.fromhex("00f110")))
    assert rc.decode_slice_prb_quota(reencoded) == quotas


def _path(value: rc.RanValueType, *ids: int) -> rc.RanStructure:
    assert isinstance(value, rc.RanList)
    node: rc.RanValueType = value.items[0]
    for pid in ids:
        if isinstance(node, rc.RanList):
            node = node.items[0]
        assert isinstance(node, rc.RanStructure)
        param = node.get(pid)
        assert param is not None, pid
        node = param.value
    assert isinstance(node, rc.RanStructure)
    return node
