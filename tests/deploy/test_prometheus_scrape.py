"""The real Prometheus (Debian's `prometheus` binary) scrapes the services with the committed
scrape config and rules, and slice QoS is queried back over its HTTP API.

Two runs: (1) the services' real HTTP apps (xapps.service.http / meta_controller.http on uvicorn)
over their real registries holding fixed values, so what Prometheus stores and the recording rule
computes are checked exactly; (2) a short demo run — the real `metahrl xapp` process serving all
DUs of the paper scenario, fed by the real `metahrl e2sim` over E2 on loopback — whose slice QoS
per DU and slice and acknowledged controls reach Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from meta_controller.http import create_app as meta_app
from meta_controller.metrics import ControllerMetrics
from tests.deploy.conftest import DEPLOY, ROOT
from xapps.service.http import Readiness, create_app, e2_check, serve
from xapps.service.metrics import SLICES, XappMetrics
from xapps.service.settings import XappControls, XappSettings

QOS = {(du, s): round(0.5 + 0.125 * du + 0.0625 * i, 6) for du in (0, 1) for i, s in enumerate(SLICES)}
DEADLINE_S = 40.0


class _Runtime:
    def readiness(self) -> Readiness:
        return Readiness.of({"e2": e2_check(True, True)})

    def controls(self) -> XappControls:
        return XappSettings().controls()

    def apply_controls(self, new: XappControls) -> None:
        raise ValueError("read-only in this test")


class _Meta:
    """The controller state the meta-controller's HTTP app reads: started, SDL answering."""

    started, sdl_ok, durable = True, True, True

    def ready(self) -> bool:
        return True

    def alive(self) -> bool:
        return True


@dataclass
class Services:
    du_port: int
    meta_port: int
    du: XappMetrics
    call: Callable[[Callable[[], Any]], Any]


