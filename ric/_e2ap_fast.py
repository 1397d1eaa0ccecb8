"""Fast APER codec for the E2AP messages on the report/control hot path (package-internal).

pycrate walks its ASN.1 object tree for every PDU (~0.1-0.3 ms per message here), which is
most of an E2 link's CPU at 7 DUs × 100 indications/s. The three messages of the
indication → control loop — RIC Indication, RIC Control Request, RIC Control Acknowledge —
have a fixed aligned-PER layout, hand-coded here:

    E2AP-PDU  : CHOICE index octet (0x00 initiating, 0x20 successful), procedure code octet,
                criticality octet (value << 6), open-type length, then
    value     : 0x00 (SEQUENCE extension bit), IE count (2 octets), then per IE:
    IE        : id (2 octets), criticality octet, open-type length, value encoding
    values    : RICrequestID 0x00 + requestor (2) + instance (2); RANfunctionID (2 octets);
                RICactionID (1); RICindicationSN (2); ENUMERATED with extension marker
                (0x00 / 0x40); OCTET STRING = length determinant + octets.

:func:`encode` / :func:`decode` use the fast path for exactly that subset (IEs in the order
:mod:`ric.e2ap` emits them, the standard's criticalities, lengths below 16 KiB — no PER
fragmentation) and fall back to :func:`ric.e2ap.encode_e2ap` / :func:`ric.e2ap.decode_e2ap`
for anything else, so results and errors are those of :mod:`ric.e2ap` (the tests check the
bytes and values are identical on both paths). A self-check against pycrate runs once; if it
ever disagrees the fast path switches itself off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from typing import Any

from ric import _e2ap_pycrate
from ric.e2ap import (
    E2apMessage,
    RicControlAcknowledge,
    RicControlAckRequest,
    RicControlRequest,
    RicIndication,
    RicIndicationType,
    RicRequestId,
    decode_e2ap,
    encode_e2ap,
)
from ric.errors import E2EncodeError

__all__ = ["decode", "encode"]

_log = logging.getLogger(__name__)

_CRIT = {"reject": 0x00, "ignore": 0x40, "notify": 0x80}
_MAX_LEN = 16383  # beyond: PER fragmentation, left to pycrate
_INIT, _OK = 0x00, 0x20
_INDICATION_TYPE = {RicIndicationType.REPORT: 0x00, RicIndicationType.INSERT: 0x40}
_ACK_REQUEST = {RicControlAckRequest.NO_ACK: 0x00, RicControlAckRequest.ACK: 0x40}
_INDICATION_TYPE_OF = {v: k for k, v in _INDICATION_TYPE.items()}
_ACK_REQUEST_OF = {v: k for k, v in _ACK_REQUEST.items()}

# message class -> (PDU choice octet, procedure code, pycrate IE set, IE ids in order, optional ids)
_LAYOUT: dict[type[E2apMessage], tuple[int, int, str, tuple[int, ...], frozenset[int]]] = {
    RicIndication: (_INIT, 5, "RICindication_IEs", (29, 5, 15, 27, 28, 25, 26, 20), frozenset({27, 20})),
    RicControlRequest: (_INIT, 4, "RICcontrolRequest_IEs", (29, 5, 20, 22, 23, 21), frozenset({20, 21})),
    RicControlAcknowledge: (_OK, 4, "RICcontrolAcknowledge_IEs", (29, 5, 20, 32), frozenset({20, 32})),
}
_BY_HEAD = {(head, code): cls for cls, (head, code, *_rest) in _LAYOUT.items()}


class _Slow(Exception):
    """Outside the fast subset: use pycrate."""


def _criticalities(cls: type[E2apMessage]) -> tuple[int, dict[int, int]]:
    """(procedure criticality octet, IE id -> criticality octet), from pycrate's tables."""
    _head, code, ie_set, ids, _opt = _LAYOUT[cls]
    return _criticality_table(code, ie_set, ids)


@cache
def _criticality_table(code: int, ie_set: str, ids: tuple[int, ...]) -> tuple[int, dict[int, int]]:
    proc = _CRIT[_e2ap_pycrate.procedure_criticality(code)]
    return proc, {i: _CRIT[_e2ap_pycrate.ie_criticality(ie_set, i)] for i in ids}


