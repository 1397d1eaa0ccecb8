"""ric.rmr over the real librmr: routing by table, wormholes, return to sender, failures."""

from __future__ import annotations

import asyncio
import os
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


def test_a_missing_library_is_a_clear_error() -> None:
    code = "from ric.rmr import load_rmr\nload_rmr()\n"
    env = {**os.environ, "METAHRL_RMR_LIB": "/nonexistent/librmr_si.so"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "RmrUnavailableError" in proc.stderr and "/nonexistent/librmr_si.so" in proc.stderr
