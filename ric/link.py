"""Sans-IO E2 links: the E2 node and near-RT RIC ends of E2AP as state machines.

Nothing here touches sockets, asyncio or clocks. A transport adapter (:mod:`ric.transport`)
feeds received PDUs in with :meth:`E2Link.receive_pdu` and sends what
:meth:`E2Link.data_to_send` returns; the application reads :meth:`E2Link.next_event` and
calls the role's methods (``start_setup``, ``subscribe``, ``control``, ...). Time is passed
in (``now``, seconds on any monotonic clock); :meth:`E2Link.next_timer` says when the link
next wants :meth:`E2Link.handle_timer` to be called (E2 Setup, subscription, subscription
delete, control and reset response timers) — the link never schedules anything itself.

Protocol states are data (:mod:`ric.states`). Whatever the peer sends that cannot be
accepted — undecodable bytes (:class:`~ric.errors.E2DecodeError`), a message the state does
not allow (:class:`~ric.states.E2StateError`), a request for a RAN function we do not offer
— is converted here, once, into the answer E2AP prescribes (the procedure's failure message
for a request, otherwise an Error Indication carrying the cause and criticality
diagnostics), logged, counted in :attr:`E2Link.counters`, reported as a
:class:`~ric.events.PeerProtocolError` event, and the link keeps working. What *we* try to
send that the protocol does not allow raises :class:`~ric.states.E2LocalStateError` (or
:class:`~ric.errors.E2EncodeError`) and nothing is sent.

IDs: transaction IDs (E2 Setup, Reset) cycle through 0..255 skipping those in use; RIC
request IDs are ``(requestor, instance)`` with the RIC link's requestor ID and an instance
cycling through 1..65535 skipping those in use, separately for subscriptions and controls.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from ric._e2ap_fast import decode as decode_e2ap
from ric._e2ap_fast import encode as encode_e2ap
from ric.cause import Cause, CauseProtocol, CauseRicRequest
from ric.e2ap import (
    CriticalityDiagnostics,
    E2apMessage,
    E2NodeComponentConfig,
    E2NodeComponentConfigAck,
    E2SetupFailure,
    E2SetupRequest,
    E2SetupResponse,
    ErrorIndication,
    GlobalGnbId,
    GlobalRicId,
    MessageKind,
    RanFunction,
    RanFunctionIdItem,
    RanFunctionRejected,
    ResetRequest,
    ResetResponse,
    RicActionNotAdmitted,
    RicActionToBeSetup,
    RicControlAcknowledge,
    RicControlAckRequest,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicIndicationType,
    RicRequestId,
    RicSubscriptionDeleteFailure,
    RicSubscriptionDeleteRequest,
    RicSubscriptionDeleteResponse,
    RicSubscriptionFailure,
    RicSubscriptionRequest,
    RicSubscriptionResponse,
    TimeToWait,
    TriggeringMessage,
)
from ric.errors import E2DecodeError, E2UnknownProcedureError, LocalError, PeerError
from ric.events import (
    ControlAcknowledged,
    ControlFailed,
    ControlRequested,
    ControlTimedOut,
    E2Event,
    ErrorIndicationReceived,
    IndicationReceived,
    PeerProtocolError,
    ResetCompleted,
    ResetReceived,
    ResetTimedOut,
    SetupCompleted,
    SetupFailed,
    SetupRequested,
    SetupTimedOut,
    SubscriptionDeleted,
    SubscriptionDeleteFailed,
    SubscriptionDeleteTimedOut,
    SubscriptionFailed,
    SubscriptionRequested,
    SubscriptionSucceeded,
    SubscriptionTimedOut,
)
from ric.ids import e2_node_name
from ric.states import (
    PROCEDURE_OF,
    TIMEOUT_TRANSITIONS,
    Direction,
    E2LocalStateError,
    E2StateError,
    LinkState,
    ProcedureKind,
    ProcedureState,
    Role,
    link_transition,
    procedure_transition,
)

__all__ = [
    "E2Link",
    "E2RequestError",
    "LinkConfig",
    "LinkCounters",
    "NodeLink",
    "RicLink",
]

_log = logging.getLogger(__name__)

_TRIGGER = {
    MessageKind.INITIATING: TriggeringMessage.INITIATING,
    MessageKind.SUCCESSFUL: TriggeringMessage.SUCCESSFUL,
    MessageKind.UNSUCCESSFUL: TriggeringMessage.UNSUCCESSFUL,
}


class E2RequestError(PeerError):
    """A well-formed request we refuse (e.g. for a RAN function we do not offer)."""

    def __init__(self, message: str, cause: Cause) -> None:
        super().__init__(message)
        self.cause: Cause = cause


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Procedure timers, in seconds of the clock passed as ``now``."""

    setup_timeout_s: float = 5.0
    subscription_timeout_s: float = 5.0
    delete_timeout_s: float = 5.0
    control_timeout_s: float = 5.0
    reset_timeout_s: float = 5.0


