"""The meta-controller's HTTP side (FastAPI): OSC health endpoints and Prometheus metrics.

``/ric/v1/health/alive`` is 200 while the controller's round timer runs (503 once it stopped or
died); ``/ric/v1/health/ready`` is 200 only when the controller is started, the SDL answers and
no closed round is waiting to be made durable (503 otherwise, with the checks);
``/ric/v1/metrics`` serves the injected registry in the Prometheus text format. Served with
`xapps.service.http.serve` (port 0 → ephemeral).
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["ControllerState", "create_app"]


class ControllerState(Protocol):
    """What the HTTP side reads of `meta_controller.service.Controller`."""

    @property
    def started(self) -> bool: ...
    @property
    def sdl_ok(self) -> bool: ...
    @property
    def durable(self) -> bool: ...
    def ready(self) -> bool: ...
    def alive(self) -> bool: ...


def create_app(controller: ControllerState, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI(title="metahrl meta-controller", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/ric/v1/health/alive")
    def alive() -> JSONResponse:
        ok = controller.alive()
        return JSONResponse({"status": "alive" if ok else "dead"}, status_code=200 if ok else 503)

    @app.get("/ric/v1/health/ready")
    def ready() -> JSONResponse:
        ok = controller.ready()
        checks = {"started": controller.started, "sdl": controller.sdl_ok, "durable": controller.durable}
        body = {"status": "ready" if ok else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/ric/v1/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
