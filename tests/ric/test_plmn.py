from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ric.plmn import Plmn, plmn_from_bcd, plmn_to_bcd


@pytest.mark.parametrize(
    ("mcc", "mnc", "bcd"),
    [
        ("001", "01", "00f110"),  # srsRAN test PLMN
        ("123", "45", "21f354"),  # srsRAN RC slice PRB quota test
        ("311", "48", "13f184"),  # Radisys E2 setup
        ("505", "01", "05f510"),  # FlexRIC agent
        ("310", "411", "131014"),  # 3-digit MNC (OSC i-release RIC ID)
        ("999", "999", "999999"),
    ],
)
def test_bcd_known_values(mcc: str, mnc: str, bcd: str) -> None:
    assert plmn_to_bcd(mcc, mnc).hex() == bcd
    assert plmn_from_bcd(bytes.fromhex(bcd)) == (mcc, mnc)
    assert Plmn.from_bcd(bytes.fromhex(bcd)) == Plmn(mcc, mnc)


@given(st.from_regex(r"[0-9]{3}", fullmatch=True), st.from_regex(r"[0-9]{2,3}", fullmatch=True))
def test_bcd_round_trip(mcc: str, mnc: str) -> None:
    plmn = Plmn(mcc, mnc)
    assert len(plmn.to_bcd()) == 3
    assert Plmn.from_bcd(plmn.to_bcd()) == plmn
    assert Plmn.parse(str(plmn)) == plmn


@pytest.mark.parametrize("bad", ["", "0f1110", "a0f110", "00f1a0", "00f1", "00f11000"])
def test_bcd_rejects_non_bcd(bad: str) -> None:
    with pytest.raises(ValueError):
        Plmn.from_bcd(bytes.fromhex(bad))


@pytest.mark.parametrize(
    ("mcc", "mnc"), [("01", "01"), ("0011", "01"), ("001", "1"), ("00a", "01"), ("001", "1234")]
)
def test_rejects_bad_digits(mcc: str, mnc: str) -> None:
    with pytest.raises(ValueError):
        Plmn(mcc, mnc)


def test_parse_ascii_forms() -> None:
    assert Plmn.parse("00101") == Plmn("001", "01")
    assert Plmn.parse("001010") == Plmn("001", "010")
    for bad in ("0010", "0010101", "0010x"):
        with pytest.raises(ValueError):
            Plmn.parse(bad)
