"""The E2 node side's connection: E2 Setup failure with time-to-wait, reconnect, released."""

from __future__ import annotations

import asyncio

import pytest

from e2sim.e2node import du_node_id, ran_functions
from ric.cause import CauseRicService
from ric.client import E2NodeClient
from ric.e2ap import (
    ComponentInterface,
    E2NodeComponentConfig,
    E2NodeComponentConfigAck,
    E2NodeComponentId,
    E2SetupFailure,
    E2SetupRequest,
    E2SetupResponse,
    GlobalRicId,
    RanFunctionIdItem,
    RicControlRequest,
    RicRequestId,
    RicSubscriptionRequest,
    TimeToWait,
    decode_e2ap,
    encode_e2ap,
)
from ric.framing import encode_frame
from ric.link import NodeLink
from ric.states import E2LocalStateError
from ric.transport import Backoff
from tests.e2.conftest import PLMN, run_async

COMPONENT = E2NodeComponentConfig(E2NodeComponentId(ComponentInterface.F1, node_id=0), b"", b"")


class App:
    """A NodeApplication that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def setup_completed(self, client: E2NodeClient, response: E2SetupResponse) -> None:
        self.calls.append("setup")

    def subscription_requested(self, client: E2NodeClient, request: RicSubscriptionRequest) -> None:
        self.calls.append("subscription")

    def subscription_deleted(self, client: E2NodeClient, request_id: RicRequestId) -> None:
        self.calls.append("deleted")

    def control_requested(self, client: E2NodeClient, request: RicControlRequest) -> None:
        self.calls.append("control")

    def released(self, client: E2NodeClient, reason: str) -> None:
        self.calls.append(f"released: {reason}")


def test_setup_failure_waits_time_to_wait_then_reconnects() -> None:
    async def main() -> None:
        answers = iter(["fail", "accept"])
        setups: list[E2SetupRequest] = []

        async def ric(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            length = int.from_bytes(await reader.readexactly(4), "big")
            request = decode_e2ap(await reader.readexactly(length))
            assert isinstance(request, E2SetupRequest)
            setups.append(request)
            if next(answers) == "fail":
                answer: E2SetupFailure | E2SetupResponse = E2SetupFailure(
                    request.transaction_id, CauseRicService.RIC_RESOURCE_LIMIT, TimeToWait.V2S
                )
            else:
                ack = E2NodeComponentConfigAck(COMPONENT.component)
                answer = E2SetupResponse(
                    request.transaction_id, GlobalRicId(PLMN, 1), (ack,), (RanFunctionIdItem(2),)
                )
            writer.write(encode_frame(encode_e2ap(answer)))
            await reader.read()  # until the client closes
            writer.close()

        server = await asyncio.start_server(ric, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        slept: list[float] = []

        async def sleep(delay: float) -> None:  # injected: records, does not wait
            slept.append(delay)
            await asyncio.sleep(0)

        app = App()
        client = E2NodeClient(
            "127.0.0.1",
            port,
            lambda: NodeLink(du_node_id(PLMN, 0), ran_functions(), (COMPONENT,)),
            app,
            backoff=Backoff(initial_s=0.1, max_s=1.0),
            sleep=sleep,
        )
        running = asyncio.create_task(client.run())
        await client.wait_established(timeout=10)
        assert len(setups) == 2 and client.established
        assert slept == [2.0]  # max(backoff ≤ 0.12 s, time to wait 2 s)
        assert (client.counters.connects, client.counters.setup_failures, client.counters.setups) == (2, 1, 1)
        assert app.calls == ["released: disconnected", "setup"]
        with pytest.raises(E2LocalStateError, match="unknown-request cannot send RicIndication"):
            client.send_indication(RicRequestId(1, 1), 1, b"h", b"m")  # we have no such subscription
        client.stop()
        await running
        server.close()
        await server.wait_closed()

    run_async(main())