# ---------------------------------------------------------------------------------------
# Encode
# ---------------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 128:
        return bytes((n,))
    if n <= _MAX_LEN:
        return bytes((0x80 | n >> 8, n & 0xFF))
    raise _Slow


def _octets(value: bytes) -> bytes:
    return _length(len(value)) + value


def _request_id(rid: RicRequestId) -> bytes:
    return b"\x00" + rid.requestor.to_bytes(2, "big") + rid.instance.to_bytes(2, "big")


def _indication_values(m: RicIndication) -> dict[int, bytes | None]:
    return {
        29: _request_id(m.request_id),
        5: m.ran_function_id.to_bytes(2, "big"),
        15: bytes((m.action_id,)),
        27: None if m.sn is None else m.sn.to_bytes(2, "big"),
        28: bytes((_INDICATION_TYPE[m.indication_type],)),
        25: _octets(m.header),
        26: _octets(m.message),
        20: None if m.call_process_id is None else _octets(m.call_process_id),
    }


def _control_values(m: RicControlRequest) -> dict[int, bytes | None]:
    return {
        29: _request_id(m.request_id),
        5: m.ran_function_id.to_bytes(2, "big"),
        20: None if m.call_process_id is None else _octets(m.call_process_id),
        22: _octets(m.header),
        23: _octets(m.message),
        21: None if m.ack_request is None else bytes((_ACK_REQUEST[m.ack_request],)),
    }


def _ack_values(m: RicControlAcknowledge) -> dict[int, bytes | None]:
    return {
        29: _request_id(m.request_id),
        5: m.ran_function_id.to_bytes(2, "big"),
        20: None if m.call_process_id is None else _octets(m.call_process_id),
        32: None if m.outcome is None else _octets(m.outcome),
    }


_VALUES: dict[type[E2apMessage], Callable[[Any], dict[int, bytes | None]]] = {
    RicIndication: _indication_values,
    RicControlRequest: _control_values,
    RicControlAcknowledge: _ack_values,
}


def _encode_fast(message: E2apMessage) -> bytes:
    cls = type(message)
    head, code, _set, ids, _opt = _LAYOUT[cls]
    proc, crits = _criticalities(cls)
    values = _VALUES[cls](message)
    parts = [b"\x00", b""]
    count = 0
    for ie_id in ids:
        value = values[ie_id]
        if value is None:
            continue
        parts.append(ie_id.to_bytes(2, "big") + bytes((crits[ie_id],)) + _length(len(value)) + value)
        count += 1
    parts[1] = count.to_bytes(2, "big")
    content = b"".join(parts)
    return bytes((head, code, proc)) + _length(len(content)) + content


def encode(message: E2apMessage) -> bytes:
    """APER-encode ``message`` (same bytes and errors as :func:`ric.e2ap.encode_e2ap`)."""
    if type(message) in _LAYOUT and _enabled():
        try:
            return _encode_fast(message)
        except _Slow:
            pass
    return encode_e2ap(message)


# ---------------------------------------------------------------------------------------
# Decode
# ---------------------------------------------------------------------------------------


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if first < 0xC0:
        return (first & 0x3F) << 8 | data[pos + 1], pos + 2
    raise _Slow


def _read_octets(value: bytes) -> bytes:
    n, pos = _read_length(value, 0)
    if pos + n != len(value):
        raise _Slow
    return value[pos:]


def _read_request_id(value: bytes) -> RicRequestId:
    if len(value) != 5 or value[0] != 0:
        raise _Slow
    return RicRequestId(int.from_bytes(value[1:3], "big"), int.from_bytes(value[3:5], "big"))


def _read_int(value: bytes, size: int) -> int:
    if len(value) != size:
        raise _Slow
    return int.from_bytes(value, "big")


def _read_enum(value: bytes, table: dict[int, Any]) -> Any:
    if len(value) != 1 or value[0] not in table:
        raise _Slow
    return table[value[0]]


