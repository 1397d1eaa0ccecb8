"""asyncio transports for E2: whole E2AP PDUs over SCTP (PPID 70) or length-prefixed TCP.

Thin adapters around the sans-IO parts (:mod:`ric.framing`, :mod:`ric.link`):

* :func:`connect` / :func:`listen` open a :class:`PduChannel` — TCP (:class:`TcpChannel`,
  4-byte big-endian length prefix, maximum frame size enforced) or SCTP
  (:class:`SctpChannel`, one E2AP PDU per SCTP message, PPID 70), chosen by
  :class:`TransportConfig` ``kind``. Where the kernel has no SCTP, opening an SCTP channel
  raises :class:`SctpUnavailableError` saying so.
* Each channel has a bounded send queue: while the socket's buffer is above its high-water
  mark, PDUs wait in a queue of ``send_queue_limit`` entries; when it is full the oldest
  *droppable* PDU (an indication) is dropped and counted; a full queue of undroppable PDUs
  aborts the connection (a peer that stopped reading; the E2 node then reconnects).
* :class:`Backoff` and :func:`connect_with_backoff`: bounded, jittered exponential backoff
  for reconnecting, with the random source and ``sleep`` injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeVar

from ric.errors import LocalError, PeerError
from ric.framing import DEFAULT_MAX_FRAME, FrameTooLargeError, LengthPrefixFramer, encode_frame

__all__ = [
    "E2AP_SCTP_PPID",
    "Backoff",
    "ChannelCounters",
    "Listener",
    "PduChannel",
    "PduHandler",
    "SctpChannel",
    "SctpUnavailableError",
    "SendQueueFullError",
    "TcpChannel",
    "TransportConfig",
    "TransportKind",
    "connect",
    "connect_with_backoff",
    "listen",
    "sctp_socket",
]

_log = logging.getLogger(__name__)

E2AP_SCTP_PPID = 70
"""SCTP payload protocol identifier of E2AP (IANA)."""

_SCTP_SNDRCV = 1  # cmsg type from <linux/sctp.h>
_MSG_EOR = getattr(socket, "MSG_EOR", 0x80)

T = TypeVar("T")


class TransportKind(Enum):
    TCP = "tcp"
    SCTP = "sctp"


class SctpUnavailableError(OSError):
    """This host cannot open SCTP sockets (no kernel SCTP support)."""


class SendQueueFullError(LocalError):
    """The peer stopped reading and the bounded send queue holds only undroppable PDUs."""


@dataclass(frozen=True, slots=True)
class TransportConfig:
    """How E2 PDUs travel.

    Attributes:
        kind: ``TransportKind.SCTP`` (the E2 standard; PPID 70) or ``TransportKind.TCP``
            (4-byte big-endian length prefix per PDU).
        max_frame: largest PDU accepted or sent, bytes.
        send_queue_limit: PDUs held while the socket buffer is above ``high_water``.
        high_water: socket-level write buffer (bytes) above which PDUs are queued.
    """

    kind: TransportKind = TransportKind.TCP
    max_frame: int = DEFAULT_MAX_FRAME
    send_queue_limit: int = 256
    high_water: int = 256 * 1024


@dataclass
class ChannelCounters:
    pdus_sent: int = 0
    pdus_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    queued: int = 0  # PDUs that had to wait in the send queue
    dropped: int = 0  # droppable PDUs dropped because the send queue was full
    oversized: int = 0  # received frames over max_frame (skipped)


class PduHandler(Protocol):
    """What a channel reports to its owner (e.g. an E2 link adapter)."""

    def pdu_received(self, pdu: bytes) -> None: ...

    def frame_error(self, error: PeerError) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


class PduChannel(Protocol):
    """A connected E2 association carrying whole E2AP PDUs."""

    counters: ChannelCounters
    closed: asyncio.Future[None]  # resolved once the connection is gone

    def send_pdu(self, pdu: bytes, *, droppable: bool = False) -> bool: ...

    def close(self) -> None: ...

    def is_closing(self) -> bool: ...

    async def wait_writable(self) -> None: ...

    @property
    def peer(self) -> str: ...


# ---------------------------------------------------------------------------------------
# Bounded send queue (shared by both channels)
# ---------------------------------------------------------------------------------------


class _SendQueue:
    """PDUs waiting while the socket is paused; drops the oldest droppable one when full."""

    def __init__(self, limit: int, counters: ChannelCounters) -> None:
        self.limit = limit
        self.counters = counters
        self.items: deque[tuple[bytes, bool]] = deque()

    def push(self, pdu: bytes, droppable: bool) -> bool:
        """Queue ``pdu``; False if it (or nothing else) could be dropped to make room."""
        if len(self.items) >= self.limit:
            victim = next((i for i, (_, d) in enumerate(self.items) if d), None)
            if victim is None:
                if droppable:
                    self.counters.dropped += 1
                    return False
                raise SendQueueFullError(f"send queue full ({self.limit} undroppable PDUs)")
            del self.items[victim]
            self.counters.dropped += 1
        self.items.append((pdu, droppable))
        self.counters.queued += 1
        return True


class _Writable:
    """An asyncio-side "may write" flag with awaiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._event.set()

    def pause(self) -> None:
        self._event.clear()

    def resume(self) -> None:
        self._event.set()

    @property
    def paused(self) -> bool:
        return not self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


