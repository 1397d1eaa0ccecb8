"""Fuzz: any bytes given to any decoder either decode or raise E2DecodeError, promptly.

Inputs are random bytes and mutations (byte overwrites, insertions, truncations) of valid
encodings: our own and, when present, the captured interop vectors.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_e2 import DecoderTarget, decoder_targets, load_corpus, own_seeds
from ric import e2ap, kpm

from .conftest import INTEROP_DIR, VECTORS
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


# The seeds and the decoder table are those of `metahrl bench fuzz-e2` (one corpus, one list of
# decoders and their documented errors); the E2AP seeds add our encoding of every message type.
SEEDS = load_corpus(INTEROP_DIR if VECTORS else None, wire=[e2ap.encode_e2ap(m) for m in MESSAGES])
CASES = [t for t in decoder_targets() if t.kind != "frames"]  # framing: tests/e2/test_framing.py


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


@pytest.mark.parametrize("target", CASES, ids=[t.name for t in CASES])
def test_decoder_never_raises_anything_else(target: DecoderTarget) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_inputs(target.kind))
    def check(data: bytes) -> None:
        with _time_limit(PER_DECODE_LIMIT_S), suppress(*target.allowed):
            target.decode(data)

    check()


@pytest.mark.parametrize("target", CASES, ids=[t.name for t in CASES])
def test_seeds_decode(target: DecoderTarget) -> None:
    """The unmutated own seeds are valid (so mutations start from real encodings)."""
    own = own_seeds() | {"e2ap": [e2ap.encode_e2ap(m) for m in MESSAGES]}
    assert own[target.kind]
    for data in own[target.kind]:
        target.decode(data)


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
