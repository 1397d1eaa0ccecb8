"""E2 link protocol states and their allowed transitions, as data (after h11's ``_state.py``).

Two tables drive :mod:`ric.link`:

* :data:`LINK_TRANSITIONS` — the connection-level state of one end (role) of an E2 link:
  which E2AP messages it may send or receive in each :class:`LinkState`, and the state each
  one leads to (E2 Setup, Reset);
* :data:`PROCEDURE_TRANSITIONS` — the state of one RIC request (a subscription or a control,
  keyed by its :class:`~ric.e2ap_ies.RicRequestId`): which message moves it where, and when it
  ends (``None``).

A message the peer sends that a table does not allow raises :class:`E2StateError` (a
:class:`~ric.errors.PeerError`) naming the role, the state and the message; the link
converts it, once, into an E2AP Error Indication (or the procedure's failure message) with
the error's ``cause``. A message *we* try to send that the table does not allow raises
:class:`E2LocalStateError` (a :class:`~ric.errors.LocalError`) and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from ric.cause import Cause, CauseProtocol, CauseRicRequest
from ric.e2ap import (
    E2apMessage,
    E2SetupFailure,
    E2SetupRequest,
    E2SetupResponse,
    ErrorIndication,
    ResetRequest,
    ResetResponse,
    RicControlAcknowledge,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicSubscriptionDeleteFailure,
    RicSubscriptionDeleteRequest,
    RicSubscriptionDeleteResponse,
    RicSubscriptionFailure,
    RicSubscriptionRequest,
    RicSubscriptionResponse,
)
from ric.errors import LocalError, PeerError

__all__ = [
    "LINK_TRANSITIONS",
    "PROCEDURE_OF",
    "PROCEDURE_TRANSITIONS",
    "REQUEST_CAUSES",
    "TIMEOUT_TRANSITIONS",
    "Direction",
    "E2LocalStateError",
    "E2StateError",
    "LinkState",
    "MessageType",
    "ProcedureKind",
    "ProcedureState",
    "Role",
    "link_transition",
    "procedure_transition",
]

MessageType = type[E2apMessage]


class Role(Enum):
    """Which end of the E2 link a state machine plays."""

    NODE = "E2 node"
    RIC = "near-RT RIC"


class Direction(Enum):
    SEND = "send"
    RECEIVE = "receive"


class LinkState(Enum):
    """Connection-level state of one end of an E2 link."""

    IDLE = "idle"  # connected, no E2 Setup yet (or the last one failed / timed out)
    SETUP_PENDING = "setup-pending"  # node: request sent; RIC: request received, not answered
    ESTABLISHED = "established"
    RESET_PENDING = "reset-pending"  # we sent a Reset Request and await its response
    CLOSED = "closed"


_S, _R = Direction.SEND, Direction.RECEIVE
_IDLE, _PEND = LinkState.IDLE, LinkState.SETUP_PENDING
_UP, _RESET = LinkState.ESTABLISHED, LinkState.RESET_PENDING

# Messages that travel on an established link without changing the link state.
_NODE_SENDS = (
    RicSubscriptionResponse,
    RicSubscriptionFailure,
    RicSubscriptionDeleteResponse,
    RicSubscriptionDeleteFailure,
    RicIndication,
    RicControlAcknowledge,
    RicControlFailure,
)
_RIC_SENDS = (RicSubscriptionRequest, RicSubscriptionDeleteRequest, RicControlRequest)


_LinkTable = dict[tuple[Direction, MessageType], LinkState]


def _stay(state: LinkState, direction: Direction, types: tuple[MessageType, ...]) -> _LinkTable:
    return {(direction, t): state for t in types}


def _established(role_sends: tuple[MessageType, ...], peer_sends: tuple[MessageType, ...]) -> _LinkTable:
    return {
        **_stay(_UP, _S, (*role_sends, ErrorIndication, ResetResponse)),
        **_stay(_UP, _R, (*peer_sends, ErrorIndication)),
        (_S, ResetRequest): _RESET,
        (_R, ResetRequest): _UP,  # answered with a Reset Response
    }


def _resetting(role_sends: tuple[MessageType, ...], peer_sends: tuple[MessageType, ...]) -> _LinkTable:
    # While our Reset Request is in flight the peer may still send what it sent before it saw
    # it (the link drops those: the procedure table was cleared by the reset) and may itself
    # reset (a collision: both answer).
    return {
        **_stay(_RESET, _S, (ErrorIndication, ResetResponse)),
        **_stay(_RESET, _R, (*peer_sends, ErrorIndication, ResetRequest)),
        (_R, ResetResponse): _UP,
    }


LINK_TRANSITIONS: Mapping[Role, Mapping[LinkState, Mapping[tuple[Direction, MessageType], LinkState]]] = {
    Role.NODE: {
        _IDLE: {(_S, E2SetupRequest): _PEND, (_S, ErrorIndication): _IDLE, (_R, ErrorIndication): _IDLE},
        _PEND: {
            (_R, E2SetupResponse): _UP,
            (_R, E2SetupFailure): _IDLE,
            (_R, ErrorIndication): _PEND,
            (_S, ErrorIndication): _PEND,
        },
        _UP: _established(_NODE_SENDS, _RIC_SENDS),
        _RESET: _resetting(_NODE_SENDS, _RIC_SENDS),
        LinkState.CLOSED: {},
    },
    Role.RIC: {
        _IDLE: {(_R, E2SetupRequest): _PEND, (_S, ErrorIndication): _IDLE, (_R, ErrorIndication): _IDLE},
        _PEND: {
            (_S, E2SetupResponse): _UP,
            (_S, E2SetupFailure): _IDLE,
            (_S, ErrorIndication): _PEND,
            (_R, ErrorIndication): _PEND,
        },
        _UP: {
            **_established(_RIC_SENDS, _NODE_SENDS),
            # A node whose Setup Response timer expired may send E2 Setup again: start over.
            (_R, E2SetupRequest): _PEND,
        },
        _RESET: _resetting(_RIC_SENDS, _NODE_SENDS),
        LinkState.CLOSED: {},
    },
}
"""role -> state -> (direction, message class) -> next state. Absent: not allowed."""


class ProcedureKind(Enum):
    """The two kinds of RIC request whose state is keyed by RIC request ID."""

    SUBSCRIPTION = "subscription"
    CONTROL = "control"


class ProcedureState(Enum):
    REQUESTED = "requested"
    ACTIVE = "active"
    DELETE_REQUESTED = "delete-requested"


PROCEDURE_OF: Mapping[MessageType, ProcedureKind] = {
    **{
        t: ProcedureKind.SUBSCRIPTION
        for t in (
            RicSubscriptionRequest,
            RicSubscriptionResponse,
            RicSubscriptionFailure,
            RicSubscriptionDeleteRequest,
            RicSubscriptionDeleteResponse,
            RicSubscriptionDeleteFailure,
            RicIndication,
        )
    },
    **{t: ProcedureKind.CONTROL for t in (RicControlRequest, RicControlAcknowledge, RicControlFailure)},
}
"""Message classes that belong to a RIC request (keyed by their ``request_id``)."""

_REQ, _ACT, _DEL = ProcedureState.REQUESTED, ProcedureState.ACTIVE, ProcedureState.DELETE_REQUESTED

_Key = tuple[ProcedureState | None, Direction, MessageType]


def _procedures(requester: Direction, responder: Direction) -> dict[_Key, ProcedureState | None]:
    """The procedure table seen from one side (``requester`` = the RIC's direction)."""
    ric, node = requester, responder
    return {
        (None, ric, RicSubscriptionRequest): _REQ,
        (_REQ, node, RicSubscriptionResponse): _ACT,
        (_REQ, node, RicSubscriptionFailure): None,
        (_ACT, node, RicIndication): _ACT,
        (_ACT, ric, RicSubscriptionDeleteRequest): _DEL,
        (_DEL, node, RicIndication): _DEL,  # in flight before the node saw the delete
        (_DEL, node, RicSubscriptionDeleteResponse): None,
        (_DEL, node, RicSubscriptionDeleteFailure): _ACT,
        (None, ric, RicControlRequest): _REQ,
        (_REQ, node, RicControlAcknowledge): None,
        (_REQ, node, RicControlFailure): None,
    }


PROCEDURE_TRANSITIONS: Mapping[Role, Mapping[_Key, ProcedureState | None]] = {
    Role.RIC: _procedures(_S, _R),
    Role.NODE: _procedures(_R, _S),
}
"""role -> (state or None if unknown, direction, message class) -> next state (None: ended)."""

REQUEST_CAUSES: Mapping[tuple[MessageType, bool], Cause] = {
    (RicSubscriptionRequest, True): CauseRicRequest.DUPLICATE_RIC_REQUEST_ID,
    (RicControlRequest, True): CauseRicRequest.DUPLICATE_RIC_REQUEST_ID,
    (RicSubscriptionDeleteRequest, False): CauseRicRequest.REQUEST_ID_UNKNOWN,
}
"""(received request, request ID already in use?) -> cause of the failure we answer with.

Any other message a procedure table refuses is answered with an Error Indication whose
cause is ``request-id-unknown`` (unknown request ID) or ``message-not-compatible-with-
receiver-state`` (known request ID, wrong procedure state)."""


class E2StateError(PeerError):
    """The peer sent a message that the protocol state does not allow.

    ``role`` and ``state`` are ours (the receiver's); ``message`` is the offending message.
    """

    def __init__(
        self,
        role: Role,
        state: str,
        message: E2apMessage,
        cause: Cause = CauseProtocol.MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE,
        detail: str = "",
    ) -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{role.value} in state {state} cannot receive {type(message).__name__}{extra}")
        self.role = role
        self.state = state
        self.message = message
        self.cause: Cause = cause


class E2LocalStateError(LocalError):
    """We tried to send a message that the protocol state does not allow (a bug of ours)."""

    def __init__(self, role: Role, state: str, message_type: MessageType, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{role.value} in state {state} cannot send {message_type.__name__}{extra}")
        self.role = role
        self.state = state
        self.message_type = message_type


def link_transition(role: Role, state: LinkState, direction: Direction, message: E2apMessage) -> LinkState:
    """The link state after ``message`` moves in ``direction``; raises if not allowed."""
    nxt = LINK_TRANSITIONS[role][state].get((direction, type(message)))
    if nxt is not None:
        return nxt
    if direction is Direction.RECEIVE:
        raise E2StateError(role, state.value, message)
    raise E2LocalStateError(role, state.value, type(message))


def procedure_transition(
    role: Role, state: ProcedureState | None, direction: Direction, message: E2apMessage
) -> ProcedureState | None:
    """The procedure state after ``message``; raises if the table does not allow it."""
    table = PROCEDURE_TRANSITIONS[role]
    key = (state, direction, type(message))
    if key in table:
        return table[key]
    what = "unknown-request" if state is None else state.value
    rid = getattr(message, "request_id", None)
    detail = "" if rid is None else f"RIC request ID {rid.requestor}/{rid.instance}"
    if direction is Direction.SEND:
        raise E2LocalStateError(role, what, type(message), detail)
    cause = REQUEST_CAUSES.get((type(message), state is not None))
    if cause is None:
        cause = (
            CauseRicRequest.REQUEST_ID_UNKNOWN
            if state is None
            else CauseProtocol.MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE
        )
    raise E2StateError(role, what, message, cause, detail)


TIMEOUT_TRANSITIONS: Mapping[tuple[Role, LinkState], LinkState] = {
    (Role.NODE, LinkState.SETUP_PENDING): LinkState.IDLE,  # E2 Setup Response timer expired
    (Role.NODE, LinkState.RESET_PENDING): LinkState.ESTABLISHED,  # everything was released anyway
    (Role.RIC, LinkState.RESET_PENDING): LinkState.ESTABLISHED,
}
"""Link state after a link-level procedure timer (E2 Setup, Reset) expires."""
