"""E2 access through an OSC near-RT RIC: RMR (real librmr via ricxappframe) + submgr/e2mgr REST.

* **Nodes:** the E2 Manager's ``GET /v1/nodeb/states`` is polled (every ``poll_interval_s``,
  each request bounded by ``http_timeout_s``); ``CONNECTED`` ↔ anything else becomes
  :class:`NodeUp` / :class:`NodeDown`. A node that flapped between two polls is caught by its
  subscriptions: when one of them is no longer listed by the Subscription Manager (which deletes
  the subscriptions of a node that disconnects), the node is reported down and up again.
* **Subscriptions:** ``POST {submgr}/ric/v1/subscriptions`` with a ``SubscriptionParams`` built
  by :mod:`xapps.e2access.osc_rest`; the outcome arrives as a POST to
  ``/ric/v1/subscriptions/response`` on :attr:`OscE2.router` (mount it on the xApp's port-8080
  app, or set ``http_bind`` to let :class:`OscE2` serve it). The xApp proposes the
  ``SubscriptionId`` (a digest of node and request), so a notification that beats the HTTP
  response is matched all the same; one whose ID is not known yet is kept until the response
  names it. Indications (RMR 12050, ``sub_id`` = E2 instance ID, ``meid`` = node) that arrive
  before their subscription is registered are kept (bounded) and delivered once it is.
* **Restarts:** every subscription's ID is stored in the SDL (``{ns},<instance>/sub/<id>``).
  A restarted xApp that subscribes the same thing reuses the ID (submgr answers the existing
  subscription again); stored IDs not reused within ``stale_grace_s`` are deleted at submgr.
* **Controls:** an E2AP RIC Control Request (RC style 2 / action 6) on RMR 12040 with
  ``meid`` = node name, routed by the RMR route table; 12041 / 12042 resolve the future by
  RIC request ID; no answer within ``control_timeout_s`` → :class:`ric.server.E2TimeoutError`.
* **Failures** are counted in :class:`OscE2Counters` and logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ric import kpm, rc
from ric.cause import Cause, CauseMisc, cause_from_wire
from ric.e2ap import (
    RicActionToBeSetup,
    RicActionType,
    RicControlAcknowledge,
    RicControlAckRequest,
    RicControlFailure,
    RicControlRequest,
    RicIndication,
    RicRequestId,
)
from ric.e2sm_common import preload_service_models
from ric.errors import E2DecodeError, E2smDecodeError
from ric.ids import SLICE_LEVEL_UE, UeId
from ric.rmr import (
    RmrConfig,
    RmrEndpoint,
    RmrMessage,
    RmrSendError,
    RmrType,
    decode_e2ap_payload,
    encode_e2ap_payload,
)
from ric.sdl import SdlStore, SdlUnavailableError
from ric.server import (
    ControlOutcome,
    E2TimeoutError,
    KpmIndication,
    NodeDisconnectedError,
    SubscriptionFailedError,
    decode_kpm_indication,
)
from xapps.e2access.base import KpmAction, NodeDown, NodeEvent, NodeUp
from xapps.e2access.osc_rest import (
    NOTIFICATION_PATH,
    SubscriptionInstance,
    SubscriptionNotification,
    fingerprint,
    subscription_params,
)
from xapps.service.http import HttpServer, serve

__all__ = ["OscE2", "OscE2Counters", "OscE2Settings", "OscSubscription"]

_log = logging.getLogger(__name__)

_EARLY_LIMIT = 256  # notifications kept for IDs not known yet
_UNCLAIMED_PER_KEY = 64  # indications kept per (node, sub_id) before their subscription registers
_UNCLAIMED_KEYS = 64


class OscE2Settings(BaseModel):
    """How :class:`OscE2` reaches the platform (defaults: an OSC deployment's service names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rmr_port: int = Field(4560, ge=1, le=65535, description="RMR data port (descriptor port 'rmrdata')")
    rmr_route_table: Path | None = Field(
        None, description="static RMR route table (RMR_SEED_RT); None: the environment's"
    )
    submgr_url: str = Field(
        "http://service-ricplt-submgr-http.ricplt:8088",
        pattern=r"^https?://",
        description="Subscription Manager",
    )
    e2mgr_url: str = Field(
        "http://service-ricplt-e2mgr-http.ricplt:3800", pattern=r"^https?://", description="E2 Manager"
    )
    client_host: str = Field(
        "service-ricxapp-metahrl-du-http.ricxapp",
        min_length=1,
        description="ClientEndpoint.Host: where submgr posts notifications and routes indications",
    )
    http_port: int = Field(8080, ge=0, le=65535, description="ClientEndpoint.HTTPPort (the xApp's HTTP port)")
    http_bind: str | None = Field(
        None, description="serve the notification endpoint here on http_port (None: mount OscE2.router)"
    )
    instance: str = Field(
        "du-xapp", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="xApp instance name"
    )
    sdl_namespace: str = Field("metahrl-osc", min_length=1, description="SDL namespace of subscription IDs")
    requestor_id: int = Field(1, ge=0, le=65535, description="RIC requestor ID of our control requests")
    poll_interval_s: float = Field(1.0, gt=0, le=60, description="E2 Manager / submgr poll period")
    http_timeout_s: float = Field(2.0, gt=0, le=60, description="bound on every REST request")
    subscription_timeout_s: float = Field(5.0, gt=0, le=120, description="wait for a subscription's outcome")
    control_timeout_s: float = Field(1.0, gt=0, le=60, description="wait for a control's ack / failure")
    stale_grace_s: float = Field(30.0, ge=0, description="keep stored subscriptions this long for reuse")


@dataclass
class OscE2Counters:
    """Traffic and failures (each failure is logged once where it is counted)."""

    indications: int = 0
    indications_unmatched: int = 0
    indications_undecodable: int = 0
    callback_errors: int = 0
    controls_sent: int = 0
    controls_acked: int = 0
    controls_failed: int = 0
    controls_timed_out: int = 0
    controls_unmatched: int = 0
    rmr_send_failures: int = 0
    rmr_unexpected: int = 0
    subscribe_failures: int = 0
    subscribe_timeouts: int = 0
    subscriptions_reused: int = 0
    delete_failures: int = 0
    stale_deleted: int = 0
    notifications_invalid: int = 0
    notifications_early: int = 0
    poll_failures: int = 0
    sdl_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class OscSubscription:
    """A live KPM subscription through submgr (:class:`xapps.e2access.base.KpmSubscription`)."""

    def __init__(
        self,
        owner: OscE2,
        subscription_id: str,
        node: str,
        instances: tuple[int, ...],
        callback: Callable[[KpmIndication], None],
    ) -> None:
        self.owner = owner
        self.subscription_id = subscription_id
        self.node = node
        self.instances = instances
        self.callback = callback
        self.end_reason: str | None = None
        self.received = 0

    @property
    def active(self) -> bool:
        return self.end_reason is None

    async def delete(self) -> None:
        await self.owner._delete(self)

    def _end(self, reason: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            _log.info("%s: subscription %s ended: %s", self.node, self.subscription_id, reason)


@dataclass
class _PendingControl:
    node: str
    future: asyncio.Future[ControlOutcome]
    timer: asyncio.TimerHandle


@lru_cache(maxsize=4096)
def _quota_payloads(ue: UeId, quotas: tuple[rc.SlicePrbQuota, ...]) -> tuple[bytes, bytes]:
    return rc.encode_control_header(rc.slice_prb_quota_header(ue)), rc.encode_slice_prb_quota(quotas)


def _cause_of(text: str | None) -> Cause:
    kind, _, value = (text or "").partition(":")
    try:
        return cause_from_wire(kind, value)
    except (ValueError, KeyError):
        return CauseMisc.UNSPECIFIED


class OscE2:
    """:class:`xapps.e2access.base.E2Access` through an OSC platform (see the module docstring)."""

    def __init__(self, settings: OscE2Settings, sdl: SdlStore) -> None:
        self.settings = settings
        self.sdl = sdl
        self.counters = OscE2Counters()
        self.router = self._make_router()
        self.rmr = RmrEndpoint(
            RmrConfig(port=settings.rmr_port, route_table=settings.rmr_route_table), self._on_rmr
        )
        self._http: httpx.AsyncClient | None = None
        self._server: HttpServer | None = None
        self._http_port = settings.http_port
        self._up: dict[str, bool] = {}
        self._events: asyncio.Queue[NodeEvent] = asyncio.Queue()
        self._subs: dict[str, OscSubscription] = {}
        self._by_instance: dict[tuple[str, int], OscSubscription] = {}
        self._unclaimed: OrderedDict[tuple[str, int], deque[RmrMessage]] = OrderedDict()
        self._waiting: dict[str, asyncio.Future[SubscriptionNotification]] = {}
        self._early: OrderedDict[str, SubscriptionNotification] = OrderedDict()
        self._stale: dict[str, str] = {}  # SubscriptionId -> node, loaded from the SDL
        self._controls: dict[int, _PendingControl] = {}
        self._instances = itertools.cycle(range(1, 65536))
        self._tasks: list[asyncio.Task[None]] = []
        self._deleting: set[asyncio.Task[bool]] = set()
        self._poll_ok = True
        self._warned: set[tuple[str, int]] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def http_port(self) -> int:
        """ClientEndpoint.HTTPPort (the bound one when OscE2 serves its own endpoint)."""
        return self._http_port

    @property
    def platform_reachable(self) -> bool:
        """Whether the last E2 Manager / submgr poll succeeded (for readiness)."""
        return self._poll_ok and self._http is not None

    def use_http_port(self, port: int) -> None:
        """The port the app that mounts :attr:`router` is bound to, when it was started on port
        0 after this object was built (it goes into ``ClientEndpoint.HTTPPort``)."""
        if not 0 < port < 65536:
            raise ValueError(f"http port must be 1..65535, got {port}")
        self._http_port = port

    async def start(self) -> None:
        s = self.settings
        await asyncio.to_thread(preload_service_models)  # the first control must not stall the loop
        await self.rmr.open()
        self._http = httpx.AsyncClient(timeout=s.http_timeout_s)
        if s.http_bind is not None:
            app = FastAPI(title="OscE2 notifications")
            app.include_router(self.router)
            self._server, self._http_port = await serve(app, s.http_bind, s.http_port)
        self._load_stale()
        await self._poll_once()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._poll_loop()), loop.create_task(self._purge_stale_later())]

    async def close(self, *, keep_subscriptions: bool = False) -> None:
        """Stop. Subscriptions are deleted at submgr, unless ``keep_subscriptions``: then they
        stay there and in the SDL for the next run of this instance to reuse (a rolling restart;
        what it does not reuse within ``stale_grace_s`` it deletes)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._deleting, return_exceptions=True)
        self._tasks = []
        for sub in list(self._subs.values()):
            if keep_subscriptions:
                self._forget(sub, "closed (kept at submgr)")
                continue
            with contextlib.suppress(Exception):
                await self._delete(sub)
        for pending in list(self._controls.values()):
            pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_exception(NodeDisconnectedError("E2 access closed"))
        self._controls.clear()
        self.rmr.close()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ E2Access
    async def events(self) -> AsyncIterator[NodeEvent]:
        while True:
            yield await self._events.get()

    def connected(self, node: str) -> bool:
        return self._up.get(node, False)

    async def reset(self, node: str) -> None:
        raise ValueError("E2 Reset is the platform's in osc mode (the E2 termination owns the link)")

    async def subscribe_kpm(
        self,
        node: str,
        actions: Sequence[KpmAction],
        period_ms: int,
        callback: Callable[[KpmIndication], None],
    ) -> OscSubscription:
        if not self.connected(node):
            raise NodeDisconnectedError(f"E2 node {node} is not connected")
        trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(period_ms))
        setups = [
            RicActionToBeSetup(a.action_id, RicActionType.REPORT, kpm.encode_action_definition(a.definition))
            for a in actions
        ]
        sub_id = self._subscription_id(node, trigger, setups)
        if self._stale.pop(sub_id, None) is not None:
            self.counters.subscriptions_reused += 1
            _log.info("%s: reusing stored subscription %s", node, sub_id)
        notification = await self._request_subscription(node, sub_id, trigger, setups)
        return self._register(node, notification, callback)

    def _subscription_id(self, node: str, trigger: bytes, setups: Sequence[RicActionToBeSetup]) -> str:
        """``<instance>.<digest of the request>``: the same request gets the same ID (so a restart
        can reuse it); a second live subscription of the same request gets a suffix."""
        base = f"{self.settings.instance}.{fingerprint(node, kpm.KPM_RAN_FUNCTION_ID, trigger, setups)}"
        sub_id, n = base, 2
        while sub_id in self._subs:
            sub_id, n = f"{base}-{n}", n + 1
        return sub_id

    def send_slice_quotas(
        self, node: str, quotas: Sequence[rc.SlicePrbQuota], ue: UeId = SLICE_LEVEL_UE
    ) -> asyncio.Future[ControlOutcome]:
        if not self.connected(node):
            raise NodeDisconnectedError(f"E2 node {node} is not connected")
        loop = asyncio.get_running_loop()
        header, message = _quota_payloads(ue, tuple(quotas))
        instance = next(self._instances)
        rid = RicRequestId(self.settings.requestor_id, instance)
        request = RicControlRequest(
            rid, rc.RC_RAN_FUNCTION_ID, header, message, None, RicControlAckRequest.ACK
        )
        future: asyncio.Future[ControlOutcome] = loop.create_future()
        try:
            self.rmr.send(RmrType.RIC_CONTROL_REQ, encode_e2ap_payload(request), meid=node)
        except RmrSendError as exc:
            self.counters.rmr_send_failures += 1
            _log.warning("%s: control not sent: %s", node, exc)
            future.set_exception(NodeDisconnectedError(f"{node}: RMR: {exc}"))
            return future
        self.counters.controls_sent += 1
        timer = loop.call_later(self.settings.control_timeout_s, self._control_timed_out, instance)
        stale = self._controls.pop(instance, None)
        if stale is not None:  # 65535 controls later, still unanswered
            stale.timer.cancel()
        self._controls[instance] = _PendingControl(node, future, timer)
        return future

    # ------------------------------------------------------------------ subscriptions
    async def _request_subscription(
        self, node: str, sub_id: str, trigger: bytes, setups: Sequence[RicActionToBeSetup]
    ) -> SubscriptionNotification:
        s = self.settings
        body = subscription_params(
            subscription_id=sub_id,
            host=s.client_host,
            http_port=self.http_port,
            rmr_port=s.rmr_port,
            meid=node,
            ran_function_id=kpm.KPM_RAN_FUNCTION_ID,
            event_trigger=trigger,
            actions=setups,
            e2_timeout_s=max(1, min(10, round(s.subscription_timeout_s / 2))),
        )
        answer_id = await self._post_subscription(node, body)
        if answer_id != sub_id:
            _log.info("%s: submgr allocated %s instead of %s", node, answer_id, sub_id)
        try:
            async with asyncio.timeout(s.subscription_timeout_s):
                notification = await self._notification(answer_id)
        except TimeoutError:
            self.counters.subscribe_timeouts += 1
            _log.warning("%s: no notification for subscription %s", node, answer_id)
            await self._http_delete(answer_id)
            raise E2TimeoutError(f"{node}: no outcome for subscription {answer_id}") from None
        finally:
            self._waiting.pop(answer_id, None)
        self._check_instances(node, notification)
        return notification

    async def _post_subscription(self, node: str, body: dict[str, Any]) -> str:
        assert self._http is not None, "OscE2.start() first"
        try:
            response = await self._http.post(f"{self.settings.submgr_url}/ric/v1/subscriptions", json=body)
        except httpx.HTTPError as exc:
            self.counters.subscribe_failures += 1
            _log.warning("%s: submgr unreachable: %s", node, exc)
            raise E2TimeoutError(f"{node}: Subscription Manager unreachable: {exc}") from exc
        if response.status_code == 503:
            self.counters.subscribe_failures += 1
            _log.warning("%s: submgr: node not connected", node)
            raise NodeDisconnectedError(f"{node}: Subscription Manager says the node is not connected")
        try:
            response.raise_for_status()
            return str(response.json()["SubscriptionId"])
        except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
            self.counters.subscribe_failures += 1
            _log.warning(
                "%s: submgr refused the subscription: %s %s", node, response.status_code, response.text
            )
            raise SubscriptionFailedError(
                f"{node}: submgr answered {response.status_code}", CauseMisc.UNSPECIFIED
            ) from exc

    async def _notification(self, sub_id: str) -> SubscriptionNotification:
        early = self._early.pop(sub_id, None)
        if early is not None:
            return early
        future = self._waiting.get(sub_id)
        if future is None or future.done():
            future = self._waiting[sub_id] = asyncio.get_running_loop().create_future()
        return await future

    def _check_instances(self, node: str, notification: SubscriptionNotification) -> None:
        failed = [i for i in notification.SubscriptionInstances if i.failed]
        if not failed and notification.SubscriptionInstances:
            return
        self.counters.subscribe_failures += 1
        first: SubscriptionInstance | None = failed[0] if failed else None
        _log.warning("%s: subscription %s failed: %s", node, notification.SubscriptionId, first)
        self._spawn_delete(notification.SubscriptionId)
        if first is not None and first.TimeoutType:
            raise E2TimeoutError(f"{node}: {first.TimeoutType}: {first.ErrorCause}")
        cause = _cause_of(first.ErrorCause if first else None)
        raise SubscriptionFailedError(
            f"{node}: subscription refused: {first.ErrorCause if first else 'no instances'}", cause
        )

    def _register(
        self, node: str, notification: SubscriptionNotification, callback: Callable[[KpmIndication], None]
    ) -> OscSubscription:
        instances = tuple(i.E2EventInstanceId for i in notification.SubscriptionInstances)
        sub = OscSubscription(self, notification.SubscriptionId, node, instances, callback)
        self._subs[sub.subscription_id] = sub
        for instance in instances:
            self._by_instance[(node, instance)] = sub
        self._store(sub)
        for instance in instances:
            for message in self._unclaimed.pop((node, instance), ()):
                self._indication(sub, message)
        return sub

    async def _delete(self, sub: OscSubscription) -> None:
        if not sub.active:
            return
        self._forget(sub, "deleted")
        if await self._http_delete(sub.subscription_id):
            self._unstore(sub.subscription_id)

    def _forget(self, sub: OscSubscription, reason: str) -> None:
        sub._end(reason)
        self._subs.pop(sub.subscription_id, None)
        for instance in sub.instances:
            if self._by_instance.get((sub.node, instance)) is sub:
                del self._by_instance[(sub.node, instance)]

    async def _http_delete(self, sub_id: str) -> bool:
        """DELETE at submgr; True when it is gone there (204, or 400: unknown to it)."""
        if self._http is None:
            return False
        try:
            response = await self._http.delete(f"{self.settings.submgr_url}/ric/v1/subscriptions/{sub_id}")
        except httpx.HTTPError as exc:
            self.counters.delete_failures += 1
            _log.warning("delete of subscription %s failed: %s", sub_id, exc)
            return False
        if response.status_code in (204, 400, 404):
            return True
        self.counters.delete_failures += 1
        _log.warning("delete of subscription %s: submgr answered %d", sub_id, response.status_code)
        return False

    def _spawn_delete(self, sub_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._http_delete(sub_id))
        self._deleting.add(task)  # a strong reference until it is done
        task.add_done_callback(self._deleting.discard)

    # ------------------------------------------------------------------ SDL
    def _key(self, sub_id: str) -> str:
        return f"{self.settings.instance}/sub/{sub_id}"

    def _store(self, sub: OscSubscription) -> None:
        record = json.dumps({"node": sub.node, "instances": list(sub.instances)}).encode()
        try:
            self.sdl.set(self.settings.sdl_namespace, {self._key(sub.subscription_id): record})
        except SdlUnavailableError as exc:
            self.counters.sdl_failures += 1
            _log.warning("subscription %s not stored in the SDL: %s", sub.subscription_id, exc)

    def _unstore(self, sub_id: str) -> None:
        try:
            self.sdl.delete(self.settings.sdl_namespace, [self._key(sub_id)])
        except SdlUnavailableError as exc:
            self.counters.sdl_failures += 1
            _log.warning("subscription %s not removed from the SDL: %s", sub_id, exc)

    def stored_subscriptions(self) -> dict[str, str]:
        """SubscriptionId → node of every subscription stored in the SDL by this instance."""
        prefix = self._key("")
        try:
            keys = self.sdl.keys(self.settings.sdl_namespace, prefix + "*")
            values = self.sdl.get(self.settings.sdl_namespace, keys)
        except SdlUnavailableError as exc:
            self.counters.sdl_failures += 1
            _log.warning("stored subscriptions unreadable: %s", exc)
            return {}
        out: dict[str, str] = {}
        for key, raw in values.items():
            try:
                out[key[len(prefix) :]] = str(json.loads(raw)["node"])
            except (ValueError, KeyError, TypeError):
                self.counters.sdl_failures += 1
                _log.warning("unreadable SDL record %s", key)
        return out

    def _load_stale(self) -> None:
        self._stale = self.stored_subscriptions()
        if self._stale:
            _log.info("stored subscriptions from a previous run: %s", sorted(self._stale))

    async def _purge_stale_later(self) -> None:
        await asyncio.sleep(self.settings.stale_grace_s)
        await self.purge_stale()

    async def purge_stale(self) -> None:
        """Delete stored subscriptions of a previous run that were not reused."""
        for sub_id in list(self._stale):
            self._stale.pop(sub_id, None)
            if await self._http_delete(sub_id):
                self._unstore(sub_id)
                self.counters.stale_deleted += 1
                _log.info("deleted stale subscription %s", sub_id)

    # ------------------------------------------------------------------ node states
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            await self._poll_once()

    async def _get_json(self, url: str) -> Any:
        assert self._http is not None
        response = await self._http.get(url)
        response.raise_for_status()
        return response.json()

    async def _poll_once(self) -> None:
        known = list(self._subs.values())  # only these can be checked against the listing below
        try:
            states = await self._get_json(f"{self.settings.e2mgr_url}/v1/nodeb/states")
            listed = (
                await self._get_json(f"{self.settings.submgr_url}/ric/v1/subscriptions") if known else None
            )
            now_up = {str(n["inventoryName"]): n.get("connectionStatus") == "CONNECTED" for n in states}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.counters.poll_failures += 1
            if self._poll_ok:
                _log.warning("E2 Manager / submgr poll failed (logged once until it recovers): %s", exc)
            self._poll_ok = False
            return
        if not self._poll_ok:
            _log.info("E2 Manager / submgr poll recovered")
        self._poll_ok = True
        self._apply_states(now_up)
        if listed is not None:
            self._check_listed(listed, [sub for sub in known if sub.active])

    def _apply_states(self, now_up: dict[str, bool]) -> None:
        for node in sorted(set(self._up) | set(now_up)):
            was, up = self._up.get(node), now_up.get(node, False)
            if up and not was:
                self._up[node] = True
                self._events.put_nowait(NodeUp(node, reconnect=was is not None))
            elif was and not up:
                self._node_down(node, "E2 Manager: not connected")

    def _check_listed(self, listed: Any, known: list[OscSubscription]) -> None:
        """Nodes whose subscriptions submgr no longer lists went down and came back."""
        present = {
            (str(item.get("Meid")), int(inst.get("E2EventInstanceId", -1)))
            for item in listed
            for inst in item.get("SubscriptionInstances") or ()
        }
        for node in sorted({s.node for s in known}):
            gone = [s for s in known if s.node == node and any((node, i) not in present for i in s.instances)]
            if gone and self.connected(node):
                self._node_down(node, "its subscriptions were deleted by the platform")
                self._up[node] = True
                self._events.put_nowait(NodeUp(node, reconnect=True))

    def _node_down(self, node: str, reason: str) -> None:
        self._up[node] = False
        for sub in [s for s in self._subs.values() if s.node == node]:
            self._forget(sub, f"node down: {reason}")
            self._unstore(sub.subscription_id)
        for instance, pending in list(self._controls.items()):
            if pending.node == node:
                del self._controls[instance]
                pending.timer.cancel()
                if not pending.future.done():
                    pending.future.set_exception(NodeDisconnectedError(f"{node}: {reason}"))
        self._events.put_nowait(NodeDown(node, reason))

    # ------------------------------------------------------------------ RMR
    def _on_rmr(self, message: RmrMessage) -> None:
        if message.mtype == RmrType.RIC_INDICATION:
            sub = self._by_instance.get((message.meid, message.sub_id))
            if sub is None:
                self._keep_unclaimed(message)
            else:
                self._indication(sub, message)
        elif message.mtype in (RmrType.RIC_CONTROL_ACK, RmrType.RIC_CONTROL_FAILURE):
            self._control_answer(message)
        else:
            self.counters.rmr_unexpected += 1
            _log.warning("RMR message type %d from %s not handled", message.mtype, message.source)

    def _keep_unclaimed(self, message: RmrMessage) -> None:
        key = (message.meid, message.sub_id)
        queue = self._unclaimed.get(key)
        if queue is None:
            if len(self._unclaimed) >= _UNCLAIMED_KEYS:
                _old, dropped = self._unclaimed.popitem(last=False)
                self.counters.indications_unmatched += len(dropped)
            queue = self._unclaimed[key] = deque(maxlen=_UNCLAIMED_PER_KEY)
        if len(queue) == queue.maxlen:
            self.counters.indications_unmatched += 1
            if key not in self._warned:
                self._warned.add(key)
                _log.warning("indications for unknown subscription %s of %s dropped", key[1], key[0])
        queue.append(message)

    def _indication(self, sub: OscSubscription, message: RmrMessage) -> None:
        now = asyncio.get_running_loop().time()
        try:
            ind = decode_e2ap_payload(message.payload)
            if not isinstance(ind, RicIndication):
                raise E2DecodeError(f"{type(ind).__name__} on RMR 12050")
            item = decode_kpm_indication(sub.node, ind, now)
        except (E2DecodeError, E2smDecodeError) as exc:
            self.counters.indications_undecodable += 1
            _log.warning("%s: undecodable indication of %s: %s", sub.node, sub.subscription_id, exc)
            return
        self.counters.indications += 1
        sub.received += 1
        try:
            sub.callback(item)
        except Exception:  # an xApp bug must not stop reception
            self.counters.callback_errors += 1
            _log.exception("%s: indication callback of %s failed", sub.node, sub.subscription_id)

    def _control_answer(self, message: RmrMessage) -> None:
        try:
            answer = decode_e2ap_payload(message.payload)
            if not isinstance(answer, RicControlAcknowledge | RicControlFailure):
                raise E2DecodeError(f"{type(answer).__name__} on RMR {message.mtype}")
        except E2DecodeError as exc:
            self.counters.controls_unmatched += 1
            _log.warning("%s: undecodable control answer: %s", message.meid, exc)
            return
        pending = self._controls.pop(answer.request_id.instance, None)
        if pending is None or answer.request_id.requestor != self.settings.requestor_id:
            self.counters.controls_unmatched += 1
            _log.warning("%s: answer to unknown control %s (late?)", message.meid, answer.request_id)
            return
        pending.timer.cancel()
        if isinstance(answer, RicControlAcknowledge):
            self.counters.controls_acked += 1
            outcome = ControlOutcome(answer.request_id, True, None, answer.outcome, answer.call_process_id)
        else:
            self.counters.controls_failed += 1
            outcome = ControlOutcome(
                answer.request_id, False, answer.cause, answer.outcome, answer.call_process_id
            )
        if not pending.future.done():
            pending.future.set_result(outcome)

    def _control_timed_out(self, instance: int) -> None:
        pending = self._controls.pop(instance, None)
        if pending is None:
            return
        self.counters.controls_timed_out += 1
        _log.warning(
            "%s: no answer to control %d within %.3g s",
            pending.node,
            instance,
            self.settings.control_timeout_s,
        )
        if not pending.future.done():
            pending.future.set_exception(E2TimeoutError(f"{pending.node}: no answer to control {instance}"))

    # ------------------------------------------------------------------ HTTP
    def _make_router(self) -> APIRouter:
        router = APIRouter()

        @router.post(NOTIFICATION_PATH)
        async def notification(request: Request) -> Response:
            try:
                body = SubscriptionNotification.model_validate(await request.json())
            except (ValidationError, ValueError) as exc:
                self.counters.notifications_invalid += 1
                _log.warning("invalid subscription notification: %s", exc)
                return Response(status_code=400)
            self._on_notification(body)
            return Response(status_code=200)

        return router

    def _on_notification(self, body: SubscriptionNotification) -> None:
        future = self._waiting.get(body.SubscriptionId)
        if future is not None and not future.done():
            future.set_result(body)
            return
        self.counters.notifications_early += 1
        self._early[body.SubscriptionId] = body
        while len(self._early) > _EARLY_LIMIT:
            self._early.popitem(last=False)
