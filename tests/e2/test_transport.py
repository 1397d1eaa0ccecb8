"""asyncio transports: SCTP availability, TCP framing on a real socket, send queue, backoff."""

from __future__ import annotations

import asyncio
import errno
import random
import socket
from collections.abc import Callable
from typing import Any

import pytest

from metahrl.cli import main as metahrl_main
from ric.errors import PeerError
from ric.framing import encode_frame
from ric.transport import (
    Backoff,
    PduChannel,
    SctpUnavailableError,
    TcpChannel,
    TransportConfig,
    TransportKind,
    connect,
    connect_with_backoff,
    listen,
    sctp_socket,
)
from tests.e2.conftest import run_async


def _kernel_has_sctp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


no_sctp = pytest.mark.skipif(
    _kernel_has_sctp(), reason="this kernel has SCTP: the error path cannot be shown"
)
SCTP = TransportConfig(kind=TransportKind.SCTP)


class Recorder:
    """A PduHandler that records what it is told; :meth:`until` awaits a condition on it."""

    def __init__(self) -> None:
        self.pdus: list[bytes] = []
        self.errors: list[PeerError] = []
        self.lost: list[Exception | None] = []
        self._changed = asyncio.Event()

    def pdu_received(self, pdu: bytes) -> None:
        self.pdus.append(pdu)
        self._changed.set()

    def frame_error(self, error: PeerError) -> None:
        self.errors.append(error)
        self._changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)
        self._changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                self._changed.clear()
                await self._changed.wait()


# ---------------------------------------------------------------------------------------- SCTP


@no_sctp
def test_sctp_unavailable_is_a_clear_error() -> None:
    with pytest.raises(SctpUnavailableError) as info:
        sctp_socket()
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.EPROTONOSUPPORT
    assert "SCTP transport unavailable" in str(err) and "--transport tcp" in str(err)


@no_sctp
def test_sctp_connect_and_listen_raise_it_and_are_not_retried() -> None:
    async def main() -> None:
        with pytest.raises(SctpUnavailableError):
            await connect("127.0.0.1", 36422, Recorder(), SCTP)
        with pytest.raises(SctpUnavailableError):
            await listen("127.0.0.1", 0, lambda ch: Recorder(), SCTP)
        attempts = 0

        async def attempt() -> PduChannel:
            nonlocal attempts
            attempts += 1
            return await connect("127.0.0.1", 36422, Recorder(), SCTP)

        with pytest.raises(SctpUnavailableError):
            await connect_with_backoff(attempt, Backoff(), sleep=_no_sleep)
        assert attempts == 1

    run_async(main())


@no_sctp
def test_e2sim_cli_reports_missing_sctp(capsys: pytest.CaptureFixture[str]) -> None:
    assert metahrl_main(["e2sim", "--transport", "sctp", "--duration-s", "1"]) == 1
    err = capsys.readouterr().err
    assert "SCTP transport unavailable" in err and "--transport tcp" in err


async def _no_sleep(_delay: float) -> None:
    return None


# ---------------------------------------------------------------------------------------- TCP


def test_tcp_channel_reassembles_split_and_merged_frames_and_skips_oversize() -> None:
    async def main() -> None:
        server_side = Recorder()
        listener = await listen("127.0.0.1", 0, lambda ch: server_side, TransportConfig(max_frame=64))
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        data = encode_frame(b"first") + encode_frame(b"second") + (1000).to_bytes(4, "big") + b"z" * 1000
        data += encode_frame(b"third")
        for i in range(0, len(data), 5):  # split everywhere, several frames per write too
            writer.write(data[i : i + 5])
            if i % 50 == 0:
                await writer.drain()
        await writer.drain()
        await server_side.until(lambda: len(server_side.pdus) == 3)
        assert server_side.pdus == [b"first", b"second", b"third"]
        assert len(server_side.errors) == 1 and "exceeds the maximum of 64 bytes" in str(
            server_side.errors[0]
        )
        (channel,) = listener.channels
        assert channel.counters.oversized == 1 and channel.counters.pdus_received == 3
        assert channel.send_pdu(b"reply")
        assert await reader.readexactly(9) == b"\x00\x00\x00\x05reply"
        writer.close()
        await server_side.until(lambda: server_side.lost == [None])
        await listener.close()

    run_async(main())


def test_tcp_client_channel_round_trip() -> None:
    async def main() -> None:
        server_side, client_side = Recorder(), Recorder()
        listener = await listen("127.0.0.1", 0, lambda ch: server_side, TransportConfig())
        channel = await connect("127.0.0.1", listener.port, client_side, TransportConfig())
        for i in range(50):
            channel.send_pdu(bytes([i]) * (i * 100))
        await server_side.until(lambda: len(server_side.pdus) == 50)
        assert server_side.pdus == [bytes([i]) * (i * 100) for i in range(50)]
        await listener.close()
        await client_side.until(lambda: len(client_side.lost) == 1)
        assert channel.is_closing() and not channel.send_pdu(b"late")

    run_async(main())


