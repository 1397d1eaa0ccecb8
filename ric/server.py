"""The RIC side of E2 for an xApp: accept E2 nodes, subscribe, receive indications, control.

::

    server = RicServer(RicConfig())
    port = await server.start("127.0.0.1", 0)          # TCP (or SCTP via RicConfig.transport)
    node = await server.wait_for_node(timeout=10)       # an E2 node that completed E2 Setup
    sub = await node.subscribe_kpm(ue_list_action(names, 10, ues), period_ms=10)
    async for ind in sub:                              # KpmIndication: typed header + message
        outcome = await node.control_slice_quotas([SlicePrbQuota(...)])  # RC style 2 / action 6
    await sub.delete()
    await server.close()

* **E2 Setup** is answered by the server: KPM and RC RAN functions whose definitions decode
  (E2SM-KPM v03.00 / E2SM-RC) are accepted, anything else is rejected with cause
  ``ran-function-not-supported`` (so a node advertising an older KPM is told so at setup).
* **Nodes** are :class:`E2NodeHandle` objects keyed by E2 node name; a node that reconnects
  gets the same handle back. A disconnect (or a Reset) ends its subscriptions (iterators stop,
  :attr:`Subscription.end_reason` says why) and fails its pending requests with
  :class:`NodeDisconnectedError`; the xApp re-subscribes when the node is back
  (:meth:`E2NodeHandle.wait_connected`, :meth:`RicServer.node_events`).
* **Controls** are written in call order on the node's one connection and their outcomes
  (:class:`ControlOutcome`: acknowledged, or failed with a cause) resolve in that order;
  :meth:`E2NodeHandle.send_control` returns the future without waiting, for pipelining.
  No answer within the link's control timer raises :class:`E2TimeoutError`.

The protocol logic is :class:`ric.link.RicLink`; this module only wires it to asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ric import kpm, rc
from ric.cause import Cause, CauseMisc, CauseRicService
from ric.e2ap import (
    E2SetupRequest,
    GlobalGnbId,
    GlobalRicId,
    RanFunction,
    RanFunctionRejected,
    RicActionNotAdmitted,
    RicActionToBeSetup,
    RicActionType,
    RicIndication,
    RicRequestId,
)
from ric.e2sm_common import UeId
from ric.errors import E2smDecodeError, LocalError, PeerError
from ric.events import (
    ControlAcknowledged,
    ControlFailed,
    ControlTimedOut,
    E2Event,
    ErrorIndicationReceived,
    IndicationReceived,
    ResetReceived,
    SetupRequested,
    SubscriptionDeleted,
    SubscriptionDeleteFailed,
    SubscriptionDeleteTimedOut,
    SubscriptionFailed,
    SubscriptionSucceeded,
    SubscriptionTimedOut,
)
from ric.ids import SLICE_LEVEL_UE, e2_node_name
from ric.link import LinkConfig, LinkCounters, RicLink
from ric.plmn import Plmn
from ric.transport import Listener, PduChannel, TransportConfig, listen

__all__ = [
    "ControlOutcome",
    "E2NodeHandle",
    "E2TimeoutError",
    "Indication",
    "KpmIndication",
    "NodeConnected",
    "NodeDisconnected",
    "NodeDisconnectedError",
    "RicConfig",
    "RicServer",
    "Subscription",
    "SubscriptionFailedError",
]

_log = logging.getLogger(__name__)


class E2TimeoutError(TimeoutError):
    """The E2 node did not answer a request before its timer expired."""


class NodeDisconnectedError(ConnectionError):
    """The E2 node's connection went away (or it reset) while a request was pending."""


