"""E2AP Cause values (O-RAN.WG3.E2AP §9.2.1.2), one enum per cause group.

A cause is a member of one of the six enums; the enum class is the group, so
``CauseMisc.UNSPECIFIED`` and ``CauseProtocol.UNSPECIFIED`` stay distinct (plain ``Enum``,
not ``StrEnum``, on purpose). The wire spelling is the member's ``value``.
"""

from __future__ import annotations

from enum import Enum
from typing import cast

__all__ = [
    "Cause",
    "CauseE2Node",
    "CauseKind",
    "CauseMisc",
    "CauseProtocol",
    "CauseRicRequest",
    "CauseRicService",
    "CauseTransport",
    "cause_from_wire",
    "cause_kind",
]


class CauseKind(Enum):
    """The CHOICE alternative of the E2AP ``Cause`` IE."""

    RIC_REQUEST = "ricRequest"
    RIC_SERVICE = "ricService"
    E2_NODE = "e2Node"
    TRANSPORT = "transport"
    PROTOCOL = "protocol"
    MISC = "misc"


class CauseRicRequest(Enum):
    RAN_FUNCTION_ID_INVALID = "ran-function-id-invalid"
    ACTION_NOT_SUPPORTED = "action-not-supported"
    EXCESSIVE_ACTIONS = "excessive-actions"
    DUPLICATE_ACTION = "duplicate-action"
    DUPLICATE_EVENT_TRIGGER = "duplicate-event-trigger"
    FUNCTION_RESOURCE_LIMIT = "function-resource-limit"
    REQUEST_ID_UNKNOWN = "request-id-unknown"
    INCONSISTENT_ACTION_SUBSEQUENT_ACTION_SEQUENCE = "inconsistent-action-subsequent-action-sequence"
    CONTROL_MESSAGE_INVALID = "control-message-invalid"
    RIC_CALL_PROCESS_ID_INVALID = "ric-call-process-id-invalid"
    CONTROL_TIMER_EXPIRED = "control-timer-expired"
    CONTROL_FAILED_TO_EXECUTE = "control-failed-to-execute"
    SYSTEM_NOT_READY = "system-not-ready"
    UNSPECIFIED = "unspecified"
    # Extension additions (E2AP v02.00 and later).
    RIC_SUBSCRIPTION_END_TIME_EXPIRED = "ric-subscription-end-time-expired"
    RIC_SUBSCRIPTION_END_TIME_INVALID = "ric-subscription-end-time-invalid"
    DUPLICATE_RIC_REQUEST_ID = "duplicate-ric-request-id"
    EVENT_TRIGGER_NOT_SUPPORTED = "eventTriggerNotSupported"
    REQUESTED_INFORMATION_UNAVAILABLE = "requested-information-unavailable"
    INVALID_INFORMATION_REQUEST = "invalid-information-request"


class CauseRicService(Enum):
    RAN_FUNCTION_NOT_SUPPORTED = "ran-function-not-supported"
    EXCESSIVE_FUNCTIONS = "excessive-functions"
    RIC_RESOURCE_LIMIT = "ric-resource-limit"


class CauseE2Node(Enum):
    E2NODE_COMPONENT_UNKNOWN = "e2node-component-unknown"


class CauseTransport(Enum):
    UNSPECIFIED = "unspecified"
    TRANSPORT_RESOURCE_UNAVAILABLE = "transport-resource-unavailable"


class CauseProtocol(Enum):
    TRANSFER_SYNTAX_ERROR = "transfer-syntax-error"
    ABSTRACT_SYNTAX_ERROR_REJECT = "abstract-syntax-error-reject"
    ABSTRACT_SYNTAX_ERROR_IGNORE_AND_NOTIFY = "abstract-syntax-error-ignore-and-notify"
    MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE = "message-not-compatible-with-receiver-state"
    SEMANTIC_ERROR = "semantic-error"
    ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE = "abstract-syntax-error-falsely-constructed-message"
    UNSPECIFIED = "unspecified"


class CauseMisc(Enum):
    CONTROL_PROCESSING_OVERLOAD = "control-processing-overload"
    HARDWARE_FAILURE = "hardware-failure"
    OM_INTERVENTION = "om-intervention"
    UNSPECIFIED = "unspecified"


Cause = CauseRicRequest | CauseRicService | CauseE2Node | CauseTransport | CauseProtocol | CauseMisc

_GROUPS: dict[CauseKind, type[Enum]] = {
    CauseKind.RIC_REQUEST: CauseRicRequest,
    CauseKind.RIC_SERVICE: CauseRicService,
    CauseKind.E2_NODE: CauseE2Node,
    CauseKind.TRANSPORT: CauseTransport,
    CauseKind.PROTOCOL: CauseProtocol,
    CauseKind.MISC: CauseMisc,
}
_KIND_OF: dict[type[Enum], CauseKind] = {group: kind for kind, group in _GROUPS.items()}


def cause_kind(cause: Cause) -> CauseKind:
    """The cause group (CHOICE alternative) of ``cause``."""
    return _KIND_OF[type(cause)]


def cause_from_wire(kind: str, value: str) -> Cause:
    """Build a cause from its wire spelling, e.g. ``("misc", "unspecified")``.

    Raises ``ValueError`` for an unknown group or value.
    """
    group = _GROUPS[CauseKind(kind)]
    return cast(Cause, group(value))