# ---------------------------------------------------------------------------------------
# TCP
# ---------------------------------------------------------------------------------------


class TcpChannel(asyncio.Protocol):
    """E2AP PDUs over TCP, each framed by a 4-byte big-endian length prefix.

    PDUs sent while a received chunk is being handled (the answers and controls its PDUs
    lead to) are written together once the chunk is done: one ``write`` instead of one per
    PDU, the same bytes in the same order.
    """

    def __init__(self, handler: PduHandler | None, config: TransportConfig) -> None:
        self.handler = handler
        self.config = config
        self.counters = ChannelCounters()
        self._framer = LengthPrefixFramer(config.max_frame)
        self._queue = _SendQueue(config.send_queue_limit, self.counters)
        self._writable = _Writable()
        self._transport: asyncio.Transport | None = None
        self._corked: list[bytes] | None = None  # frames held while a chunk is handled
        self._peer = "?"
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=self.config.high_water)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def data_received(self, data: bytes) -> None:
        self.counters.bytes_received += len(data)
        framer = self._framer
        framer.feed(data)
        self._corked = []
        try:
            while not self.is_closing():
                try:
                    pdu = framer.next_frame()
                except FrameTooLargeError as exc:
                    self.counters.oversized += 1
                    _log.warning("%s: %s (skipped)", self._peer, exc)
                    if self.handler is not None:
                        self.handler.frame_error(exc)
                    continue
                if pdu is None:
                    return
                self.counters.pdus_received += 1
                if self.handler is not None:
                    self.handler.pdu_received(pdu)
        finally:
            self._uncork()

    def _uncork(self) -> None:
        frames, self._corked = self._corked, None
        if frames and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(frames))

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable.resume()
        if not self.closed.done():
            self.closed.set_result(None)
        if self.handler is not None:
            self.handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._writable.pause()

    def resume_writing(self) -> None:
        self._writable.resume()
        self._flush_queue()

    # PduChannel
    @property
    def peer(self) -> str:
        return self._peer

    def send_pdu(self, pdu: bytes, *, droppable: bool = False) -> bool:
        """Send (or queue) one PDU; False if it was dropped or the channel is closed."""
        if self._transport is None or self._transport.is_closing():
            return False
        frame = encode_frame(pdu, self.config.max_frame)
        if self._writable.paused or self._queue.items:
            try:
                return self._queue.push(frame, droppable)
            except SendQueueFullError as exc:
                _log.error("%s: %s: the peer stopped reading; aborting the connection", self._peer, exc)
                self._transport.abort()
                return False
        self._write(frame)
        return True

    def _write(self, frame: bytes) -> None:
        # While corked nothing is written, so the channel cannot pause and the queue stays empty:
        # held frames keep their place ahead of any queued later.
        assert self._transport is not None
        if self._corked is not None:
            self._corked.append(frame)
        else:
            self._transport.write(frame)
        self.counters.pdus_sent += 1
        self.counters.bytes_sent += len(frame)

    def _flush_queue(self) -> None:
        items = self._queue.items
        while items and not self._writable.paused and not self.is_closing():
            self._write(items.popleft()[0])

    def close(self) -> None:
        if self._transport is not None:
            self._uncork()  # what was sent before the close still goes out
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    async def wait_writable(self) -> None:
        """Return once the socket buffer is below its high-water mark (or closed)."""
        await self._writable.wait()


# ---------------------------------------------------------------------------------------
# SCTP
# ---------------------------------------------------------------------------------------