class SubscriptionFailedError(Exception):
    """The E2 node answered a RIC Subscription Request with a failure."""

    def __init__(self, message: str, cause: Cause) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class RicConfig:
    """Settings of a :class:`RicServer`.

    Attributes:
        ric_id: Global RIC ID sent in E2 Setup Responses.
        requestor_id: RIC requestor ID of every RIC request ID we allocate.
        transport: TCP or SCTP, frame size and send queue bounds.
        link: procedure timers (subscription, delete, control, reset).
        indication_queue: indications buffered per subscription; the oldest is dropped
            (and counted in :attr:`Subscription.dropped`) when the xApp falls behind.
    """

    ric_id: GlobalRicId = field(default_factory=lambda: GlobalRicId(Plmn("001", "01"), 1))
    requestor_id: int = 1
    transport: TransportConfig = field(default_factory=TransportConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    indication_queue: int = 1024


@dataclass(frozen=True, slots=True)
class Indication:
    """A RIC Indication of a subscription, as received (E2SM payloads still encoded)."""

    node: str
    request_id: RicRequestId
    action_id: int
    sn: int | None
    received_at: float
    raw: RicIndication


@dataclass(frozen=True, slots=True)
class KpmIndication:
    """A decoded E2SM-KPM report."""

    node: str
    request_id: RicRequestId
    action_id: int
    sn: int | None
    received_at: float
    header: kpm.KpmIndicationHeader
    message: kpm.KpmIndicationMessage
    raw: RicIndication


@dataclass(frozen=True, slots=True)
class ControlOutcome:
    """How an E2 node answered a RIC Control Request."""

    request_id: RicRequestId
    acknowledged: bool
    cause: Cause | None = None
    outcome: bytes | None = None
    call_process_id: bytes | None = None


@dataclass(frozen=True, slots=True)
class NodeConnected:
    node: E2NodeHandle
    reconnect: bool


@dataclass(frozen=True, slots=True)
class NodeDisconnected:
    node: E2NodeHandle
    reason: str


_Decoder = Callable[[str, RicIndication, float], Any]


def _raw_indication(node: str, ind: RicIndication, now: float) -> Indication:
    return Indication(node, ind.request_id, ind.action_id, ind.sn, now, ind)


def decode_kpm_indication(node: str, ind: RicIndication, now: float) -> KpmIndication:
    header = kpm.decode_indication_header(ind.header)
    message = kpm.decode_indication_message(ind.message)
    return KpmIndication(node, ind.request_id, ind.action_id, ind.sn, now, header, message, ind)


class Subscription:
    """An active RIC subscription: iterate it (``async for``) for its indications.

    Iteration ends when the subscription ends (deleted, node disconnected, reset);
    :attr:`end_reason` says why. With a ``callback``, indications go to the callback instead
    of the queue.
    """

    def __init__(
        self,
        node: E2NodeHandle,
        request_id: RicRequestId,
        ran_function_id: int,
        decoder: _Decoder,
        queue_size: int,
        callback: Callable[[Any], None] | None,
    ) -> None:
        self.node = node
        self.request_id = request_id
        self.ran_function_id = ran_function_id
        self.admitted: tuple[int, ...] = ()
        self.not_admitted: tuple[RicActionNotAdmitted, ...] = ()
        self.end_reason: str | None = None
        self.received = 0
        self.dropped = 0
        self.decode_errors = 0
        self.callback_errors = 0
        self._decoder = decoder
        self._callback = callback
        self._queue: deque[Any] = deque(maxlen=queue_size)
        self._wakeup = asyncio.Event()

    @property
    def active(self) -> bool:
        return self.end_reason is None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            item = await self.next()
            if item is None:
                return
            yield item

    async def next(self, timeout: float | None = None) -> Any:
        """The next indication; ``None`` once the subscription has ended and is drained.

        Raises ``TimeoutError`` if none arrives within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not self._queue:
                if not self.active:
                    return None
                self._wakeup.clear()
                await self._wakeup.wait()
        return self._queue.popleft()

    async def delete(self) -> None:
        """Send a RIC Subscription Delete Request and wait for the node's answer."""
        await self.node._delete(self)

    def _deliver(self, indication: RicIndication, now: float) -> None:
        try:
            item = self._decoder(self.node.name, indication, now)
        except E2smDecodeError as exc:
            self.decode_errors += 1
            self.node._peer_payload_error(exc, indication)
            return
        self.received += 1
        if self._callback is not None:
            try:
                self._callback(item)
            except Exception:  # an xApp bug must not take the E2 connection down with it
                self.callback_errors += 1
                _log.exception("%s: indication callback of %s failed", self.node.name, self.request_id)
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(item)
        self._wakeup.set()

    def _end(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            _log.info("%s: subscription %s ended: %s", self.node.name, self.request_id, reason)
            self._wakeup.set()


class E2NodeHandle:
    """One E2 node as the xApp sees it; survives the node's reconnections."""

    def __init__(self, server: RicServer, name: str) -> None:
        self.server = server
        self.name = name
        self.node_id: GlobalGnbId | None = None
        self.ran_functions: dict[int, RanFunction] = {}
        self.kpm: kpm.KpmRanFunctionDescription | None = None
        self.rc: rc.RcRanFunctionDefinition | None = None
        self.setups = 0
        self.error_indications: deque[Any] = deque(maxlen=100)
        self.controls_reordered = 0
        self._conn: _RicConnection | None = None
        self._connected = asyncio.Event()
        self._subs: dict[RicRequestId, Subscription] = {}
        self._pending_subs: dict[RicRequestId, tuple[asyncio.Future[None], Subscription]] = {}
        self._pending_deletes: dict[RicRequestId, asyncio.Future[None]] = {}
        self._pending_controls: dict[RicRequestId, asyncio.Future[ControlOutcome]] = {}
        self._control_order: deque[RicRequestId] = deque()

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.link.established

    @property
    def counters(self) -> LinkCounters | None:
        """The current connection's link counters."""
        return None if self._conn is None else self._conn.link.counters

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs.values())

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once the node has (re)completed E2 Setup."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    # ------------------------------------------------------------------ subscriptions
    async def subscribe(
        self,
        ran_function_id: int,
        event_trigger: bytes,
        actions: Sequence[RicActionToBeSetup],
        *,
        decoder: _Decoder = _raw_indication,
        callback: Callable[[Any], None] | None = None,
    ) -> Subscription:
        """Send a RIC Subscription Request and wait for the node's answer.

        Raises :class:`SubscriptionFailedError`, :class:`E2TimeoutError` or
        :class:`NodeDisconnectedError`.
        """
        conn = self._require()
        now = conn.now()
        rid = conn.link.subscribe(ran_function_id, event_trigger, actions, now)
        sub = Subscription(self, rid, ran_function_id, decoder, self.server.config.indication_queue, callback)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending_subs[rid] = (future, sub)
        conn.flush()
        await future
        return sub

    async def subscribe_kpm(
        self,
        action: kpm.KpmActionDefinition,
        period_ms: int,
        *,
        action_id: int = 1,
        callback: Callable[[KpmIndication], None] | None = None,
    ) -> Subscription:
        """Subscribe to E2SM-KPM reports every ``period_ms``; indications are
        :class:`KpmIndication` objects."""
        trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(period_ms))
        definition = kpm.encode_action_definition(action)
        actions = (RicActionToBeSetup(action_id, RicActionType.REPORT, definition),)
        return await self.subscribe(
            kpm.KPM_RAN_FUNCTION_ID, trigger, actions, decoder=decode_kpm_indication, callback=callback
        )

    async def _delete(self, sub: Subscription) -> None:
        if not sub.active:
            return
        conn = self._require()
        conn.link.delete_subscription(sub.request_id, conn.now())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending_deletes[sub.request_id] = future
        conn.flush()
        await future

    # ------------------------------------------------------------------ controls
    def send_control(
        self, ran_function_id: int, header: bytes, message: bytes, *, call_process_id: bytes | None = None
    ) -> asyncio.Future[ControlOutcome]:
        """Send a RIC Control Request now; the future resolves with its outcome."""
        conn = self._require()
        rid = conn.link.control(ran_function_id, header, message, conn.now(), call_process_id)
        future: asyncio.Future[ControlOutcome] = asyncio.get_running_loop().create_future()
        self._pending_controls[rid] = future
        self._control_order.append(rid)
        conn.flush()
        return future

    async def control(
        self, ran_function_id: int, header: bytes, message: bytes, *, call_process_id: bytes | None = None
    ) -> ControlOutcome:
        """Send a RIC Control Request and wait for its acknowledge or failure."""
        return await self.send_control(ran_function_id, header, message, call_process_id=call_process_id)

    def send_slice_quotas(
        self,
        quotas: Sequence[rc.SlicePrbQuota],
        ue: UeId = SLICE_LEVEL_UE,
        *,
        call_process_id: bytes | None = None,
    ) -> asyncio.Future[ControlOutcome]:
        """E2SM-RC style 2 / action 6 (slice-level PRB quota) for the DU (``SLICE_LEVEL_UE``)
        or, with a UE ID, that UE's PRB quota. See :mod:`ric.ids` for the conventions."""
        header, message = _slice_quota_payloads(ue, tuple(quotas))
        return self.send_control(rc.RC_RAN_FUNCTION_ID, header, message, call_process_id=call_process_id)

    async def control_slice_quotas(
        self, quotas: Sequence[rc.SlicePrbQuota], ue: UeId = SLICE_LEVEL_UE
    ) -> ControlOutcome:
        return await self.send_slice_quotas(quotas, ue)

    async def reset(self, cause: Cause = CauseMisc.OM_INTERVENTION) -> None:
        """Reset the link: every subscription ends, pending requests fail."""
        conn = self._require()
        conn.link.reset(cause, conn.now())
        self._release("reset by the RIC")
        conn.flush()

    # ------------------------------------------------------------------ connection side
    def _require(self) -> _RicConnection:
        if self._conn is None or not self._conn.link.established:
            raise NodeDisconnectedError(f"E2 node {self.name} is not connected")
        return self._conn

    def _attach(self, conn: _RicConnection, request: E2SetupRequest) -> None:
        old = self._conn
        if old is not None and old is not conn:
            _log.warning("%s: new E2 connection replaces %s", self.name, old.channel.peer)
            self._conn = None
            old.channel.close()
        self._release("node set up again")
        self._conn = conn
        self.node_id = request.node_id
        self.ran_functions = {f.id: f for f in request.ran_functions}
        self.setups += 1
        self._connected.set()

    def _detach(self, conn: _RicConnection, reason: str) -> None:
        if self._conn is not conn:
            return
        self._conn = None
        self._connected.clear()
        self._release(reason)
        self.server._node_event(NodeDisconnected(self, reason))

    def _release(self, reason: str) -> None:
        error = NodeDisconnectedError(f"{self.name}: {reason}")
        for sub in list(self._subs.values()):
            sub._end(reason)
        self._subs.clear()
        pending: list[asyncio.Future[Any]] = [f for f, _ in self._pending_subs.values()]
        pending += [*self._pending_deletes.values(), *self._pending_controls.values()]
        for future in pending:
            if not future.done():
                future.set_exception(error)
        self._pending_subs.clear()
        self._pending_deletes.clear()
        self._pending_controls.clear()
        self._control_order.clear()

    def _peer_payload_error(self, exc: PeerError, ind: RicIndication) -> None:
        _log.warning("%s: undecodable indication payload: %s", self.name, exc)
        if self._conn is not None:
            cause: Cause = getattr(exc, "cause", CauseMisc.UNSPECIFIED)
            self._conn.link.send_error_indication(
                cause, self._conn.now(), request_id=ind.request_id, ran_function_id=ind.ran_function_id
            )
            self._conn.flush()

    def _on_event(self, event: E2Event, now: float) -> None:
        handler = _NODE_EVENT_HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event, now)

    def _on_indication(self, event: IndicationReceived, now: float) -> None:
        sub = self._subs.get(event.indication.request_id)
        if sub is not None:
            sub._deliver(event.indication, now)

    def _on_subscribed(self, event: SubscriptionSucceeded, now: float) -> None:
        future, sub = self._pending_subs.pop(event.response.request_id, (None, None))
        if future is None or sub is None or future.done():
            return
        sub.admitted, sub.not_admitted = event.response.admitted, event.response.not_admitted
        self._subs[sub.request_id] = sub
        future.set_result(None)

    def _on_subscribe_failed(self, event: SubscriptionFailed | SubscriptionTimedOut, now: float) -> None:
        rid = event.failure.request_id if isinstance(event, SubscriptionFailed) else event.request_id
        future, _sub = self._pending_subs.pop(rid, (None, None))
        if future is None or future.done():
            return
        if isinstance(event, SubscriptionFailed):
            cause = event.failure.cause
            future.set_exception(
                SubscriptionFailedError(f"{self.name}: subscription refused: {cause}", cause)
            )
        else:
            future.set_exception(E2TimeoutError(f"{self.name}: no answer to subscription {rid}"))

    def _on_deleted(
        self, event: SubscriptionDeleted | SubscriptionDeleteFailed | SubscriptionDeleteTimedOut, now: float
    ) -> None:
        if isinstance(event, SubscriptionDeleteFailed):
            rid = event.failure.request_id
            error: Exception | None = SubscriptionFailedError("delete refused", event.failure.cause)
        else:
            rid = event.request_id
            error = (
                E2TimeoutError("no answer to delete")
                if isinstance(event, SubscriptionDeleteTimedOut)
                else None
            )
        if error is None and rid in self._subs:
            self._subs.pop(rid)._end("deleted")
        future = self._pending_deletes.pop(rid, None)
        if future is not None and not future.done():
            future.set_exception(error) if error else future.set_result(None)

    def _on_control(self, event: ControlAcknowledged | ControlFailed | ControlTimedOut, now: float) -> None:
        if isinstance(event, ControlAcknowledged):
            m = event.acknowledge
            self._resolve_control(
                m.request_id, ControlOutcome(m.request_id, True, None, m.outcome, m.call_process_id)
            )
        elif isinstance(event, ControlFailed):
            f = event.failure
            self._resolve_control(
                f.request_id, ControlOutcome(f.request_id, False, f.cause, f.outcome, f.call_process_id)
            )
        else:
            rid = event.request_id
            self._resolve_control(rid, E2TimeoutError(f"{self.name}: no answer to control {rid}"))

    def _resolve_control(self, rid: RicRequestId, result: ControlOutcome | Exception) -> None:
        if self._control_order and self._control_order[0] != rid:
            self.controls_reordered += 1
        with contextlib.suppress(ValueError):
            self._control_order.remove(rid)
        future = self._pending_controls.pop(rid, None)
        if future is None or future.done():
            return
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)

    def _on_error_indication(self, event: ErrorIndicationReceived, now: float) -> None:
        self.error_indications.append(event.message)
        rid, cause = event.message.request_id, event.message.cause or CauseMisc.UNSPECIFIED
        if rid is not None and rid in self._pending_controls:  # the node could not parse it
            self._resolve_control(rid, ControlOutcome(rid, False, cause))

    def _on_reset(self, event: ResetReceived, now: float) -> None:
        self._release(f"reset by the node ({event.cause})")


