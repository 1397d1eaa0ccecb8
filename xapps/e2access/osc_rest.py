"""The xApp's side of the Subscription Manager REST API (OSC ``xapp_rest_api.yaml``).

The JSON is built here with the schema's own key names (``ClientEndpoint``, ``HTTPPort``, …):
ricxappframe's ``xapp_subscribe`` emits snake_case keys that a real submgr rejects. Tests
validate :func:`subscription_params` against the Swagger's ``SubscriptionParams`` and the
notification models against ``SubscriptionResponse``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ric.e2ap import RicActionToBeSetup

__all__ = [
    "NOTIFICATION_PATH",
    "SubscriptionInstance",
    "SubscriptionNotification",
    "fingerprint",
    "subscription_params",
]

NOTIFICATION_PATH = "/ric/v1/subscriptions/response"
"""Where submgr POSTs the outcome of a subscription (on the xApp's HTTP port)."""


def _action(a: RicActionToBeSetup) -> dict[str, Any]:
    out: dict[str, Any] = {"ActionID": a.action_id, "ActionType": a.action_type.value}
    if a.definition is not None:
        out["ActionDefinition"] = list(a.definition)
    if a.subsequent_action is not None:
        out["SubsequentAction"] = {
            "SubsequentActionType": a.subsequent_action.type.value,
            "TimeToWait": a.subsequent_action.time_to_wait.value,
        }
    return out


def subscription_params(
    *,
    subscription_id: str | None,
    host: str,
    http_port: int,
    rmr_port: int,
    meid: str,
    ran_function_id: int,
    event_trigger: bytes,
    actions: Sequence[RicActionToBeSetup],
    xapp_event_instance_id: int = 1,
    e2_timeout_s: int = 2,
    e2_retries: int = 2,
) -> dict[str, Any]:
    """A ``SubscriptionParams`` body: one ``SubscriptionDetail`` with these actions."""
    body: dict[str, Any] = {
        "ClientEndpoint": {"Host": host, "HTTPPort": http_port, "RMRPort": rmr_port},
        "Meid": meid,
        "RANFunctionID": ran_function_id,
        "E2SubscriptionDirectives": {
            "E2TimeoutTimerValue": e2_timeout_s,
            "E2RetryCount": e2_retries,
            "RMRRoutingNeeded": True,
        },
        "SubscriptionDetails": [
            {
                "XappEventInstanceId": xapp_event_instance_id,
                "EventTriggers": list(event_trigger),
                "ActionToBeSetupList": [_action(a) for a in actions],
            }
        ],
    }
    if subscription_id is not None:
        body["SubscriptionId"] = subscription_id
    return body


def fingerprint(
    meid: str, ran_function_id: int, event_trigger: bytes, actions: Sequence[RicActionToBeSetup]
) -> str:
    """A stable digest of what a subscription asks for (same request → same digest)."""
    h = hashlib.sha256(f"{meid}|{ran_function_id}|".encode() + event_trigger)
    for a in actions:
        h.update(f"|{a.action_id}:{a.action_type.value}:".encode() + (a.definition or b""))
    return h.hexdigest()[:16]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SubscriptionInstance(_Wire):
    """One E2 subscription's outcome in a notification."""

    XappEventInstanceId: int = Field(ge=0, le=65535)
    E2EventInstanceId: int = Field(ge=0, le=65535)
    ErrorCause: str | None = None
    ErrorSource: str | None = None
    TimeoutType: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.ErrorCause) or bool(self.TimeoutType)


class SubscriptionNotification(_Wire):
    """The ``SubscriptionResponse`` submgr POSTs to :data:`NOTIFICATION_PATH`."""

    SubscriptionId: str = Field(min_length=1)
    SubscriptionInstances: list[SubscriptionInstance]