def _ies(data: bytes, cls: type[E2apMessage]) -> dict[int, bytes]:
    """The IE values of a PDU of ``cls`` whose IEs follow the fast layout exactly."""
    _head, _code, _set, ids, optional = _LAYOUT[cls]
    proc, crits = _criticalities(cls)
    if data[2] != proc:
        raise _Slow
    n, pos = _read_length(data, 3)
    if pos + n != len(data) or data[pos] != 0:
        raise _Slow
    count = int.from_bytes(data[pos + 1 : pos + 3], "big")
    pos += 3
    out: dict[int, bytes] = {}
    expected = iter(ids)
    for _ in range(count):
        ie_id = int.from_bytes(data[pos : pos + 2], "big")
        while (want := next(expected, None)) != ie_id:  # skip absent optional IEs, in order
            if want is None or want not in optional:
                raise _Slow
        if data[pos + 2] != crits[ie_id]:
            raise _Slow
        size, start = _read_length(data, pos + 3)
        out[ie_id] = data[start : start + size]
        pos = start + size
    if pos != len(data) or any(i not in out for i in ids if i not in optional):
        raise _Slow
    return out


def _decode_fast(data: bytes) -> E2apMessage:
    cls = _BY_HEAD.get((data[0], data[1]))
    if cls is None:
        raise _Slow
    v = _ies(data, cls)
    rid, fid = _read_request_id(v[29]), _read_int(v[5], 2)
    cpid = None if 20 not in v else _read_octets(v[20])
    if cls is RicIndication:
        sn = None if 27 not in v else _read_int(v[27], 2)
        kind = _read_enum(v[28], _INDICATION_TYPE_OF)
        return RicIndication(
            rid, fid, _read_int(v[15], 1), kind, _read_octets(v[25]), _read_octets(v[26]), sn, cpid
        )
    if cls is RicControlRequest:
        ack = None if 21 not in v else _read_enum(v[21], _ACK_REQUEST_OF)
        return RicControlRequest(rid, fid, _read_octets(v[22]), _read_octets(v[23]), cpid, ack)
    outcome = None if 32 not in v else _read_octets(v[32])
    return RicControlAcknowledge(rid, fid, cpid, outcome)


@cache
def _ack_template() -> bytes:
    """A RIC Control Acknowledge without the optional IEs; only the request ID (octets 12-15)
    and the RAN function ID (octets 20-21) differ between two of them."""
    return _encode_fast(RicControlAcknowledge(RicRequestId(0, 0), 0))


def _decode_plain_ack(data: bytes) -> RicControlAcknowledge | None:
    """The acknowledge an E2 node sends for every control, recognised by its fixed octets."""
    tpl = _ack_template()
    if len(data) != len(tpl) or data[:12] != tpl[:12] or data[16:20] != tpl[16:20]:
        return None
    function = data[20] << 8 | data[21]
    if function > 4095:  # out of range: the general path reports it
        return None
    rid = RicRequestId(data[12] << 8 | data[13], data[14] << 8 | data[15])
    return RicControlAcknowledge(rid, function)


def decode(data: bytes) -> E2apMessage:
    """Decode one E2AP-PDU (same values and errors as :func:`ric.e2ap.decode_e2ap`)."""
    if len(data) == 22 and data[0] == _OK and _enabled():
        ack = _decode_plain_ack(data)
        if ack is not None:
            return ack
    if len(data) > 4 and _enabled():
        try:
            return _decode_fast(data)
        except (_Slow, IndexError, E2EncodeError):  # E2EncodeError: a value out of range
            pass
    return decode_e2ap(data)


# ---------------------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------------------


@cache
def _enabled() -> bool:
    """True if the fast path reproduces pycrate on samples of each message (checked once)."""
    rid = RicRequestId(0x1234, 0xFEDC)
    samples: list[E2apMessage] = [
        RicIndication(rid, 4095, 255, RicIndicationType.REPORT, b"h" * 3, b"m" * 300, 65535, b"c"),
        RicIndication(rid, 2, 1, RicIndicationType.INSERT, b"", b"x"),
        RicControlRequest(rid, 3, b"h", b"m" * 200, b"cp", RicControlAckRequest.ACK),
        RicControlRequest(rid, 3, b"h", b"m", None, RicControlAckRequest.NO_ACK),
        RicControlRequest(rid, 3, b"h", b"m"),
        RicControlAcknowledge(rid, 3, b"cp", b"o"),
        RicControlAcknowledge(rid, 3),
    ]
    try:
        ok = all(_encode_fast(m) == encode_e2ap(m) and _decode_fast(encode_e2ap(m)) == m for m in samples)
    except (_Slow, IndexError, LookupError, E2EncodeError):
        ok = False
    if not ok:
        _log.warning("fast E2AP codec disagrees with pycrate; using pycrate only")
    return ok