@dataclass
class LinkCounters:
    """What went through a link. ``sent`` / ``received`` count messages by class name."""

    sent: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    bytes_received: int = 0
    decode_errors: int = 0  # undecodable PDUs (a subset of peer_errors)
    peer_errors: int = 0  # anything the peer sent that we could not accept
    ignored: int = 0  # dropped without an answer (criticality ignore, stale during reset)
    error_indications_sent: int = 0
    error_indications_received: int = 0

    def as_dict(self) -> dict[str, int]:
        """Flat ``name -> value`` view (``sent.RicIndication`` etc.), e.g. for metrics."""
        out = {k: v for k, v in vars(self).items() if isinstance(v, int)}
        for group in ("sent", "received", "timeouts"):
            out.update({f"{group}.{k}": v for k, v in getattr(self, group).items()})
        return out


class _IdPool:
    """Cyclic allocator of integer IDs in ``lo..hi`` that skips IDs still in use."""

    def __init__(self, lo: int, hi: int) -> None:
        self._lo, self._hi, self._next = lo, hi, lo

    def allocate(self, in_use: Container[int], what: str) -> int:
        for _ in range(self._hi - self._lo + 1):
            candidate = self._next
            self._next = self._lo if candidate == self._hi else candidate + 1
            if candidate not in in_use:
                return candidate
        raise LocalError(f"no free {what}: all of {self._lo}..{self._hi} are in use")


class _InstancesInUse:
    """``instance in self``: a procedure of ``kind`` holds our request ID with that instance (a
    dictionary lookup per candidate, not a set of every pending procedure per allocation)."""

    __slots__ = ("_kind", "_procedures", "_requestor")

    def __init__(self, procedures: Mapping[Any, Any], kind: ProcedureKind, requestor: int) -> None:
        self._procedures, self._kind, self._requestor = procedures, kind, requestor

    def __contains__(self, instance: object) -> bool:
        if not isinstance(instance, int):
            return False
        return (self._kind, RicRequestId(self._requestor, instance)) in self._procedures


@dataclass(slots=True)
class _Procedure:
    state: ProcedureState
    ran_function_id: int
    sn: int = 0


_ProcKey = tuple[ProcedureKind, RicRequestId]
_TimerKey = tuple[str, Any]
_Handler = Callable[[Any, float], None]


