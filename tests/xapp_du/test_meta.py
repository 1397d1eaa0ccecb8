"""The DU xApp with a real meta-controller on loopback gRPC: it starts from the current
meta-initialisation and its periodic task updates close a round."""

from __future__ import annotations

import asyncio
from typing import Any

import torch
from prometheus_client import CollectorRegistry

from meta_controller.algorithm import MetaConfig
from meta_controller.metrics import ControllerMetrics
from meta_controller.rounds import RoundConfig, Rounds
from meta_controller.service import Controller, create_server
from meta_controller.store import MetaStore
from ric.sdl import MemorySdl
from tests.xapp_du.helpers import closed_loop, share_env, small_scenario, tiny_pool
from xapps.du.meta_link import MetaLinkMetrics, MetaLinkOptions, open_meta_link
from xapps.du.service import XappService
from xapps.service.settings import MetaSettings

OPTIONS = MetaLinkOptions(inner_steps=2, deadline_s=5.0, backoff_s=(0.02, 0.2), retries=2)


def test_xapp_starts_from_the_meta_init_and_its_updates_close_a_round() -> None:
    scenario = small_scenario()
    env = share_env(scenario)
    theta0 = tiny_pool(env, seed=42)[0].get_params()
    pool = tiny_pool(env, seed=0)
    seen: dict[str, Any] = {}

    async def main() -> None:
        rounds = Rounds(theta0, MetaConfig(), RoundConfig(min_updates=3))
        controller = Controller(rounds, MetaStore(MemorySdl(), "t"), ControllerMetrics(CollectorRegistry()))
        await controller.start()
        server, port = create_server(controller, "127.0.0.1:0", insecure=True)
        await server.start()
        meta = MetaSettings(address=f"127.0.0.1:{port}", round_every_s=0.5)
        metrics = MetaLinkMetrics(CollectorRegistry())
        links = {
            d: open_meta_link(meta, f"du{d}", {"du": d}, layout=theta0, metrics=metrics, options=OPTIONS)
            for d in range(3)
        }

        async def during(service: XappService) -> None:
            actor = service.dus[0].actor.agent
            seen["actor_from_meta"] = all(
                torch.equal(p, theta0[k]) for k, p in actor.get_params().items() if ".actor." in f".{k}"
            )
            async with asyncio.timeout(120):
                while rounds.version < 1:
                    await asyncio.sleep(0.05)
            seen["status"] = service.meta_status()
            seen["ready"] = service.readiness().checks["meta"].ok

        settings = {
            "init": "meta",
            "meta": {"address": f"127.0.0.1:{port}", "round_every_s": 0.5},
            "learning": {"mode": "online", "explore": True},
        }
        try:
            await closed_loop(
                scenario, pool, env, seed=1, steps=5000, settings=settings, meta_links=links, during=during,
                actors=tiny_pool(env, seed=7),
            )  # fmt: skip
        finally:
            await controller.stop()
            await server.stop(grace=0.5)
        seen["version"] = rounds.version
        seen["registered"] = sorted(rounds.registered)

    asyncio.run(main())
    assert seen["actor_from_meta"]
    assert seen["version"] >= 1 and seen["registered"] == ["du0", "du1", "du2"]
    assert seen["status"] == "ready" and seen["ready"]
