"""Fuzz: any bytes given to any decoder either decode or raise E2DecodeError, promptly.

Inputs are random bytes and mutations (byte overwrites, insertions, truncations) of valid
encodings: our own and, when present, the captured interop vectors.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ric import e2ap, kpm, rc
from ric.e2sm_common import GnbDuUeId, Snssai
from ric.errors import E2DecodeError
from ric.plmn import Plmn

from .conftest import VECTORS
from .test_e2ap import MESSAGES

PER_DECODE_LIMIT_S = 5.0


class _Hang(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"decoder still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _own_seeds() -> dict[str, list[bytes]]:
    quota = rc.SlicePrbQuota(Plmn("001", "01"), 1, 2, 10, 50, 20)
    indication = kpm.KpmIndicationFormat3(
        tuple(
            kpm.UeMeasReport(
                GnbDuUeId(i),
                kpm.KpmIndicationFormat1(
                    (kpm.MeasDataItem((i, 1.5, None)),), tuple(kpm.MeasInfo(n) for n in ("A", "B", "C")), 1000
                ),
            )
            for i in range(3)
        )
    )
    return {
        "e2ap": [e2ap.encode_e2ap(m) for m in MESSAGES],
        "kpm_description": [kpm.encode_ran_function_description(kpm.default_ran_function_description())],
        "kpm_trigger": [kpm.encode_event_trigger(kpm.KpmEventTrigger(1000))],
        "kpm_action": [
            kpm.encode_action_definition(kpm.node_level_action(["DRB.UEThpDl"], 1000, [Snssai(1, 2)])),
            kpm.encode_action_definition(
                kpm.ue_list_action(["DRB.UEThpDl"], 1000, [GnbDuUeId(1), GnbDuUeId(2)])
            ),
        ],
        "kpm_header": [kpm.encode_indication_header(kpm.KpmIndicationHeader(123, "a", "b", "c", "d"))],
        "kpm_message": [kpm.encode_indication_message(indication)],
        "rc_header": [rc.encode_control_header(rc.slice_prb_quota_header(GnbDuUeId(3)))],
        "rc_message": [rc.encode_slice_prb_quota([quota, quota])],
        "rc_outcome": [rc.encode_control_outcome(rc.RcControlOutcome((rc.RcOutcomeItem(1, 2),)))],
        "rc_definition": [rc.encode_ran_function_definition(rc.default_ran_function_definition())],
    }


_VECTOR_SEEDS = {
    "e2ap": [v.data for v in VECTORS.values() if v.protocol.startswith("E2AP")],
    "kpm_description": [v.data for n, v in VECTORS.items() if "ranfunction_description" in n],
    "kpm_trigger": [v.data for n, v in VECTORS.items() if "event_trigger" in n],
    "kpm_action": [v.data for n, v in VECTORS.items() if "action_definition" in n],
    "kpm_message": [v.data for n, v in VECTORS.items() if "indication_message" in n],
    "rc_header": [v.data for n, v in VECTORS.items() if n.startswith("rc_") and "header" in n],
    "rc_message": [v.data for n, v in VECTORS.items() if n.startswith("rc_") and "control_message" in n],
    "rc_definition": [v.data for n, v in VECTORS.items() if "ranfunction_definition" in n],
}
SEEDS = {k: v + _VECTOR_SEEDS.get(k, []) for k, v in _own_seeds().items()}

DECODERS: dict[str, list[Callable[[bytes], Any]]] = {
    "e2ap": [e2ap.decode_e2ap],
    "kpm_description": [kpm.decode_ran_function_description],
    "kpm_trigger": [kpm.decode_event_trigger],
    "kpm_action": [kpm.decode_action_definition],
    "kpm_header": [kpm.decode_indication_header],
    "kpm_message": [kpm.decode_indication_message],
    "rc_header": [rc.decode_control_header],
    "rc_message": [rc.decode_control_message, rc.decode_slice_prb_quota],
    "rc_outcome": [rc.decode_control_outcome],
    "rc_definition": [rc.decode_ran_function_definition],
}
CASES = [(kind, decoder) for kind, decoders in DECODERS.items() for decoder in decoders]


@st.composite
def _mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate", "flip"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[pos]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


def _inputs(kind: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), _mutated(SEEDS[kind]))


@pytest.mark.parametrize(("kind", "decoder"), CASES, ids=[f"{k}-{d.__name__}" for k, d in CASES])
def test_decoder_never_raises_anything_else(kind: str, decoder: Callable[[bytes], Any]) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_inputs(kind))
    def check(data: bytes) -> None:
        with _time_limit(PER_DECODE_LIMIT_S), suppress(E2DecodeError):
            decoder(data)

    check()


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_seeds_decode(kind: str) -> None:
    """The unmutated own seeds are valid (so mutations start from real encodings)."""
    own = _own_seeds()[kind]
    for decoder in DECODERS[kind]:
        for data in own:
            decoder(data)


def _reference_kpm_decode(data: bytes) -> object:
    """E2SM-KPM indication decoding through asn1tools only (no fast path)."""
    from ric import _asn1, _kpm_fast

    body = _kpm_fast.unwrap_format3(data)
    if body is not None:
        return kpm._format3_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage-Format3", body))
    return kpm._indication_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage", data))


@settings(max_examples=300, deadline=None)
@given(_mutated(SEEDS["kpm_message"]))
def test_fast_kpm_decoder_agrees_with_asn1tools_on_mutated_input(data: bytes) -> None:
    from ric import _kpm_fast

    fast = _kpm_fast.decode_indication(data)
    if fast is None:
        return
    assert _reference_kpm_decode(data) == fast