_NODE_EVENT_HANDLERS: dict[type, Callable[[E2NodeHandle, Any, float], None]] = {
    IndicationReceived: E2NodeHandle._on_indication,
    ControlAcknowledged: E2NodeHandle._on_control,
    ControlFailed: E2NodeHandle._on_control,
    ControlTimedOut: E2NodeHandle._on_control,
    SubscriptionSucceeded: E2NodeHandle._on_subscribed,
    SubscriptionFailed: E2NodeHandle._on_subscribe_failed,
    SubscriptionTimedOut: E2NodeHandle._on_subscribe_failed,
    SubscriptionDeleted: E2NodeHandle._on_deleted,
    SubscriptionDeleteFailed: E2NodeHandle._on_deleted,
    SubscriptionDeleteTimedOut: E2NodeHandle._on_deleted,
    ErrorIndicationReceived: E2NodeHandle._on_error_indication,
    ResetReceived: E2NodeHandle._on_reset,
}


@lru_cache(maxsize=4096)
def _slice_quota_payloads(ue: UeId, quotas: tuple[rc.SlicePrbQuota, ...]) -> tuple[bytes, bytes]:
    """Encoded RC header + message (cached: an xApp re-sends the same few quota sets).

    A miss encodes only what is new: the header depends on the UE alone and the message on the
    quotas alone, so 7 DUs × 30 UEs × ~100 ratios (more pairs than this cache keeps) need only
    ~200 headers and ~300 messages."""
    return _control_header(ue), _quota_message(quotas)


