"""Shared pieces of the meta-service tests: a small parameter layout, seeded updates, and a
controller on a loopback port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc
import torch
from prometheus_client import CollectorRegistry
from torch import Tensor

from meta_controller.algorithm import GROUPS, MetaConfig, TaskUpdate
from meta_controller.client import ClientTls, MetaClient
from meta_controller.metrics import ControllerMetrics
from meta_controller.params import ParamLayout
from meta_controller.rounds import RoundConfig, Rounds
from meta_controller.service import Controller, TlsFiles, create_server
from meta_controller.store import MetaStore
from ric.sdl import SdlStore

SHAPES = {
    "high.actor.0.weight": (24, 30),
    "high.critic.0.weight": (16, 20),
    "low.0.actor.0.weight": (20, 20),
    "low.0.critic.0.bias": (7,),
    "low.1.actor.0.weight": (12, 10),
    "low.1.critic.0.weight": (9, 9),
    "low.2.actor.0.bias": (5,),
    "low.2.critic.0.weight": (30, 11),
}
NS = "meta-test"


def theta0(seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}


def layout() -> ParamLayout:
    return ParamLayout.of(theta0())


def make_update(seed: int, variance: float | None = None) -> TaskUpdate:
    g = torch.Generator().manual_seed(1000 + seed)
    grads = {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}
    var = {grp: (0.5 + seed if variance is None else variance) * (1 + i) for i, grp in enumerate(GROUPS)}
    return TaskUpdate(grads=grads, td_variance=var, td_count=dict.fromkeys(GROUPS, 100), samples=64)


@dataclass
class Running:
    controller: Controller
    server: grpc.aio.Server
    port: int
    registry: CollectorRegistry

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.controller.stop()
        await self.server.stop(grace=1.0)

    def sample(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, dict(labels or {}))
        return 0.0 if value is None else value


async def start_controller(
    sdl: SdlStore,
    *,
    rounds: RoundConfig | None = None,
    meta: MetaConfig | None = None,
    tokens: Mapping[str, str] | None = None,
    tls: TlsFiles | None = None,
    port: int = 0,
) -> Running:
    registry = CollectorRegistry()
    r = Rounds(theta0(), meta or MetaConfig(), rounds or RoundConfig(min_updates=3, max_chunk_bytes=1024))
    controller = Controller(
        r, MetaStore(sdl, NS), ControllerMetrics(registry), tokens=tokens, sdl_check_s=0.2
    )
    await controller.start()
    server, bound = create_server(controller, f"127.0.0.1:{port}", tls=tls, insecure=tls is None)
    await server.start()
    return Running(controller, server, bound, registry)


def client(
    target: str, du: str, *, token: str | None = None, tls: ClientTls | None = None, **kw: object
) -> MetaClient:
    return MetaClient(
        target, du, layout(), token=token, tls=tls, insecure=tls is None, deadline_s=5.0,
        backoff_s=(0.02, 0.2), seed=1, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
