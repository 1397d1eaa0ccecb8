"""State in a real Redis: a restarted controller resumes at the same version, round and accepted
updates; `kill -9` of the controller process (and then of Redis, `appendfsync always`) mid-round
loses no acknowledged update; a client survives the controller's restart (degraded while it is
down, nothing raised) and receives the next meta-version."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from meta_controller.algorithm import GROUPS, MetaConfig, TaskUpdate, meta_step, variances_with_fallback
from meta_controller.params import GradientStack
from meta_controller.rounds import RoundConfig
from meta_controller.store import MetaStore
from ric.sdl import open_sdl
from tests.meta_service.helpers import NS, layout, make_update, start_controller, theta0
from tests.meta_service.helpers import client as make_client
from tests.meta_service.redis_proc import RedisServer, free_port


def reference(theta: dict[str, torch.Tensor], updates: list[TaskUpdate], meta: MetaConfig) -> torch.Tensor:
    stack = GradientStack.from_grads([u.grads for u in updates])
    variances = variances_with_fallback({g: [u.td_variance[g] for u in updates] for g in GROUPS})
    return meta_step(theta, stack, variances, meta).flat


def test_restart_resumes_from_redis(redis_server: RedisServer) -> None:
    cfg = RoundConfig(min_updates=2, max_chunk_bytes=1024)

    async def main() -> None:
        sdl = open_sdl(redis_server.url)
        first = await start_controller(sdl, rounds=cfg)
        a, b = make_client(first.target, "a"), make_client(first.target, "b")
        assert await a.register() and await b.register()
        a.start()
        u0 = [make_update(0), make_update(1)]
        assert await a.upload(u0[0]) and await b.upload(u0[1])
        init1 = await a.wait_version(1, 10.0)
        assert init1 is not None
        assert await a.upload(make_update(2))  # acknowledged in round 1
        theta1 = {k: v.clone() for k, v in first.controller.rounds.theta().items()}
        await a.close()
        await b.close()
        await first.stop()

        second = await start_controller(open_sdl(redis_server.url), rounds=cfg)
        r = second.controller.rounds
        assert (
            (r.version, r.round) == (1, 1) and list(r.registered) == ["a", "b"] and set(r.reporting) == {"a"}
        )
        assert torch.equal(r.theta_flat, layout().flatten(init1.params))
        assert r.last_weights == init1.weights
        for group, per_du in init1.weights.items():  # the restored version's weights are exported
            for du, w in per_du.items():
                got = second.registry.get_sample_value("metahrl_meta_task_weight", {"du": du, "group": group})
                assert got == w
        b2 = make_client(second.target, "b")
        b2.start()
        assert await b2.register() and await b2.upload(make_update(3))
        init2 = await b2.wait_version(2, 10.0)
        assert init2 is not None
        want = reference(theta1, [make_update(2), make_update(3)], MetaConfig())
        assert torch.equal(layout().flatten(init2.params), want)
        store = MetaStore(open_sdl(redis_server.url), NS)
        assert store.versions() == [0, 1, 2] and sorted(store.weight_history()) == [0, 1]
        await b2.close()
        await second.stop()

    asyncio.run(main())


def _spawn(tmp: Path, redis_url: str, port: int) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "ports.json"
    port_file.unlink(missing_ok=True)
    args = [
        sys.executable, "-m", "metahrl", "meta-controller", "--init", str(tmp / "init.pt"),
        "--sdl", redis_url, "--namespace", NS, "--insecure", "--http", "off", "--listen", f"127.0.0.1:{port}",
        "--min-updates", "3", "--port-file", str(port_file), "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=Path(__file__).resolve().parents[2], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"meta-controller did not start (rc {proc.poll()})")
        time.sleep(0.05)  # bounded poll for the port file
    return proc, int(json.loads(port_file.read_text())["grpc"])


async def _until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)  # bounded poll


def test_kill_9_mid_round_loses_no_acknowledged_update(tmp_path: Path, redis_aof_server: RedisServer) -> None:
    torch.save(theta0(), tmp_path / "init.pt")
    port = free_port()
    proc, bound = _spawn(tmp_path, redis_aof_server.url, port)
    assert bound == port
    updates = [make_update(i) for i in range(3)]

    async def main() -> None:
        nonlocal proc
        target = f"127.0.0.1:{port}"
        clients = [make_client(target, f"du-{i}") for i in range(3)]
        for c in clients:
            assert await c.register()
        clients[0].start()  # watches across the restart
        assert await clients[0].upload(updates[0]) and await clients[1].upload(updates[1])  # acknowledged
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        redis_aof_server.kill()  # and Redis too: the acknowledged updates must be in its AOF
        redis_aof_server.start()
        await _until(lambda: clients[0].degraded)  # the watcher noticed; nothing raised
        assert not await clients[2].upload(updates[2])  # refused (unreachable), never raises
        assert clients[2].degraded
        proc, _ = _spawn(tmp_path, redis_aof_server.url, port)
        for _ in range(20):  # a DU retries its upload each period until the controller is back
            if await clients[2].upload(updates[2]):
                break
        else:
            raise AssertionError(f"upload after restart failed: {clients[2].last_error}")
        init = await clients[0].wait_version(1, 30.0)
        assert init is not None and sorted(init.weights["high"]) == ["du-0", "du-1", "du-2"]
        assert torch.equal(layout().flatten(init.params), reference(theta0(), updates, MetaConfig()))
        assert not clients[0].degraded
        for c in clients:
            await c.close()

    try:
        asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
