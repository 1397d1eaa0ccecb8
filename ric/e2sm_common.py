"""Typed E2SM common IEs shared by E2SM-KPM and E2SM-RC: UE IDs, S-NSSAI, cell IDs.

Only the UE ID alternatives a gNB uses are typed (``gNB-UEID``, ``gNB-DU-UEID``,
``gNB-CU-UP-UEID``); srsRAN sends ``gNB-DU-UEID`` in KPM reports and accepts either of the
first two in RC control headers. Other alternatives (eNB / ng-eNB / en-gNB) are rejected
on decode with :class:`ric.errors.E2smDecodeError`.

The ``_…_to_asn`` / ``_…_from_asn`` helpers convert to and from asn1tools' value
representation; they are for :mod:`ric.kpm` and :mod:`ric.rc` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ric import _asn1
from ric.errors import E2EncodeError
from ric.plmn import Plmn

__all__ = [
    "BitString",
    "Cgi",
    "EutraCgi",
    "GnbCuUpUeId",
    "GnbDuUeId",
    "GnbUeId",
    "Guami",
    "NrCgi",
    "RanFunctionName",
    "Snssai",
    "UeId",
    "preload_service_models",
]

_U32 = 0xFFFF_FFFF


def preload_service_models() -> None:
    """Compile the E2SM-KPM and E2SM-RC codecs now (~0.5 s), so that no first encode or decode
    stalls an event loop: an xApp behind an OSC RIC sees no E2 Setup, where a direct RIC side
    compiles them. Call it from a worker thread at start-up."""
    _asn1.preload()


def _check_range(what: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise E2EncodeError(f"{what} must be an integer in {lo}..{hi}, got {value!r}")


def _check_optional_octets(what: str, value: bytes | None, size: int) -> None:
    if value is not None and (not isinstance(value, bytes) or len(value) != size):
        raise E2EncodeError(f"{what} must be {size} octets, got {value!r}")


@dataclass(frozen=True, slots=True)
class BitString:
    """An ASN.1 BIT STRING value: ``length`` bits, left-aligned in ``data``."""

    data: bytes
    length: int

    def __post_init__(self) -> None:
        if not 0 <= self.length <= 8 * len(self.data) or len(self.data) != (self.length + 7) // 8:
            raise E2EncodeError(f"BIT STRING of {self.length} bits cannot be held in {self.data!r}")


@dataclass(frozen=True, slots=True)
class Snssai:
    """S-NSSAI: slice/service type (0..255) and optional slice differentiator (24 bits)."""

    sst: int
    sd: int | None = None

    def __post_init__(self) -> None:
        _check_range("SST", self.sst, 0, 0xFF)
        if self.sd is not None:
            _check_range("SD", self.sd, 0, 0xFF_FFFF)


@dataclass(frozen=True, slots=True)
class Guami:
    """GUAMI of the serving AMF (PLMN, AMF region 8 bits, set 10 bits, pointer 6 bits)."""

    plmn: Plmn
    amf_region_id: int = 0
    amf_set_id: int = 0
    amf_pointer: int = 0

    def __post_init__(self) -> None:
        _check_range("AMF region ID", self.amf_region_id, 0, 0xFF)
        _check_range("AMF set ID", self.amf_set_id, 0, 0x3FF)
        _check_range("AMF pointer", self.amf_pointer, 0, 0x3F)


@dataclass(frozen=True, slots=True)
class GnbUeId:
    """UEID ``gNB-UEID`` (CU or monolithic gNB view of a UE)."""

    amf_ue_ngap_id: int
    guami: Guami
    cu_ue_f1ap_ids: tuple[int, ...] = ()
    cu_cp_ue_e1ap_ids: tuple[int, ...] = ()
    ran_ue_id: bytes | None = None
    m_ng_ran_ue_xnap_id: int | None = None

    def __post_init__(self) -> None:
        _check_range("AMF-UE-NGAP-ID", self.amf_ue_ngap_id, 0, 0xFF_FFFF_FFFF)
        if len(self.cu_ue_f1ap_ids) > 4:
            raise E2EncodeError("at most 4 gNB-CU-UE-F1AP-IDs")
        for x in (*self.cu_ue_f1ap_ids, *self.cu_cp_ue_e1ap_ids):
            _check_range("F1AP/E1AP UE ID", x, 0, _U32)
        if len(self.cu_cp_ue_e1ap_ids) > 65535:
            raise E2EncodeError("at most 65535 gNB-CU-CP-UE-E1AP-IDs")
        _check_optional_octets("RAN UE ID", self.ran_ue_id, 8)
        if self.m_ng_ran_ue_xnap_id is not None:
            _check_range("M-NG-RAN-UE-XnAP-ID", self.m_ng_ran_ue_xnap_id, 0, _U32)


@dataclass(frozen=True, slots=True)
class GnbDuUeId:
    """UEID ``gNB-DU-UEID``: the gNB-CU-UE-F1AP-ID (and optional RAN UE ID) of a DU's UE."""

    cu_ue_f1ap_id: int
    ran_ue_id: bytes | None = None

    def __post_init__(self) -> None:
        _check_range("gNB-CU-UE-F1AP-ID", self.cu_ue_f1ap_id, 0, _U32)
        _check_optional_octets("RAN UE ID", self.ran_ue_id, 8)


