"""A full round over loopback gRPC equals the in-process meta-update bit for bit; quorum and
timeout closing; stale, duplicate, poisoned and oversized updates refused with nothing applied."""

from __future__ import annotations

import asyncio
import math

import pytest
import torch

from meta_controller.algorithm import GROUPS, MetaConfig, TaskUpdate, meta_step, variances_with_fallback
from meta_controller.params import GradientStack
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.rounds import RoundConfig
from meta_controller.wire import encode, sha256
from ric.sdl import MemorySdl
from tests.meta_service.helpers import client as make_client
from tests.meta_service.helpers import layout, make_update, start_controller, theta0


def reference(updates: list[TaskUpdate], meta: MetaConfig) -> torch.Tensor:
    stack = GradientStack.from_grads([u.grads for u in updates])
    variances = variances_with_fallback({g: [u.td_variance[g] for u in updates] for g in GROUPS})
    return meta_step(theta0(), stack, variances, meta).flat


@pytest.mark.parametrize("scheme", ["softmin", "uniform"])
def test_round_over_grpc_equals_in_process(scheme: str) -> None:
    meta = MetaConfig(scheme=scheme, beta=0.1)

    async def main() -> None:
        running = await start_controller(MemorySdl(), meta=meta)
        clients = [make_client(running.target, f"du-{i}") for i in range(3)]
        for c in clients:  # registration order = stack order
            assert await c.register()
            c.start()
        updates = [make_update(i) for i in range(3)]
        results = await asyncio.gather(*(c.upload(u) for c, u in zip(clients, updates, strict=True)))
        assert all(results)
        inits = await asyncio.gather(*(c.wait_version(1, 10.0) for c in clients))
        want = reference(updates, meta)
        for init in inits:
            assert init is not None and init.version == 1 and init.round == 1
            got = layout().flatten(init.params)
            assert torch.equal(got, want)  # bit for bit
        assert torch.equal(running.controller.rounds.theta_flat, want)
        status = await clients[0].status()
        assert status is not None and (status.round, status.meta_version) == (1, 1)
        assert list(status.registered_dus) == ["du-0", "du-1", "du-2"]
        w = {(x.du_id, x.group): x.weight for x in status.last_weights}
        assert math.isclose(sum(w[(f"du-{i}", "high")] for i in range(3)), 1.0)
        if scheme == "softmin":  # lower variance, more weight
            assert w[("du-0", "high")] > w[("du-1", "high")] > w[("du-2", "high")]
        assert running.sample("metahrl_meta_updates_accepted_total") == 3
        assert running.sample("metahrl_meta_version") == 1
        assert running.sample("metahrl_meta_task_weight", {"du": "du-0", "group": "high"}) == pytest.approx(
            w[("du-0", "high")]
        )
        assert running.sample("metahrl_meta_received_bytes_total") == 3 * layout().numel * 4
        for c in clients:
            await c.close()
        await running.stop()

    asyncio.run(main())


def test_quorum_fraction_and_timeout_close() -> None:
    async def main() -> None:
        cfg = RoundConfig(min_updates=1, quorum_fraction=1.0, round_timeout_s=0.3, max_chunk_bytes=4096)
        running = await start_controller(MemorySdl(), rounds=cfg)
        a, b = make_client(running.target, "a"), make_client(running.target, "b")
        assert await a.register() and await b.register()
        a.start()
        assert await a.upload(make_update(0))
        assert running.controller.rounds.version == 0  # quorum is both DUs: still open
        init = await a.wait_version(1, 10.0)  # closes at the timeout with one update
        assert init is not None and init.weights["high"] == {"a": 1.0}
        want = reference([make_update(0)], MetaConfig())
        assert torch.equal(layout().flatten(init.params), want)
        assert running.sample("metahrl_meta_round_duration_seconds_count") == 1
        await a.close()
        await b.close()
        await running.stop()

    asyncio.run(main())


def _begin(
    update: TaskUpdate, du: str, round_: int, version: int, data: bytes | None = None
) -> pb.BeginUpdateRequest:
    data = encode(update.grads, layout(), "float32") if data is None else data
    return pb.BeginUpdateRequest(
        du_id=du, round=round_, base_version=version, dtype=pb.FLOAT32, total_bytes=len(data),
        chunk_bytes=1024, sha256=sha256(data), samples=1,
        td=[pb.TdStat(group=g, variance=v) for g, v in update.td_variance.items()],
    )  # fmt: skip


