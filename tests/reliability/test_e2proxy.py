"""The chaos proxy on a real loopback pair: it forwards E2AP frames unchanged, counts what it
sees (a second Acknowledge of one request is a control applied twice), refuses connections
while cut, and delays when told to."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from metahrl.e2proxy import E2Proxy
from ric.e2ap import RicControlAcknowledge, RicControlRequest, RicRequestId, encode_e2ap
from ric.framing import LengthPrefixFramer, encode_frame


class _Ric:
    """A listening 'RIC' that keeps what it receives and lets the test send to its peer."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.got = LengthPrefixFramer()
        self.accepted = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.conn = conn
            self.accepted.set()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while data := _recv(conn):
            self.got.feed(data)

    def close(self) -> None:
        self.server.close()
        if self.conn is not None:
            self.conn.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def _frames(framer: LengthPrefixFramer) -> list[bytes]:
    out = []
    while (f := framer.next_frame()) is not None:
        out.append(f)
    return out


def _read_frames(sock: socket.socket, n: int, timeout_s: float = 5.0) -> list[bytes]:
    framer, out = LengthPrefixFramer(), list[bytes]()
    sock.settimeout(timeout_s)
    while len(out) < n:
        framer.feed(sock.recv(65536))
        out += _frames(framer)
    return out


@pytest.fixture
def ric() -> Iterator[_Ric]:
    r = _Ric()
    yield r
    r.close()


@pytest.fixture
def proxy(ric: _Ric) -> Iterator[E2Proxy]:
    p = E2Proxy(("127.0.0.1", ric.port), name="test").start()
    yield p
    p.close()


def _until(cond: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


REQUEST = RicControlRequest(RicRequestId(7, 1), 3, b"header", b"message")
ACK = RicControlAcknowledge(RicRequestId(7, 1), 3)


def test_forwards_unchanged_and_counts_controls_and_duplicates(ric: _Ric, proxy: E2Proxy) -> None:
    node = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    assert ric.accepted.wait(5) and ric.conn is not None
    ric.conn.sendall(encode_frame(encode_e2ap(REQUEST)))  # RIC → node
    assert _read_frames(node, 1) == [encode_e2ap(REQUEST)]  # byte for byte
    node.sendall(encode_frame(encode_e2ap(ACK)) * 2)  # the node acknowledges it twice
    _until(lambda: proxy.counts().duplicate_acks == 1)
    counts = proxy.counts()
    assert (counts.control_requests, counts.control_acks, counts.duplicate_acks) == (1, 1, 1)
    _until(lambda: ric.got.buffered >= 2 * len(encode_frame(encode_e2ap(ACK))))
    assert _frames(ric.got) == [encode_e2ap(ACK)] * 2  # forwarded even so: the proxy only observes
    node.close()


def test_cut_closes_and_refuses_until_restored(ric: _Ric, proxy: E2Proxy) -> None:
    node = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    _until(lambda: proxy.connected == 1)
    proxy.cut()
    node.settimeout(5)
    assert node.recv(10) == b""  # the node sees its peer go
    again = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    again.settimeout(5)
    assert again.recv(10) == b""  # refused while cut
    _until(lambda: proxy.counts().refused == 1)
    proxy.restore()
    third = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    _until(lambda: proxy.connected == 1)
    counts = proxy.counts()
    assert (counts.cuts, counts.connections) == (1, 2)
    for s in (node, again, third):
        s.close()


def test_delay_holds_each_chunk(ric: _Ric, proxy: E2Proxy) -> None:
    proxy.delay_s = 0.2
    node = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    assert ric.accepted.wait(5) and ric.conn is not None
    t0 = time.monotonic()
    ric.conn.sendall(encode_frame(encode_e2ap(REQUEST)))
    _read_frames(node, 1)
    # a lower bound only: the proxy never forwards before the delay has passed
    assert time.monotonic() - t0 >= 0.2
    node.close()