class E2Link:
    """What both ends share: states, procedures, timers, error conversion, counters."""

    role: ClassVar[Role]

    def __init__(self, config: LinkConfig | None = None, name: str = "") -> None:
        self.config = config or LinkConfig()
        self.name = name or self.role.value
        self.state = LinkState.IDLE
        self.counters = LinkCounters()
        self._events: deque[E2Event] = deque()
        self._out: list[bytes] = []
        self._procedures: dict[_ProcKey, _Procedure] = {}
        self._timers: dict[_TimerKey, float] = {}
        self._transactions = _IdPool(0, 255)
        self._pending_tx: dict[int, str] = {}  # transaction ID -> "setup" | "reset"
        self._handlers: dict[type[E2apMessage], _Handler] = {
            ErrorIndication: self._on_error_indication,
            ResetRequest: self._on_reset_request,
            ResetResponse: self._on_reset_response,
        }
        self._validators: dict[type[E2apMessage], Callable[[Any], None]] = {
            ResetResponse: lambda m: self._check_transaction(m, "reset")
        }

    # ------------------------------------------------------------------ outputs
    def next_event(self) -> E2Event | None:
        """The oldest event not yet returned, or ``None``."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[E2Event]:
        """All pending events, oldest first."""
        out = list(self._events)
        self._events.clear()
        return out

    def data_to_send(self) -> list[bytes]:
        """E2AP PDUs to put on the wire, in order (each one a whole PDU, unframed)."""
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` should next be called (``None``: no timer running)."""
        return min(self._timers.values()) if self._timers else None

    @property
    def established(self) -> bool:
        return self.state is LinkState.ESTABLISHED

    def active_subscriptions(self) -> dict[RicRequestId, int]:
        """Subscriptions in force (active or being deleted) -> RAN function ID."""
        return {
            rid: p.ran_function_id
            for (kind, rid), p in self._procedures.items()
            if kind is ProcedureKind.SUBSCRIPTION and p.state is not ProcedureState.REQUESTED
        }

    # ------------------------------------------------------------------ inputs
    def receive_pdu(self, data: bytes, now: float) -> None:
        """Handle one received E2AP PDU (whole, unframed)."""
        self.counters.bytes_received += len(data)
        try:
            message = decode_e2ap(data)
        except E2DecodeError as exc:
            self.counters.decode_errors += 1
            self._answer_decode_error(exc, now)
            return
        self.receive_message(message, now)

    def receive_message(self, message: E2apMessage, now: float) -> None:
        """Handle one received message already decoded (the boundary for peer errors)."""
        self.counters.received[type(message).__name__] += 1
        try:
            self._receive(message, now)
        except PeerError as exc:
            self._answer_peer_error(exc, message, now)

    def handle_timer(self, now: float) -> None:
        """Expire every timer due at ``now``."""
        due = sorted((k for k, t in self._timers.items() if t <= now), key=self._timers.__getitem__)
        for key in due:
            if self._timers.pop(key, None) is not None:
                self.counters.timeouts[key[0]] += 1
                _log.warning("%s: %s timer expired (%s)", self.name, key[0], key[1])
                self._on_timeout(key, now)

    def close(self) -> None:
        """The connection is gone: forget every procedure and timer."""
        self._set_state(LinkState.CLOSED)
        self._procedures.clear()
        self._timers.clear()
        self._pending_tx.clear()

    # ------------------------------------------------------------------ both roles: actions
    def send_error_indication(
        self,
        cause: Cause,
        now: float,
        *,
        request_id: RicRequestId | None = None,
        ran_function_id: int | None = None,
        transaction_id: int | None = None,
    ) -> None:
        self._send(ErrorIndication(transaction_id, request_id, ran_function_id, cause), now, track=False)

    def reset(self, cause: Cause, now: float) -> int:
        """Send a Reset Request; every subscription and pending request is released now."""
        tid = self._transactions.allocate(self._pending_tx, "transaction ID")
        self._send(ResetRequest(tid, cause), now)
        self._release_all()
        self._pending_tx[tid] = "reset"
        self._timers[("reset", tid)] = now + self.config.reset_timeout_s
        return tid

    # ------------------------------------------------------------------ sending
    def _send(self, message: E2apMessage, now: float, *, track: bool = True) -> None:
        """Check ``message`` against the tables, encode it, then commit the transitions.

        ``track=False`` sends an answer to a request we refused: only the link table applies.
        """
        new_state = link_transition(self.role, self.state, Direction.SEND, message)
        key, proc = self._procedure_step(Direction.SEND, message) if track else (None, None)
        data = encode_e2ap(message)
        if key is not None:
            self._commit_procedure(key, proc, message)
        self._set_state(new_state)
        self._out.append(data)
        name = type(message).__name__
        self.counters.sent[name] += 1
        self.counters.bytes_sent += len(data)
        if isinstance(message, ErrorIndication):
            self.counters.error_indications_sent += 1
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s: sent %s (%d bytes)", self.name, name, len(data))

    def _procedure_step(
        self, direction: Direction, message: E2apMessage
    ) -> tuple[_ProcKey | None, ProcedureState | None]:
        kind = PROCEDURE_OF.get(type(message))
        if kind is None:
            return None, None
        key = (kind, cast(RicRequestId, getattr(message, "request_id")))  # noqa: B009
        current = self._procedures.get(key)
        nxt = procedure_transition(self.role, None if current is None else current.state, direction, message)
        return key, nxt

    def _commit_procedure(self, key: _ProcKey, state: ProcedureState | None, message: E2apMessage) -> None:
        if state is None:
            self._procedures.pop(key, None)
            return
        current = self._procedures.get(key)
        if current is None:
            self._procedures[key] = _Procedure(state, cast(int, getattr(message, "ran_function_id")))  # noqa: B009
        else:
            current.state = state

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            _log.info("%s: %s -> %s", self.name, self.state.value, state.value)
            self.state = state

    # ------------------------------------------------------------------ receiving
    def _receive(self, message: E2apMessage, now: float) -> None:
        new_state = link_transition(self.role, self.state, Direction.RECEIVE, message)
        if self.state is LinkState.RESET_PENDING and type(message) in PROCEDURE_OF:
            self.counters.ignored += 1  # sent before the peer saw our reset, which releases it
            _log.info("%s: dropped %s sent before our reset", self.name, type(message).__name__)
            return
        key, proc = self._procedure_step(Direction.RECEIVE, message)
        validate = self._validators.get(type(message))
        if validate is not None:
            validate(message)
        if key is not None:
            self._commit_procedure(key, proc, message)
        self._set_state(new_state)
        self._handlers[type(message)](message, now)

    def _check_transaction(self, message: Any, what: str) -> None:
        tid = message.transaction_id
        if self._pending_tx.get(tid) != what:
            pending = [t for t, w in self._pending_tx.items() if w == what]
            raise E2StateError(
                self.role, self.state.value, message, detail=f"transaction ID {tid}, pending {pending}"
            )

    def _on_error_indication(self, message: ErrorIndication, now: float) -> None:
        self.counters.error_indications_received += 1
        _log.warning("%s: Error Indication received: %s", self.name, message)
        self._events.append(ErrorIndicationReceived(message))

    def _on_reset_request(self, message: ResetRequest, now: float) -> None:
        _log.warning("%s: peer reset the link (cause %s)", self.name, message.cause)
        self._release_all()
        self._send(ResetResponse(message.transaction_id), now)
        self._events.append(ResetReceived(message.cause))

    def _on_reset_response(self, message: ResetResponse, now: float) -> None:
        self._pending_tx.pop(message.transaction_id, None)
        self._timers.pop(("reset", message.transaction_id), None)
        self._events.append(ResetCompleted(message.transaction_id))

    def _release_all(self) -> None:
        self._procedures.clear()
        for key in [k for k in self._timers if k[0] in ("subscription", "delete", "control")]:
            del self._timers[key]

    # ------------------------------------------------------------------ timers
    def _on_timeout(self, key: _TimerKey, now: float) -> None:
        kind, ident = key
        if kind in ("setup", "reset"):
            self._pending_tx.pop(ident, None)
            nxt = TIMEOUT_TRANSITIONS.get((self.role, self.state))
            if nxt is not None:
                self._set_state(nxt)
            self._events.append(SetupTimedOut(ident) if kind == "setup" else ResetTimedOut(ident))

    # ------------------------------------------------------------------ peer errors
    def _answer_peer_error(self, exc: PeerError, message: E2apMessage, now: float) -> None:
        cause: Cause = getattr(exc, "cause", CauseProtocol.UNSPECIFIED)
        answer: str | None = None
        if not isinstance(message, ErrorIndication):  # never answer an Error Indication
            failure = _failure_for(message, cause)
            fallback = _error_indication_for(message, cause)
            answer = self._send_answer(failure, fallback, now)
        self._report(exc, cause, answer)

    def _answer_decode_error(self, exc: E2DecodeError, now: float) -> None:
        answer: str | None = None
        ignore = isinstance(exc, E2UnknownProcedureError) and exc.criticality == "ignore"
        if ignore:
            self.counters.ignored += 1
        elif exc.procedure_code != ErrorIndication.PROCEDURE_CODE:
            failure = _failure_from_ids(exc) if exc.kind is MessageKind.INITIATING else None
            answer = self._send_answer(failure, _error_indication_from_ids(exc), now)
        self._report(exc, exc.cause, answer)

    def _send_answer(self, failure: E2apMessage | None, fallback: ErrorIndication, now: float) -> str | None:
        for candidate in (failure, fallback):
            if candidate is None:
                continue
            try:
                self._send(candidate, now, track=False)
                return type(candidate).__name__
            except LocalError as err:
                _log.debug("%s: cannot answer with %s: %s", self.name, type(candidate).__name__, err)
        return None

    def _report(self, exc: PeerError, cause: Cause, answer: str | None) -> None:
        self.counters.peer_errors += 1
        _log.warning("%s: peer error: %s -> answered %s (cause %s)", self.name, exc, answer, cause)
        self._events.append(PeerProtocolError(str(exc), cause, answer))


