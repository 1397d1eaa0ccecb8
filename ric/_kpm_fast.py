"""Fast APER codec for E2SM-KPM v03.00 indication messages (package-internal).

asn1tools walks its type tree bit by bit, which makes a UE-level report (format 3: one
format-1 report per UE, each repeating the measurement names and labels, as srsRAN sends
it) cost ~8 ms for 30 UEs. This module hand-codes the aligned-PER layout of exactly the
common subset:

* indication message format 1 or format 3;
* UE IDs ``gNB-DU-UEID`` (what srsRAN reports);
* labels made of ``noLabel`` and/or ``sliceID`` only;
* records ``integer`` / ``real`` / ``noValue``; no extension additions; inner lists short
  enough not to need PER length fragmentation.

and exploits that every per-UE ``measInfoList`` starts octet-aligned: its bits are encoded
once per message and reused for the other UEs, and parsed once per distinct list (the last few
are recognised by their octets, across messages). Decoding reads a UE's ID and ``measData``
octet by octet where every field starts aligned (integer and real records, no
``incompleteFlag`` — what a node sends), and bit by bit otherwise.

An E2 node encodes a UE-level report straight from its measurement columns
(:func:`encode_format3_columns`): with the measurement list and granularity present every piece
of a UE's report is whole octets, so the report is packed for all UEs at once with NumPy; a
format-1 message of INTEGER/REAL records (a node-level report) is written as octets too.

Anything outside the subset makes :func:`encode_indication` / :func:`decode_indication`
return ``None``; the caller then uses the asn1tools codec, which stays the reference (the
tests check both paths produce identical bytes and values). Format 3 travels in an open
type (an extension alternative); :func:`wrap_format3` / :func:`unwrap_format3` frame it for
both paths, with the PER fragmentation asn1tools lacks for open types of 16 KiB or more.
Only ``ric.kpm`` calls this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from asn1tools.codecs.ber import decode_real, encode_real
from numpy.typing import NDArray

import ric.kpm as kpm
from ric.e2sm_common import GnbDuUeId, Snssai, UeId

if TYPE_CHECKING:
    from ric.kpm import KpmIndicationFormat1, KpmIndicationMessage, MeasInfo, MeasLabel

__all__ = [
    "decode_indication",
    "encode_format3_columns",
    "encode_indication",
    "unwrap_format3",
    "wrap_format3",
]

_PRINTABLE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
_NO_LABEL_BITS = (0b0_1_00000000000000000000_0, 23)  # ext, 21 presence bits, enum ext
_LABEL_PRESENCE_BITS = 21
_UEID_GNB_DU = 1  # index of gNB-DU-UEID in the UEID CHOICE (7 root alternatives: 3 bits)
_MAX_UNFRAGMENTED = 16383


class _Unsupported(Exception):
    """Outside the fast subset: use the asn1tools codec instead."""


# ---------------------------------------------------------------------------------------
# Bit writer / reader
# ---------------------------------------------------------------------------------------


class _Writer:
    """Accumulates bits; whole octets move to ``buf`` so the accumulator stays small."""

    __slots__ = ("acc", "buf", "n")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value: int, n: int) -> None:
        self.acc = (self.acc << n) | value
        self.n += n
        if self.n >= 64:
            rem = self.n & 7
            self.buf += (self.acc >> rem).to_bytes((self.n - rem) >> 3, "big")
            self.acc &= (1 << rem) - 1
            self.n = rem

    def align(self) -> None:
        pad = -self.n & 7
        self.acc <<= pad
        self.n += pad

    def octets(self, data: bytes) -> None:
        self.align()
        if self.n:
            self.buf += self.acc.to_bytes(self.n >> 3, "big")
            self.acc = 0
            self.n = 0
        self.buf += data

    def getvalue(self) -> bytes:
        self.align()
        return bytes(self.buf) + self.acc.to_bytes(self.n >> 3, "big")


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = 8 * len(data)

    def bits(self, n: int) -> int:
        pos = self.pos
        end = pos + n
        if end > self.end:
            raise _Unsupported("out of data")
        last = (end + 7) >> 3
        chunk = int.from_bytes(self.data[pos >> 3 : last], "big")
        self.pos = end
        return (chunk >> ((last << 3) - end)) & ((1 << n) - 1)

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7

    def octets(self, n: int) -> bytes:
        self.align()
        start = self.pos >> 3
        if self.pos + 8 * n > self.end:
            raise _Unsupported("out of data")
        self.pos += 8 * n
        return self.data[start : start + n]


# ---------------------------------------------------------------------------------------
# PER primitives (the aligned-variant rules asn1tools applies to these types)
# ---------------------------------------------------------------------------------------


def _put_length(w: _Writer, n: int) -> None:
    """Unconstrained length determinant (octet-aligned), without fragmentation."""
    w.align()
    if n < 128:
        w.bits(n, 8)
    elif n <= _MAX_UNFRAGMENTED:
        w.bits(0x8000 | n, 16)
    else:
        raise _Unsupported("fragmented length")


def _get_length(r: _Reader) -> int:
    r.align()
    first = r.bits(8)
    if first < 0x80:
        return first
    if first < 0xC0:
        return ((first & 0x3F) << 8) | r.bits(8)
    raise _Unsupported("fragmented length")


def _put_count16(w: _Writer, n: int) -> None:
    """``SEQUENCE (SIZE (1..65535)) OF``: count - 1 as an aligned 16-bit number."""
    if not 1 <= n <= 65535:
        raise _Unsupported("list size")
    w.align()
    w.bits(n - 1, 16)


def _get_count16(r: _Reader) -> int:
    r.align()
    return r.bits(16) + 1


def _put_u32(w: _Writer, value: int, lower: int = 0) -> None:
    """``INTEGER (lower..4294967295)``: 2-bit octet count, then the aligned octets."""
    v = value - lower
    nbytes = max(1, (v.bit_length() + 7) >> 3)
    w.bits(nbytes - 1, 2)
    w.align()
    w.bits(v, 8 * nbytes)


def _get_u32(r: _Reader, lower: int = 0) -> int:
    nbytes = r.bits(2) + 1
    r.align()
    return r.bits(8 * nbytes) + lower


def _put_name(w: _Writer, name: str) -> None:
    """``PrintableString (SIZE (1..150, ...))`` inside ``MeasurementType.measName``."""
    raw = name.encode("ascii")
    if not 1 <= len(raw) <= 150 or not _PRINTABLE.issuperset(raw):
        raise _Unsupported("measurement name")
    w.bits(len(raw) - 1, 9)  # size-extension bit 0, then length - 1 in 8 bits
    w.octets(raw)


def _get_name(r: _Reader) -> str:
    if r.bits(1):
        raise _Unsupported("size-extended name")
    raw = r.octets(r.bits(8) + 1)
    if not _PRINTABLE.issuperset(raw):
        raise _Unsupported("not a PrintableString")
    return raw.decode("ascii")


# ---------------------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------------------


def _put_label(w: _Writer, label: MeasLabel) -> None:
    if label == kpm.NO_LABEL:
        w.bits(*_NO_LABEL_BITS)
        return
    if label != kpm.MeasLabel(no_label=label.no_label, slice_id=label.slice_id):
        raise _Unsupported("label fields")
    presence = (label.no_label << 20) | ((label.slice_id is not None) << 18)
    w.bits(presence, 1 + _LABEL_PRESENCE_BITS)  # extension bit 0 + presence bitmap
    if label.no_label:
        w.bits(0, 1)
    if label.slice_id is not None:
        _put_snssai(w, label.slice_id)


def _put_snssai(w: _Writer, s: Snssai) -> None:
    w.bits(0b00 | (s.sd is not None), 2)  # extension bit, sD presence
    w.bits(s.sst, 8)
    if s.sd is not None:
        w.align()
        w.bits(s.sd, 24)


def _put_meas_infos(w: _Writer, infos: tuple[MeasInfo, ...]) -> None:
    _put_count16(w, len(infos))
    for info in infos:
        w.bits(0b000, 3)  # item extension bit; measType: extension bit, index 0 (measName)
        _put_name(w, info.name)
        _put_length(w, len(info.labels))
        for label in info.labels:
            w.bits(0, 1)  # LabelInfoItem extension bit
            _put_label(w, label)


def _put_records(w: _Writer, records: tuple[kpm.MeasRecord, ...]) -> None:
    _put_length(w, len(records))
    for rec in records:
        if rec is None:
            w.bits(0b0_10, 3)
        elif isinstance(rec, float):
            w.bits(0b0_01, 3)
            content = bytes(encode_real(rec))
            _put_length(w, len(content))
            w.octets(content)
        else:
            w.bits(0b0_00, 3)
            _put_u32(w, rec)


class _Encoder:
    """Encodes format-1 bodies, reusing the bits of repeated measurement lists."""

    def __init__(self) -> None:
        self._infos: dict[int, tuple[tuple[MeasInfo, ...], int, int]] = {}

    def format1(self, w: _Writer, m: KpmIndicationFormat1) -> None:
        w.bits((m.measurements is not None) << 1 | (m.granularity_ms is not None), 3)
        _put_count16(w, len(m.data))
        for item in m.data:
            w.bits(item.incomplete, 2)  # extension bit 0, incompleteFlag presence
            _put_records(w, item.records)
            if item.incomplete:
                w.bits(0, 1)
        if m.measurements is not None:
            self._meas_infos(w, m.measurements)
        if m.granularity_ms is not None:
            _put_u32(w, m.granularity_ms, lower=1)

    def _meas_infos(self, w: _Writer, infos: tuple[MeasInfo, ...]) -> None:
        w.align()  # the count is octet-aligned, so the chunk is position independent
        cached = self._infos.get(id(infos))
        if cached is None or cached[0] is not infos:
            chunk = _Writer()
            _put_meas_infos(chunk, infos)
            value = (int.from_bytes(chunk.buf, "big") << chunk.n) | chunk.acc
            cached = (infos, value, 8 * len(chunk.buf) + chunk.n)
            self._infos[id(infos)] = cached
        w.bits(cached[1], cached[2])


def _put_ue(w: _Writer, ue: UeId) -> None:
    if not isinstance(ue, GnbDuUeId):
        raise _Unsupported("UE ID type")
    w.bits((_UEID_GNB_DU << 2) | (ue.ran_ue_id is not None), 6)  # ext,index(3),ext,presence
    _put_u32(w, ue.cu_ue_f1ap_id)
    if ue.ran_ue_id is not None:
        w.octets(ue.ran_ue_id)


def encode_indication(message: KpmIndicationMessage) -> bytes | None:
    """The APER bytes of ``message``, or ``None`` if it is outside the fast subset."""
    try:
        return _encode(message)
    except _Unsupported:
        return None


def _encode(message: KpmIndicationMessage) -> bytes:
    enc = _Encoder()
    w = _Writer()
    if isinstance(message, kpm.KpmIndicationFormat1):
        octets = _format1_octets(message)
        if octets is not None:
            return octets
        w.bits(0b0_0_0, 3)  # sequence ext, choice ext, root index 0 (format 1 of 2)
        enc.format1(w, message)
        return w.getvalue()
    inner = _Writer()
    inner.bits(0, 1)  # Format3 extension bit
    _put_count16(inner, len(message.reports))
    for report in message.reports:
        inner.bits(0, 1)  # UEMeasurementReportItem extension bit
        _put_ue(inner, report.ue)
        enc.format1(inner, report.report)
    return wrap_format3(inner.getvalue())


# ---------------------------------------------------------------------------------------
# Format 3 from measurement columns (vectorized)
# ---------------------------------------------------------------------------------------
#
# With measurements and granularity present, every octet-aligned piece of a UE's report
# falls on an octet boundary: the UE item (extension bit, UE ID choice, the ID's octet count)
# is two octets then the ID's octets; format 1 up to the records' length determinant is a
# fixed run of octets; each INTEGER or REAL record is whole octets (choice bits padded to
# the octet, then octets); the measurement list and granularity are the same octets for
# every UE. So a report is a concatenation of octet strings, built here for all UEs at once
# as rows of a byte matrix (cells of the same kind packed column by column) — the bytes
# ``encode_indication`` gives the equivalent typed message.

_U32_LIMIT = 1 << 32


_Cells = tuple[NDArray[np.uint8], NDArray[np.bool_]]
"""(U, width) octets and which of them belong to the row's string (in order)."""