def sctp_socket() -> socket.socket:
    """A non-blocking one-to-one SCTP socket, or :class:`SctpUnavailableError`."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    except OSError as exc:
        raise SctpUnavailableError(
            exc.errno,
            f"SCTP transport unavailable: this host cannot open an SCTP socket ({exc.strerror}); "
            "the kernel needs SCTP support (e.g. `modprobe sctp`), or use the TCP transport "
            "(--transport tcp: 4-byte length-prefixed E2AP PDUs)",
        ) from exc
    sock.setblocking(False)
    return sock


def _sndrcvinfo(ppid: int) -> bytes:
    """``struct sctp_sndrcvinfo`` with ``sinfo_ppid`` set (network byte order, as the kernel
    passes it through unchanged)."""
    return struct.pack("=HHHxxIIIIII", 0, 0, 0, socket.htonl(ppid), 0, 0, 0, 0, 0)


class SctpChannel:
    """E2AP PDUs over a one-to-one SCTP socket: one PDU per SCTP message, PPID 70.

    Reads reassemble partial deliveries until ``MSG_EOR``; writes use ``sendmsg`` with an
    ``SCTP_SNDRCV`` control message carrying the PPID. (Not exercised by the test suite on
    hosts without kernel SCTP; only its availability check is.)
    """

    def __init__(self, sock: socket.socket, handler: PduHandler | None, config: TransportConfig) -> None:
        self.handler = handler
        self.config = config
        self.counters = ChannelCounters()
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._partial = bytearray()
        self._skipping = False  # dropping the rest of an oversized message until its end (EOR)
        self._queue = _SendQueue(config.send_queue_limit, self.counters)
        self._writable = _Writable()
        self._closing = False
        self._cmsg = [(socket.IPPROTO_SCTP, _SCTP_SNDRCV, _sndrcvinfo(E2AP_SCTP_PPID))]
        peer = sock.getpeername()
        self._peer = f"{peer[0]}:{peer[1]}"
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @property
    def peer(self) -> str:
        return self._peer

    def _on_readable(self) -> None:
        try:
            data, _anc, flags, _addr = self._sock.recvmsg(self.config.max_frame + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(None)
            return
        self.counters.bytes_received += len(data)
        if self._skipping:  # the tail of a message already reported as too large
            self._skipping = not flags & _MSG_EOR
            return
        self._partial += data
        if len(self._partial) > self.config.max_frame:
            self._partial.clear()
            self._skipping = not flags & _MSG_EOR
            self.counters.oversized += 1
            if self.handler is not None:
                self.handler.frame_error(FrameTooLargeError(self.config.max_frame + 1, self.config.max_frame))
            return
        if flags & _MSG_EOR:
            pdu = bytes(self._partial)
            self._partial.clear()
            self.counters.pdus_received += 1
            if self.handler is not None:
                self.handler.pdu_received(pdu)

    def send_pdu(self, pdu: bytes, *, droppable: bool = False) -> bool:
        if self._closing:
            return False
        if len(pdu) > self.config.max_frame:
            encode_frame(pdu, self.config.max_frame)  # raises FrameSizeError
        try:
            if self._writable.paused:
                return self._queue.push(pdu, droppable)
            try:
                self._sock.sendmsg([pdu], self._cmsg)
            except (BlockingIOError, InterruptedError):
                self._writable.pause()
                self._loop.add_writer(self._sock.fileno(), self._on_writable)
                return self._queue.push(pdu, droppable)
        except SendQueueFullError as exc:
            _log.error("%s: %s: the peer stopped reading; closing the association", self._peer, exc)
            self._lost(exc)
            return False
        except OSError as exc:
            self._lost(exc)
            return False
        self.counters.pdus_sent += 1
        self.counters.bytes_sent += len(pdu)
        return True

    def _on_writable(self) -> None:
        self._loop.remove_writer(self._sock.fileno())
        self._writable.resume()
        items = list(self._queue.items)
        self._queue.items.clear()
        for pdu, droppable in items:
            self.send_pdu(pdu, droppable=droppable)

    def _lost(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._sock.fileno())
        self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        self._writable.resume()
        self.closed.set_result(None)
        if self.handler is not None:
            self.handler.connection_lost(exc)

    def close(self) -> None:
        self._lost(None)

    def is_closing(self) -> bool:
        return self._closing

    async def wait_writable(self) -> None:
        await self._writable.wait()


# ---------------------------------------------------------------------------------------
# Connect / listen
# ---------------------------------------------------------------------------------------


async def connect(host: str, port: int, handler: PduHandler, config: TransportConfig) -> PduChannel:
    """Open a channel to ``host:port`` (raises ``OSError`` / :class:`SctpUnavailableError`)."""
    loop = asyncio.get_running_loop()
    if config.kind is TransportKind.SCTP:
        sock = sctp_socket()
        try:
            await loop.sock_connect(sock, (host, port))
        except OSError:
            sock.close()
            raise
        return SctpChannel(sock, handler, config)
    _, protocol = await loop.create_connection(lambda: TcpChannel(handler, config), host, port)
    return protocol


@dataclass
class Listener:
    """A listening E2 endpoint; ``port`` is the bound port (useful with port 0)."""

    port: int
    _close: Callable[[], Awaitable[None]]
    channels: set[PduChannel] = field(default_factory=set)

    async def close(self) -> None:
        """Stop listening, close every accepted channel and wait until they are closed."""
        channels = list(self.channels)
        for channel in channels:
            channel.close()
        await asyncio.gather(*(c.closed for c in channels))
        await self._close()


async def listen(
    host: str,
    port: int,
    on_channel: Callable[[PduChannel], PduHandler],
    config: TransportConfig,
) -> Listener:
    """Accept E2 connections; ``on_channel(channel)`` returns the channel's handler."""
    if config.kind is TransportKind.SCTP:
        return await _listen_sctp(host, port, on_channel, config)
    loop = asyncio.get_running_loop()
    listener = Listener(0, _noop)
    server = await loop.create_server(lambda: _AcceptedTcpChannel(on_channel, listener, config), host, port)
    listener.port = server.sockets[0].getsockname()[1]

    async def close() -> None:
        server.close()
        await server.wait_closed()

    listener._close = close
    return listener


