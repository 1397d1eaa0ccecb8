"""TCP framing: 4-byte big-endian length prefix, split / merged frames, maximum frame size."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ric.errors import LocalError, PeerError
from ric.framing import FrameSizeError, FrameTooLargeError, LengthPrefixFramer, encode_frame


def _drain(framer: LengthPrefixFramer) -> list[bytes]:
    out = []
    while (frame := framer.next_frame()) is not None:
        out.append(frame)
    return out


def test_prefix_is_four_bytes_big_endian() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


def test_merged_frames_in_one_chunk() -> None:
    framer = LengthPrefixFramer()
    framer.feed(encode_frame(b"one") + encode_frame(b"") + encode_frame(b"three"))
    assert _drain(framer) == [b"one", b"", b"three"]
    assert framer.buffered == 0


def test_frame_fed_byte_by_byte() -> None:
    framer = LengthPrefixFramer()
    data = encode_frame(b"hello") + encode_frame(b"world")
    out: list[bytes] = []
    for i in range(len(data)):
        framer.feed(data[i : i + 1])
        out += _drain(framer)
    assert out == [b"hello", b"world"]


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_any_chunking_gives_the_same_frames(frames: list[bytes], cuts: list[int]) -> None:
    data = b"".join(encode_frame(f) for f in frames)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    framer = LengthPrefixFramer()
    out: list[bytes] = []
    for a, b in itertools.pairwise(points):
        framer.feed(data[a:b])
        out += _drain(framer)
    assert out == frames


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_oversize_frame_is_rejected_skipped_and_the_stream_continues(chunk: int) -> None:
    framer = LengthPrefixFramer(max_frame=16)
    data = encode_frame(b"ok1") + (100).to_bytes(4, "big") + b"x" * 100 + encode_frame(b"ok2")
    out: list[bytes] = []
    errors: list[FrameTooLargeError] = []
    for i in range(0, len(data), chunk):
        framer.feed(data[i : i + chunk])
        while True:
            try:
                frame = framer.next_frame()
            except FrameTooLargeError as exc:
                errors.append(exc)
                continue
            if frame is None:
                break
            out.append(frame)
    assert out == [b"ok1", b"ok2"]
    assert len(errors) == 1 and errors[0].length == 100 and errors[0].limit == 16
    assert isinstance(errors[0], PeerError)
    assert "exceeds the maximum of 16 bytes" in str(errors[0])


def test_we_refuse_to_send_an_oversize_frame() -> None:
    with pytest.raises(FrameSizeError) as info:
        encode_frame(b"x" * 17, max_frame=16)
    assert isinstance(info.value, LocalError)


def test_max_frame_must_be_sane() -> None:
    with pytest.raises(ValueError):
        LengthPrefixFramer(max_frame=0)