@pytest.fixture
def services() -> Iterator[Services]:
    """Both HTTP apps served on ephemeral ports by an event loop in a background thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=20)

    du_registry, meta_registry = CollectorRegistry(), CollectorRegistry()
    du, meta = XappMetrics(du_registry), ControllerMetrics(meta_registry)
    for (index, slice_), qos in QOS.items():
        du.slice_kpis(index, slice_, qos=qos, throughput_bps=8e6, latency_seconds=0.004, prb_share=1 / 3)
    meta.version.set(4)
    du_server, du_port = run(serve(create_app(_Runtime(), du_registry), "127.0.0.1", 0))
    meta_server, meta_port = run(serve(meta_app(_Meta(), meta_registry), "127.0.0.1", 0))

    def call(fn: Callable[[], Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(asyncio.to_thread(fn), loop)
        return future.result(timeout=10)

    try:
        yield Services(du_port, meta_port, du, call)
    finally:
        run(du_server.stop())
        run(meta_server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape_config(tmp_path: Path, du_port: int, meta_port: int | None) -> Path:
    """The committed config with the compose hostnames replaced by the test's ports."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
    targets = {"metahrl-du": f"127.0.0.1:{du_port}"}
    if meta_port is not None:
        targets["metahrl-meta"] = f"127.0.0.1:{meta_port}"
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in targets]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [targets[job["job_name"]]]
    shutil.copytree(DEPLOY / "prometheus" / "rules", tmp_path / "rules")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_prometheus(tmp_path: Path, du_port: int, meta_port: int | None) -> Iterator[str]:
    """The real Prometheus on the committed config (targets on loopback); yields its base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not found: apt-get install prometheus (Debian, ~10 s)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={scrape_config(tmp_path, du_port, meta_port)}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture
def prometheus(tmp_path: Path, services: Services) -> Iterator[str]:
    yield from run_prometheus(tmp_path, services.du_port, services.meta_port)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
    except OSError:
        return []  # not up yet
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def poll(base: str, expr: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """Query until `done` holds (bounded by DEADLINE_S); Prometheus scrapes every second here."""
    deadline = time.monotonic() + DEADLINE_S
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = query(base, expr)
        if done(result):
            return result
        time.sleep(0.25)  # poll interval, not a wait for an event
    pytest.fail(f"{expr!r} did not reach the expected state in {DEADLINE_S} s; last result {result}")


def by_du_slice(result: list[dict[str, Any]]) -> dict[tuple[int, str], float]:
    return {(int(r["metric"]["du"]), r["metric"]["slice"]): float(r["value"][1]) for r in result}


def test_prometheus_scrapes_slice_qos_from_the_xapp(prometheus: str, services: Services) -> None:
    result = poll(prometheus, "metahrl_du_slice_qos_ratio", lambda r: len(r) == len(QOS))
    assert by_du_slice(result) == QOS
    assert {r["metric"]["job"] for r in result} == {"metahrl-du"}
    # the recording rule of deploy/prometheus/rules, evaluated by the same Prometheus
    averaged = poll(prometheus, "slice:metahrl_du_slice_qos_ratio:avg", lambda r: len(r) == len(SLICES))
    for r in averaged:
        expected = (QOS[(0, r["metric"]["slice"])] + QOS[(1, r["metric"]["slice"])]) / 2
        assert float(r["value"][1]) == pytest.approx(expected, abs=1e-12)
    up = poll(prometheus, 'up{job="metahrl-meta"}', lambda r: len(r) == 1)
    assert float(up[0]["value"][1]) == 1.0
    version = poll(prometheus, "metahrl_meta_version", lambda r: len(r) == 1)
    assert float(version[0]["value"][1]) == 4.0
    # a new value reaches Prometheus (live scrapes, not a stale first sample)
    services.call(lambda: services.du.slice_kpis(1, "urllc", 0.25, 8e6, 0.004, 1 / 3))
    poll(
        prometheus,
        'metahrl_du_slice_qos_ratio{du="1", slice="urllc"}',
        lambda r: len(r) == 1 and float(r[0]["value"][1]) == 0.25,
    )


# ---- a short demo run: the real xApp process fed by the real simulator ---------------------------


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "metahrl", *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[int]:
    """`metahrl xapp` (all DUs of the paper scenario, direct E2) and `metahrl e2sim` connected to
    it on loopback, in simulated time; yields the xApp's HTTP port."""
    e2_port, http_port = free_port(), free_port()
    xapp = start(
        ["xapp", "--listen", f"127.0.0.1:{e2_port}", "--http", f"127.0.0.1:{http_port}",
         "--period-ms", "100", "--learn", "off", "--log-level", "warning"],
        tmp_path / "xapp.log",
    )  # fmt: skip
    sim: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not alive(http_port):
            assert xapp.poll() is None, (tmp_path / "xapp.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the xApp did not serve HTTP in time"
            time.sleep(0.25)  # poll interval
        sim = start(
            ["e2sim", "--ric", f"127.0.0.1:{e2_port}", "--seed", "0", "--log-level", "WARNING"],
            tmp_path / "sim.log",
        )
        yield http_port
    finally:
        for proc in (sim, xapp):
            if proc is not None:
                stop(proc)


def alive(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ric/v1/health/alive", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def demo_prometheus(tmp_path: Path, demo: int) -> Iterator[str]:
    yield from run_prometheus(tmp_path / "prom", demo, free_port())


def test_prometheus_scrapes_slice_qos_of_a_demo_run(demo_prometheus: str) -> None:
    n_du = 7  # the paper scenario
    qos = poll(demo_prometheus, "metahrl_du_slice_qos_ratio", lambda r: len(r) == n_du * len(SLICES))
    assert set(by_du_slice(qos)) == {(du, s) for du in range(n_du) for s in SLICES}
    assert all(0.0 <= v <= 1.0 for v in by_du_slice(qos).values())
    acked = poll(
        demo_prometheus,
        'sum(metahrl_du_controls_total{outcome="acknowledged"})',
        lambda r: len(r) == 1 and float(r[0]["value"][1]) > 0,
    )
    assert float(acked[0]["value"][1]) > 0
    connected = poll(
        demo_prometheus,
        "sum(metahrl_du_e2_connected)",
        lambda r: len(r) == 1 and float(r[0]["value"][1]) == n_du,
    )
    assert float(connected[0]["value"][1]) == n_du