def _be_cells(values: NDArray[np.uint64], nbytes: NDArray[np.int64], width: int) -> _Cells:
    """Each value big-endian in its last ``nbytes`` of ``width`` octets."""
    octets = values.astype(">u8").view(np.uint8).reshape(len(values), 8)[:, 8 - width :]
    return octets, np.arange(width)[None, :] >= (width - nbytes)[:, None]


def _octet_count(u: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Octets of the INTEGER (0..4294967295) contents: 1 to 4."""
    return 1 + (u >= 1 << 8).astype(np.int64) + (u >= 1 << 16) + (u >= 1 << 24)


def _int_cells(v: NDArray[np.integer]) -> tuple[_Cells, NDArray[np.int64]]:
    """INTEGER records: choice + octet count (one octet), then the value's octets; and the
    octet counts."""
    if len(v) and (int(v.min()) < 0 or int(v.max()) >= _U32_LIMIT):
        raise _Unsupported("integer record out of range")
    u = v.astype(np.uint64)
    nb = _octet_count(u)
    octets, valid = _be_cells(u, nb, 4)
    head = ((nb - 1) << 3).astype(np.uint8)[:, None]
    return (np.hstack([head, octets]), np.hstack([np.ones_like(head, bool), valid])), nb


def _real_cells(x: NDArray[np.floating]) -> _Cells:
    """REAL records as asn1tools' BER ``encode_real`` writes them (binary, base 2, the odd
    mantissa in ``bit_length // 8 + 1`` octets; one exponent octet — else not this path)."""
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise _Unsupported("non-finite real")
    nz = x != 0.0
    m, e = np.frexp(np.abs(x))
    mant = (m * 2.0**53).astype(np.uint64)
    low = mant & (~mant + np.uint64(1))  # lowest set bit (0 for zero)
    lsb = np.where(nz, np.frexp(low.astype(np.float64))[1] - 1, 0).astype(np.int64)
    mant >>= lsb.astype(np.uint64)
    nm = np.frexp(mant.astype(np.float64))[1].astype(np.int64) // 8 + 1
    exponent = 52 - lsb - e.astype(np.int64)
    if (nz & ((exponent <= -129) | (exponent >= 128))).any():
        raise _Unsupported("two-octet real exponent")
    exp_octet = ((0xFF - exponent) & 0xFF).astype(np.uint64)
    rest = (exp_octet << (8 * nm).astype(np.uint64)) | mant  # exponent octet, then mantissa
    head = np.empty((len(x), 3), np.uint8)
    head[:, 0] = 0x20  # choice index 1 (real), padded; then the length determinant
    head[:, 1] = np.where(nz, 2 + nm, 0)
    head[:, 2] = np.where(x < 0, 0xC0, 0x80)
    octets, valid = _be_cells(rest, np.where(nz, nm + 1, 0), 8)
    head_valid = np.ones((len(x), 3), bool)
    head_valid[:, 2] = nz
    return np.hstack([head, octets]), np.hstack([head_valid, valid])


@lru_cache(maxsize=64)
def _ue_item_prefix(nbytes: int) -> bytes:
    """The two octets opening a UE item whose gNB-DU-UEID has ``nbytes`` octets."""
    w = _Writer()
    w.bits(0, 1)  # UEMeasurementReportItem extension bit
    _put_ue(w, GnbDuUeId(1 << (8 * (nbytes - 1))))
    return w.getvalue()[:2]


def _record_octets(rec: kpm.MeasRecord) -> bytes:
    """One INTEGER or REAL record as whole octets (see above)."""
    if type(rec) is float:
        content = bytes(encode_real(rec))
        return bytes((0x20, len(content))) + content
    if type(rec) is int and 0 <= rec < _U32_LIMIT:
        nb = max(1, (rec.bit_length() + 7) >> 3)
        return bytes(((nb - 1) << 3,)) + rec.to_bytes(nb, "big")
    raise _Unsupported("record")


def _format1_octets(m: KpmIndicationFormat1) -> bytes | None:
    """A format-1 indication message of one data item of INTEGER / REAL records with its
    measurement list and granularity, as octets (the common node-level report); else None."""
    if m.measurements is None or m.granularity_ms is None or len(m.data) != 1:
        return None
    item = m.data[0]
    if item.incomplete or len(item.records) >= 128:
        return None
    try:
        records = b"".join([_record_octets(r) for r in item.records])
        head = _report_middle(len(item.records), top_level=True)
        return head + records + _report_tail(m.measurements, m.granularity_ms)
    except _Unsupported:
        return None


@lru_cache(maxsize=1)
def _ue_item_prefixes() -> NDArray[np.uint8]:
    """Row k - 1: the item prefix for a k-octet UE ID."""
    return np.frombuffer(b"".join(_ue_item_prefix(k) for k in range(1, 5)), np.uint8).reshape(4, 2)


@lru_cache(maxsize=64)
def _report_middle(n_records: int, *, top_level: bool = False) -> bytes:
    """Format 1 from its presence bits to the records' length determinant (one data item),
    preceded at top level by the indication message's choice bits."""
    w = _Writer()
    if top_level:
        w.bits(0b0_0_0, 3)  # sequence ext, choice ext, root index 0 (format 1 of 2)
    w.bits(0b011, 3)  # extension bit, measInfoList and granularityPeriod present
    _put_count16(w, 1)
    w.bits(0, 2)  # MeasurementDataItem extension bit, no incompleteFlag
    _put_length(w, n_records)
    return w.getvalue()


@lru_cache(maxsize=256)
def _report_tail(infos: tuple[MeasInfo, ...], granularity_ms: int) -> bytes:
    w = _Writer()
    _put_meas_infos(w, infos)
    _put_u32(w, granularity_ms, lower=1)
    return w.getvalue()


def _record_cells(column: NDArray[np.generic]) -> _Cells:
    if np.issubdtype(column.dtype, np.integer):
        return _int_cells(column)[0]  # type: ignore[arg-type]
    if np.issubdtype(column.dtype, np.floating):
        return _real_cells(column)  # type: ignore[arg-type]
    raise _Unsupported(f"record column of dtype {column.dtype}")


def encode_format3_columns(
    ue_ids: NDArray[np.integer],
    columns: Sequence[NDArray[np.generic]],
    infos: tuple[MeasInfo, ...],
    granularity_ms: int,
) -> bytes | None:
    """Format 3 with one format-1 report per UE: UE ``ue_ids[u]`` (gNB-DU-UEID, no RAN UE ID)
    with records ``columns[i][u]`` — INTEGER for an integer column, REAL for a float one —,
    the measurement list ``infos`` and ``granularity_ms``: the bytes :func:`encode_indication`
    gives that typed message. ``None`` outside this path (no UE, a record that is not a
    4-octet integer or a finite real with a one-octet exponent, an unsupported list)."""
    try:
        return _format3_columns(np.asarray(ue_ids), columns, infos, granularity_ms)
    except _Unsupported:
        return None


def _format3_columns(
    ue_ids: NDArray[np.integer],
    columns: Sequence[NDArray[np.generic]],
    infos: tuple[MeasInfo, ...],
    granularity_ms: int,
) -> bytes:
    n = len(ue_ids)
    if not 1 <= n <= 65535 or len(columns) >= 128 or not 1 <= granularity_ms < _U32_LIMIT:
        raise _Unsupported("sizes")
    if any(len(c) != n for c in columns):
        raise ValueError("every column needs one value per UE")
    (ids, id_valid), id_len = _int_cells(ue_ids)
    prefixes = _ue_item_prefixes()
    fixed_mid = np.frombuffer(_report_middle(len(columns)), np.uint8)
    fixed_tail = np.frombuffer(_report_tail(infos, granularity_ms), np.uint8)
    blocks: list[_Cells] = [(prefixes[id_len - 1], np.ones((n, 2), bool)), (ids[:, 1:], id_valid[:, 1:])]
    blocks.append((np.broadcast_to(fixed_mid, (n, len(fixed_mid))), np.ones((n, len(fixed_mid)), bool)))
    blocks += [_record_cells(np.asarray(column)) for column in columns]
    blocks.append((np.broadcast_to(fixed_tail, (n, len(fixed_tail))), np.ones((n, len(fixed_tail)), bool)))
    matrix = np.concatenate([c for c, _ in blocks], axis=1)
    valid = np.concatenate([v for _, v in blocks], axis=1)
    body = b"\x00" + (n - 1).to_bytes(2, "big") + matrix[valid].tobytes()
    return wrap_format3(body)


_FORMAT3_HEADER = (0b0_1_0000000, 9)  # sequence ext 0, choice ext 1, normally-small index 0
_FRAGMENT = 16384


def wrap_format3(body: bytes) -> bytes:
    """The indication message whose format-3 extension (open type) holds ``body``.

    Open types of 16384 octets or more are split into length-prefixed fragments
    (X.691 §11.9.3.8); asn1tools gets that case wrong, hence this hand-written framing.
    """
    w = _Writer()
    w.bits(*_FORMAT3_HEADER)
    w.align()
    rest = memoryview(body)
    while len(rest) >= _FRAGMENT:
        m = min(4, len(rest) // _FRAGMENT)
        w.octets(bytes([0xC0 | m]))
        w.octets(bytes(rest[: m * _FRAGMENT]))
        rest = rest[m * _FRAGMENT :]
    _put_length(w, len(rest))
    w.octets(bytes(rest))
    return w.getvalue()


def unwrap_format3(data: bytes) -> bytes | None:
    """The open-type body of a format-3 indication message, ``None`` for other formats.

    Raises ``ValueError`` if the framing is broken or octets follow it.
    """
    r = _Reader(data)
    try:
        if r.bits(_FORMAT3_HEADER[1]) != _FORMAT3_HEADER[0]:
            return None
    except _Unsupported:
        return None
    parts = []
    try:
        while True:
            r.align()
            first = r.bits(8)
            if 0xC1 <= first <= 0xC4:
                parts.append(r.octets((first & 0x07) * _FRAGMENT))
                continue
            r.pos -= 8
            parts.append(r.octets(_get_length(r)))
            break
    except _Unsupported as exc:
        raise ValueError(f"broken format-3 framing: {exc}") from None
    if r.end - r.pos >= 8:
        raise ValueError(f"{(r.end - r.pos) // 8} trailing octets after the indication message")
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------------------


def _get_label(r: _Reader) -> MeasLabel:
    if r.bits(1):
        raise _Unsupported("label extensions")
    presence = r.bits(_LABEL_PRESENCE_BITS)
    if presence & ~((1 << 20) | (1 << 18)):
        raise _Unsupported("label fields")
    no_label = bool(presence >> 20)
    if no_label and r.bits(1):
        raise _Unsupported("enumeration extension")
    slice_id = _get_snssai(r) if presence & (1 << 18) else None
    if no_label and slice_id is None:
        return kpm.NO_LABEL
    return kpm.MeasLabel(no_label=no_label, slice_id=slice_id)


def _get_snssai(r: _Reader) -> Snssai:
    head = r.bits(2)
    if head & 0b10:
        raise _Unsupported("S-NSSAI extensions")
    sst = r.bits(8)
    if head & 1:
        r.align()
        return Snssai(sst, r.bits(24))
    return Snssai(sst)


def _get_meas_infos(r: _Reader) -> tuple[MeasInfo, ...]:
    infos = []
    for _ in range(_get_count16(r)):
        if r.bits(2):  # item extension bit, measType extension bit
            raise _Unsupported("extensions")
        if r.bits(1):
            raise _Unsupported("measurement ID")
        name = _get_name(r)
        labels = []
        for _ in range(_get_length(r)):
            if r.bits(1):
                raise _Unsupported("label item extensions")
            labels.append(_get_label(r))
        infos.append(kpm.MeasInfo(name, tuple(labels)))
    return tuple(infos)


def _real(content: bytes) -> float:
    """``asn1tools.codecs.ber.decode_real`` of ``content``, with the binary forms the encoder
    writes computed here by the same expression (identical floats), the rest left to it."""
    if not content:
        return 0.0
    control = content[0]
    if control == 0x80 or control == 0xC0:
        exponent = content[1]
        if exponent & 0x80:
            exponent -= 0x100
        offset = 2
    elif control == 0x81 or control == 0xC1:
        exponent = content[1] << 8 | content[2]
        if exponent & 0x8000:
            exponent -= 0x10000
        offset = 3
    else:
        return float(decode_real(bytearray(content)))
    if len(content) <= offset:  # no mantissa octets: let the reference decoder refuse it
        return float(decode_real(bytearray(content)))
    decoded = float(int.from_bytes(content[offset:], "big") * 2**exponent)
    if control & 0x40:
        decoded *= -1
    return decoded


class _Fallback(Exception):
    """The octet-level path cannot read this part: read it again bit by bit."""


def _data_items_octets(data: bytes, q: int) -> tuple[tuple[kpm.MeasDataItem, ...], int]:
    """``measData`` starting at octet ``q`` (its aligned count), read octet by octet, and the
    octet after it.

    Each record starts octet-aligned when every record is an integer or a real (3 choice bits,
    for an integer 2 length bits, then aligned octets) and no data item carries the
    ``incompleteFlag``; then the records need no bit reader. Anything else raises
    :class:`_Fallback` (or ``IndexError``) and the caller reads the list bit by bit instead.
    """
    end = len(data)
    count = (data[q] << 8 | data[q + 1]) + 1
    q += 2
    items = []
    for _ in range(count):
        if data[q] & 0xC0:  # extension bit, incompleteFlag present
            raise _Fallback
        n = data[q + 1]
        if n < 0x80:
            q += 2
        elif n < 0xC0:
            n = (n & 0x3F) << 8 | data[q + 2]
            q += 3
        else:
            raise _Fallback
        records: list[kpm.MeasRecord] = []
        append = records.append
        for _ in range(n):
            b = data[q]
            kind = b >> 5
            if kind == 0:  # integer: 2 bits octet count - 1, then the octets
                size = ((b >> 3) & 3) + 1
                append(int.from_bytes(data[q + 1 : q + 1 + size], "big"))
                q += 1 + size
            elif kind == 1:  # real: aligned length, then the content octets
                size = data[q + 1]
                if size >= 0x80:
                    raise _Fallback
                append(_real(data[q + 2 : q + 2 + size]))
                q += 2 + size
            else:  # noValue leaves the next record unaligned; other kinds are refused there
                raise _Fallback
        if q > end:
            raise _Fallback
        items.append(kpm.MeasDataItem(tuple(records), False))
    return tuple(items), q


def _get_records(r: _Reader) -> tuple[kpm.MeasRecord, ...]:
    out: list[kpm.MeasRecord] = []
    for _ in range(_get_length(r)):
        head = r.bits(3)
        if head == 0b000:
            out.append(_get_u32(r))
        elif head == 0b001:
            out.append(_real(r.octets(_get_length(r))))
        elif head == 0b010:
            out.append(None)
        else:
            raise _Unsupported("record type")
    return tuple(out)


_INFOS_KEPT = 8
_INFOS_SEEN: tuple[tuple[bytes, int, tuple[MeasInfo, ...]], ...] = ()
"""The last few measurement lists parsed (encoding, its length in bits, the value), newest
first: a node repeats the same few lists in every report (one per action; srsRAN also in every
UE's), so most are recognised by comparing octets instead of parsed again. Replaced whole, never
mutated, so concurrent decoders need no lock."""


class _Decoder:
    """Decodes format-1 bodies, reusing the parse of repeated measurement lists."""

    def __init__(self, r: _Reader) -> None:
        self.r = r

    def format1(self) -> KpmIndicationFormat1:
        r = self.r
        if r.pos & 7 or r.pos >= r.end:
            head = r.bits(3)
            r.align()
        else:  # a UE's report starts octet-aligned: its 3 head bits, padding, then the count
            head = r.data[r.pos >> 3] >> 5
            r.pos += 8
        if head & 0b100:
            raise _Unsupported("format 1 extensions")
        try:
            data, q = _data_items_octets(r.data, r.pos >> 3)
            r.pos = q << 3
        except (_Fallback, IndexError):
            data = self._data_items()
        infos = self._meas_infos() if head & 0b10 else None
        granularity = _get_u32(r, lower=1) if head & 1 else None
        return kpm.KpmIndicationFormat1(data, infos, granularity)

    def _data_items(self) -> tuple[kpm.MeasDataItem, ...]:
        r = self.r
        data = []
        for _ in range(_get_count16(r)):
            flags = r.bits(2)
            if flags & 0b10:
                raise _Unsupported("data item extensions")
            records = _get_records(r)
            if flags & 1 and r.bits(1):
                raise _Unsupported("enumeration extension")
            data.append(kpm.MeasDataItem(records, bool(flags & 1)))
        return tuple(data)

    def _meas_infos(self) -> tuple[MeasInfo, ...]:
        r = self.r
        r.align()
        start = r.pos
        seen = _INFOS_SEEN
        for raw, nbits, infos in seen:
            if self._matches(start, raw, nbits):
                r.pos = start + nbits
                return infos
        infos = _get_meas_infos(r)
        nbits = r.pos - start
        entry = (r.data[start >> 3 : (r.pos + 7) >> 3], nbits, infos)
        globals()["_INFOS_SEEN"] = (entry, *seen[: _INFOS_KEPT - 1])
        return infos

    def _matches(self, start: int, raw: bytes, nbits: int) -> bool:
        data = self.r.data
        first = start >> 3
        full = nbits >> 3
        if start + nbits > self.r.end or data[first : first + full] != raw[:full]:
            return False
        rest = nbits & 7
        if not rest:
            return True
        mask = (0xFF << (8 - rest)) & 0xFF
        return (data[first + full] & mask) == (raw[full] & mask)

    def ue(self) -> GnbDuUeId:
        r = self.r
        head = r.bits(6)
        if head >> 1 != _UEID_GNB_DU << 1:
            raise _Unsupported("UE ID type")
        f1ap_id = _get_u32(r)
        return GnbDuUeId(f1ap_id, r.octets(8) if head & 1 else None)


def decode_indication(data: bytes) -> KpmIndicationMessage | None:
    """The decoded message, or ``None`` if ``data`` is outside the fast subset (or invalid:
    the asn1tools codec then reports the error)."""
    try:
        return _decode(data)
    except Exception:  # any surprise: let the reference codec decide
        return None


def _decode(data: bytes) -> KpmIndicationMessage:
    body = unwrap_format3(data)
    r = _Reader(data if body is None else body)
    if body is None:
        if r.bits(3) != 0b000:  # sequence ext, choice ext, root index 0: format 1
            raise _Unsupported("indication format")
        message: KpmIndicationMessage = _Decoder(r).format1()
    else:
        message = _format3(_Decoder(r))
    if r.end - r.pos >= 8:
        raise _Unsupported("trailing data")
    return message


def _format3(d: _Decoder) -> kpm.KpmIndicationFormat3:
    r = d.r
    if r.bits(1):
        raise _Unsupported("format 3 extensions")
    reports = []
    data = r.data
    for _ in range(_get_count16(r)):
        q = r.pos >> 3
        if not r.pos & 7 and q + 1 < len(data) and data[q] & 0xFC == 0x08:
            # octet-aligned item: extension bit 0, UEID choice extension 0, index 1
            # (gNB-DU-UEID), its extension bit 0, ran-UEID presence, 2 of the ID's length bits
            b0 = data[q]
            size = ((b0 & 1) << 1 | data[q + 1] >> 7) + 1
            q += 2
            f1ap_id = int.from_bytes(data[q : q + size], "big")
            q += size
            ran = None
            if b0 & 2:
                ran = data[q : q + 8]
                q += 8
            if q > len(data):
                raise _Unsupported("out of data")
            r.pos = q << 3
            ue = GnbDuUeId(f1ap_id, ran)
        else:
            if r.bits(1):
                raise _Unsupported("report item extensions")
            ue = d.ue()
        reports.append(kpm.UeMeasReport(ue, d.format1()))
    return kpm.KpmIndicationFormat3(tuple(reports))
