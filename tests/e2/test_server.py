"""The RIC library (ric.server) against scripted E2 nodes speaking raw E2AP over TCP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from e2sim.e2node import du_node_id, ran_functions
from ric import e2ap, kpm
from ric.cause import CauseMisc, CauseProtocol, CauseRicRequest, CauseRicService
from ric.e2ap import (
    ComponentInterface,
    E2NodeComponentConfig,
    E2NodeComponentId,
    E2SetupRequest,
    E2SetupResponse,
    ErrorIndication,
    RicControlRequest,
    RicSubscriptionRequest,
    decode_e2ap,
    encode_e2ap,
)
from ric.framing import encode_frame
from ric.link import LinkConfig
from ric.server import (
    E2TimeoutError,
    NodeConnected,
    NodeDisconnected,
    NodeDisconnectedError,
    RicConfig,
    RicServer,
    SubscriptionFailedError,
)
from tests.e2.conftest import PLMN, run_async
from tests.ric.conftest import vector

ACTION = kpm.node_level_action(["RRU.PrbUsedDl"], 10)


class RawNode:
    """A scripted E2 node: raw E2AP PDUs over a length-prefixed TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawNode:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, pdu: bytes | e2ap.E2apMessage) -> None:
        self.writer.write(encode_frame(pdu if isinstance(pdu, bytes) else encode_e2ap(pdu)))

    async def recv(self) -> Any:
        async with asyncio.timeout(10):
            length = int.from_bytes(await self.reader.readexactly(4), "big")
            return decode_e2ap(await self.reader.readexactly(length))

    async def setup(self) -> E2SetupResponse:
        component = E2NodeComponentConfig(E2NodeComponentId(ComponentInterface.F1, node_id=0), b"", b"")
        self.send(E2SetupRequest(0, du_node_id(PLMN, 0), ran_functions(), (component,)))
        response = await self.recv()
        assert isinstance(response, E2SetupResponse)
        return response

    def close(self) -> None:
        self.writer.close()


async def _server(link: LinkConfig | None = None) -> tuple[RicServer, int]:
    server = RicServer(RicConfig(link=link or LinkConfig()))
    return server, await server.start("127.0.0.1", 0)


def test_setup_accepts_what_decodes_and_names_the_node() -> None:
    async def main() -> None:
        server, port = await _server()
        srsran = await RawNode.connect(port)
        srsran.send(vector("e2ap_srsran_e2setup_request_capture"))
        response = await srsran.recv()
        assert isinstance(response, E2SetupResponse)
        assert [f.id for f in response.accepted] == [2] and response.rejected == ()
        assert response.component_acks[0].component.name == "nginterf"
        node = await server.wait_for_node("gnbd_001_001_00019b_0", timeout=10)
        assert node.kpm is not None and node.kpm.report_style(5) is not None
        # Radisys' KPM / RC definitions are not E2SM-KPM v03.00 / RC v01.03: refused at setup
        radisys = await RawNode.connect(port)
        radisys.send(vector("e2ap_radisys_e2setup_request"))
        response = await radisys.recv()
        assert isinstance(response, E2SetupResponse) and response.accepted == ()
        assert [(r.id, r.cause) for r in response.rejected] == [
            (1, CauseRicService.RAN_FUNCTION_NOT_SUPPORTED),
            (2, CauseRicService.RAN_FUNCTION_NOT_SUPPORTED),
        ]
        srsran.close()
        radisys.close()
        await server.close()

    run_async(main())


