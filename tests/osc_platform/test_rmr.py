"""ric.rmr over the real librmr: routing by table, wormholes, return to sender, failures."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ric.e2ap import RicControlRequest, RicRequestId
from ric.rmr import (
    RmrConfig,
    RmrEndpoint,
    RmrError,
    RmrMessage,
    RmrSendError,
    RmrType,
    decode_e2ap_payload,
    encode_e2ap_payload,
    load_rmr,
    write_route_table,
)
from tests.osc_platform.conftest import free_port, require_rmr, run_async
from tests.ric.conftest import REPO_ROOT

pytestmark = pytest.mark.usefixtures("_rmr")


@pytest.fixture
def _rmr() -> None:
    require_rmr()


def test_route_table_wormhole_and_return_to_sender(tmp_path: Path) -> None:
    async def main() -> None:
        a_port, b_port = free_port(), free_port()
        table = write_route_table(tmp_path / "rt", {RmrType.RIC_CONTROL_REQ: f"127.0.0.1:{a_port}"})
        at_a: asyncio.Queue[RmrMessage] = asyncio.Queue()
        at_b: asyncio.Queue[RmrMessage] = asyncio.Queue()

        def keep(message: RmrMessage) -> None:  # keep the buffer past the callback, to answer later
            a.hold(message)
            at_a.put_nowait(message)

        a = RmrEndpoint(RmrConfig(port=a_port, route_table=table), keep)
        b = RmrEndpoint(RmrConfig(port=b_port, route_table=table), at_b.put_nowait)
        await a.open()
        await b.open()
        try:
            request = RicControlRequest(RicRequestId(7, 9), 3, b"\x01\x02", b"\x03")
            b.send(RmrType.RIC_CONTROL_REQ, encode_e2ap_payload(request), meid="gnbd_001_001_000001_0")
            got = await asyncio.wait_for(at_a.get(), 5)
            assert got.mtype == 12040 and got.meid == "gnbd_001_001_000001_0" and got.sub_id == -1
            assert decode_e2ap_payload(got.payload) == request  # E2AP-PDU bytes end to end
            a.reply(got, RmrType.RIC_CONTROL_ACK, b"ack")
            answer = await asyncio.wait_for(at_b.get(), 5)
            assert (answer.mtype, answer.payload) == (12041, b"ack")
            with pytest.raises(RmrError):
                a.reply(got, RmrType.RIC_CONTROL_ACK, b"twice")  # its buffer went with the reply

            a.send_to(f"127.0.0.1:{b_port}", RmrType.RIC_INDICATION, b"ind", meid="gnb", sub_id=42)
            ind = await asyncio.wait_for(at_b.get(), 5)  # b does not hold: its buffers are freed
            assert (ind.mtype, ind.sub_id, ind.meid, ind.payload) == (12050, 42, "gnb", b"ind")

            with pytest.raises(RmrSendError) as info:  # no route for this type
                b.send(RmrType.RIC_SUB_REQ, b"x")
            assert info.value.state == "RMR_ERR_NOENDPT" and b.send_failures == 1
            with pytest.raises(RmrSendError):  # nobody listens there
                a.send_to(f"127.0.0.1:{free_port()}", RmrType.RIC_INDICATION, b"x")
            assert a.send_failures == 1  # counted once although it was tried twice
        finally:
            a.close()
            b.close()
        assert not a.is_open
        with pytest.raises(RmrError):
            a.send(RmrType.RIC_CONTROL_REQ, b"x")

    run_async(main())


_SLOW_HELPERS = (  # ricxappframe's per-message helpers: ~0.2 ms per received KPM indication
    "get_payload",
    "get_xaction",
    "get_src",
    "rmr_get_meid",
    "rmr_set_meid",
    "set_transaction_id",
    "generate_and_set_transaction_id",
)


def _nodelay_towards(port: int) -> list[bool]:
    """``TCP_NODELAY`` of each TCP connection this process opened to ``port`` (RMR writes on
    those: return-to-sender, too, connects to the sender's port)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            fd = os.dup(int(name))
        except OSError:
            continue
        try:
            sock = socket.socket(fileno=fd)
        except OSError:  # not a socket
            os.close(fd)
            continue
        with sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
                continue
            try:
                peer_port = sock.getpeername()[1]
            except OSError:  # listening, not connected
                continue
            if peer_port == port:
                found.append(bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
    return found


def test_messages_cross_without_ricxappframes_per_message_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending and receiving read and fill RMR's buffers directly: ricxappframe's helpers copy
    payloads through a Python list and re-parse RMR's constants on every call, which kept the
    xApp's event loop saturated at a 10 ms KPM period."""
    rmr = load_rmr()

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a per-message ricxappframe helper was called")

    for name in _SLOW_HELPERS:
        monkeypatch.setattr(rmr, name, refuse)

    async def main() -> None:
        a_port, b_port = free_port(), free_port()
        table = write_route_table(tmp_path / "rt", {RmrType.RIC_CONTROL_REQ: f"127.0.0.1:{b_port}"})
        at_b: asyncio.Queue[RmrMessage] = asyncio.Queue()
        a = RmrEndpoint(RmrConfig(port=a_port, route_table=table), lambda m: None)
        b = RmrEndpoint(RmrConfig(port=b_port, route_table=table), at_b.put_nowait)
        await a.open()
        await b.open()
        try:
            payload = bytes(range(256)) * 10  # a KPM indication's size, every byte value
            longest = "m" * 31  # RMR keeps 31 bytes and a NUL
            a.send(RmrType.RIC_CONTROL_REQ, payload, meid=longest, sub_id=5)
            a.send_to(f"127.0.0.1:{b_port}", RmrType.RIC_INDICATION, b"", sub_id=6)
            first = await asyncio.wait_for(at_b.get(), 5)
            second = await asyncio.wait_for(at_b.get(), 5)
            assert (first.mtype, first.payload, first.meid, first.sub_id) == (12040, payload, longest, 5)
            assert (second.mtype, second.payload, second.meid, second.sub_id) == (12050, b"", "", 6)
            assert first.source == second.source and first.source.endswith(f":{a_port}")
            assert first.transaction and second.transaction and first.transaction != second.transaction
            with pytest.raises(RmrSendError) as info:  # refused, not cut to another node's name
                a.send(RmrType.RIC_CONTROL_REQ, b"x", meid="m" * 32)
            assert info.value.state == "RMR_ERR_OVERFLOW"
        finally:
            a.close()
            b.close()

    run_async(main())


def test_connections_do_not_wait_for_acks(tmp_path: Path) -> None:
    """``TCP_NODELAY`` on the connections RMR opens (its default leaves Nagle's algorithm on),
    towards a route-table peer and back to the sender on return-to-sender."""

    async def main() -> None:
        a_port, b_port = free_port(), free_port()
        table = write_route_table(tmp_path / "rt", {RmrType.RIC_CONTROL_REQ: f"127.0.0.1:{b_port}"})
        at_a: asyncio.Queue[RmrMessage] = asyncio.Queue()

        def answer(message: RmrMessage) -> None:
            b.hold(message)
            b.reply(message, RmrType.RIC_CONTROL_ACK, b"ack")

        a = RmrEndpoint(RmrConfig(port=a_port, route_table=table), at_a.put_nowait)
        b = RmrEndpoint(RmrConfig(port=b_port, route_table=table), answer)
        await a.open()
        await b.open()
        try:
            a.send(RmrType.RIC_CONTROL_REQ, b"control")
            assert (await asyncio.wait_for(at_a.get(), 5)).payload == b"ack"
            for port in (b_port, a_port):
                nodelay = _nodelay_towards(port)
                assert nodelay and all(nodelay), (port, nodelay)
        finally:
            a.close()
            b.close()

    run_async(main())


def test_a_missing_library_is_a_clear_error() -> None:
    code = "from ric.rmr import load_rmr\nload_rmr()\n"
    env = {**os.environ, "METAHRL_RMR_LIB": "/nonexistent/librmr_si.so"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "RmrUnavailableError" in proc.stderr and "/nonexistent/librmr_si.so" in proc.stderr
