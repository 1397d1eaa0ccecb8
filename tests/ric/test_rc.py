"""E2SM-RC typed codec: control header/message/outcome, RAN function definition, slice quotas."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric import rc
from ric.cause import CauseRicRequest
from ric.e2sm_common import BitString, GnbDuUeId, GnbUeId, Guami
from ric.errors import E2EncodeError, E2smDecodeError
from ric.plmn import Plmn
from ric.rc import (
    ControlDecision,
    RanElement,
    RanList,
    RanParameter,
    RanParameterDefinition,
    RanParameterInfo,
    RanStructure,
    RcControlAction,
    RcControlHeader,
    RcControlHeaderFormat2,
    RcControlMessage,
    RcControlOutcome,
    RcControlStyle,
    RcOutcomeItem,
    RcRanFunctionDefinition,
    SlicePrbQuota,
)

PLMN = Plmn("001", "01")


@pytest.mark.parametrize(
    "header",
    [
        rc.slice_prb_quota_header(GnbDuUeId(17)),
        RcControlHeader(GnbUeId(7, Guami(PLMN), (1,)), 3, 1, ControlDecision.ACCEPT),
        RcControlHeaderFormat2(),
        RcControlHeaderFormat2(GnbDuUeId(1), ControlDecision.REJECT),
    ],
)
def test_control_header_round_trip(header: RcControlHeader | RcControlHeaderFormat2) -> None:
    assert rc.decode_control_header(rc.encode_control_header(header)) == header


def _leafs() -> RanStructure:
    return RanStructure(
        (
            RanParameter(1, RanElement(True)),
            RanParameter(2, RanElement(-5)),
            RanParameter(3, RanElement(2.5)),
            RanParameter(4, RanElement(b"\x00\x01")),
            RanParameter(5, RanElement("text")),
            RanParameter(6, RanElement(BitString(b"\xf0", 4))),
            RanParameter(7, RanElement(None)),
            RanParameter(8, RanElement(9, key=True)),
        )
    )


def test_control_message_tree_round_trip() -> None:
    nested = RanList((_leafs(), RanStructure(), RanStructure((RanParameter(9, RanList((_leafs(),))),))))
    message = RcControlMessage(
        (RanParameter(1, nested), RanParameter(2, _leafs()), RanParameter(3, RanElement(0)))
    )
    data = rc.encode_control_message(message)
    decoded = rc.decode_control_message(data)
    assert decoded == message
    # unlike pycrate, asn1tools re-encodes a decoded nested-LIST tree
    assert rc.encode_control_message(decoded) == data


def test_empty_control_message() -> None:
    assert rc.decode_control_message(rc.encode_control_message(RcControlMessage(()))) == RcControlMessage(())


@pytest.mark.parametrize(
    "outcome",
    [RcControlOutcome(), RcControlOutcome((RcOutcomeItem(12, 30), RcOutcomeItem(7, b"\x00\xf1\x10")))],
)
def test_control_outcome_round_trip(outcome: RcControlOutcome) -> None:
    assert rc.decode_control_outcome(rc.encode_control_outcome(outcome)) == outcome


def test_ran_function_definition_round_trip() -> None:
    default = rc.default_ran_function_definition()
    assert rc.decode_ran_function_definition(rc.encode_ran_function_definition(default)) == default
    action = default.control_action(2, 6)
    assert action is not None and action.name == "Slice-level PRB quota"
    assert [p.id for p in action.params] == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert default.control_action(2, 7) is None and default.control_action(9, 6) is None

    tree = RanParameterInfo(
        1,
        "List",
        RanParameterDefinition(
            "list",
            (
                RanParameterInfo(
                    2, "Item", RanParameterDefinition("structure", (RanParameterInfo(3, "Leaf"),))
                ),
            ),
        ),
    )
    custom = RcRanFunctionDefinition(
        default.name,
        (
            RcControlStyle(
                2, "Radio", (RcControlAction(6, "quota", (tree,)),), 1, 1, 1, 1, (RanParameterInfo(4, "out"),)
            ),
        ),
    )
    assert rc.decode_ran_function_definition(rc.encode_ran_function_definition(custom)) == custom


# ---------------------------------------------------------------------------------------
# Slice PRB quotas
# ---------------------------------------------------------------------------------------

quotas = st.builds(
    SlicePrbQuota,
    st.builds(Plmn, st.from_regex(r"[0-9]{3}", fullmatch=True), st.from_regex(r"[0-9]{2,3}", fullmatch=True)),
    st.integers(0, 255),
    st.none() | st.integers(0, 0xFFFFFF),
    st.integers(0, 100),
    st.integers(0, 100),
    st.integers(0, 100),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(quotas, min_size=1, max_size=8))
def test_slice_quota_round_trip(rows: list[SlicePrbQuota]) -> None:
    assert rc.decode_slice_prb_quota(rc.encode_slice_prb_quota(rows)) == tuple(rows)


def _el(value: rc.RanValue) -> RanElement:
    return RanElement(value)


def _legacy_policy(plmn: bytes, sst: bytes, sd: bytes, ratios: tuple[int, int, int]) -> RanStructure:
    member = RanStructure(
        (
            RanParameter(6, _el(plmn)),
            RanParameter(7, RanStructure((RanParameter(8, _el(sst)), RanParameter(9, _el(sd))))),
        )
    )
    policy = RanStructure((RanParameter(4, RanList((member,))),))
    return RanStructure(
        (
            RanParameter(3, policy),
            *(RanParameter(i, _el(r)) for i, r in zip((10, 11, 12), ratios, strict=True)),
        )
    )


def test_legacy_numbering_with_binary_plmn() -> None:
    message = RcControlMessage(
        (RanParameter(1, RanList((_legacy_policy(PLMN.to_bcd(), b"\x01", b"\x00\x00\x05", (1, 2, 3)),))),)
    )
    assert rc.slice_prb_quotas_from_message(message) == (SlicePrbQuota(PLMN, 1, 5, 1, 2, 3),)


def test_members_of_a_shared_policy_become_rows() -> None:
    members = tuple(
        RanStructure(
            (RanParameter(7, _el(PLMN.to_bcd())), RanParameter(8, RanStructure((RanParameter(9, _el(sst)),))))
        )
        for sst in (b"\x01", b"\x02")
    )
    group = RanStructure(
        (
            RanParameter(3, RanStructure((RanParameter(5, RanList(members)),))),
            RanParameter(11, _el(0)),
            RanParameter(12, _el(50)),
            RanParameter(13, _el(0)),
        )
    )
    rows = rc.slice_prb_quotas_from_message(RcControlMessage((RanParameter(1, RanList((group,))),)))
    assert rows == (SlicePrbQuota(PLMN, 1, None, 0, 50, 0), SlicePrbQuota(PLMN, 2, None, 0, 50, 0))


def test_printable_string_plmn_and_integer_sst() -> None:
    member = RanStructure(
        (RanParameter(7, _el("00101")), RanParameter(8, RanStructure((RanParameter(9, _el(3)),))))
    )
    group = RanStructure(
        (
            RanParameter(3, RanStructure((RanParameter(5, RanList((member,))),))),
            *(RanParameter(i, _el(10)) for i in (11, 12, 13)),
        )
    )
    rows = rc.slice_prb_quotas_from_message(RcControlMessage((RanParameter(1, RanList((group,))),)))
    assert rows == (SlicePrbQuota(PLMN, 3, None, 10, 10, 10),)


@pytest.mark.parametrize(
    "message",
    [
        RcControlMessage(()),
        RcControlMessage((RanParameter(1, _el(5)),)),
        RcControlMessage((RanParameter(1, RanList((RanStructure(),))),)),
        RcControlMessage(
            (
                RanParameter(
                    1, RanList((_legacy_policy(b"\xff\xff\xff", b"\x01", b"\x00\x00\x00", (1, 2, 3)),))
                ),
            )
        ),
        RcControlMessage(
            (
                RanParameter(
                    1, RanList((_legacy_policy(PLMN.to_bcd(), b"\x01", b"\x00\x00\x00", (1, 2, 300)),))
                ),
            )
        ),
        RcControlMessage((RanParameter(1, RanList((_legacy_policy(b"0010x", b"1", b"0", (1, 2, 3)),))),)),
    ],
)
def test_not_a_slice_quota_message(message: RcControlMessage) -> None:
    data = rc.encode_control_message(message)
    with pytest.raises(E2smDecodeError) as info:
        rc.decode_slice_prb_quota(data)
    assert info.value.cause is CauseRicRequest.CONTROL_MESSAGE_INVALID


def test_quota_validation() -> None:
    with pytest.raises(E2EncodeError):
        SlicePrbQuota(PLMN, 1, None, 0, 101, 0)
    with pytest.raises(E2EncodeError):
        SlicePrbQuota(PLMN, 256, None, 0, 1, 0)
    with pytest.raises(E2EncodeError):
        rc.encode_slice_prb_quota([])
    with pytest.raises(E2EncodeError):
        RanList(())
    with pytest.raises(E2EncodeError):
        RanParameter(0, RanElement(1))
