"""The E2 node side's connection to the RIC: connect, E2 Setup, serve, reconnect.

:class:`E2NodeClient` wires a :class:`ric.link.NodeLink` to a transport channel and to a
:class:`NodeApplication` (the E2 node's service logic, e.g. :mod:`e2sim.e2node`), and keeps
the association up: after a connection failure, a disconnect, an E2 Setup failure or timeout
it reconnects with bounded, jittered exponential backoff (:class:`ric.transport.Backoff`) and
sets up again. Each connection gets a fresh link; subscriptions do not survive it (the
application is told via :meth:`NodeApplication.released`) — the RIC re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ric.cause import Cause, CauseMisc
from ric.e2ap import E2SetupResponse, RicControlRequest, RicRequestId, RicSubscriptionRequest, TimeToWait
from ric.errors import LocalError, PeerError
from ric.events import (
    ControlRequested,
    E2Event,
    ResetReceived,
    SetupCompleted,
    SetupFailed,
    SetupTimedOut,
    SubscriptionDeleted,
    SubscriptionRequested,
)
from ric.link import NodeLink
from ric.transport import Backoff, PduChannel, TransportConfig, connect, connect_with_backoff

__all__ = ["ClientCounters", "E2NodeClient", "NodeApplication"]

_log = logging.getLogger(__name__)

_TIME_TO_WAIT_S = {
    TimeToWait.V1S: 1.0,
    TimeToWait.V2S: 2.0,
    TimeToWait.V5S: 5.0,
    TimeToWait.V10S: 10.0,
    TimeToWait.V20S: 20.0,
    TimeToWait.V60S: 60.0,
}


class NodeApplication(Protocol):
    """The E2 node's service logic, called by :class:`E2NodeClient`."""

    def setup_completed(self, client: E2NodeClient, response: E2SetupResponse) -> None:
        """E2 Setup succeeded: the link is up."""

    def subscription_requested(self, client: E2NodeClient, request: RicSubscriptionRequest) -> None:
        """Answer with ``client.link.accept_subscription`` / ``reject_subscription``."""

    def subscription_deleted(self, client: E2NodeClient, request_id: RicRequestId) -> None:
        """The RIC deleted a subscription (already answered): stop reporting it."""

    def control_requested(self, client: E2NodeClient, request: RicControlRequest) -> None:
        """Answer with ``client.link.acknowledge_control`` / ``fail_control``."""

    def released(self, client: E2NodeClient, reason: str) -> None:
        """Every subscription is gone (disconnect or Reset)."""


@dataclass
class ClientCounters:
    connects: int = 0
    setups: int = 0
    setup_failures: int = 0
    disconnects: int = 0
    indications_dropped: int = 0  # not established, or the send queue dropped them