def _failure_for(message: E2apMessage, cause: Cause) -> E2apMessage | None:
    """The failure message that answers a refused request, if it has one."""
    if isinstance(message, RicSubscriptionRequest):
        return RicSubscriptionFailure(message.request_id, message.ran_function_id, cause)
    if isinstance(message, RicSubscriptionDeleteRequest):
        return RicSubscriptionDeleteFailure(message.request_id, message.ran_function_id, cause)
    if isinstance(message, RicControlRequest):
        return RicControlFailure(message.request_id, message.ran_function_id, cause, message.call_process_id)
    if isinstance(message, E2SetupRequest):
        return E2SetupFailure(message.transaction_id, cause)
    return None


def _diagnostics(
    code: int | None, kind: MessageKind | None, rid: RicRequestId | None
) -> CriticalityDiagnostics | None:
    if code is None and kind is None and rid is None:
        return None
    return CriticalityDiagnostics(code, None if kind is None else _TRIGGER[kind], None, rid)


def _error_indication_for(message: E2apMessage, cause: Cause) -> ErrorIndication:
    rid = getattr(message, "request_id", None)
    return ErrorIndication(
        getattr(message, "transaction_id", None),
        rid,
        getattr(message, "ran_function_id", None),
        cause,
        _diagnostics(message.PROCEDURE_CODE, message.KIND, rid),
    )


