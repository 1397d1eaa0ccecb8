"""A fault-injecting, observing TCP proxy for one E2 link (E2 node ⇄ RIC, length-prefixed E2AP).

`metahrl chaos` puts one proxy between each simulated E2 node and the xApp that serves it. The
proxy forwards bytes unchanged and, on a copy, reassembles the frames and decodes each E2AP PDU,
so that it can count what crossed the link independently of both ends: indications, RIC Control
Requests, their Acknowledges and Failures (an Acknowledge for a request that was already
acknowledged on the same connection is a control *applied twice*), and what a cut lost in
flight. Faults it injects:

- `cut` — every connection closed at once and new ones refused until `restore` (the E2 node
  sees its peer go and reconnects with its backoff; the xApp sees the node disconnect);
- `delay_s` — every chunk held that long before it is forwarded, each direction (network
  impairment where the kernel has no ``netem``).

One thread runs a `selectors` loop for every connection; counters are read with `counts`.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ric.e2ap import (
    RicControlAcknowledge,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicSubscriptionRequest,
    RicSubscriptionResponse,
    decode_e2ap,
)
from ric.errors import PeerError
from ric.framing import LengthPrefixFramer

__all__ = ["E2Proxy", "ProxyCounts"]

_CHUNK = 1 << 16


@dataclass
class ProxyCounts:
    """What crossed the proxy (both directions, every connection so far)."""

    connections: int = 0
    refused: int = 0  # connections refused while cut
    cuts: int = 0
    indications: int = 0
    subscription_requests: int = 0
    subscription_responses: int = 0
    control_requests: int = 0
    control_acks: int = 0  # Acknowledges forwarded to the RIC side
    control_failures: int = 0
    duplicate_acks: int = 0  # an Acknowledge for a request already acknowledged (same connection)
    acks_lost_in_cut: int = 0  # Acknowledges the node sent that a cut kept from the RIC side
    undecodable: int = 0

    def copy(self) -> ProxyCounts:
        return ProxyCounts(**vars(self))


@dataclass
class _Side:
    sock: socket.socket
    framer: LengthPrefixFramer = field(default_factory=LengthPrefixFramer)
    pending: deque[tuple[float, bytes]] = field(default_factory=deque)  # (due, bytes) to send


@dataclass
class _Pair:
    node: _Side  # the E2 node's connection (accepted)
    ric: _Side  # ours to the RIC
    acked: set[tuple[int, int, int]] = field(default_factory=set)  # (requestor, instance, function)


class E2Proxy:
    """Listens on ``127.0.0.1:port`` (0: any free port) and forwards to ``target``."""

    def __init__(self, target: tuple[str, int], port: int = 0, name: str = "e2") -> None:
        self.target = target
        self.name = name
        self.delay_s = 0.0
        self._listen = socket.create_server(("127.0.0.1", port))
        self._listen.setblocking(False)
        self.port: int = self._listen.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._pairs: list[_Pair] = []
        self._down = False
        self._lock = threading.Lock()
        self._counts = ProxyCounts()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=f"e2proxy-{name}", daemon=True)

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> E2Proxy:
        self._sel.register(self._listen, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(5.0)
        for pair in list(self._pairs):
            self._drop(pair)
        self._listen.close()
        self._wake_r.close()
        self._wake_w.close()
        self._sel.close()

    def cut(self) -> None:
        """Close every connection now and refuse new ones until `restore`."""
        with self._lock:
            self._down = True
        self._wake()

    def restore(self) -> None:
        with self._lock:
            self._down = False

    def counts(self) -> ProxyCounts:
        with self._lock:
            return self._counts.copy()

    @property
    def connected(self) -> int:
        return len(self._pairs)

    # ------------------------------------------------------------------ the loop (its thread)
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                down = self._down
            if down and self._pairs:
                self._cut_all()
            for key, _ in self._sel.select(self._timeout()):
                if key.fileobj is self._listen:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    pair, side = key.data
                    self._read(pair, side)
            self._flush_due()

    def _timeout(self) -> float | None:
        dues = [s.pending[0][0] for p in self._pairs for s in (p.node, p.ric) if s.pending]
        return None if not dues else max(0.0, min(dues) - time.monotonic())

    def _accept(self) -> None:
        try:
            conn, _ = self._listen.accept()
        except OSError:
            return
        with self._lock:
            down = self._down
            if down:
                self._counts.refused += 1
        if down:
            conn.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2.0)
        except OSError:  # the RIC is not there (restarting): the node retries
            conn.close()
            with self._lock:
                self._counts.refused += 1
            return
        for s in (conn, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(_Side(conn), _Side(upstream))
        self._pairs.append(pair)
        self._sel.register(conn, selectors.EVENT_READ, (pair, "node"))
        self._sel.register(upstream, selectors.EVENT_READ, (pair, "ric"))
        with self._lock:
            self._counts.connections += 1

    def _read(self, pair: _Pair, side: str) -> None:
        src, dst = (pair.node, pair.ric) if side == "node" else (pair.ric, pair.node)
        try:
            data = src.sock.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(pair)
            return
        self._observe(pair, src, data, from_node=side == "node")
        dst.pending.append((time.monotonic() + self.delay_s, data))

    def _flush_due(self) -> None:
        now = time.monotonic()
        for pair in list(self._pairs):
            for side in (pair.node, pair.ric):
                while side.pending and side.pending[0][0] <= now:
                    _, data = side.pending.popleft()
                    try:  # a peer that stops reading for 2 s loses its connection
                        side.sock.settimeout(2.0)
                        side.sock.sendall(data)
                        side.sock.setblocking(False)
                    except OSError:
                        self._drop(pair)
                        break

    def _observe(self, pair: _Pair, src: _Side, data: bytes, from_node: bool) -> None:
        src.framer.feed(data)
        while True:
            try:
                frame = src.framer.next_frame()
            except PeerError:
                self._count("undecodable")
                continue
            if frame is None:
                return
            try:
                msg = decode_e2ap(frame)
            except (PeerError, ValueError):
                self._count("undecodable")
                continue
            self._classify(pair, msg)

    def _classify(self, pair: _Pair, msg: object) -> None:
        if isinstance(msg, RicIndication):
            self._count("indications")
        elif isinstance(msg, RicControlRequest):
            self._count("control_requests")
        elif isinstance(msg, RicControlAcknowledge):
            key = (msg.request_id.requestor, msg.request_id.instance, msg.ran_function_id)
            self._count("duplicate_acks" if key in pair.acked else "control_acks")
            pair.acked.add(key)
        elif isinstance(msg, RicControlFailure):
            self._count("control_failures")
        elif isinstance(msg, RicSubscriptionRequest):
            self._count("subscription_requests")
        elif isinstance(msg, RicSubscriptionResponse):
            self._count("subscription_responses")

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self._counts, name, getattr(self._counts, name) + n)

    def _cut_all(self) -> None:
        lost = 0
        for pair in list(self._pairs):
            lost += sum(_acks_in(data) for _, data in pair.ric.pending)  # towards the RIC, unsent
            self._drop(pair)
        with self._lock:
            self._counts.cuts += 1
            self._counts.acks_lost_in_cut += lost

    def _drop(self, pair: _Pair) -> None:
        if pair not in self._pairs:
            return
        self._pairs.remove(pair)
        for side in (pair.node, pair.ric):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._sel.unregister(side.sock)
            side.sock.close()


def _acks_in(data: bytes) -> int:
    """How many Control Acknowledges a chunk holds (only whole frames; used for what a cut lost)."""
    framer, n = LengthPrefixFramer(), 0
    framer.feed(data)
    with contextlib.suppress(PeerError):
        while (frame := framer.next_frame()) is not None:
            with contextlib.suppress(PeerError, ValueError):
                n += isinstance(decode_e2ap(frame), RicControlAcknowledge)
    return n
