"""Subscription Manager stand-in: OSC submgr's REST API for xApps (``xapp_rest_api.yaml``).

Behaviour, as submgr documents it:

* ``POST /ric/v1/subscriptions`` with ``SubscriptionParams`` → ``201 SubscriptionResponse``
  carrying the ``SubscriptionId`` (allocated unless the xApp gave one; an existing one of the same
  ``Meid`` is answered again, as submgr does for a retried request, at the request's — possibly
  new — ``ClientEndpoint``) and no instances yet. Each
  ``SubscriptionDetail`` becomes one E2 RIC Subscription Request to the node; its
  ``E2EventInstanceId`` is the RIC instance ID of that E2 subscription, which is also the RMR
  ``sub_id`` of its RIC Indications (12050). The outcome is POSTed asynchronously to the
  xApp's ``ClientEndpoint`` at ``/ric/v1/subscriptions/response`` (a ``SubscriptionResponse``
  whose instances carry ``ErrorCause`` / ``ErrorSource`` / ``TimeoutType`` on failure) — and it
  can arrive before the HTTP response (``notify_first`` makes that happen every time).
  A body that does not match the schema → 400; a ``Meid`` that is not connected → 503.
* ``DELETE /ric/v1/subscriptions/{id}`` → RIC Subscription Delete to the node, 204; an unknown
  ID → 400 ("Invalid subscriptionId supplied").
* ``GET /ric/v1/subscriptions`` → ``SubscriptionList``.
* When an E2 node disconnects (or resets), every subscription of that node is deleted
  (submgr's ``RAN_CONNECTION_STATUS_CHANGE`` handling); the xApp re-subscribes once e2mgr shows
  the node ``CONNECTED`` again.

``ErrorCause`` of an E2 failure is ``"<cause group>:<cause value>"`` in E2AP's spelling
(``ricRequest:action-not-supported``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from osc_platform.counters import PlatformCounters
from ric.cause import cause_kind
from ric.e2ap import RicActionToBeSetup, RicActionType, RicSubsequentAction
from ric.e2ap_ies import RicSubsequentActionType, RicTimeToWait
from ric.server import (
    E2NodeHandle,
    E2TimeoutError,
    Indication,
    NodeDisconnectedError,
    RicServer,
    Subscription,
    SubscriptionFailedError,
)

__all__ = ["SubscriptionManager", "SubscriptionParams", "submgr_router"]

_log = logging.getLogger(__name__)

NOTIFICATION_PATH = "/ric/v1/subscriptions/response"


# ---------------------------------------------------------------------------------------
# The Swagger's request body, as pydantic models (field names as on the wire)
# ---------------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Octets = list[Annotated[int, Field(ge=0, le=255)]]
"""An E2SM byte array (the Swagger's integer arrays; each item is one octet)."""


class EndpointBody(_Wire):
    Host: str = Field(min_length=1)
    HTTPPort: int = Field(ge=0, le=65535)
    RMRPort: int = Field(ge=0, le=65535)


class SubsequentActionBody(_Wire):
    SubsequentActionType: Literal["continue", "wait"]
    TimeToWait: str


class ActionBody(_Wire):
    ActionID: int = Field(ge=0, le=255)
    ActionType: Literal["insert", "policy", "report"]
    ActionDefinition: Octets | None = None
    SubsequentAction: SubsequentActionBody | None = None


class DetailBody(_Wire):
    XappEventInstanceId: int = Field(ge=0, le=65535)
    EventTriggers: Octets
    ActionToBeSetupList: list[ActionBody]


class DirectivesBody(_Wire):
    E2TimeoutTimerValue: int | None = Field(default=None, ge=1, le=10)
    E2RetryCount: int | None = Field(default=None, ge=0, le=10)
    RMRRoutingNeeded: bool | None = None


class SubscriptionParams(_Wire):
    SubscriptionId: str | None = None
    ClientEndpoint: EndpointBody
    Meid: str = Field(min_length=1)
    RANFunctionID: int = Field(ge=0, le=4095)
    E2SubscriptionDirectives: DirectivesBody | None = None
    SubscriptionDetails: list[DetailBody] = Field(min_length=1)


def _octets(values: list[int]) -> bytes:
    if any(not 0 <= v <= 255 for v in values):
        raise ValueError("E2SM byte arrays hold integers 0..255")
    return bytes(values)


_TIME_TO_WAIT = {"zero": "w1ms"}  # E2AP has no zero wait; the shortest is 1 ms


def _actions(detail: DetailBody) -> tuple[RicActionToBeSetup, ...]:
    out = []
    for a in detail.ActionToBeSetupList:
        definition = None if a.ActionDefinition is None else _octets(a.ActionDefinition)
        subsequent = None
        if a.SubsequentAction is not None:
            wait = a.SubsequentAction.TimeToWait
            subsequent = RicSubsequentAction(
                RicSubsequentActionType(a.SubsequentAction.SubsequentActionType),
                RicTimeToWait(_TIME_TO_WAIT.get(wait, wait)),
            )
        out.append(RicActionToBeSetup(a.ActionID, RicActionType(a.ActionType), definition, subsequent))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# The manager
# ---------------------------------------------------------------------------------------


@dataclass
class RestSubscription:
    """One REST subscription: an xApp's request and the E2 subscriptions made for it."""

    subscription_id: str
    params: SubscriptionParams
    e2: list[Subscription] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def meid(self) -> str:
        return self.params.Meid

    @property
    def rmr_endpoint(self) -> str:
        ep = self.params.ClientEndpoint
        return f"{ep.Host}:{ep.RMRPort}"

    @property
    def notify_url(self) -> str:
        ep = self.params.ClientEndpoint
        return f"http://{ep.Host}:{ep.HTTPPort}{NOTIFICATION_PATH}"


IndicationSink = Callable[[RestSubscription, Indication], None]


class SubscriptionManager:
    """Subscriptions of xApps over the E2 nodes of a :class:`RicServer` (see the module doc).

    Args:
        server: the E2 termination's server (nodes by name = ``Meid``).
        sink: where each E2 subscription's indications go (the RMR side).
        counters: failure counters.
        notify_first: send the notification before answering the POST.
        http_timeout_s: bound on each notification POST.
        e2_retries: E2 subscription attempts after a timeout unless ``E2RetryCount`` says.
    """

    def __init__(
        self,
        server: RicServer,
        sink: IndicationSink,
        counters: PlatformCounters,
        *,
        notify_first: bool = False,
        http_timeout_s: float = 2.0,
        e2_retries: int = 1,
    ) -> None:
        self.server = server
        self.sink = sink
        self.counters = counters
        self.notify_first = notify_first
        self.e2_retries = e2_retries
        self.subscriptions: dict[str, RestSubscription] = {}
        self._ids = itertools.count(1)
        self._http = httpx.AsyncClient(timeout=http_timeout_s)
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    # ------------------------------------------------------------------ REST operations
    async def subscribe(self, params: SubscriptionParams) -> tuple[int, dict[str, Any]]:
        """Handle a POST: (HTTP status, body)."""
        node = self.server.nodes.get(params.Meid)
        if node is None or not node.connected:
            self.counters.subscribe_refused += 1
            _log.warning("submgr: subscription for %s refused: E2 node not connected", params.Meid)
            return 503, {"error": f"E2 node {params.Meid} is not connected"}
        existing = self.subscriptions.get(params.SubscriptionId or "")
        if existing is not None and existing.meid == params.Meid:
            existing.params = params  # the xApp may answer (and receive) elsewhere after a restart
            self._spawn(self._renotify(existing))
            return 201, {"SubscriptionId": existing.subscription_id, "SubscriptionInstances": []}
        sub_id = params.SubscriptionId or self._new_id()
        rest = RestSubscription(sub_id, params)
        self.subscriptions[sub_id] = rest
        if self.notify_first:
            await self._establish(rest, node)
        else:
            self._spawn(self._establish(rest, node))
        return 201, {"SubscriptionId": sub_id, "SubscriptionInstances": []}

    async def unsubscribe(self, subscription_id: str) -> int:
        """Handle a DELETE: the HTTP status."""
        rest = self.subscriptions.pop(subscription_id, None)
        if rest is None:
            return 400
        await self._delete_e2(rest)
        _log.info("submgr: subscription %s of %s deleted", subscription_id, rest.meid)
        return 204

    def listing(self) -> list[dict[str, Any]]:
        """``SubscriptionList``."""
        return [
            {
                "SubscriptionId": int(r.subscription_id) if r.subscription_id.isdigit() else 0,
                "Meid": r.meid,
                "ClientEndpoint": [r.notify_url, r.rmr_endpoint],
                "SubscriptionInstances": r.instances,
            }
            for r in self.subscriptions.values()
        ]

    def active_ids(self) -> list[str]:
        return list(self.subscriptions)

    def node_disconnected(self, node: str) -> None:
        """Delete every subscription of ``node`` (its E2 subscriptions ended with the link)."""
        gone = [k for k, r in self.subscriptions.items() if r.meid == node]
        for key in gone:
            del self.subscriptions[key]
        if gone:
            _log.info("submgr: %s disconnected; deleted subscriptions %s", node, gone)

    # ------------------------------------------------------------------ internals
    def _new_id(self) -> str:
        while True:
            candidate = str(next(self._ids))
            if candidate not in self.subscriptions:
                return candidate

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _establish(self, rest: RestSubscription, node: E2NodeHandle) -> None:
        for detail in rest.params.SubscriptionDetails:
            rest.instances.append(await self._e2_subscribe(rest, node, detail))
        rest.done.set()
        await self._notify(rest)

    async def _e2_subscribe(
        self, rest: RestSubscription, node: E2NodeHandle, detail: DetailBody
    ) -> dict[str, Any]:
        instance: dict[str, Any] = {"XappEventInstanceId": detail.XappEventInstanceId, "E2EventInstanceId": 0}
        directives = rest.params.E2SubscriptionDirectives
        retries = (
            self.e2_retries
            if directives is None or directives.E2RetryCount is None
            else directives.E2RetryCount
        )
        try:
            actions, trigger = _actions(detail), _octets(detail.EventTriggers)
        except ValueError as exc:
            self.counters.subscribe_failed += 1
            _log.warning("submgr: %s: bad subscription detail: %s", rest.subscription_id, exc)
            return {**instance, "ErrorCause": str(exc), "ErrorSource": "ASN1"}
        for attempt in range(retries + 1):
            try:
                sub = await node.subscribe(
                    rest.params.RANFunctionID, trigger, actions, callback=lambda ind: self.sink(rest, ind)
                )
            except E2TimeoutError:
                if attempt < retries:
                    continue
                self.counters.subscribe_failed += 1
                _log.warning("submgr: %s: E2 subscription timed out", rest.subscription_id)
                return {
                    **instance,
                    "ErrorCause": "no answer from the E2 node",
                    "ErrorSource": "E2Node",
                    "TimeoutType": "E2-Timeout",
                }
            except SubscriptionFailedError as exc:
                self.counters.subscribe_failed += 1
                _log.warning("submgr: %s: E2 node refused: %s", rest.subscription_id, exc.cause)
                cause = f"{cause_kind(exc.cause).value}:{exc.cause.value}"
                return {**instance, "ErrorCause": cause, "ErrorSource": "E2Node"}
            except NodeDisconnectedError as exc:
                self.counters.subscribe_failed += 1
                _log.warning("submgr: %s: %s", rest.subscription_id, exc)
                return {**instance, "ErrorCause": str(exc), "ErrorSource": "E2Node"}
            rest.e2.append(sub)
            return {**instance, "E2EventInstanceId": sub.request_id.instance, "ErrorCause": ""}
        raise AssertionError("unreachable")

    async def _renotify(self, rest: RestSubscription) -> None:
        await rest.done.wait()
        await self._notify(rest)

    async def _notify(self, rest: RestSubscription) -> None:
        body = {"SubscriptionId": rest.subscription_id, "SubscriptionInstances": rest.instances}
        try:
            response = await self._http.post(rest.notify_url, json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.counters.notify_failed += 1
            _log.warning(
                "submgr: notification of %s to %s failed: %r", rest.subscription_id, rest.notify_url, exc
            )

    async def _delete_e2(self, rest: RestSubscription) -> None:
        for sub in rest.e2:
            if not sub.active:
                continue
            try:
                await sub.delete()
            except (E2TimeoutError, NodeDisconnectedError, SubscriptionFailedError) as exc:
                self.counters.delete_failed += 1
                _log.warning("submgr: E2 delete of %s failed: %s", sub.request_id, exc)


# ---------------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------------


def submgr_router(manager: SubscriptionManager) -> APIRouter:
    """submgr's xApp-facing routes (mount at the root; paths carry ``/ric/v1``)."""
    router = APIRouter()

    @router.post("/ric/v1/subscriptions")
    async def subscribe(request: Request) -> Response:
        try:
            params = SubscriptionParams.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            manager.counters.subscribe_invalid += 1
            _log.warning("submgr: invalid SubscriptionParams: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        status, body = await manager.subscribe(params)
        return JSONResponse(body, status_code=status)

    @router.delete("/ric/v1/subscriptions/{subscription_id}")
    async def unsubscribe(subscription_id: str) -> Response:
        return Response(status_code=await manager.unsubscribe(subscription_id))

    @router.get("/ric/v1/subscriptions")
    async def listing() -> Response:
        return JSONResponse(manager.listing())

    return router
