"""HTTP API over a stub runtime: health reflects the runtime's state, config PUT validates and
changes nothing on a bad body, metrics parse as Prometheus text — via TestClient and over a real
uvicorn bound to port 0."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from xapps.service.http import Check, Heartbeat, Readiness, create_app, e2_check, meta_check, sdl_check, serve
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappControls, load_settings


class StubRuntime:
    """The state a real runtime would hold, settable by the test."""

    def __init__(self, dus: tuple[int, ...] = (0, 1)) -> None:
        self.e2 = {du: {"connected": False, "subscribed": False} for du in dus}
        self.meta_address: str | None = None
        self.meta_reachable = False
        self.sdl: Any = None
        self._controls = load_settings(env={}).controls()
        self.refuse: str | None = None
        self.applied: list[XappControls] = []
        self.resets: list[int] = []
        self.lock = threading.Lock()

    def readiness(self) -> Readiness:
        checks = {f"e2/du{du}": e2_check(**state) for du, state in self.e2.items()}
        checks["sdl"] = sdl_check(self.sdl)
        checks["meta"] = meta_check(self.meta_address, self.meta_reachable)
        return Readiness.of(checks)

    def controls(self) -> XappControls:
        with self.lock:
            return self._controls

    def apply_controls(self, new: XappControls) -> None:
        if self.refuse is not None:
            raise ValueError(self.refuse)
        with self.lock:
            self._controls = new
            self.applied.append(new)

    def reset_e2(self, du: int) -> None:
        if du not in self.e2:
            raise KeyError(du)
        if not self.e2[du]["connected"]:
            raise ValueError(f"E2 node of DU {du} is not connected")
        self.resets.append(du)


def all_up(rt: StubRuntime) -> None:
    for state in rt.e2.values():
        state.update(connected=True, subscribed=True)


@pytest.fixture
def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    metrics = XappMetrics(reg)
    metrics.decision(0, 0.001, learning=False)
    metrics.control(0, "acknowledged")
    metrics.slice_kpis(0, "embb", 0.9, 5e6, 0.01, 0.5)
    return reg


@pytest.fixture
def runtime() -> StubRuntime:
    return StubRuntime()


TOKEN = secrets.token_hex(16)  # generated at run time: no credential is committed


@pytest.fixture
def client(runtime: StubRuntime, registry: CollectorRegistry) -> TestClient:
    app = create_app(runtime, registry, config_token=TOKEN)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def good_body(runtime: StubRuntime, **learning: Any) -> dict[str, Any]:
    body = runtime.controls().model_dump(mode="json")
    body["learning"].update(learning)
    return body


# ---- health -------------------------------------------------------------------------------------


def test_alive(runtime: StubRuntime, registry: CollectorRegistry) -> None:
    assert TestClient(create_app(runtime, registry)).get("/ric/v1/health/alive").status_code == 200
    running = {"ok": True}
    client = TestClient(create_app(runtime, registry, alive=lambda: running["ok"]))
    assert client.get("/ric/v1/health/alive").status_code == 200
    running["ok"] = False
    assert client.get("/ric/v1/health/alive").status_code == 503


def test_ready_follows_e2_state_per_du(client: TestClient, runtime: StubRuntime) -> None:
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["ready"] is False
    assert body["checks"]["e2/du0"] == {"ok": False, "detail": "E2 node not connected"}
    assert body["checks"]["meta"] == {"ok": True, "detail": "not configured"}
    runtime.e2[0].update(connected=True, subscribed=True)
    runtime.e2[1].update(connected=True)  # connected, not yet subscribed: still not ready
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 503 and r.json()["checks"]["e2/du1"]["ok"] is False
    assert "subscription" in r.json()["checks"]["e2/du1"]["detail"]
    runtime.e2[1].update(subscribed=True)
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 200 and r.json()["ready"] is True
    runtime.e2[0].update(connected=False, subscribed=False)  # a node goes away
    assert client.get("/ric/v1/health/ready").status_code == 503


def test_ready_needs_a_configured_meta_controller_to_be_reachable(
    client: TestClient, runtime: StubRuntime
) -> None:
    all_up(runtime)
    runtime.meta_address = "meta.ricxapp:50051"
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 503 and r.json()["checks"]["meta"]["detail"] == "meta.ricxapp:50051 unreachable"
    runtime.meta_reachable = True
    assert client.get("/ric/v1/health/ready").status_code == 200


def test_ready_with_real_redis_up_and_down(
    client: TestClient, runtime: StubRuntime, redis_sdl: Any, dead_redis_url: str
) -> None:
    from tests.xapp_service.conftest import open_redis_sdl

    all_up(runtime)
    runtime.sdl = redis_sdl
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 200 and r.json()["checks"]["sdl"] == {"ok": True, "detail": "reachable"}
    runtime.sdl = open_redis_sdl(dead_redis_url)
    r = client.get("/ric/v1/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["sdl"]["ok"] is False


def test_readiness_of_no_checks_is_not_ready() -> None:
    assert Readiness.of({}).ready is False
    assert Readiness.of({"a": Check(ok=True)}).ready is True


# ---- config -------------------------------------------------------------------------------------


def test_get_config(client: TestClient, runtime: StubRuntime) -> None:
    r = client.get("/ric/v1/config")
    assert r.status_code == 200 and XappControls.model_validate(r.json()) == runtime.controls()


def test_put_config_applies(client: TestClient, runtime: StubRuntime) -> None:
    body = good_body(runtime, mode="online", explore=True)
    body["control"]["control_timeout_s"] = 0.2
    r = client.put("/ric/v1/config", json=body)
    assert r.status_code == 200 and r.json() == body
    assert (
        runtime.controls().learning.mode == "online" and runtime.controls().control.control_timeout_s == 0.2
    )
    assert client.get("/ric/v1/config").json() == body


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["learning"].update(mode="sometimes"),
        lambda b: b["control"].update(control_timeout_s=-1),
        lambda b: b["control"].update(high_period_steps=0),
        lambda b: b["state"].update(checkpoint_interval_s="soon"),
        lambda b: b["learning"].update(explor=True),  # typo
        lambda b: b.pop("state"),  # a PUT gives every field
        lambda b: b.update(e2={"mode": "osc"}),  # not a run-time control
    ],
)
def test_bad_put_is_422_and_changes_nothing(client: TestClient, runtime: StubRuntime, mutate: Any) -> None:
    before = runtime.controls()
    body = good_body(runtime, mode="online")  # a valid change bundled with the invalid one
    mutate(body)
    r = client.put("/ric/v1/config", json=body)
    assert r.status_code == 422
    assert runtime.controls() == before and runtime.applied == []
    assert XappControls.model_validate(client.get("/ric/v1/config").json()) == before


def test_put_that_is_not_json_is_422(client: TestClient, runtime: StubRuntime) -> None:
    r = client.put("/ric/v1/config", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 422 and runtime.applied == []


def test_put_the_runtime_refuses_is_409(client: TestClient, runtime: StubRuntime) -> None:
    before = runtime.controls()
    runtime.refuse = "learning online needs a learner (started with --learn off)"
    r = client.put("/ric/v1/config", json=good_body(runtime, mode="online"))
    assert r.status_code == 409 and "needs a learner" in r.json()["detail"]
    assert runtime.controls() == before


# ---- metrics and extra routers ------------------------------------------------------------------


def test_e2_reset_needs_the_token_and_names_its_refusals(
    client: TestClient, runtime: StubRuntime, registry: CollectorRegistry
) -> None:
    all_up(runtime)
    anonymous = TestClient(create_app(runtime, registry, config_token=TOKEN))
    assert anonymous.post("/ric/v1/e2/reset/0").status_code == 401
    assert runtime.resets == []
    assert client.post("/ric/v1/e2/reset/0").status_code == 204
    assert client.post("/ric/v1/e2/reset/9").status_code == 404  # not a DU of this xApp
    runtime.e2[1]["connected"] = False
    refused = client.post("/ric/v1/e2/reset/1")
    assert refused.status_code == 409 and "not connected" in refused.json()["detail"]
    assert runtime.resets == [0]


def parse_metrics(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_text_parses(client: TestClient) -> None:
    r = client.get("/ric/v1/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = parse_metrics(r.text)
    decision = families["metahrl_du_decision_seconds"]
    assert decision.type == "histogram"
    count = [s for s in decision.samples if s.name.endswith("_count") and s.labels["du"] == "0"]
    assert count[0].value == 1
    controls = families["metahrl_du_controls"]  # the parser strips _total from counter families
    assert any(s.labels == {"du": "0", "outcome": "acknowledged"} and s.value == 1 for s in controls.samples)


def test_extra_router_is_mounted(runtime: StubRuntime, registry: CollectorRegistry) -> None:
    router = APIRouter()
    seen: list[dict[str, Any]] = []

    @router.post("/ric/v1/subscriptions/response")
    def notification(body: dict[str, Any]) -> dict[str, str]:
        seen.append(body)
        return {"status": "ok"}

    client = TestClient(create_app(runtime, registry, [router]))
    r = client.post("/ric/v1/subscriptions/response", json={"SubscriptionId": "x"})
    assert r.status_code == 200 and seen == [{"SubscriptionId": "x"}]


# ---- a real server ------------------------------------------------------------------------------


def test_real_uvicorn_on_port_zero(runtime: StubRuntime, registry: CollectorRegistry) -> None:
    async def scenario() -> int:
        server, port = await serve(create_app(runtime, registry, config_token=TOKEN), "127.0.0.1", 0)
        assert port > 0
        auth = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=5.0, headers=auth
            ) as http:
                assert (await http.get("/ric/v1/health/alive")).status_code == 200
                assert (await http.get("/ric/v1/health/ready")).status_code == 503
                all_up(runtime)
                assert (await http.get("/ric/v1/health/ready")).status_code == 200
                before = runtime.controls()
                bad = good_body(runtime, mode="never")
                assert (await http.put("/ric/v1/config", json=bad)).status_code == 422
                assert runtime.controls() == before
                good = good_body(runtime, mode="online")
                assert (await http.put("/ric/v1/config", json=good)).status_code == 200
                assert runtime.controls().learning.mode == "online"
                text = (await http.get("/ric/v1/metrics")).text
                assert "metahrl_du_slice_qos_ratio" in parse_metrics(text)
        finally:
            await server.stop()
        return port

    port = asyncio.run(scenario())
    with socket.socket() as sock:  # stopped: nothing listens there any more
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_serve_on_a_busy_port_raises(runtime: StubRuntime, registry: CollectorRegistry) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        async def scenario() -> None:
            await serve(create_app(runtime, registry), "127.0.0.1", port)

        with pytest.raises(OSError):
            asyncio.run(scenario())


def test_heartbeat_drives_alive(runtime: StubRuntime, registry: CollectorRegistry) -> None:
    now = {"t": 100.0}
    heartbeat = Heartbeat(max_age_s=2.0, clock=lambda: now["t"])
    client = TestClient(create_app(runtime, registry, alive=heartbeat))
    assert client.get("/ric/v1/health/alive").status_code == 200  # start-up grace
    now["t"] = 102.5  # the loop never beat
    assert client.get("/ric/v1/health/alive").status_code == 503
    heartbeat.beat()
    now["t"] = 104.0
    assert client.get("/ric/v1/health/alive").status_code == 200 and heartbeat.age_s() == 1.5
    now["t"] = 104.6  # the loop stalled
    assert client.get("/ric/v1/health/alive").status_code == 503
    with pytest.raises(ValueError, match="max_age_s"):
        Heartbeat(0.0)
