"""The DU xApp's HTTP API (FastAPI), as OSC's xApp frameworks serve it on port 8080.

=====================  ======  ===========================================================
path                   method  answer
=====================  ======  ===========================================================
/ric/v1/health/alive   GET     200 while the process loop runs (503 if the runtime says not)
/ric/v1/health/ready   GET     200 when every readiness check passes, else 503; the checks
                               as JSON either way (`Readiness`)
/ric/v1/config         GET     the run-time controls (`XappControls`)
/ric/v1/config         PUT     replace them; needs ``Authorization: Bearer <http.token>``:
                               none → 401, a wrong one → 403, no token configured → 403
                               (config changes off); then a body that does not validate →
                               422 and nothing changes; the runtime refusing it → 409
/ric/v1/e2/reset/{du}  POST    RIC-initiated E2 Reset of DU ``du``'s link (O&M; same token as
                               PUT config): 204; a DU not served → 404; no link to reset (down,
                               osc mode) → 409. The DU's KPM subscription is re-established.
/ric/v1/metrics        GET     Prometheus text format from the injected registry
=====================  ======  ===========================================================

Every request refused for its token is counted in ``metahrl_du_http_auth_refused_total{reason}``
(``missing``, ``invalid``, ``disabled``) and logged once with the client's address; 422 and 409
answers in ``metahrl_du_http_requests_refused_total{reason}`` (``invalid_request``,
``conflict``). Read-only endpoints need
no token (Kubernetes probes and Prometheus scrape them).

The app is a thin layer over an `XappRuntime` (the control loop implements it); the handlers
are plain ``def`` so FastAPI runs them in its thread pool — a readiness check that pings Redis
never blocks the event loop. `serve` runs the app on uvicorn inside the caller's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, NoReturn, Protocol
from weakref import WeakKeyDictionary

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import BaseModel, Field, SecretStr

from xapps.service.metrics import PREFIX
from xapps.service.settings import XappControls

__all__ = [
    "Check",
    "Heartbeat",
    "HttpServer",
    "Readiness",
    "XappRuntime",
    "config_auth",
    "create_app",
    "e2_check",
    "meta_check",
    "sdl_check",
    "serve",
]


_log = logging.getLogger(__name__)

AuthRefusal = Literal["missing", "invalid", "disabled"]
_COUNTERS: WeakKeyDictionary[CollectorRegistry, dict[str, Counter]] = WeakKeyDictionary()


class Check(BaseModel):
    """One readiness condition."""

    ok: bool = Field(description="whether the condition holds")
    detail: str = Field(default="", description="what was found (human-readable)")


class Readiness(BaseModel):
    """Whether the xApp is ready, and the checks that say so."""

    ready: bool
    checks: dict[str, Check]

    @classmethod
    def of(cls, checks: dict[str, Check]) -> Readiness:
        """Ready iff there is at least one check and all of them pass."""
        return cls(ready=bool(checks) and all(c.ok for c in checks.values()), checks=checks)


class XappRuntime(Protocol):
    """What the HTTP layer needs from the running xApp."""

    def readiness(self) -> Readiness: ...

    def controls(self) -> XappControls: ...

    def apply_controls(self, new: XappControls) -> None:
        """Apply `new` or raise `ValueError` (answered 409) leaving the old controls in force."""

    def reset_e2(self, du: int) -> None:
        """Reset DU `du`'s E2 link; `KeyError` (404) if not served, `ValueError` (409) if it
        cannot be reset now."""


class _Pingable(Protocol):
    def ping(self) -> bool: ...


def e2_check(connected: bool, subscribed: bool) -> Check:
    """A DU's E2 state as a readiness check: connected *and* subscribed."""
    if not connected:
        return Check(ok=False, detail="E2 node not connected")
    if not subscribed:
        return Check(ok=False, detail="E2 node connected, KPM subscription not active")
    return Check(ok=True, detail="connected and subscribed")


def sdl_check(sdl: _Pingable | None) -> Check:
    """The SDL answers a ping (no SDL configured counts as ok: nothing to reach)."""
    if sdl is None:
        return Check(ok=True, detail="no SDL configured")
    try:
        ok = bool(sdl.ping())
    except Exception as exc:  # a readiness probe reports any failure instead of raising
        return Check(ok=False, detail=f"ping failed: {type(exc).__name__}: {exc}")
    return Check(ok=ok, detail="reachable" if ok else "ping answered false")


def meta_check(address: str | None, reachable: bool) -> Check:
    """The meta-controller is reachable, or explicitly not configured."""
    if address is None:
        return Check(ok=True, detail="not configured")
    return Check(ok=reachable, detail=f"{address} {'reachable' if reachable else 'unreachable'}")


class Heartbeat:
    """Liveness from a loop's heartbeats: alive while the last `beat` is at most `max_age_s` old.

    The control loop calls `beat()` every iteration; pass the heartbeat as ``create_app(alive=…)``.
    Alive before the first beat only within `max_age_s` of construction (start-up grace).
    """

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last = clock()

    def beat(self) -> None:
        with self._lock:
            self._last = self._clock()

    def age_s(self) -> float:
        with self._lock:
            return self._clock() - self._last

    def __call__(self) -> bool:
        return self.age_s() <= self.max_age_s


def _counter(registry: CollectorRegistry, name: str, doc: str) -> Counter:
    """The counter ``name`` (label ``reason``) of ``registry``: one per registry, however many
    apps are created on it."""
    counters = _COUNTERS.setdefault(registry, {})
    if name not in counters:
        counters[name] = Counter(PREFIX + name, doc, ("reason",), registry=registry)
    return counters[name]