class E2NodeClient:
    """Keeps one E2 node associated with a RIC endpoint (see the module docstring).

    Args:
        host, port: the RIC's E2 endpoint.
        make_link: builds a fresh :class:`NodeLink` for each connection.
        app: the service logic.
        transport: TCP or SCTP settings.
        backoff: reconnect delays (the default: 0.5 s doubling up to 30 s, ±20 %).
        sleep: awaited for every backoff delay (injectable for tests).
    """

    def __init__(
        self,
        host: str,
        port: int,
        make_link: Callable[[], NodeLink],
        app: NodeApplication,
        *,
        transport: TransportConfig | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host, self.port = host, port
        self.make_link = make_link
        self.app = app
        self.transport = transport or TransportConfig()
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.counters = ClientCounters()
        self.link: NodeLink | None = None
        self.channel: PduChannel | None = None
        self._stopping = False
        self._up = asyncio.Event()  # E2 Setup done on the current connection
        self._down = asyncio.Event()  # the opposite of _up
        self._down.set()
        self._lost: asyncio.Event = asyncio.Event()  # the current connection is gone
        self._retry_after = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def established(self) -> bool:
        return self.link is not None and self.link.established and not self._lost.is_set()

    @property
    def name(self) -> str:
        return self.link.name if self.link is not None else f"{self.host}:{self.port}"

    def now(self) -> float:
        return self._loop.time()

    async def wait_established(self, timeout: float | None = None) -> None:
        """Return once E2 Setup has succeeded on the current connection."""
        async with asyncio.timeout(timeout):
            await self._up.wait()

    async def wait_disconnected(self, timeout: float | None = None) -> None:
        """Return once the node is not set up with the RIC (at once if it is not)."""
        async with asyncio.timeout(timeout):
            await self._down.wait()

    async def wait_writable(self) -> None:
        """Return when the channel can take more data (immediately if not connected)."""
        if self.channel is not None and self.established:
            await self.channel.wait_writable()

    # ------------------------------------------------------------------ run / stop
    async def run(self) -> None:
        """Connect, set up and serve until :meth:`stop`; reconnects after every loss."""
        while not self._stopping:
            self.channel = await connect_with_backoff(
                self._connect, self.backoff, sleep=self.sleep, what=self.name, reset_on_success=False
            )
            if self._stopping:
                self.channel.close()
                break
            await self._serve_connection()
            if self._stopping:
                break
            delay = max(self.backoff.next_delay(), self._retry_after)
            self._retry_after = 0.0
            _log.info("%s: reconnecting to %s:%d in %.2f s", self.name, self.host, self.port, delay)
            await self.sleep(delay)

    def stop(self) -> None:
        """Close the connection and make :meth:`run` return."""
        self._stopping = True
        self._lost.set()
        if self.channel is not None:
            self.channel.close()

    async def _connect(self) -> PduChannel:
        self._lost.clear()
        return await connect(self.host, self.port, self, self.transport)

    async def _serve_connection(self) -> None:
        self.counters.connects += 1
        self.link = self.make_link()
        _log.info("%s: connected to RIC %s:%d, sending E2 Setup", self.name, self.host, self.port)
        self.link.start_setup(self.now())
        self.flush()
        await self._lost.wait()
        self._up.clear()
        self._down.set()
        self.counters.disconnects += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        self.link.close()
        self.app.released(self, "disconnected")

    # ------------------------------------------------------------------ sending
    def send_indication(
        self,
        request_id: RicRequestId,
        action_id: int,
        header: bytes,
        message: bytes,
        call_process_id: bytes | None = None,
    ) -> int | None:
        """Send a RIC Indication; its SN, or None (counted) if not established or dropped."""
        link, channel = self.link, self.channel
        if link is None or channel is None or not self.established:
            self.counters.indications_dropped += 1
            return None
        sn = link.send_indication(request_id, action_id, header, message, self.now(), call_process_id)
        ok = True
        for pdu in link.data_to_send():
            ok = channel.send_pdu(pdu, droppable=True) and ok
        if not ok:
            self.counters.indications_dropped += 1
            return None
        return sn

    def flush(self) -> None:
        """Send what the link produced, hand its events to the application, re-arm its timer."""
        link, channel = self.link, self.channel
        if link is None or channel is None:
            return
        while True:
            for pdu in link.data_to_send():
                channel.send_pdu(pdu)
            event = link.next_event()
            if event is None:
                break
            self._dispatch(event)
        self._arm_timer()

    # ------------------------------------------------------------------ PduHandler
    def pdu_received(self, pdu: bytes) -> None:
        if self.link is not None:
            self.link.receive_pdu(pdu, self.now())
            self.flush()

    def frame_error(self, error: PeerError) -> None:
        if self.link is not None:
            cause: Cause = getattr(error, "cause", CauseMisc.UNSPECIFIED)
            with contextlib.suppress(LocalError):
                self.link.send_error_indication(cause, self.now())
            self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stopping:
            _log.info("%s: E2 connection closed", self.name)
        else:
            _log.warning("%s: E2 connection lost (%s)", self.name, exc or "closed by peer")
        self._lost.set()

    # ------------------------------------------------------------------ events
    def _dispatch(self, event: E2Event) -> None:
        if isinstance(event, SetupCompleted):
            self.counters.setups += 1
            self.backoff.reset()  # the association is up: the next loss starts from the shortest delay
            self._up.set()
            self._down.clear()
            self.app.setup_completed(self, event.response)
        elif isinstance(event, SubscriptionRequested):
            self.app.subscription_requested(self, event.request)
        elif isinstance(event, ControlRequested):
            self.app.control_requested(self, event.request)
        elif isinstance(event, SubscriptionDeleted):
            self.app.subscription_deleted(self, event.request_id)
        elif isinstance(event, ResetReceived):
            self.app.released(self, f"reset by the RIC ({event.cause})")
        elif isinstance(event, SetupFailed | SetupTimedOut):
            self._setup_failed(event)

    def _setup_failed(self, event: SetupFailed | SetupTimedOut) -> None:
        self.counters.setup_failures += 1
        if isinstance(event, SetupFailed) and event.failure.time_to_wait is not None:
            self._retry_after = _TIME_TO_WAIT_S[event.failure.time_to_wait]
        _log.warning("%s: E2 Setup did not succeed (%s); will reconnect", self.name, type(event).__name__)
        if self.channel is not None:
            self.channel.close()

    def _arm_timer(self) -> None:
        when = None if self.link is None else self.link.next_timer()
        if when == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = None if when is None else self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        if self.link is not None:
            self.link.handle_timer(self.now())
            self.flush()