class _FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_bounded_send_queue_drops_the_oldest_droppable_pdu() -> None:
    async def main() -> None:
        channel = TcpChannel(Recorder(), TransportConfig(send_queue_limit=3))
        transport = _FakeTransport()
        channel.connection_made(transport)
        channel.pause_writing()  # the peer stopped reading
        assert channel.send_pdu(b"ind1", droppable=True)
        assert channel.send_pdu(b"ack1")
        assert channel.send_pdu(b"ind2", droppable=True)
        assert channel.send_pdu(b"ack2")  # full: ind1 (oldest droppable) goes
        assert channel.counters.dropped == 1
        assert channel.send_pdu(b"ack3")  # ind2 goes
        assert not channel.send_pdu(b"ind3", droppable=True)  # only undroppable left: the new one goes
        assert channel.counters.dropped == 3
        assert transport.written == []
        waiter = asyncio.create_task(channel.wait_writable())
        await asyncio.sleep(0)
        assert not waiter.done()
        channel.resume_writing()
        await waiter
        assert transport.written == [encode_frame(x) for x in (b"ack1", b"ack2", b"ack3")]
        channel.pause_writing()
        for x in (b"a", b"b", b"c"):
            channel.send_pdu(x)
        assert not channel.send_pdu(b"d")  # only undroppable PDUs queued: the peer is given up on
        assert transport.aborted

    run_async(main())


def test_pdus_sent_while_a_chunk_is_handled_go_out_in_one_write() -> None:
    class Echo(Recorder):
        channel: TcpChannel

        def pdu_received(self, pdu: bytes) -> None:
            super().pdu_received(pdu)
            assert self.channel.send_pdu(pdu + b"-1")
            assert self.channel.send_pdu(pdu + b"-2")
            if pdu == b"bye":
                self.channel.close()

    async def main() -> None:
        handler = Echo()
        channel = handler.channel = TcpChannel(handler, TransportConfig())
        transport = _FakeTransport()
        channel.connection_made(transport)
        channel.data_received(encode_frame(b"a") + encode_frame(b"b") + encode_frame(b"c")[:3])
        assert transport.written == [b"".join(encode_frame(x) for x in (b"a-1", b"a-2", b"b-1", b"b-2"))]
        channel.data_received(encode_frame(b"c")[3:])
        assert transport.written[1:] == [encode_frame(b"c-1") + encode_frame(b"c-2")]
        assert channel.send_pdu(b"later")  # outside a chunk: written at once
        assert transport.written[-1] == encode_frame(b"later")
        assert channel.counters.pdus_sent == 7
        channel.data_received(encode_frame(b"bye") + encode_frame(b"ignored"))
        assert transport.written[-1] == encode_frame(b"bye-1") + encode_frame(b"bye-2")  # before the close
        assert handler.pdus == [b"a", b"b", b"c", b"bye"]

    run_async(main())


# ---------------------------------------------------------------------------------------- backoff


def test_backoff_is_exponential_bounded_and_jittered() -> None:
    backoff = Backoff(initial_s=0.1, max_s=2.0, factor=2.0, jitter=0.2, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    bases = [min(2.0, 0.1 * 2**i) for i in range(10)]
    for d, base in zip(delays, bases, strict=True):
        assert 0.8 * base <= d <= min(2.0, 1.2 * base)
    assert len(set(delays)) == len(delays)  # jittered
    assert max(delays) <= 2.0
    backoff.reset()
    assert backoff.next_delay() <= 0.12
    with pytest.raises(ValueError):
        Backoff(initial_s=3.0, max_s=2.0)


def test_connect_with_backoff_retries_then_succeeds_or_gives_up() -> None:
    async def main() -> None:
        slept: list[float] = []

        async def sleep(delay: float) -> None:
            slept.append(delay)

        failures = 3

        async def attempt() -> str:
            nonlocal failures
            if failures:
                failures -= 1
                raise ConnectionRefusedError("refused")
            return "connected"

        backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)
        assert await connect_with_backoff(attempt, backoff, sleep=sleep) == "connected"
        assert slept == [0.5, 1.0, 2.0]
        assert backoff.attempts == 0  # reset after success
        failures = 10
        with pytest.raises(ConnectionRefusedError):
            await connect_with_backoff(attempt, Backoff(jitter=0.0), sleep=sleep, max_attempts=2)

    run_async(main())
