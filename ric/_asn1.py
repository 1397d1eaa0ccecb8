"""Compiled E2SM ASN.1 specifications (asn1tools, aligned PER), loaded once per process.

The ``.asn`` sources ship as package data under ``ric/asn1/``. Decoding here is strict:
the whole input must be consumed (only the final octet's padding bits may remain).
Errors are not translated here; the typed codecs above turn them into
:class:`ric.errors.E2smDecodeError` / :class:`ric.errors.E2EncodeError`.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import asn1tools
from asn1tools.codecs import per as _per

__all__ = ["SpecName", "TrailingDataError", "asn1_source_dir", "decode", "encode", "preload", "spec"]

SpecName = Literal["kpm", "kpm_v0201", "rc"]

_FILES: dict[str, tuple[str, ...]] = {
    "kpm": ("e2sm_common.asn", "e2sm_kpm_v03_00.asn"),
    "kpm_v0201": ("e2sm_common.asn", "e2sm_kpm_v02_01_actiondef.asn"),
    "rc": ("e2sm_common.asn", "e2sm_rc_v01_03.asn"),
}
_LOCK = threading.Lock()


class TrailingDataError(ValueError):
    """The input holds more than one encoded value."""


def asn1_source_dir() -> Path:
    """Directory holding the project's ``.asn`` modules (package data)."""
    return Path(str(resources.files("ric") / "asn1"))


@cache
def _compiled(name: str) -> Any:
    paths = [str(asn1_source_dir() / f) for f in _FILES[name]]
    return asn1tools.compile_files(paths, "per")


def spec(name: SpecName) -> Any:
    """The compiled asn1tools specification ``name`` (compiled on first use)."""
    with _LOCK:  # compile once even if two threads ask at the same time
        return _compiled(name)


def preload(*names: SpecName) -> None:
    """Compile ``names`` (default: KPM and RC) now — from a worker thread at start-up, say — so
    that no first encode or decode on an event loop stalls it (compiling takes ~0.5 s)."""
    for name in names or ("kpm", "rc"):
        spec(name)


_FRAGMENT = 16384


def encode(name: SpecName, type_name: str, value: Any) -> bytes:
    """APER-encode ``value`` (asn1tools' Python representation) as ``type_name``.

    asn1tools frames open types (extension additions) of 16 KiB or more without PER
    fragmentation, i.e. wrongly; big outputs are therefore decoded back once, so that such
    an encoding raises instead of leaving the process.
    """
    data = bytes(spec(name).encode(type_name, value, check_types=False))
    if len(data) >= _FRAGMENT:
        decode(name, type_name, data)
    return data


def decode(name: SpecName, type_name: str, data: bytes) -> Any:
    """APER-decode exactly one ``type_name`` from ``data`` (no trailing bytes allowed)."""
    compiled = spec(name)._types[type_name]._type
    decoder = _per.Decoder(bytearray(data))
    value = compiled.decode(decoder)
    if decoder.number_of_bits >= 8:
        raise TrailingDataError(f"{type_name}: {decoder.number_of_bits // 8} trailing octets")
    return value
