"""Assemble and run the meta-controller xApp: SDL, store, rounds, gRPC server, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from meta_controller.config import (
    ControllerSettings,
    load_init,
    load_tokens,
    read_setting_file,
    split_host_port,
)
from meta_controller.http import create_app
from meta_controller.metrics import ControllerMetrics
from meta_controller.rounds import Rounds
from meta_controller.service import Controller, TlsFiles, create_server
from meta_controller.store import MetaStore
from ric.sdl import SdlStore, open_sdl
from xapps.service.http import HttpServer, serve

__all__ = ["RunningController", "run_forever", "start"]

log = logging.getLogger(__name__)


@dataclass
class RunningController:
    """A serving controller: gRPC (and HTTP) bound, the SDL open; `stop` ends all of it."""

    controller: Controller
    server: grpc.aio.Server
    port: int
    http: HttpServer | None
    http_port: int | None
    sdl: SdlStore
    registry: CollectorRegistry

    async def stop(self, grace_s: float = 2.0) -> None:
        await self.controller.stop()
        await self.server.stop(grace=grace_s)
        if self.http is not None:
            await self.http.stop()
        self.sdl.close()


def _tls(s: ControllerSettings) -> TlsFiles | None:
    if s.insecure or s.tls_cert is None or s.tls_key is None:
        return None
    ca = read_setting_file(s.tls_client_ca, "tls_client_ca") if s.tls_client_ca else None
    key, cert = read_setting_file(s.tls_key, "tls_key"), read_setting_file(s.tls_cert, "tls_cert")
    return TlsFiles(key=key, cert=cert, client_ca=ca)


async def start(settings: ControllerSettings, registry: CollectorRegistry | None = None) -> RunningController:
    """Load θ_M and tokens, open the SDL, resume the state, bind gRPC and HTTP, write the ports.

    Raises `SettingsFileError` (a bad file), `SdlUnavailableError` (the SDL does not answer) or
    `OSError` (a port that cannot be bound) before anything serves."""
    registry = registry if registry is not None else CollectorRegistry()
    tokens = None if settings.tokens is None else load_tokens(settings.tokens)
    tls = _tls(settings)
    rounds = Rounds(load_init(settings.init), settings.meta, settings.rounds)
    sdl = open_sdl(settings.sdl)
    store = MetaStore(sdl, settings.namespace, settings.keep_versions)
    metrics = ControllerMetrics(registry)
    controller = Controller(
        rounds, store, metrics, tokens=tokens, sdl_check_s=settings.sdl_check_s,
        push_concurrency=settings.push_concurrency,
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as undo:  # unwinds what started if a later step fails
        undo.callback(sdl.close)
        await controller.start()
        undo.push_async_callback(controller.stop)
        server, port = create_server(controller, settings.listen, tls=tls, insecure=settings.insecure)
        await server.start()
        undo.push_async_callback(server.stop, 1.0)
        http, http_port = None, None
        if settings.http is not None:
            http, http_port = await serve(create_app(controller, registry), *split_host_port(settings.http))
        if settings.port_file is not None:
            _write_ports(settings.port_file, port, http_port)
        undo.pop_all()
    security = "insecure" if tls is None else "TLS" if tls.client_ca is None else "mutual TLS"
    log.info("meta-controller serving gRPC on %d (%s), HTTP on %s", port, security, http_port)
    return RunningController(controller, server, port, http, http_port, sdl, registry)


def _write_ports(path: Path, grpc_port: int, http_port: int | None) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"grpc": grpc_port, "http": http_port}))
    tmp.replace(path)


async def run_forever(settings: ControllerSettings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then stop gracefully."""
    running = await start(settings)
    try:
        await stop.wait()
    finally:
        await running.stop()
