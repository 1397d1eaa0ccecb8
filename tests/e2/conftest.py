"""Shared helpers for the E2 link / transport / end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from e2sim.config import ScenarioConfig
from e2sim.e2node import du_node_id, ran_functions
from e2sim.scenario import load_scenario
from ric.e2ap import ComponentInterface, E2NodeComponentConfig, E2NodeComponentId, GlobalRicId
from ric.events import E2Event
from ric.link import LinkConfig, NodeLink, RicLink
from ric.plmn import Plmn

T = TypeVar("T")
PLMN = Plmn("001", "01")


def run_async(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run ``coro`` on a fresh event loop with an overall time bound."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


class LinkPair:
    """An E2 node link and a RIC link wired together in memory (bytes, no sockets)."""

    def __init__(self, config: LinkConfig | None = None) -> None:
        component = E2NodeComponentConfig(E2NodeComponentId(ComponentInterface.F1, node_id=0), b"", b"")
        self.node = NodeLink(du_node_id(PLMN, 0), ran_functions(), (component,), config)
        self.ric = RicLink(GlobalRicId(PLMN, 7), requestor_id=42, config=config)
        self.now = 0.0
        self.wire: list[tuple[str, bytes]] = []  # everything that crossed, in order

    def pump(self) -> None:
        """Deliver every pending PDU in both directions until both sides are quiet."""
        moved = True
        while moved:
            moved = False
            for src, dst, tag in ((self.node, self.ric, "node->ric"), (self.ric, self.node, "ric->node")):
                for pdu in src.data_to_send():
                    self.wire.append((tag, pdu))
                    dst.receive_pdu(pdu, self.now)
                    moved = True

    def node_events(self) -> list[E2Event]:
        return self.node.events()

    def ric_events(self) -> list[E2Event]:
        return self.ric.events()

    def advance(self, seconds: float) -> None:
        """Move the shared clock and fire both links' due timers."""
        self.now += seconds
        for link in (self.node, self.ric):
            when = link.next_timer()
            if when is not None and when <= self.now:
                link.handle_timer(self.now)

    def setup(self) -> None:
        """Run E2 Setup to completion (RIC accepts KPM and RC)."""
        self.node.start_setup(self.now)
        self.pump()
        self.ric.events()
        self.ric.accept_setup([2, 3], self.now)
        self.pump()
        self.node.events()


@pytest.fixture
def pair() -> LinkPair:
    return LinkPair()


@pytest.fixture
def up() -> LinkPair:
    p = LinkPair()
    p.setup()
    return p


def fast_paper() -> ScenarioConfig:
    """The paper scenario (7 DUs × 30 UEs) with fading drawn on used links only (faster)."""
    return load_scenario("paper").with_fading("scheduled")