def _ids(exc: E2DecodeError) -> tuple[int | None, RicRequestId | None, int | None]:
    try:
        rid = None if exc.request_id is None else RicRequestId(*exc.request_id)
        tid, fid = exc.transaction_id, exc.ran_function_id
        ErrorIndication(tid, rid, fid)  # validates the ranges
        return tid, rid, fid
    except LocalError:
        return None, None, None


def _failure_from_ids(exc: E2DecodeError) -> E2apMessage | None:
    """The failure answering an undecodable request, when its identifiers could be read."""
    tid, rid, fid = _ids(exc)
    code, cause = exc.procedure_code, exc.cause
    if rid is not None and fid is not None:
        if code == RicSubscriptionRequest.PROCEDURE_CODE:
            return RicSubscriptionFailure(rid, fid, cause)
        if code == RicSubscriptionDeleteRequest.PROCEDURE_CODE:
            return RicSubscriptionDeleteFailure(rid, fid, cause)
        if code == RicControlRequest.PROCEDURE_CODE:
            return RicControlFailure(rid, fid, cause)
    if code == E2SetupRequest.PROCEDURE_CODE and tid is not None:
        return E2SetupFailure(tid, cause)
    return None


def _error_indication_from_ids(exc: E2DecodeError) -> ErrorIndication:
    tid, rid, fid = _ids(exc)
    code = exc.procedure_code if exc.procedure_code is not None and 0 <= exc.procedure_code <= 255 else None
    return ErrorIndication(tid, rid, fid, exc.cause, _diagnostics(code, exc.kind, rid))


# ---------------------------------------------------------------------------------------
# E2 node
# ---------------------------------------------------------------------------------------