@dataclass(frozen=True, slots=True)
class GnbCuUpUeId:
    """UEID ``gNB-CU-UP-UEID``."""

    cu_cp_ue_e1ap_id: int
    ran_ue_id: bytes | None = None

    def __post_init__(self) -> None:
        _check_range("gNB-CU-CP-UE-E1AP-ID", self.cu_cp_ue_e1ap_id, 0, _U32)
        _check_optional_octets("RAN UE ID", self.ran_ue_id, 8)


UeId = GnbUeId | GnbDuUeId | GnbCuUpUeId


@dataclass(frozen=True, slots=True)
class NrCgi:
    """NR cell global identity (PLMN + 36-bit NR cell identity)."""

    plmn: Plmn
    cell_id: int

    def __post_init__(self) -> None:
        _check_range("NR cell identity", self.cell_id, 0, (1 << 36) - 1)


@dataclass(frozen=True, slots=True)
class EutraCgi:
    """E-UTRA cell global identity (PLMN + 28-bit E-UTRA cell identity)."""

    plmn: Plmn
    cell_id: int

    def __post_init__(self) -> None:
        _check_range("E-UTRA cell identity", self.cell_id, 0, (1 << 28) - 1)


Cgi = NrCgi | EutraCgi


@dataclass(frozen=True, slots=True)
class RanFunctionName:
    """``RANfunction-Name``: short name, E2SM OID, description, optional instance."""

    short_name: str
    oid: str
    description: str
    instance: int | None = None


# ---------------------------------------------------------------------------------------
# asn1tools value conversion (package-internal)
# ---------------------------------------------------------------------------------------


def _bits_to_asn(value: int, nbits: int) -> tuple[bytes, int]:
    nbytes = (nbits + 7) // 8
    return ((value << (8 * nbytes - nbits)).to_bytes(nbytes, "big"), nbits)


def _bits_from_asn(value: tuple[bytes, int]) -> int:
    data, nbits = value
    return int.from_bytes(data, "big") >> (8 * len(data) - nbits)


def _snssai_to_asn(s: Snssai) -> dict[str, Any]:
    out: dict[str, Any] = {"sST": bytes([s.sst])}
    if s.sd is not None:
        out["sD"] = s.sd.to_bytes(3, "big")
    return out


def _snssai_from_asn(v: dict[str, Any]) -> Snssai:
    sd = v.get("sD")
    return Snssai(v["sST"][0], None if sd is None else int.from_bytes(sd, "big"))


def _guami_to_asn(g: Guami) -> dict[str, Any]:
    return {
        "pLMNIdentity": g.plmn.to_bcd(),
        "aMFRegionID": _bits_to_asn(g.amf_region_id, 8),
        "aMFSetID": _bits_to_asn(g.amf_set_id, 10),
        "aMFPointer": _bits_to_asn(g.amf_pointer, 6),
    }


def _guami_from_asn(v: dict[str, Any]) -> Guami:
    return Guami(
        Plmn.from_bcd(v["pLMNIdentity"]),
        _bits_from_asn(v["aMFRegionID"]),
        _bits_from_asn(v["aMFSetID"]),
        _bits_from_asn(v["aMFPointer"]),
    )


def _gnb_ue_to_asn(ue: GnbUeId) -> dict[str, Any]:
    out: dict[str, Any] = {"amf-UE-NGAP-ID": ue.amf_ue_ngap_id, "guami": _guami_to_asn(ue.guami)}
    if ue.cu_ue_f1ap_ids:
        out["gNB-CU-UE-F1AP-ID-List"] = [{"gNB-CU-UE-F1AP-ID": x} for x in ue.cu_ue_f1ap_ids]
    if ue.cu_cp_ue_e1ap_ids:
        out["gNB-CU-CP-UE-E1AP-ID-List"] = [{"gNB-CU-CP-UE-E1AP-ID": x} for x in ue.cu_cp_ue_e1ap_ids]
    if ue.ran_ue_id is not None:
        out["ran-UEID"] = ue.ran_ue_id
    if ue.m_ng_ran_ue_xnap_id is not None:
        out["m-NG-RAN-UE-XnAP-ID"] = ue.m_ng_ran_ue_xnap_id
    return out


