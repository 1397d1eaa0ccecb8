"""One interface for the DU xApp's E2 access, whatever carries it.

The control loop sees E2 nodes by name (``e2_node_name`` of their Global E2 node ID, the OSC
``meid``), subscribes to E2SM-KPM reports and sends E2SM-RC slice / per-UE PRB quotas. Two
implementations:

* ``direct`` (:mod:`xapps.e2access.direct`): the xApp is the RIC side of E2 (:mod:`ric.server`);
  E2 nodes connect to it over SCTP or TCP framing.
* ``osc`` (:mod:`xapps.e2access.osc`): through an OSC near-RT RIC — RIC Indications on RMR 12050,
  RIC Control Requests on 12040 answered by 12041 / 12042, subscriptions through the Subscription
  Manager's REST API, node states from the E2 Manager.

Both hand the loop decoded :class:`ric.server.KpmIndication` objects and resolve each control
with a :class:`ric.server.ControlOutcome`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ric import kpm, rc
from ric.ids import SLICE_LEVEL_UE, UeId
from ric.server import ControlOutcome, KpmIndication


@dataclass(frozen=True, slots=True)
class NodeUp:
    """An E2 node completed E2 Setup (``reconnect``: it had been seen before)."""

    node: str
    reconnect: bool


@dataclass(frozen=True, slots=True)
class NodeDown:
    """An E2 node's connection went away; its subscriptions are gone."""

    node: str
    reason: str


NodeEvent = NodeUp | NodeDown


@dataclass(frozen=True, slots=True)
class KpmAction:
    """One REPORT action of a KPM subscription."""

    action_id: int
    definition: kpm.KpmActionDefinition


class KpmSubscription(Protocol):
    """A live KPM subscription; indications go to the callback given at subscribe time."""

    @property
    def active(self) -> bool: ...

    async def delete(self) -> None: ...


class E2Access(Protocol):
    """What the DU xApp needs of E2. Every method runs on the xApp's event loop."""

    async def start(self) -> None:
        """Start listening / connect to the platform."""
        ...

    async def close(self) -> None:
        """Stop; pending controls fail, subscriptions end."""
        ...

    def events(self) -> AsyncIterator[NodeEvent]:
        """Nodes coming up and going down, as they happen (a node already up at start is
        reported as :class:`NodeUp`)."""
        ...

    def connected(self, node: str) -> bool:
        """Whether ``node`` is up now."""
        ...

    async def subscribe_kpm(
        self,
        node: str,
        actions: Sequence[KpmAction],
        period_ms: int,
        callback: Callable[[KpmIndication], None],
    ) -> KpmSubscription:
        """Subscribe to ``node``'s KPM reports every ``period_ms`` with these actions; raise
        :class:`ric.server.SubscriptionFailedError`, :class:`ric.server.E2TimeoutError` or
        :class:`ric.server.NodeDisconnectedError`."""
        ...

    async def reset(self, node: str) -> None:
        """RIC-initiated E2 Reset of ``node``'s link (O&M): every subscription ends, pending
        requests fail; raise ``ValueError`` where this access cannot reset (OSC: the E2
        termination owns the link) and :class:`ric.server.NodeDisconnectedError` if it is down."""
        ...

    def send_slice_quotas(
        self, node: str, quotas: Sequence[rc.SlicePrbQuota], ue: UeId = SLICE_LEVEL_UE
    ) -> asyncio.Future[ControlOutcome]:
        """E2SM-RC style 2 / action 6: slice PRB quotas for the DU (``SLICE_LEVEL_UE``) or a UE's
        PRB ratio. Send now; the future resolves with the node's outcome, or fails with
        :class:`ric.server.E2TimeoutError` / :class:`ric.server.NodeDisconnectedError`."""
        ...