class NodeLink(E2Link):
    """The E2 node end: E2 Setup, serving subscriptions and controls, indications.

    Args:
        node_id: the node's Global E2 node ID.
        ran_functions: what it advertises at E2 Setup; requests for other RAN function IDs
            are refused with cause ``ran-function-id-invalid``.
        component_configs: E2 node component configurations for E2 Setup (at least one).
    """

    role = Role.NODE

    def __init__(
        self,
        node_id: GlobalGnbId,
        ran_functions: Sequence[RanFunction],
        component_configs: Sequence[E2NodeComponentConfig],
        config: LinkConfig | None = None,
        name: str = "",
    ) -> None:
        super().__init__(config, name or e2_node_name(node_id))
        self.node_id = node_id
        self.ran_functions = tuple(ran_functions)
        self.component_configs = tuple(component_configs)
        self._offered = {f.id for f in self.ran_functions}
        self._handlers.update(
            {
                E2SetupResponse: self._on_setup_response,
                E2SetupFailure: self._on_setup_failure,
                RicSubscriptionRequest: self._on_subscription_request,
                RicSubscriptionDeleteRequest: self._on_delete_request,
                RicControlRequest: self._on_control_request,
            }
        )
        self._validators.update(
            {
                E2SetupResponse: lambda m: self._check_transaction(m, "setup"),
                E2SetupFailure: lambda m: self._check_transaction(m, "setup"),
                RicSubscriptionRequest: self._check_function,
                RicControlRequest: self._check_function,
            }
        )

    def start_setup(self, now: float) -> int:
        """Send an E2 Setup Request; returns its transaction ID."""
        tid = self._transactions.allocate(self._pending_tx, "transaction ID")
        self._send(E2SetupRequest(tid, self.node_id, self.ran_functions, self.component_configs), now)
        self._pending_tx[tid] = "setup"
        self._timers[("setup", tid)] = now + self.config.setup_timeout_s
        return tid

    def accept_subscription(
        self,
        request: RicSubscriptionRequest,
        admitted: Sequence[int],
        now: float,
        not_admitted: Sequence[RicActionNotAdmitted] = (),
    ) -> None:
        """Answer a :class:`~ric.events.SubscriptionRequested` with a Subscription Response."""
        response = RicSubscriptionResponse(
            request.request_id, request.ran_function_id, tuple(admitted), tuple(not_admitted)
        )
        self._send(response, now)

    def reject_subscription(self, request: RicSubscriptionRequest, cause: Cause, now: float) -> None:
        """Answer a :class:`~ric.events.SubscriptionRequested` with a Subscription Failure."""
        self._send(RicSubscriptionFailure(request.request_id, request.ran_function_id, cause), now)

    def send_indication(
        self,
        request_id: RicRequestId,
        action_id: int,
        header: bytes,
        message: bytes,
        now: float,
        call_process_id: bytes | None = None,
    ) -> int:
        """Send a RIC Indication (report) for an active subscription; returns its SN."""
        proc = self._procedures.get((ProcedureKind.SUBSCRIPTION, request_id))
        sn = 0 if proc is None else proc.sn
        indication = RicIndication(
            request_id,
            0 if proc is None else proc.ran_function_id,
            action_id,
            RicIndicationType.REPORT,
            header,
            message,
            sn,
            call_process_id,
        )
        self._send(indication, now)
        if proc is not None:
            proc.sn = (sn + 1) & 0xFFFF
        return sn

    def acknowledge_control(
        self, request: RicControlRequest, now: float, outcome: bytes | None = None
    ) -> None:
        """Answer a :class:`~ric.events.ControlRequested` as executed.

        No acknowledge goes on the wire when the request asked for none (``noAck``).
        """
        ack = RicControlAcknowledge(
            request.request_id, request.ran_function_id, request.call_process_id, outcome
        )
        if request.ack_request is RicControlAckRequest.NO_ACK:
            key, proc = self._procedure_step(Direction.SEND, ack)
            if key is not None:
                self._commit_procedure(key, proc, ack)
            return
        self._send(ack, now)

    def fail_control(
        self, request: RicControlRequest, cause: Cause, now: float, outcome: bytes | None = None
    ) -> None:
        """Answer a :class:`~ric.events.ControlRequested` with a Control Failure."""
        failure = RicControlFailure(
            request.request_id, request.ran_function_id, cause, request.call_process_id, outcome
        )
        self._send(failure, now)

    # ------------------------------------------------------------------ handlers
    def _check_function(self, message: RicSubscriptionRequest | RicControlRequest) -> None:
        if message.ran_function_id not in self._offered:
            raise E2RequestError(
                f"{self.name}: RAN function {message.ran_function_id} is not offered "
                f"(offered: {sorted(self._offered)})",
                CauseRicRequest.RAN_FUNCTION_ID_INVALID,
            )

    def _on_setup_response(self, message: E2SetupResponse, now: float) -> None:
        self._pending_tx.pop(message.transaction_id, None)
        self._timers.pop(("setup", message.transaction_id), None)
        _log.info("%s: E2 Setup done, RIC %s accepted %s", self.name, message.ric_id, message.accepted)
        self._events.append(SetupCompleted(message))

    def _on_setup_failure(self, message: E2SetupFailure, now: float) -> None:
        self._pending_tx.pop(message.transaction_id, None)
        self._timers.pop(("setup", message.transaction_id), None)
        _log.warning("%s: E2 Setup failed: %s", self.name, message.cause)
        self._events.append(SetupFailed(message))

    def _on_subscription_request(self, message: RicSubscriptionRequest, now: float) -> None:
        self._events.append(SubscriptionRequested(message))

    def _on_delete_request(self, message: RicSubscriptionDeleteRequest, now: float) -> None:
        self._send(RicSubscriptionDeleteResponse(message.request_id, message.ran_function_id), now)
        self._events.append(SubscriptionDeleted(message.request_id, message.ran_function_id))

    def _on_control_request(self, message: RicControlRequest, now: float) -> None:
        self._events.append(ControlRequested(message))