def _gnb_ue_from_asn(v: dict[str, Any]) -> GnbUeId:
    return GnbUeId(
        amf_ue_ngap_id=v["amf-UE-NGAP-ID"],
        guami=_guami_from_asn(v["guami"]),
        cu_ue_f1ap_ids=tuple(x["gNB-CU-UE-F1AP-ID"] for x in v.get("gNB-CU-UE-F1AP-ID-List", ())),
        cu_cp_ue_e1ap_ids=tuple(x["gNB-CU-CP-UE-E1AP-ID"] for x in v.get("gNB-CU-CP-UE-E1AP-ID-List", ())),
        ran_ue_id=v.get("ran-UEID"),
        m_ng_ran_ue_xnap_id=v.get("m-NG-RAN-UE-XnAP-ID"),
    )


def _with_ran_ue_id(out: dict[str, Any], ran_ue_id: bytes | None) -> dict[str, Any]:
    if ran_ue_id is not None:
        out["ran-UEID"] = ran_ue_id
    return out


def _ue_id_to_asn(ue: UeId) -> tuple[str, dict[str, Any]]:
    if isinstance(ue, GnbDuUeId):
        return ("gNB-DU-UEID", _with_ran_ue_id({"gNB-CU-UE-F1AP-ID": ue.cu_ue_f1ap_id}, ue.ran_ue_id))
    if isinstance(ue, GnbUeId):
        return ("gNB-UEID", _gnb_ue_to_asn(ue))
    if isinstance(ue, GnbCuUpUeId):
        body = _with_ran_ue_id({"gNB-CU-CP-UE-E1AP-ID": ue.cu_cp_ue_e1ap_id}, ue.ran_ue_id)
        return ("gNB-CU-UP-UEID", body)
    raise E2EncodeError(f"not a UE ID: {ue!r}")


def _ue_id_from_asn(v: tuple[str, dict[str, Any]]) -> UeId:
    kind, body = v
    if kind == "gNB-DU-UEID":
        return GnbDuUeId(body["gNB-CU-UE-F1AP-ID"], body.get("ran-UEID"))
    if kind == "gNB-UEID":
        return _gnb_ue_from_asn(body)
    if kind == "gNB-CU-UP-UEID":
        return GnbCuUpUeId(body["gNB-CU-CP-UE-E1AP-ID"], body.get("ran-UEID"))
    raise ValueError(f"unsupported UE ID type {kind!r}")


def _cgi_to_asn(cgi: Cgi) -> tuple[str, dict[str, Any]]:
    if isinstance(cgi, NrCgi):
        body = {"pLMNIdentity": cgi.plmn.to_bcd(), "nRCellIdentity": _bits_to_asn(cgi.cell_id, 36)}
        return ("nR-CGI", body)
    return (
        "eUTRA-CGI",
        {"pLMNIdentity": cgi.plmn.to_bcd(), "eUTRACellIdentity": _bits_to_asn(cgi.cell_id, 28)},
    )


def _cgi_from_asn(v: tuple[str, dict[str, Any]]) -> Cgi:
    kind, body = v
    plmn = Plmn.from_bcd(body["pLMNIdentity"])
    if kind == "nR-CGI":
        return NrCgi(plmn, _bits_from_asn(body["nRCellIdentity"]))
    if kind == "eUTRA-CGI":
        return EutraCgi(plmn, _bits_from_asn(body["eUTRACellIdentity"]))
    raise ValueError(f"unsupported CGI type {kind!r}")


def _ran_function_name_to_asn(n: RanFunctionName) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ranFunction-ShortName": n.short_name,
        "ranFunction-E2SM-OID": n.oid,
        "ranFunction-Description": n.description,
    }
    if n.instance is not None:
        out["ranFunction-Instance"] = n.instance
    return out


def _ran_function_name_from_asn(v: dict[str, Any]) -> RanFunctionName:
    return RanFunctionName(
        v["ranFunction-ShortName"],
        v["ranFunction-E2SM-OID"],
        v["ranFunction-Description"],
        v.get("ranFunction-Instance"),
    )
