"""The fast E2AP path (RIC Indication / Control Request / Control Acknowledge) equals pycrate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric import _e2ap_fast as fast
from ric import e2ap
from ric.cause import CauseMisc
from ric.e2ap import (
    RicControlAcknowledge,
    RicControlAckRequest,
    RicControlRequest,
    RicIndication,
    RicIndicationType,
    RicRequestId,
)
from ric.errors import E2DecodeError
from tests.ric.conftest import VECTORS, needs_vectors

u16 = st.integers(0, 0xFFFF)
request_ids = st.builds(RicRequestId, u16, u16)
functions = st.integers(0, 4095)
payload = st.one_of(st.binary(max_size=200), st.binary(min_size=16_000, max_size=17_000))
small = st.binary(max_size=140)

indications = st.builds(
    RicIndication,
    request_ids,
    functions,
    st.integers(0, 255),
    st.sampled_from(RicIndicationType),
    small,
    payload,
    st.none() | u16,
    st.none() | small,
)
controls = st.builds(
    RicControlRequest,
    request_ids,
    functions,
    small,
    payload,
    st.none() | small,
    st.none() | st.sampled_from(RicControlAckRequest),
)
acks = st.builds(RicControlAcknowledge, request_ids, functions, st.none() | small, st.none() | small)


def test_the_fast_path_is_on() -> None:
    assert fast._enabled()


@settings(max_examples=150, deadline=None)
@given(message=st.one_of(indications, controls, acks))
def test_same_bytes_and_values_as_pycrate(message: e2ap.E2apMessage) -> None:
    data = e2ap.encode_e2ap(message)
    assert fast.encode(message) == data
    assert fast.decode(data) == message == e2ap.decode_e2ap(data)


def _same_outcome(data: bytes) -> None:
    try:
        expected: object = e2ap.decode_e2ap(data)
    except E2DecodeError as exc:
        with pytest.raises(E2DecodeError) as info:
            fast.decode(data)
        assert str(info.value) == str(exc)
        return
    assert fast.decode(data) == expected


@settings(max_examples=300, deadline=None)
@given(
    message=st.one_of(indications, controls, acks),
    position=st.integers(0, 400),
    value=st.integers(0, 255),
    cut=st.integers(0, 400),
)
def test_damaged_pdus_decode_or_fail_exactly_like_pycrate(
    message: e2ap.E2apMessage, position: int, value: int, cut: int
) -> None:
    data = bytearray(e2ap.encode_e2ap(message))
    data[position % len(data)] = value
    _same_outcome(bytes(data))
    _same_outcome(bytes(data[: cut % len(data)]))
    _same_outcome(bytes(data) + b"\x00")


@needs_vectors
@pytest.mark.parametrize("name", sorted(n for n, v in VECTORS.items() if v.protocol.startswith("E2AP")))
def test_interop_vectors(name: str) -> None:
    _same_outcome(VECTORS[name].data)


def test_other_messages_go_through_pycrate() -> None:
    message = e2ap.ErrorIndication(cause=CauseMisc.UNSPECIFIED)
    data = fast.encode(message)
    assert data == e2ap.encode_e2ap(message) and fast.decode(data) == message


@settings(max_examples=100, deadline=None)
@given(request_ids, functions)
def test_plain_acknowledges_are_read_from_their_fixed_octets(rid: RicRequestId, function: int) -> None:
    message = RicControlAcknowledge(rid, function)
    data = e2ap.encode_e2ap(message)
    assert fast._decode_plain_ack(data) == message == fast.decode(data)
    assert fast._decode_plain_ack(data[:20] + b"\x10\x00") is None  # RAN function 4096