# ---------------------------------------------------------------------------------------
# near-RT RIC
# ---------------------------------------------------------------------------------------


class RicLink(E2Link):
    """The near-RT RIC end of one E2 node's link: E2 Setup, subscriptions, controls.

    Args:
        ric_id: the RIC's Global RIC ID (sent in the E2 Setup Response).
        requestor_id: the RIC requestor ID of every RIC request ID this link allocates.
    """

    role = Role.RIC

    def __init__(
        self,
        ric_id: GlobalRicId,
        requestor_id: int = 1,
        config: LinkConfig | None = None,
        name: str = "",
    ) -> None:
        super().__init__(config, name)
        self.ric_id = ric_id
        self.requestor_id = requestor_id
        self.setup_request: E2SetupRequest | None = None
        self.accepted_functions: frozenset[int] = frozenset()
        self._instances = {kind: _IdPool(1, 0xFFFF) for kind in ProcedureKind}
        self._handlers.update(
            {
                E2SetupRequest: self._on_setup_request,
                RicSubscriptionResponse: self._on_subscription_response,
                RicSubscriptionFailure: self._on_subscription_failure,
                RicSubscriptionDeleteResponse: self._on_delete_response,
                RicSubscriptionDeleteFailure: self._on_delete_failure,
                RicIndication: self._on_indication,
                RicControlAcknowledge: self._on_control_outcome,
                RicControlFailure: self._on_control_outcome,
            }
        )

    @property
    def node_id(self) -> GlobalGnbId | None:
        return None if self.setup_request is None else self.setup_request.node_id

    @property
    def ran_functions(self) -> dict[int, RanFunction]:
        """The RAN functions the node advertised in its E2 Setup Request."""
        return {} if self.setup_request is None else {f.id: f for f in self.setup_request.ran_functions}

    # ------------------------------------------------------------------ actions
    def accept_setup(
        self, accepted: Sequence[int], now: float, rejected: Sequence[RanFunctionRejected] = ()
    ) -> None:
        """Answer the pending E2 Setup Request with a response accepting ``accepted``."""
        request = self._pending_setup()
        acks = tuple(E2NodeComponentConfigAck(c.component) for c in request.component_configs)
        response = E2SetupResponse(
            request.transaction_id,
            self.ric_id,
            acks,
            tuple(RanFunctionIdItem(i, self.ran_functions[i].revision) for i in accepted),
            tuple(rejected),
        )
        self._send(response, now)
        self.accepted_functions = frozenset(accepted)

    def reject_setup(self, cause: Cause, now: float, time_to_wait: TimeToWait | None = None) -> None:
        """Answer the pending E2 Setup Request with an E2 Setup Failure."""
        request = self._pending_setup()
        self._send(E2SetupFailure(request.transaction_id, cause, time_to_wait), now)

    def subscribe(
        self, ran_function_id: int, event_trigger: bytes, actions: Sequence[RicActionToBeSetup], now: float
    ) -> RicRequestId:
        """Send a RIC Subscription Request; returns its RIC request ID."""
        self._check_accepted(ran_function_id, RicSubscriptionRequest)
        rid = self._allocate(ProcedureKind.SUBSCRIPTION)
        self._send(RicSubscriptionRequest(rid, ran_function_id, event_trigger, tuple(actions)), now)
        self._timers[("subscription", rid)] = now + self.config.subscription_timeout_s
        return rid

    def delete_subscription(self, request_id: RicRequestId, now: float) -> None:
        """Send a RIC Subscription Delete Request for an active subscription."""
        proc = self._procedures.get((ProcedureKind.SUBSCRIPTION, request_id))
        function = 0 if proc is None else proc.ran_function_id
        self._send(RicSubscriptionDeleteRequest(request_id, function), now)
        self._timers[("delete", request_id)] = now + self.config.delete_timeout_s

    def control(
        self,
        ran_function_id: int,
        header: bytes,
        message: bytes,
        now: float,
        call_process_id: bytes | None = None,
    ) -> RicRequestId:
        """Send a RIC Control Request (acknowledge requested); returns its RIC request ID."""
        self._check_accepted(ran_function_id, RicControlRequest)
        rid = self._allocate(ProcedureKind.CONTROL)
        request = RicControlRequest(
            rid, ran_function_id, header, message, call_process_id, RicControlAckRequest.ACK
        )
        self._send(request, now)
        self._timers[("control", rid)] = now + self.config.control_timeout_s
        return rid

    def _pending_setup(self) -> E2SetupRequest:
        if self.state is not LinkState.SETUP_PENDING or self.setup_request is None:
            raise E2LocalStateError(
                self.role, self.state.value, E2SetupResponse, "no E2 Setup Request pending"
            )
        return self.setup_request

    def _check_accepted(self, ran_function_id: int, what: type[E2apMessage]) -> None:
        if self.established and ran_function_id not in self.accepted_functions:
            raise E2LocalStateError(
                self.role, self.state.value, what, f"RAN function {ran_function_id} was not accepted"
            )

    def _allocate(self, kind: ProcedureKind) -> RicRequestId:
        in_use = _InstancesInUse(self._procedures, kind, self.requestor_id)
        return RicRequestId(self.requestor_id, self._instances[kind].allocate(in_use, "RIC instance ID"))

    # ------------------------------------------------------------------ handlers
    def _on_setup_request(self, message: E2SetupRequest, now: float) -> None:
        if self.setup_request is not None:
            _log.warning("%s: E2 Setup again: releasing every subscription and request", self.name)
            self._release_all()
        self.setup_request = message
        self.name = e2_node_name(message.node_id)
        self._events.append(SetupRequested(message))

    def _on_subscription_response(self, message: RicSubscriptionResponse, now: float) -> None:
        self._timers.pop(("subscription", message.request_id), None)
        self._events.append(SubscriptionSucceeded(message))

    def _on_subscription_failure(self, message: RicSubscriptionFailure, now: float) -> None:
        self._timers.pop(("subscription", message.request_id), None)
        self._events.append(SubscriptionFailed(message))

    def _on_delete_response(self, message: RicSubscriptionDeleteResponse, now: float) -> None:
        self._timers.pop(("delete", message.request_id), None)
        self._events.append(SubscriptionDeleted(message.request_id, message.ran_function_id))

    def _on_delete_failure(self, message: RicSubscriptionDeleteFailure, now: float) -> None:
        self._timers.pop(("delete", message.request_id), None)
        self._events.append(SubscriptionDeleteFailed(message))

    def _on_indication(self, message: RicIndication, now: float) -> None:
        self._events.append(IndicationReceived(message))

    def _on_control_outcome(self, message: RicControlAcknowledge | RicControlFailure, now: float) -> None:
        self._timers.pop(("control", message.request_id), None)
        if isinstance(message, RicControlAcknowledge):
            self._events.append(ControlAcknowledged(message))
        else:
            self._events.append(ControlFailed(message))

    def _on_timeout(self, key: _TimerKey, now: float) -> None:
        kind, rid = key
        if kind == "subscription":
            self._procedures.pop((ProcedureKind.SUBSCRIPTION, rid), None)
            self._events.append(SubscriptionTimedOut(rid))
        elif kind == "delete":
            proc = self._procedures.get((ProcedureKind.SUBSCRIPTION, rid))
            if proc is not None:
                proc.state = ProcedureState.ACTIVE  # still in force as far as we know
            self._events.append(SubscriptionDeleteTimedOut(rid))
        elif kind == "control":
            self._procedures.pop((ProcedureKind.CONTROL, rid), None)
            self._events.append(ControlTimedOut(rid))
        else:
            super()._on_timeout(key, now)