@lru_cache(maxsize=16384)
def _control_header(ue: UeId) -> bytes:
    return rc.encode_control_header(rc.slice_prb_quota_header(ue))


@lru_cache(maxsize=4096)
def _quota_message(quotas: tuple[rc.SlicePrbQuota, ...]) -> bytes:
    return rc.encode_slice_prb_quota(quotas)


# ---------------------------------------------------------------------------------------
# One E2 connection
# ---------------------------------------------------------------------------------------


class _RicConnection:
    """A RicLink wired to a channel and the loop's clock/timers (the PduHandler)."""

    def __init__(self, server: RicServer, channel: PduChannel) -> None:
        self.server = server
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.link = RicLink(
            server.config.ric_id, server.config.requestor_id, server.config.link, channel.peer
        )
        self.node: E2NodeHandle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._flushing = False
        _log.info("E2 connection from %s", channel.peer)

    def now(self) -> float:
        return self.loop.time()

    # PduHandler
    def pdu_received(self, pdu: bytes) -> None:
        self.link.receive_pdu(pdu, self.loop.time())
        self.flush()

    def frame_error(self, error: PeerError) -> None:
        cause: Cause = getattr(error, "cause", CauseMisc.UNSPECIFIED)
        with contextlib.suppress(LocalError):  # e.g. the link is already closed
            self.link.send_error_indication(cause, self.loop.time())
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        _log.info("%s: E2 connection lost (%s)", self.link.name, exc or "closed")
        self.link.close()
        if self._timer is not None:
            self._timer.cancel()
        if self.node is not None:
            self.node._detach(self, f"connection lost ({exc or 'closed'})")

    # processing
    def flush(self) -> None:
        """Send what the link produced, dispatch its events, re-arm its timer.

        Re-entrant calls (an xApp sending controls from an indication callback, i.e. while
        this loop dispatches) return at once: the running loop sends what they produced."""
        if self._flushing:
            return
        self._flushing = True
        link = self.link
        try:
            while True:
                for pdu in link.data_to_send():
                    self.channel.send_pdu(pdu)
                event = link.next_event()
                if event is None:
                    break
                self._dispatch(event)
        finally:
            self._flushing = False
        self._arm_timer()

    def _dispatch(self, event: E2Event) -> None:
        now = self.loop.time()
        if isinstance(event, SetupRequested):
            self.server._on_setup(self, event.request)
        elif self.node is not None:
            self.node._on_event(event, now)

    def _arm_timer(self) -> None:
        when = self.link.next_timer()
        if when == self._timer_at:
            return
        if self._timer_at is not None and (when is None or when > self._timer_at):
            # The armed call comes first; the link handles only what is due then and it re-arms
            # for the rest. Not re-arming each time the earliest control is answered saves a
            # cancel + call_at per control.
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = None if when is None else self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.link.handle_timer(self.loop.time())
        self.flush()


