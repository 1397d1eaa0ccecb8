"""The E2 node's cheap KPM encodings give the bytes of the typed reference paths, bit for bit.

- ``kpm.encode_ue_reports`` (format 3 packed from measurement columns for all UEs at once)
  against ``kpm.encode_indication_message`` of the equivalent typed message, which the
  asn1tools tests pin down;
- format 1 written as octets against the bit writer it bypasses;
- the indication header from its template against a full asn1tools encoding.
"""

from __future__ import annotations

import numpy as np
import pytest

from ric import _kpm_fast, kpm
from ric.e2sm_common import GnbDuUeId, Snssai
from ric.errors import E2EncodeError
from slicing import measurements as meas

INFOS = tuple(kpm.MeasInfo(n) for n in meas.UE_MEASUREMENTS)
EDGE_INTS = np.array([0, 1, 127, 128, 255, 256, 65535, 65536, (1 << 24) - 1, 1 << 24, (1 << 32) - 1])
EDGE_REALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 1e-3, -2.5e7, 1234.5678, 3.0e38, 2.0**-120, 1 / 3])


def typed(ids: np.ndarray, columns: list[np.ndarray], infos: tuple[kpm.MeasInfo, ...], gran: int) -> bytes:
    rows = list(zip(*(c.tolist() for c in columns), strict=True))
    reports = tuple(
        kpm.UeMeasReport(
            GnbDuUeId(int(u)), kpm.KpmIndicationFormat1((kpm.MeasDataItem(tuple(r)),), infos, gran)
        )
        for u, r in zip(ids.tolist(), rows, strict=True)
    )
    return kpm.encode_indication_message(kpm.KpmIndicationFormat3(reports))


def random_columns(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    cols: list[np.ndarray] = []
    for i in range(len(INFOS)):
        if i % 2:
            scale = rng.choice([0.0, 1e-6, 1.0, 1e3, 1e9], n)
            cols.append(rng.normal(0.0, 1.0, n) * scale)
        else:
            cols.append(rng.integers(0, 1 << int(rng.integers(1, 33)), n))
    return cols


@pytest.mark.parametrize("seed", range(5))
def test_column_format3_equals_the_typed_encoding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 260))
    ids = rng.integers(1, 1 << 32, n)
    cols = random_columns(rng, n)
    fast = _kpm_fast.encode_format3_columns(ids, cols, INFOS, 100)
    assert fast is not None  # these values are all on the packed path
    assert fast == typed(ids, cols, INFOS, 100)
    assert kpm.encode_ue_reports(ids, cols, INFOS, 100) == fast


def test_edge_values_and_slice_labels() -> None:
    ids = EDGE_INTS[::-1] + 0  # every UE ID octet count, 1 to 4
    ids[ids == 0] = 5
    infos = tuple(kpm.MeasInfo.per_slice(name, [Snssai(1, 1)]) for name in ("DRB.UEThpDl", "RRU.PrbUsedDl"))
    cols = [EDGE_INTS, EDGE_REALS]
    fast = _kpm_fast.encode_format3_columns(ids, cols, infos, 10)
    assert fast is not None and fast == typed(ids, cols, infos, 10)
    decoded = kpm.decode_indication_message(fast)
    assert isinstance(decoded, kpm.KpmIndicationFormat3)
    got = [r.report.data[0].records for r in decoded.reports]
    assert [g[0] for g in got] == EDGE_INTS.tolist()
    assert [g[1] for g in got] == EDGE_REALS.tolist()


@pytest.mark.parametrize(
    "column",
    [
        np.array([1.0, np.nan]),  # a non-finite REAL
        np.array([1.0, 1e-300]),  # a two-octet exponent
        np.array([1, 1 << 32]),  # an INTEGER over 32 bits
        np.array([1.5, None], dtype=object),  # noValue
    ],
)
def test_values_off_the_packed_path_fall_back_to_the_typed_path(column: np.ndarray) -> None:
    ids = np.array([1, 2])
    infos = (kpm.MeasInfo("DRB.UEThpDl"),)
    assert _kpm_fast.encode_format3_columns(ids, [column], infos, 10) is None
    if column.dtype == np.int64:  # not an INTEGER record at all: the typed path refuses it too
        with pytest.raises(E2EncodeError, match=r"int 0\.\.2"):
            kpm.encode_ue_reports(ids, [column], infos, 10)
        return
    assert kpm.encode_ue_reports(ids, [column], infos, 10) == typed(ids, [column], infos, 10)


def test_format1_octets_equal_the_bit_writer() -> None:
    rng = np.random.default_rng(7)
    slices = [Snssai(1, 1), Snssai(3, 2), Snssai(2, 3)]
    infos = kpm.node_level_action(meas.SLICE_MEASUREMENTS, 10, slices).measurements
    for _ in range(300):
        records: list[kpm.MeasRecord] = []
        for _ in range(len(infos) * 3):
            kind = int(rng.integers(0, 3))
            if kind == 0:
                records.append(int(rng.integers(0, 1 << int(rng.integers(1, 33)))))
            else:  # includes two-octet exponents (10^±40), which octets take through encode_real
                records.append(0.0 if kind == 1 else float(rng.normal() * 10.0 ** int(rng.integers(-40, 40))))
        message = kpm.KpmIndicationFormat1((kpm.MeasDataItem(tuple(records)),), infos, 10)
        writer = _kpm_fast._Writer()
        writer.bits(0, 3)
        _kpm_fast._Encoder().format1(writer, message)
        octets = kpm.encode_indication_message(message)
        assert octets == writer.getvalue()
        assert kpm.decode_indication_message(octets) == message


@pytest.mark.parametrize(
    "rest", [(None, None, None, None), (None, None, "DU", "oran-metahrl"), ("1", "n", "t", "v")]
)
def test_header_from_its_template_equals_asn1tools(rest: tuple[str | None, ...]) -> None:
    for ts in (0, 1, 0xE8F0_0000_1234_5678, (1 << 64) - 1):
        header = kpm.KpmIndicationHeader(ts, *rest)
        data = kpm.encode_indication_header(header)
        assert data == kpm._encode_header(header)
        assert kpm.decode_indication_header(data) == header
