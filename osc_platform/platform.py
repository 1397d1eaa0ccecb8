"""The OSC platform stand-in as one object: E2 termination + RMR + submgr + e2mgr REST.

::

    async with OscPlatform(OscPlatformSettings(e2_port=0, http_port=0, rmr_port=38000)) as platform:
        platform.e2_port          # E2 nodes connect here (TCP framing, or SCTP)
        platform.submgr_url       # http://127.0.0.1:<port>  (Subscription Manager: /ric/v1/...)
        platform.e2mgr_url        # the same server (E2 Manager: /v1/nodeb/...)
        platform.route_table      # the static RMR route table xApps of this host can use
        e2 = OscE2(platform.local_xapp_settings(), MemorySdl())   # an xApp in this process
        ...

Nothing is mocked: E2 nodes speak E2AP over TCP/SCTP, xApps speak real RMR (librmr) and HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from osc_platform.counters import PlatformCounters
from osc_platform.e2mgr import e2mgr_router
from osc_platform.e2term import E2Term
from osc_platform.submgr import RestSubscription, SubscriptionManager, submgr_router
from ric.link import LinkConfig
from ric.rmr import RmrConfig, RmrEndpoint, RmrType, free_port, write_route_table
from ric.server import Indication, NodeDisconnected, RicConfig, RicServer
from ric.transport import TransportConfig, TransportKind
from xapps.e2access.osc import OscE2Settings
from xapps.service.http import HttpServer, serve

__all__ = ["OscPlatform", "OscPlatformSettings", "local_xapp_settings"]

_log = logging.getLogger(__name__)


class OscPlatformSettings(BaseModel):
    """Settings of the OSC platform stand-in (ports as OSC's platform uses them by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    e2_host: str = Field("127.0.0.1", description="address E2 nodes connect to")
    e2_port: int = Field(36422, ge=0, le=65535, description="E2 port (e2term's SCTP 36422); 0: any free port")
    transport: Literal["tcp", "sctp"] = Field("tcp", description="E2 transport: TCP framing or SCTP")
    rmr_port: int = Field(38000, ge=1, le=65535, description="e2term's RMR data port")
    rmr_host: str = Field("127.0.0.1", description="host xApps reach the RMR port on (route table)")
    route_table: Path | None = Field(
        None,
        description="static RMR route table (RMR_SEED_RT); default: a generated one routing "
        "RIC_CONTROL_REQ (12040) to rmr_host:rmr_port",
    )
    http_host: str = Field("127.0.0.1", description="address of the submgr / e2mgr REST server")
    http_port: int = Field(8088, ge=0, le=65535, description="REST port (submgr's 8088); 0: any free port")
    notify_first: bool = Field(
        False,
        description="POST each subscription's notification before answering the subscribe "
        "request (submgr may do so; this makes that order certain)",
    )
    e2_timeout_s: float = Field(2.0, gt=0, description="E2 subscription / control timer (submgr: 2 s)")
    e2_retries: int = Field(1, ge=0, le=10, description="E2 subscription retries after a timeout")


def local_xapp_settings(
    route_table: Path, submgr_url: str, e2mgr_url: str, rmr_port: int | None = None, **overrides: Any
) -> OscE2Settings:
    """Settings for an :class:`xapps.e2access.osc.OscE2` on this host using a stand-in: its route
    table and REST URLs, ClientEndpoint 127.0.0.1, a notification endpoint of its own on a free
    port (``http_bind``), ``rmr_port`` free unless given; ``overrides`` win."""
    data: dict[str, Any] = {
        "rmr_port": rmr_port or free_port(),
        "rmr_route_table": route_table,
        "submgr_url": submgr_url,
        "e2mgr_url": e2mgr_url,
        "client_host": "127.0.0.1",
        "http_port": 0,
        "http_bind": "127.0.0.1",
        **overrides,
    }
    return OscE2Settings.model_validate(data)


class OscPlatform:
    """Run with ``async with`` (or :meth:`start` / :meth:`close`)."""

    def __init__(self, settings: OscPlatformSettings | None = None) -> None:
        self.settings = settings or OscPlatformSettings()
        s = self.settings
        timers = LinkConfig(
            subscription_timeout_s=s.e2_timeout_s,
            delete_timeout_s=s.e2_timeout_s,
            control_timeout_s=s.e2_timeout_s,
        )
        kind = TransportKind(s.transport)
        self.server = RicServer(RicConfig(transport=TransportConfig(kind=kind), link=timers))
        self.counters = PlatformCounters()
        self.e2term = E2Term(self.server, self.counters)
        self.submgr: SubscriptionManager | None = None
        self.rmr: RmrEndpoint | None = None
        self._http: HttpServer | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.route_table: Path | None = s.route_table

    # ------------------------------------------------------------------ addresses
    @property
    def e2_port(self) -> int:
        return self.server.port

    @property
    def http_port(self) -> int:
        if self._http is None:
            raise RuntimeError("the platform is not started")
        return self._http.port

    @property
    def submgr_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port}"

    @property
    def e2mgr_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port}"

    @property
    def rmr_endpoint(self) -> str:
        return f"{self.settings.rmr_host}:{self.settings.rmr_port}"

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        s = self.settings
        if self.route_table is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="metahrl-osc-")
            self.route_table = write_route_table(
                Path(self._tmp.name) / "routes.rt", {RmrType.RIC_CONTROL_REQ: self.rmr_endpoint}
            )
        self.rmr = RmrEndpoint(RmrConfig(port=s.rmr_port, route_table=self.route_table), self.e2term.on_rmr)
        await self.rmr.open()
        self.e2term.attach(self.rmr)
        self.submgr = SubscriptionManager(
            self.server,
            self._indication,
            self.counters,
            notify_first=s.notify_first,
            http_timeout_s=s.e2_timeout_s,
            e2_retries=s.e2_retries,
        )
        await self.server.start(s.e2_host, s.e2_port)
        app = FastAPI(title="OSC platform stand-in (submgr + e2mgr)")
        app.include_router(submgr_router(self.submgr))
        app.include_router(e2mgr_router(self.server))
        self._http, _port = await serve(app, s.http_host, s.http_port)
        self._watch = asyncio.get_running_loop().create_task(self._watch_nodes())
        _log.info(
            "OSC platform stand-in: E2 %s:%d (%s), RMR %s, REST http://%s:%d",
            s.e2_host,
            self.e2_port,
            s.transport,
            self.rmr_endpoint,
            s.http_host,
            self.http_port,
        )

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self.submgr is not None:
            await self.submgr.close()
        await self.server.close()
        if self.rmr is not None:
            self.rmr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def local_xapp_settings(self, rmr_port: int | None = None, **overrides: Any) -> OscE2Settings:
        """Settings for an :class:`xapps.e2access.osc.OscE2` of this host on this platform."""
        assert self.route_table is not None, "start the platform first"
        return local_xapp_settings(self.route_table, self.submgr_url, self.e2mgr_url, rmr_port, **overrides)

    async def disconnect_all(self) -> None:
        """Drop every E2 connection (nodes reconnect); their subscriptions are deleted."""
        await self.server.disconnect_all()

    # ------------------------------------------------------------------ internals
    def _indication(self, rest: RestSubscription, indication: Indication) -> None:
        self.e2term.forward_indication(rest.rmr_endpoint, indication.node, indication.raw)

    async def _watch_nodes(self) -> None:
        async for event in self.server.node_events():
            if isinstance(event, NodeDisconnected) and self.submgr is not None:
                self.submgr.node_disconnected(event.node.name)
