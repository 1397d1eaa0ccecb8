"""pycrate's E2AP module behind a lock, with strict decoding (package-internal).

pycrate keeps the value being encoded/decoded in a module-global ASN.1 object and a global
offset stack, so every call goes through one lock; the offset stack is restored even when
pycrate raises. :func:`decode` rejects trailing octets (pycrate itself ignores them).
Criticalities are read from pycrate's compiled E2AP tables, so what we send follows the
standard's procedure and IE criticalities.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

__all__ = ["decode", "encode", "ie_criticality", "procedure_criticality"]

_LOCK = threading.RLock()


@cache
def _module() -> Any:
    from pycrate_asn1dir import E2AP  # imported on first use: keeps `import ric` light

    return E2AP


def _pdu() -> Any:
    return _module().E2AP_PDU_Descriptions.E2AP_PDU


def encode(value: Any) -> bytes:
    """APER-encode an ``E2AP-PDU`` given as a pycrate value."""
    from pycrate_asn1rt.codecs import ASN1CodecPER

    with _LOCK:
        depth = len(ASN1CodecPER._off)
        try:
            data = _pdu().to_aper(value)
        finally:
            del ASN1CodecPER._off[depth:]
    return bytes(data)


def decode(data: bytes) -> Any:
    """APER-decode one ``E2AP-PDU``; ``ValueError`` if octets are left over."""
    from pycrate_asn1rt.codecs import ASN1CodecPER
    from pycrate_core.charpy import Charpy

    with _LOCK:
        depth = len(ASN1CodecPER._off)
        char = Charpy(bytes(data))
        try:
            pdu = _pdu()
            pdu.from_aper(char)
            value = pdu.get_val()
        finally:
            del ASN1CodecPER._off[depth:]
        left = char.len_bit()
    if left >= 8:
        raise ValueError(f"{left // 8} trailing octets after the E2AP-PDU")
    return value


@cache
def procedure_criticality(procedure_code: int) -> str:
    """The criticality E2AP assigns to elementary procedure ``procedure_code``."""
    table = _module().E2AP_PDU_Descriptions.E2AP_ELEMENTARY_PROCEDURES._val.root
    for entry in table:
        if entry["procedureCode"] == procedure_code:
            return str(entry["criticality"])
    raise KeyError(f"no E2AP procedure {procedure_code}")


@cache
def _ie_table(ie_set: str) -> dict[int, str]:
    contents = _module().E2AP_PDU_Contents
    return {int(d["id"]): str(d["criticality"]) for d in getattr(contents, ie_set)._val.root}


def ie_criticality(ie_set: str, ie_id: int) -> str:
    """The criticality of IE ``ie_id`` in pycrate's IE set ``ie_set`` (e.g. "ResetRequestIEs")."""
    return _ie_table(ie_set)[ie_id]
