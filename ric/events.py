"""Events returned by the sans-IO E2 links (:mod:`ric.link`).

A link turns received PDUs and expired timers into these typed events (``link.next_event()``).
Events that need an answer from the application say so: the E2 node answers
:class:`SubscriptionRequested` and :class:`ControlRequested`, the RIC answers
:class:`SetupRequested`. Everything else is information; the link has already done what
the protocol requires (answered a Reset, a Subscription Delete, a malformed message).
"""

from __future__ import annotations

from dataclasses import dataclass

from ric.cause import Cause
from ric.e2ap import (
    E2SetupFailure,
    E2SetupRequest,
    E2SetupResponse,
    ErrorIndication,
    RicControlAcknowledge,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicRequestId,
    RicSubscriptionDeleteFailure,
    RicSubscriptionFailure,
    RicSubscriptionRequest,
    RicSubscriptionResponse,
)

__all__ = [
    "ControlAcknowledged",
    "ControlFailed",
    "ControlRequested",
    "ControlTimedOut",
    "E2Event",
    "ErrorIndicationReceived",
    "IndicationReceived",
    "PeerProtocolError",
    "ResetCompleted",
    "ResetReceived",
    "ResetTimedOut",
    "SetupCompleted",
    "SetupFailed",
    "SetupRequested",
    "SetupTimedOut",
    "SubscriptionDeleteFailed",
    "SubscriptionDeleteTimedOut",
    "SubscriptionDeleted",
    "SubscriptionFailed",
    "SubscriptionRequested",
    "SubscriptionSucceeded",
    "SubscriptionTimedOut",
]


# ------------------------------------------------------------------ both roles


@dataclass(frozen=True, slots=True)
class ErrorIndicationReceived:
    message: ErrorIndication


@dataclass(frozen=True, slots=True)
class PeerProtocolError:
    """The peer sent something we could not accept; ``answer`` names what we replied with
    (``"ErrorIndication"``, a failure message, or ``None`` when the protocol says to ignore)."""

    description: str
    cause: Cause
    answer: str | None


@dataclass(frozen=True, slots=True)
class ResetReceived:
    """The peer reset the link (we answered): every subscription and pending request is gone."""

    cause: Cause


@dataclass(frozen=True, slots=True)
class ResetCompleted:
    """Our Reset Request was answered."""

    transaction_id: int


@dataclass(frozen=True, slots=True)
class ResetTimedOut:
    transaction_id: int


# ------------------------------------------------------------------ E2 node side


@dataclass(frozen=True, slots=True)
class SetupCompleted:
    response: E2SetupResponse


@dataclass(frozen=True, slots=True)
class SetupFailed:
    failure: E2SetupFailure


@dataclass(frozen=True, slots=True)
class SetupTimedOut:
    transaction_id: int


@dataclass(frozen=True, slots=True)
class SubscriptionRequested:
    """Answer with ``NodeLink.accept_subscription`` or ``NodeLink.reject_subscription``."""

    request: RicSubscriptionRequest


@dataclass(frozen=True, slots=True)
class ControlRequested:
    """Answer with ``NodeLink.acknowledge_control`` or ``NodeLink.fail_control``."""

    request: RicControlRequest


# ------------------------------------------------------------------ both (delete) / RIC side


@dataclass(frozen=True, slots=True)
class SubscriptionDeleted:
    """Node: the RIC deleted it (answered already). RIC: the node confirmed the delete."""

    request_id: RicRequestId
    ran_function_id: int


@dataclass(frozen=True, slots=True)
class SetupRequested:
    """Answer with ``RicLink.accept_setup`` or ``RicLink.reject_setup``."""

    request: E2SetupRequest


@dataclass(frozen=True, slots=True)
class SubscriptionSucceeded:
    response: RicSubscriptionResponse


@dataclass(frozen=True, slots=True)
class SubscriptionFailed:
    failure: RicSubscriptionFailure


@dataclass(frozen=True, slots=True)
class SubscriptionTimedOut:
    request_id: RicRequestId


@dataclass(frozen=True, slots=True)
class SubscriptionDeleteFailed:
    failure: RicSubscriptionDeleteFailure


@dataclass(frozen=True, slots=True)
class SubscriptionDeleteTimedOut:
    request_id: RicRequestId


@dataclass(frozen=True, slots=True)
class IndicationReceived:
    indication: RicIndication


@dataclass(frozen=True, slots=True)
class ControlAcknowledged:
    acknowledge: RicControlAcknowledge


@dataclass(frozen=True, slots=True)
class ControlFailed:
    failure: RicControlFailure


@dataclass(frozen=True, slots=True)
class ControlTimedOut:
    request_id: RicRequestId


E2Event = (
    ErrorIndicationReceived
    | PeerProtocolError
    | ResetReceived
    | ResetCompleted
    | ResetTimedOut
    | SetupCompleted
    | SetupFailed
    | SetupTimedOut
    | SubscriptionRequested
    | ControlRequested
    | SubscriptionDeleted
    | SetupRequested
    | SubscriptionSucceeded
    | SubscriptionFailed
    | SubscriptionTimedOut
    | SubscriptionDeleteFailed
    | SubscriptionDeleteTimedOut
    | IndicationReceived
    | ControlAcknowledged
    | ControlFailed
    | ControlTimedOut
)
