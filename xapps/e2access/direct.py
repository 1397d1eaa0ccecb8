"""Direct E2 access: the xApp is the RIC side of E2 and E2 nodes connect to it.

A thin adapter over :class:`ric.server.RicServer` (SCTP, or TCP with length framing where the
kernel has no SCTP).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from ric import kpm, rc
from ric.e2ap import RicActionToBeSetup, RicActionType
from ric.ids import SLICE_LEVEL_UE, UeId
from ric.server import (
    ControlOutcome,
    KpmIndication,
    NodeConnected,
    NodeDisconnectedError,
    RicConfig,
    RicServer,
    Subscription,
    decode_kpm_indication,
)
from xapps.e2access.base import KpmAction, NodeDown, NodeEvent, NodeUp

_log = logging.getLogger(__name__)


class DirectE2:
    """:class:`xapps.e2access.base.E2Access` over a listening :class:`RicServer`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, config: RicConfig | None = None) -> None:
        self.server = RicServer(config)
        self.host = host
        self.requested_port = port

    @property
    def port(self) -> int:
        """The bound E2 port (after :meth:`start`)."""
        return self.server.port

    async def start(self) -> None:
        await self.server.start(self.host, self.requested_port)

    async def close(self) -> None:
        await self.server.close()

    async def events(self) -> AsyncIterator[NodeEvent]:
        for name, handle in list(self.server.nodes.items()):
            if handle.connected:
                yield NodeUp(name, reconnect=False)
        async for event in self.server.node_events():
            if isinstance(event, NodeConnected):
                yield NodeUp(event.node.name, event.reconnect)
            else:
                yield NodeDown(event.node.name, event.reason)

    def connected(self, node: str) -> bool:
        handle = self.server.nodes.get(node)
        return handle is not None and handle.connected

    async def subscribe_kpm(
        self,
        node: str,
        actions: Sequence[KpmAction],
        period_ms: int,
        callback: Callable[[KpmIndication], None],
    ) -> Subscription:
        handle = self.server.nodes.get(node)
        if handle is None:
            raise NodeDisconnectedError(f"E2 node {node} has never connected")
        trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(period_ms))
        setups = [
            RicActionToBeSetup(a.action_id, RicActionType.REPORT, kpm.encode_action_definition(a.definition))
            for a in actions
        ]
        return await handle.subscribe(
            kpm.KPM_RAN_FUNCTION_ID, trigger, setups, decoder=decode_kpm_indication, callback=callback
        )

    async def reset(self, node: str) -> None:
        handle = self.server.nodes.get(node)
        if handle is None or not handle.connected:
            raise NodeDisconnectedError(f"E2 node {node} is not connected")
        await handle.reset()

    def send_slice_quotas(
        self, node: str, quotas: Sequence[rc.SlicePrbQuota], ue: UeId = SLICE_LEVEL_UE
    ) -> asyncio.Future[ControlOutcome]:
        handle = self.server.nodes.get(node)
        if handle is None:
            raise NodeDisconnectedError(f"E2 node {node} has never connected")
        return handle.send_slice_quotas(quotas, ue)