# ---------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------


class RicServer:
    """Listens for E2 nodes and keeps an :class:`E2NodeHandle` per node name."""

    def __init__(self, config: RicConfig | None = None) -> None:
        self.config = config or RicConfig()
        self.nodes: dict[str, E2NodeHandle] = {}
        self._listener: Listener | None = None
        self._events: asyncio.Queue[NodeConnected | NodeDisconnected] = asyncio.Queue()
        self._changed = asyncio.Event()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the server is not started")
        return self._listener.port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start listening; returns the bound port (pass ``port=0`` for any free port)."""
        self._listener = await listen(host, port, lambda ch: _RicConnection(self, ch), self.config.transport)
        _log.info(
            "RIC listening for E2 nodes on %s:%d (%s)", host, self.port, self.config.transport.kind.value
        )
        return self._listener.port

    async def close(self) -> None:
        """Close every E2 connection and stop listening."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def disconnect_all(self) -> None:
        """Drop every E2 connection but keep listening (nodes will reconnect)."""
        if self._listener is not None:
            channels = list(self._listener.channels)
            for channel in channels:
                channel.close()
            await asyncio.gather(*(c.closed for c in channels))

    async def wait_for_node(self, name: str | None = None, timeout: float | None = None) -> E2NodeHandle:
        """The node ``name`` (or any node) once it has completed E2 Setup."""
        nodes = await self.wait_for_nodes(
            1 if name is None else 0, timeout, names=() if name is None else (name,)
        )
        return nodes[0]

    async def wait_for_nodes(
        self, count: int, timeout: float | None = None, *, names: Sequence[str] = ()
    ) -> list[E2NodeHandle]:
        """Wait until ``count`` nodes (and every node in ``names``) are connected."""
        async with asyncio.timeout(timeout):
            while True:
                up = [n for n in self.nodes.values() if n.connected]
                if len(up) >= count and all(self.nodes.get(x) in up for x in names):
                    return [self.nodes[x] for x in names] or up
                self._changed.clear()
                await self._changed.wait()

    async def node_events(self) -> AsyncIterator[NodeConnected | NodeDisconnected]:
        """Nodes connecting (after E2 Setup) and disconnecting, as they happen."""
        while True:
            yield await self._events.get()

    def _node_event(self, event: NodeConnected | NodeDisconnected) -> None:
        self._events.put_nowait(event)
        self._changed.set()

    def _on_setup(self, conn: _RicConnection, request: E2SetupRequest) -> None:
        accepted, rejected, kpm_desc, rc_def = _evaluate_functions(request.ran_functions)
        conn.link.accept_setup(accepted, conn.now(), rejected)
        name = e2_node_name(request.node_id)
        node = self.nodes.get(name)
        reconnect = node is not None
        if node is None:
            node = self.nodes[name] = E2NodeHandle(self, name)
        node.kpm, node.rc = kpm_desc, rc_def
        conn.node = node
        node._attach(conn, request)
        _log.info(
            "%s: E2 Setup accepted (functions %s, rejected %s)", name, accepted, [r.id for r in rejected]
        )
        self._node_event(NodeConnected(node, reconnect))


def _evaluate_functions(
    functions: Sequence[RanFunction],
) -> tuple[
    list[int],
    list[RanFunctionRejected],
    kpm.KpmRanFunctionDescription | None,
    rc.RcRanFunctionDefinition | None,
]:
    """Accept KPM / RC functions whose definitions decode (a version check); reject the rest."""
    accepted: list[int] = []
    rejected: list[RanFunctionRejected] = []
    kpm_desc: kpm.KpmRanFunctionDescription | None = None
    rc_def: rc.RcRanFunctionDefinition | None = None
    for f in functions:
        try:
            if f.oid == kpm.KPM_OID:
                kpm_desc = kpm.decode_ran_function_description(f.definition)
            elif f.oid == rc.RC_OID:
                rc_def = rc.decode_ran_function_definition(f.definition)
            else:
                raise E2smDecodeError(f"unknown E2SM OID {f.oid}")
        except E2smDecodeError as exc:
            _log.warning("rejecting RAN function %d (%s): %s", f.id, f.oid, exc)
            rejected.append(RanFunctionRejected(f.id, CauseRicService.RAN_FUNCTION_NOT_SUPPORTED))
            continue
        accepted.append(f.id)
    return accepted, rejected, kpm_desc, rc_def