class _AcceptedTcpChannel(TcpChannel):
    """A server-side TCP channel that asks ``on_channel`` for its handler once connected."""

    def __init__(
        self, on_channel: Callable[[PduChannel], PduHandler], listener: Listener, config: TransportConfig
    ) -> None:
        super().__init__(None, config)
        self._on_channel = on_channel
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._listener.channels.add(self)
        self.closed.add_done_callback(lambda _f: self._listener.channels.discard(self))
        self.handler = self._on_channel(self)


async def _noop() -> None:
    return None


async def _listen_sctp(
    host: str, port: int, on_channel: Callable[[PduChannel], PduHandler], config: TransportConfig
) -> Listener:
    loop = asyncio.get_running_loop()
    sock = sctp_socket()
    sock.bind((host, port))
    sock.listen(16)
    listener = Listener(sock.getsockname()[1], _noop)

    def on_accept() -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            conn, _ = sock.accept()
            conn.setblocking(False)
            channel = SctpChannel(conn, None, config)
            listener.channels.add(channel)
            channel.closed.add_done_callback(lambda _f: listener.channels.discard(channel))
            channel.handler = on_channel(channel)

    loop.add_reader(sock.fileno(), on_accept)

    async def close() -> None:
        loop.remove_reader(sock.fileno())
        sock.close()

    listener._close = close
    return listener


# ---------------------------------------------------------------------------------------
# Reconnect backoff
# ---------------------------------------------------------------------------------------


@dataclass
class Backoff:
    """Exponential backoff: ``initial_s · factor**n``, capped at ``max_s``, ± ``jitter`` × delay.

    ``rng`` is injectable (a seeded ``random.Random`` in tests); :meth:`reset` after success.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need 0 < initial_s <= max_s, factor >= 1 and 0 <= jitter < 1")

    def next_delay(self) -> float:
        """The delay before the next attempt (always within ``[0, max_s]``)."""
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        spread = base * self.jitter * (2.0 * self.rng.random() - 1.0)
        return min(self.max_s, max(0.0, base + spread))

    def reset(self) -> None:
        self.attempts = 0


async def connect_with_backoff(
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_attempts: int | None = None,
    what: str = "E2 endpoint",
    reset_on_success: bool = True,
) -> T:
    """Call ``attempt()`` until it succeeds, sleeping ``backoff.next_delay()`` after failures.

    ``OSError`` (refused, unreachable...) is retried; :class:`SctpUnavailableError` is not
    (retrying cannot help). After ``max_attempts`` failures the last error is raised. With
    ``reset_on_success=False`` the caller resets the backoff itself (e.g. only once the E2
    association is really up, so a peer that accepts and drops is not hammered).
    """
    failures = 0
    while True:
        try:
            result = await attempt()
        except SctpUnavailableError:
            raise
        except OSError as exc:
            failures += 1
            if max_attempts is not None and failures >= max_attempts:
                raise
            delay = backoff.next_delay()
            _log.info("%s: connect failed (%s); retrying in %.2f s", what, exc, delay)
            await sleep(delay)
            continue
        if reset_on_success:
            backoff.reset()
        return result
