"""Failure and traffic counters of the OSC platform stand-in (each failure is also logged once)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["PlatformCounters"]


@dataclass
class PlatformCounters:
    """What the stand-in counted since it started.

    Attributes:
        indications_forwarded: RIC Indications sent to xApps on RMR 12050.
        indications_unroutable: indications RMR could not deliver to the subscriber.
        controls_forwarded: RIC Control Requests (12040) passed to an E2 node.
        controls_acked, controls_failed: answers returned as 12041 / 12042.
        controls_unanswered: controls the node did not answer (timeout, disconnect): no reply,
            as e2term sends none; the xApp's own timer fires.
        controls_rejected: 12040s refused here (undecodable, unknown or disconnected ``meid``),
            answered with 12042 when the request ID could be read.
        rmr_unexpected: RMR messages of a type the stand-in does not handle.
        rmr_send_failed: RMR sends that failed (any type).
        subscribe_invalid: POSTs whose body is not a valid ``SubscriptionParams`` (400).
        subscribe_refused: POSTs for a node that is not connected (503).
        subscribe_failed: E2 subscriptions refused by, or unanswered by, the node.
        delete_failed: E2 subscription deletes that failed.
        notify_failed: notifications the xApp's endpoint did not accept.
    """

    indications_forwarded: int = 0
    indications_unroutable: int = 0
    controls_forwarded: int = 0
    controls_acked: int = 0
    controls_failed: int = 0
    controls_unanswered: int = 0
    controls_rejected: int = 0
    rmr_unexpected: int = 0
    rmr_send_failed: int = 0
    subscribe_invalid: int = 0
    subscribe_refused: int = 0
    subscribe_failed: int = 0
    delete_failed: int = 0
    notify_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