def _auth_refused(registry: CollectorRegistry) -> Counter:
    return _counter(
        registry, "http_auth_refused", "config-changing HTTP requests refused for their bearer token"
    )


def _refused(registry: CollectorRegistry) -> Counter:
    return _counter(
        registry,
        "http_requests_refused",
        "HTTP requests refused: invalid_request (422: a body or parameter that does not validate), "
        "conflict (409: the runtime refused the change)",
    )


def config_auth(token: SecretStr | str | None, registry: CollectorRegistry) -> Callable[..., None]:
    """A FastAPI dependency: the request carries ``Authorization: Bearer <token>``.

    401 without credentials, 403 with a wrong token or when no token is configured (config
    changes are then off); each refusal counted by reason and logged once.
    """
    expected = (token.get_secret_value() if isinstance(token, SecretStr) else token or "").encode()
    refused = _auth_refused(registry)
    bearer = HTTPBearer(auto_error=False)

    def refuse(request: Request, reason: AuthRefusal, status: int, detail: str) -> NoReturn:
        refused.labels(reason).inc()
        client = request.client.host if request.client is not None else "?"
        _log.warning("%s %s refused (%s) from %s", request.method, request.url.path, reason, client)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        raise HTTPException(status_code=status, detail=detail, headers=headers)

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008 (a closure: not Annotated)
    ) -> None:
        if not expected:
            refuse(request, "disabled", 403, "config changes are off: no http.token is configured")
        if credentials is None or credentials.scheme.lower() != "bearer":
            refuse(request, "missing", 401, "a bearer token is required")
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            refuse(request, "invalid", 403, "the bearer token is not valid")

    return check


def _validation_errors(registry: CollectorRegistry) -> Callable[[Request, Exception], JSONResponse]:
    """The 422 handler: each error's location, message and type, without echoing the input back
    (FastAPI's own handler echoes it, and an input such as ``NaN``, which Python's JSON parser
    accepts, cannot be rendered as JSON: that answered 500); counted and logged once."""
    refused = _refused(registry)

    def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        refused.labels("invalid_request").inc()
        fields = ", ".join(".".join(str(p) for p in d["loc"]) for d in detail[:5])
        _log.warning("%s %s refused (422): invalid %s", request.method, request.url.path, fields)
        return JSONResponse({"detail": detail}, status_code=422)

    return handler


def _conflict(registry: CollectorRegistry, request: Request, exc: ValueError) -> HTTPException:
    _refused(registry).labels("conflict").inc()
    _log.warning("%s %s refused (409): %s", request.method, request.url.path, exc)
    return HTTPException(status_code=409, detail=str(exc))


def create_app(
    runtime: XappRuntime,
    registry: CollectorRegistry,
    extra_routers: Sequence[APIRouter] = (),
    *,
    alive: Callable[[], bool] | None = None,
    config_token: SecretStr | str | None = None,
) -> FastAPI:
    """The FastAPI app over `runtime`; `alive` (optional) tells whether the process loop runs;
    `config_token` is the bearer token PUT /ric/v1/config needs (None: config changes refused)."""
    app = FastAPI(title="metahrl DU xApp", docs_url=None, redoc_url=None)
    app.add_exception_handler(RequestValidationError, _validation_errors(registry))
    authorized = Depends(config_auth(config_token, registry))

    @app.get("/ric/v1/health/alive")
    def health_alive() -> JSONResponse:
        ok = alive is None or alive()
        return JSONResponse({"alive": ok}, status_code=200 if ok else 503)

    @app.get("/ric/v1/health/ready", response_model=Readiness)
    def health_ready() -> JSONResponse:
        state = runtime.readiness()
        return JSONResponse(state.model_dump(mode="json"), status_code=200 if state.ready else 503)

    @app.get("/ric/v1/config", response_model=XappControls)
    def get_config() -> XappControls:
        return runtime.controls()

    @app.put("/ric/v1/config", response_model=XappControls, dependencies=[authorized])
    def put_config(new: XappControls, request: Request) -> XappControls:
        try:
            runtime.apply_controls(new)
        except ValueError as exc:
            raise _conflict(registry, request, exc) from exc
        return runtime.controls()

    @app.post("/ric/v1/e2/reset/{du}", status_code=204, dependencies=[authorized])
    def reset_e2(du: int, request: Request) -> Response:
        try:
            runtime.reset_e2(du)
        except KeyError as exc:
            raise HTTPException(status_code=404, detail=f"DU {du} is not served here") from exc
        except ValueError as exc:
            raise _conflict(registry, request, exc) from exc
        return Response(status_code=204)

    @app.get("/ric/v1/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in extra_routers:
        app.include_router(router)
    return app


# ---- serving ------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the xApp process owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """A running uvicorn server; `stop` ends it."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], port: int) -> None:
        self._server = server
        self._task = task
        self.port = port

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, finish open requests (bounded), and wait for the server to end."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(
    app: FastAPI, host: str, port: int, *, startup_timeout_s: float = 10.0
) -> tuple[HttpServer, int]:
    """Run `app` on ``host:port`` in this event loop; returns the server and the bound port.

    Port 0 binds any free port (the returned one is real). A port that cannot be bound raises
    `OSError` here, before anything runs.
    """
    sock = _bind(host, port)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    deadline = asyncio.get_running_loop().time() + startup_timeout_s
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # re-raises the startup error
            raise RuntimeError("HTTP server ended during startup")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            task.cancel()
            sock.close()
            raise TimeoutError(f"HTTP server did not start within {startup_timeout_s} s")
        await asyncio.sleep(0.005)
    return HttpServer(server, task, bound), bound
