"""PLMN identity: MCC/MNC digits and their 3-octet BCD encoding (3GPP TS 38.413 §9.3.3.5).

Octet 1 = MCC digit 2 | MCC digit 1, octet 2 = MNC digit 3 (0xF for a 2-digit MNC) | MCC
digit 3, octet 3 = MNC digit 2 | MNC digit 1 (high nibble | low nibble). Example:
MCC 001 / MNC 01 -> ``00 F1 10``; MCC 123 / MNC 45 -> ``21 F3 54``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Plmn", "plmn_from_bcd", "plmn_to_bcd"]

_FILLER = 0xF


@dataclass(frozen=True, slots=True)
class Plmn:
    """A PLMN identity as decimal digit strings (``mcc`` 3 digits, ``mnc`` 2 or 3)."""

    mcc: str
    mnc: str

    def __post_init__(self) -> None:
        if len(self.mcc) != 3 or not _is_digits(self.mcc):
            raise ValueError(f"MCC must be 3 decimal digits, got {self.mcc!r}")
        if len(self.mnc) not in (2, 3) or not _is_digits(self.mnc):
            raise ValueError(f"MNC must be 2 or 3 decimal digits, got {self.mnc!r}")

    def __str__(self) -> str:
        return self.mcc + self.mnc

    def to_bcd(self) -> bytes:
        """The 3-octet BCD encoding (PLMNIdentity / PLMN-Identity)."""
        return plmn_to_bcd(self.mcc, self.mnc)

    @classmethod
    def from_bcd(cls, data: bytes) -> Plmn:
        """Parse 3 BCD octets; ``ValueError`` if they are not a valid PLMN identity."""
        mcc, mnc = plmn_from_bcd(data)
        return cls(mcc, mnc)

    @classmethod
    def parse(cls, digits: str) -> Plmn:
        """Parse ``"00101"`` (MNC of 2 digits) or ``"001001"`` (MNC of 3 digits)."""
        if len(digits) not in (5, 6) or not _is_digits(digits):
            raise ValueError(f"PLMN must be 5 or 6 decimal digits, got {digits!r}")
        return cls(digits[:3], digits[3:])


def plmn_to_bcd(mcc: str, mnc: str) -> bytes:
    """Encode MCC/MNC digit strings as the 3-octet BCD PLMN identity."""
    plmn = Plmn(mcc, mnc)  # validates
    d = [int(c) for c in plmn.mcc]
    n = [int(c) for c in plmn.mnc]
    mnc3 = n[2] if len(n) == 3 else _FILLER
    return bytes([(d[1] << 4) | d[0], (mnc3 << 4) | d[2], (n[1] << 4) | n[0]])


def plmn_from_bcd(data: bytes) -> tuple[str, str]:
    """Decode a 3-octet BCD PLMN identity into ``(mcc, mnc)`` digit strings."""
    if len(data) != 3:
        raise ValueError(f"a PLMN identity is 3 octets, got {len(data)}")
    nibbles = [data[0] & 0xF, data[0] >> 4, data[1] & 0xF, data[2] & 0xF, data[2] >> 4]
    mnc3 = data[1] >> 4
    if any(x > 9 for x in nibbles) or (mnc3 > 9 and mnc3 != _FILLER):
        raise ValueError(f"not a BCD PLMN identity: {data.hex()}")
    mcc = "".join(str(x) for x in nibbles[:3])
    mnc = "".join(str(x) for x in nibbles[3:]) + ("" if mnc3 == _FILLER else str(mnc3))
    return mcc, mnc


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
