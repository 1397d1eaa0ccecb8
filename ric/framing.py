"""E2AP over TCP: each PDU framed by a 4-byte big-endian length prefix (sans-IO).

SCTP keeps message boundaries (and tags E2AP with PPID 70); TCP does not, so on TCP every
E2AP PDU travels as ``length (4 octets, big endian) || PDU``. :class:`LengthPrefixFramer`
reassembles frames from arbitrary chunks (split or merged) and enforces a maximum frame
size: an oversized frame raises :class:`FrameTooLargeError` (a
:class:`~ric.errors.PeerError`) from :meth:`LengthPrefixFramer.next_frame`, its payload is
then skipped as it arrives, and the stream stays usable. :func:`encode_frame` refuses to
frame an oversized PDU of ours (:class:`FrameSizeError`, a :class:`~ric.errors.LocalError`).
"""

from __future__ import annotations

from ric.cause import CauseProtocol
from ric.errors import LocalError, PeerError

__all__ = [
    "DEFAULT_MAX_FRAME",
    "HEADER_SIZE",
    "FrameSizeError",
    "FrameTooLargeError",
    "LengthPrefixFramer",
    "encode_frame",
]

HEADER_SIZE = 4
DEFAULT_MAX_FRAME = 1 << 20
"""1 MiB: far above any E2AP PDU we send (a 30-UE KPM report is ~4.5 kB)."""


class FrameTooLargeError(PeerError):
    """The peer announced a frame longer than the maximum; it is skipped."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"received frame of {length} bytes exceeds the maximum of {limit} bytes")
        self.length = length
        self.limit = limit
        self.cause = CauseProtocol.TRANSFER_SYNTAX_ERROR


class FrameSizeError(LocalError, ValueError):
    """We were asked to send a PDU longer than the maximum frame size."""


def encode_frame(pdu: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    """``pdu`` with its 4-byte big-endian length prefix."""
    if len(pdu) > max_frame:
        raise FrameSizeError(f"PDU of {len(pdu)} bytes exceeds the maximum frame of {max_frame} bytes")
    return len(pdu).to_bytes(HEADER_SIZE, "big") + pdu


class LengthPrefixFramer:
    """Reassembles length-prefixed frames: :meth:`feed` bytes, then :meth:`next_frame`."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if not 0 < max_frame < 1 << 32:
            raise ValueError(f"max_frame must be in 1..2**32-1, got {max_frame}")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0
        self._skip = 0  # bytes of an oversized frame still to discard

    def feed(self, data: bytes) -> None:
        """Append received bytes (any chunking)."""
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, ``None`` if incomplete.

        Raises :class:`FrameTooLargeError` once per oversized frame (then skips it).
        """
        buf, pos = self._buf, self._pos
        if len(buf) - pos < HEADER_SIZE:
            self._compact()
            return None
        length = int.from_bytes(buf[pos : pos + HEADER_SIZE], "big")
        if length > self.max_frame:
            start = pos + HEADER_SIZE
            available = min(length, len(buf) - start)
            self._pos = start + available
            self._skip = length - available
            self._compact()
            raise FrameTooLargeError(length, self.max_frame)
        end = pos + HEADER_SIZE + length
        if len(buf) < end:
            self._compact()
            return None
        frame = bytes(buf[pos + HEADER_SIZE : end])
        self._pos = end
        return frame

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
