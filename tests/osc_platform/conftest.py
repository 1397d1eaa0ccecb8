"""Shared pieces of the OSC-path tests: real librmr, the stand-in platform, simulator E2 nodes.

Everything runs on 127.0.0.1 with ephemeral ports (RMR cannot bind port 0, so its ports are
taken free from the kernel first) and waits on events with time bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes
from osc_platform import OscPlatform, OscPlatformSettings
from ric.rmr import RmrUnavailableError, free_port, load_rmr
from ric.sdl import MemorySdl, SdlStore
from tests.ric.conftest import shared_dir
from tests.sim.conftest import small_scenario
from xapps.e2access.osc import OscE2, OscE2Settings

SWAGGER = shared_dir() / "interop" / "osc" / "xapp_rest_api.yaml"


def require_rmr() -> None:
    """Skip (with the reason) where librmr cannot be loaded; scripts/bootstrap.sh builds it."""
    try:
        load_rmr()
    except RmrUnavailableError as exc:
        pytest.skip(f"librmr unavailable (run scripts/bootstrap.sh to build it): {exc}")


def swagger_schema(definition: str) -> dict[str, Any]:
    """A JSON Schema for one Swagger 2.0 definition (its ``$ref``s resolve in the same doc)."""
    doc = yaml.safe_load(SWAGGER.read_text(encoding="utf-8"))
    return {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}


def run_async(coro: Any, timeout: float = 60.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait (bounded) until ``check()`` holds, yielding to the loop between looks."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@dataclass
class Topology:
    platform: OscPlatform
    sim: Simulator
    e2sim: E2SimNodes
    running: asyncio.Task[None]

    async def restart_nodes(self) -> None:
        """Stop every E2 node (their connections close) and start them again."""
        await self.stop_nodes()
        self.start_nodes()

    async def stop_nodes(self) -> None:
        self.e2sim.stop()
        await self.running

    def start_nodes(self) -> None:
        self.e2sim = _nodes(self.sim, self.platform.e2_port)
        self.running = asyncio.create_task(self.e2sim.run())


def _nodes(sim: Simulator, port: int) -> E2SimNodes:
    config = E2SimConfig(ric_port=port, backoff_initial_s=0.05, backoff_max_s=0.2, progress_every_s=600)
    return E2SimNodes(sim, config)


@contextlib.asynccontextmanager
async def topology(*, notify_first: bool = False, seed: int = 1) -> AsyncIterator[Topology]:
    """The stand-in platform with the small scenario's 3 DUs connected as E2 nodes."""
    settings = OscPlatformSettings(e2_port=0, http_port=0, rmr_port=free_port(), notify_first=notify_first)
    async with OscPlatform(settings) as platform:
        sim = Simulator(small_scenario(), seed=seed)
        e2sim = _nodes(sim, platform.e2_port)
        topo = Topology(platform, sim, e2sim, asyncio.create_task(e2sim.run()))
        try:
            await platform.server.wait_for_nodes(sim.n_du, timeout=20)
            yield topo
        finally:
            topo.e2sim.stop()
            with contextlib.suppress(Exception):
                await topo.running


def xapp_settings(platform: OscPlatform, rmr_port: int | None = None, **overrides: Any) -> OscE2Settings:
    """An OscE2 of this process on ``platform``, polling fast (tests wait on node events)."""
    test_defaults = {"poll_interval_s": 0.05, "control_timeout_s": 2.0, "subscription_timeout_s": 10.0}
    return platform.local_xapp_settings(rmr_port, **{**test_defaults, **overrides})


@contextlib.asynccontextmanager
async def osc_e2(settings: OscE2Settings, sdl: SdlStore | None = None) -> AsyncIterator[OscE2]:
    e2 = OscE2(settings, sdl if sdl is not None else MemorySdl())
    await e2.start()
    try:
        yield e2
    finally:
        await e2.close()