def test_refusals_apply_nothing() -> None:
    import grpc

    from meta_controller.proto_gen import metahrl_pb2_grpc as pb_grpc

    async def main() -> None:
        running = await start_controller(MemorySdl(), rounds=RoundConfig(min_updates=2, max_chunk_bytes=1024))
        a = make_client(running.target, "a")
        assert await a.register()
        channel = grpc.aio.insecure_channel(running.target)
        stub = pb_grpc.MetaControllerStub(channel)
        before = running.controller.rounds.theta_flat.clone()

        async def code_of(coro: object) -> grpc.StatusCode:
            try:
                await coro  # type: ignore[misc]
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        # stale base version / wrong round
        assert (
            await code_of(stub.BeginUpdate(_begin(make_update(0), "a", 0, 5)))
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        assert (
            await code_of(stub.BeginUpdate(_begin(make_update(0), "a", 3, 0)))
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        # oversized (bytes ≠ layout)
        big = encode(make_update(0).grads, layout(), "float32") + b"\0" * 4
        assert (
            await code_of(stub.BeginUpdate(_begin(make_update(0), "a", 0, 0, big)))
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        # poisoned: a NaN in one tensor → INVALID_ARGUMENT naming it
        poisoned = make_update(0)
        poisoned.grads["low.1.critic.0.weight"][2, 3] = float("nan")
        data = encode(poisoned.grads, layout(), "float32")
        resp = await stub.BeginUpdate(_begin(poisoned, "a", 0, 0, data))
        for i in range(resp.n_chunks):
            part = data[i * 1024 : (i + 1) * 1024]
            await stub.UploadChunk(
                pb.UploadChunkRequest(upload_id=resp.upload_id, index=i, data=part, sha256=sha256(part))
            )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CommitUpdate(pb.CommitUpdateRequest(upload_id=resp.upload_id))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "low.1.critic.0.weight" in str(
            err.value.details()
        )
        # a corrupted chunk (sha mismatch) and an idempotent re-send
        good = make_update(1)
        data = encode(good.grads, layout(), "float32")
        resp = await stub.BeginUpdate(_begin(good, "a", 0, 0, data))
        part = data[:1024]
        bad = pb.UploadChunkRequest(upload_id=resp.upload_id, index=0, data=part, sha256=sha256(b"x"))
        assert await code_of(stub.UploadChunk(bad)) == grpc.StatusCode.INVALID_ARGUMENT
        ok = pb.UploadChunkRequest(upload_id=resp.upload_id, index=0, data=part, sha256=sha256(part))
        assert not (await stub.UploadChunk(ok)).duplicate and (await stub.UploadChunk(ok)).duplicate
        # commit before all chunks → FAILED_PRECONDITION (incomplete)
        assert await code_of(stub.CommitUpdate(pb.CommitUpdateRequest(upload_id=resp.upload_id))) == (
            grpc.StatusCode.FAILED_PRECONDITION
        )
        assert await a.upload(good)  # the client resumes: BeginUpdate lists only the missing chunks
        # a second, different update of the same DU in this round: duplicate
        assert (
            await code_of(stub.BeginUpdate(_begin(make_update(2), "a", 0, 0)))
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        assert await a.upload(good)  # the same one again: idempotent
        assert (
            torch.equal(running.controller.rounds.theta_flat, before)
            and running.controller.rounds.version == 0
        )
        assert len(running.controller.rounds.reporting) == 1
        for reason, n in {"stale": 2, "invalid": 3, "incomplete": 1, "duplicate": 1}.items():
            assert running.sample("metahrl_meta_updates_rejected_total", {"reason": reason}) == n, reason
        await channel.close()
        await a.close()
        await running.stop()

    asyncio.run(main())


def test_update_for_a_closed_round_is_refused() -> None:
    async def main() -> None:
        running = await start_controller(
            MemorySdl(), rounds=RoundConfig(min_updates=1, quorum_fraction=0.5, max_chunk_bytes=1024)
        )
        a, b = make_client(running.target, "a"), make_client(running.target, "b")
        assert await a.register() and await b.register()
        a.start()
        assert await a.upload(make_update(0))
        assert await a.wait_version(1, 10.0) is not None
        assert not await b.upload(make_update(1))  # b still believes round 0 / version 0
        assert b.last_error is not None and "FAILED_PRECONDITION" in b.last_error
        assert running.sample("metahrl_meta_updates_rejected_total", {"reason": "stale"}) == 1
        await a.close()
        await b.close()
        await running.stop()

    asyncio.run(main())


def test_bfloat16_upload_halves_the_bytes() -> None:
    async def main() -> None:
        running = await start_controller(MemorySdl(), rounds=RoundConfig(min_updates=1, max_chunk_bytes=1024))
        a = make_client(running.target, "a")
        a.start()
        assert await a.register() and await a.upload(make_update(0), dtype="bfloat16")
        assert await a.wait_version(1, 10.0) is not None
        assert running.sample("metahrl_meta_received_bytes_total") == layout().numel * 2
        rounded = make_update(0)
        bf = TaskUpdate(
            {k: v.bfloat16().float() for k, v in rounded.grads.items()}, rounded.td_variance, {}, 0
        )
        assert torch.equal(running.controller.rounds.theta_flat, reference([bf], MetaConfig()))
        await a.close()
        await running.stop()

    asyncio.run(main())