def test_subscription_indications_garbage_and_error_indication_answers() -> None:
    async def main() -> None:
        server, port = await _server()
        raw = await RawNode.connect(port)
        await raw.setup()
        node = await server.wait_for_node(timeout=10)
        subscribing = asyncio.create_task(node.subscribe_kpm(ACTION, 10))
        request = await raw.recv()
        assert isinstance(request, RicSubscriptionRequest)
        assert kpm.decode_event_trigger(request.event_trigger).period_ms == 10
        raw.send(e2ap.RicSubscriptionResponse(request.request_id, 2, (1,)))
        sub = await subscribing
        message = kpm.KpmIndicationFormat1((kpm.MeasDataItem((7,)),), ACTION.measurements, 10)
        header = kpm.encode_indication_header(kpm.KpmIndicationHeader(kpm.ntp_timestamp(1.7e9)))
        raw.send(b"\x00\x01garbage")  # undecodable: an Error Indication comes back
        answer = await raw.recv()
        assert isinstance(answer, ErrorIndication) and answer.cause is CauseProtocol.TRANSFER_SYNTAX_ERROR
        raw.send(
            e2ap.RicIndication(
                request.request_id,
                2,
                1,
                e2ap.RicIndicationType.REPORT,
                header,
                kpm.encode_indication_message(message),
                5,
            )
        )
        ind = await sub.next(timeout=10)
        assert (
            ind.sn == 5
            and ind.message == message
            and ind.header.collect_start_time == kpm.ntp_timestamp(1.7e9)
        )
        bad = e2ap.RicIndication(request.request_id, 2, 1, e2ap.RicIndicationType.REPORT, b"\xff", b"\xff", 6)
        raw.send(bad)  # E2SM garbage inside a good E2AP PDU: Error Indication, no crash
        answer = await raw.recv()
        assert isinstance(answer, ErrorIndication) and answer.request_id == request.request_id
        assert sub.decode_errors == 1 and sub.active
        # a control the node cannot parse, answered with an Error Indication: a failed outcome
        controlling = node.send_control(3, b"h", b"m")
        control = await raw.recv()
        assert isinstance(control, RicControlRequest)
        raw.send(ErrorIndication(request_id=control.request_id, cause=CauseProtocol.TRANSFER_SYNTAX_ERROR))
        outcome = await controlling
        assert not outcome.acknowledged and outcome.cause is CauseProtocol.TRANSFER_SYNTAX_ERROR
        deleting = asyncio.create_task(sub.delete())
        delete = await raw.recv()
        assert isinstance(delete, e2ap.RicSubscriptionDeleteRequest)
        raw.send(e2ap.RicSubscriptionDeleteResponse(delete.request_id, 2))
        await deleting
        assert sub.end_reason == "deleted" and await sub.next(timeout=1) is None
        raw.close()
        await server.close()

    run_async(main())


def test_failures_timeouts_reset_and_disconnect() -> None:
    async def main() -> None:
        server, port = await _server(LinkConfig(subscription_timeout_s=0.2, control_timeout_s=0.2))
        events = server.node_events()
        raw = await RawNode.connect(port)
        await raw.setup()
        node = await server.wait_for_node(timeout=10)
        connected = await anext(events)
        assert isinstance(connected, NodeConnected) and connected.node is node and not connected.reconnect
        refusing = asyncio.create_task(node.subscribe_kpm(ACTION, 10))
        request = await raw.recv()
        raw.send(e2ap.RicSubscriptionFailure(request.request_id, 2, CauseRicRequest.ACTION_NOT_SUPPORTED))
        with pytest.raises(SubscriptionFailedError) as info:
            await refusing
        assert info.value.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
        with pytest.raises(E2TimeoutError):  # the node never answers (injected short timers)
            await node.subscribe_kpm(ACTION, 10)
        await raw.recv()
        with pytest.raises(E2TimeoutError):
            await node.control(3, b"h", b"m")
        await raw.recv()
        # the node resets the link: subscriptions end, the RIC answers
        subscribing = asyncio.create_task(node.subscribe_kpm(ACTION, 10))
        request = await raw.recv()
        raw.send(e2ap.RicSubscriptionResponse(request.request_id, 2, (1,)))
        sub = await subscribing
        raw.send(e2ap.ResetRequest(9, CauseMisc.OM_INTERVENTION))
        answer = await raw.recv()
        assert isinstance(answer, e2ap.ResetResponse) and answer.transaction_id == 9
        assert await sub.next(timeout=5) is None and "reset by the node" in (sub.end_reason or "")
        # the node goes away with a control pending
        pending = node.send_control(3, b"h", b"m")
        await raw.recv()
        raw.close()
        with pytest.raises(NodeDisconnectedError):
            await pending
        gone = await anext(events)
        assert isinstance(gone, NodeDisconnected) and not node.connected
        with pytest.raises(NodeDisconnectedError):
            node.send_control(3, b"h", b"m")
        # and comes back: same handle
        again = await RawNode.connect(port)
        await again.setup()
        back = await anext(events)
        assert isinstance(back, NodeConnected) and back.reconnect and back.node is node and node.setups == 2
        again.close()
        await server.close()

    run_async(main())
