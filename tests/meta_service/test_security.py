"""Security of the gRPC port: TLS and mutual TLS with certificates generated in the test, per-DU
bearer tokens (unknown DU → UNAUTHENTICATED, wrong token or acting as another DU →
PERMISSION_DENIED, each counted), and refused calls change nothing."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from meta_controller.client import ClientTls
from meta_controller.pki import make_pki
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.proto_gen import metahrl_pb2_grpc as pb_grpc
from meta_controller.rounds import RoundConfig
from meta_controller.service import DU_METADATA, Controller, TlsFiles, create_server
from ric.sdl import MemorySdl
from tests.meta_service.helpers import client as make_client
from tests.meta_service.helpers import make_update, start_controller

ROUNDS = RoundConfig(min_updates=1, max_chunk_bytes=4096)


def test_tls_and_mutual_tls() -> None:
    pki, other = make_pki(), make_pki()

    async def main() -> None:
        tls = TlsFiles(key=pki.server_key, cert=pki.server_cert)
        plain = await start_controller(MemorySdl(), rounds=ROUNDS, tls=tls)
        ok = make_client(f"localhost:{plain.port}", "a", tls=ClientTls(root_ca=pki.ca_cert))
        ok.start()
        assert await ok.register() and await ok.upload(make_update(0))
        assert await ok.wait_version(1, 10.0) is not None and not ok.degraded
        untrusted = ClientTls(root_ca=other.ca_cert)
        wrong_ca = make_client(f"localhost:{plain.port}", "b", tls=untrusted, retries=1)
        assert not await wrong_ca.register() and wrong_ca.degraded
        assert wrong_ca.last_error is not None and "UNAVAILABLE" in wrong_ca.last_error
        cleartext = make_client(f"127.0.0.1:{plain.port}", "c", retries=1)  # insecure channel → TLS port
        assert not await cleartext.register()
        for c in (ok, wrong_ca, cleartext):
            await c.close()
        await plain.stop()

        mtls = TlsFiles(key=pki.server_key, cert=pki.server_cert, client_ca=pki.ca_cert)
        mutual = await start_controller(MemorySdl(), rounds=ROUNDS, tls=mtls)
        target = f"localhost:{mutual.port}"
        with_cert = ClientTls(root_ca=pki.ca_cert, key=pki.client_key, cert=pki.client_cert)
        du = make_client(target, "a", tls=with_cert)
        assert await du.register() and await du.upload(make_update(0))
        no_cert = make_client(target, "b", tls=ClientTls(root_ca=pki.ca_cert), retries=1)
        assert not await no_cert.register()
        foreign = ClientTls(root_ca=pki.ca_cert, key=other.client_key, cert=other.client_cert)
        stranger = make_client(target, "c", tls=foreign, retries=1)
        assert not await stranger.register()
        assert list(mutual.controller.rounds.registered) == ["a"]
        for c in (du, no_cert, stranger):
            await c.close()
        await mutual.stop()

    asyncio.run(main())


def test_tokens_refuse_and_count() -> None:
    async def main() -> None:
        tokens = {"a": "token-a", "b": "token-b"}
        running = await start_controller(MemorySdl(), rounds=ROUNDS, tokens=tokens)
        unknown = make_client(running.target, "z", token="token-a")
        no_token = make_client(running.target, "a")
        wrong = make_client(running.target, "a", token="token-b")
        for c in (unknown, no_token, wrong):
            assert not await c.register() and c.degraded
        assert unknown.last_error is not None and "UNAUTHENTICATED" in unknown.last_error
        assert no_token.last_error is not None and "UNAUTHENTICATED" in no_token.last_error
        assert wrong.last_error is not None and "PERMISSION_DENIED" in wrong.last_error
        a = make_client(running.target, "a", token="token-a")
        assert await a.register()
        # b's valid credentials may not upload as a
        channel = grpc.aio.insecure_channel(running.target)
        stub = pb_grpc.MetaControllerStub(channel)
        md = ((DU_METADATA, "b"), ("authorization", "Bearer token-b"))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.BeginUpdate(pb.BeginUpdateRequest(du_id="a", round=0, base_version=0), metadata=md)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetStatus(pb.GetStatusRequest())  # no credentials at all
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert running.sample("metahrl_meta_auth_failures_total", {"code": "unauthenticated"}) == 3
        assert running.sample("metahrl_meta_auth_failures_total", {"code": "permission_denied"}) == 2
        assert list(running.controller.rounds.registered) == ["a"] and running.controller.rounds.version == 0
        assert await a.upload(make_update(0))
        await channel.close()
        for c in (unknown, no_token, wrong, a):
            await c.close()
        await running.stop()

    asyncio.run(main())


def test_insecure_only_when_asked() -> None:
    with pytest.raises(ValueError, match="refusing to serve without TLS"):
        create_server(Controller.__new__(Controller), "127.0.0.1:0")


def test_a_du_that_stops_reading_cannot_hold_the_meta_init_stream() -> None:
    """One push slot, a 4 MiB meta-init: a watcher that never reads fills its flow-control window,
    is aborted after push_timeout_s (counted), and a reading DU still gets the meta-init."""
    import torch
    from prometheus_client import CollectorRegistry

    from meta_controller.algorithm import MetaConfig
    from meta_controller.client import MetaClient
    from meta_controller.metrics import ControllerMetrics
    from meta_controller.params import ParamLayout
    from meta_controller.rounds import Rounds
    from meta_controller.store import MetaStore

    theta = {"w": torch.randn(1 << 20, generator=torch.Generator().manual_seed(0))}

    async def main() -> None:
        registry = CollectorRegistry()
        rounds = Rounds(theta, MetaConfig(), RoundConfig(min_updates=1, max_chunk_bytes=1 << 20))
        controller = Controller(
            rounds, MetaStore(MemorySdl(), "t"), ControllerMetrics(registry), push_concurrency=1,
            push_timeout_s=1.0,
        )  # fmt: skip
        await controller.start()
        server, port = create_server(controller, "127.0.0.1:0", insecure=True)
        await server.start()
        # no BDP probing: the stuck watcher's receive window stays small (with it, gRPC may grow
        # the window past the whole meta-init, the push completes and nothing is ever stuck)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.http2.bdp_probe", 0)])
        stuck = pb_grpc.MetaControllerStub(channel).WatchMetaInit(pb.WatchMetaInitRequest(du_id="s"))
        await stuck.wait_for_connection()  # the stream is open; nothing ever reads it
        reader = MetaClient(f"127.0.0.1:{port}", "r", ParamLayout.of(theta), insecure=True, deadline_s=5)
        reader.start()
        init = await reader.wait_version(0, 20.0)
        assert init is not None and torch.equal(init.params["w"], theta["w"])
        # ≥ 1: the stuck watcher for sure (a reader starved on a loaded machine would retry); it
        # may have taken the slot after the reader, so its abort can come up to push_timeout_s later
        async with asyncio.timeout(20.0):
            while (registry.get_sample_value("metahrl_meta_push_timeouts_total") or 0) < 1:
                await asyncio.sleep(0.05)  # bounded poll of the server's counter
        stuck.cancel()
        await reader.close()
        await channel.close()
        await controller.stop()
        await server.stop(grace=0.5)

    asyncio.run(main())
