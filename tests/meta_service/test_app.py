"""The assembled xApp (`meta_controller.app.start` / `metahrl meta-controller`): settings errors
name the field, file loaders name the setting, HTTP health/metrics and the gRPC health service
over TLS tell the truth, including while the SDL (a real redis-server) is down."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from meta_controller.app import RunningController, start
from meta_controller.client import ClientTls
from meta_controller.config import ControllerSettings, SettingsFileError, load_init, load_tokens
from meta_controller.pki import make_pki
from metahrl.cli import main
from tests.meta_service.helpers import client as make_client
from tests.meta_service.helpers import make_update, theta0
from tests.meta_service.redis_proc import RedisServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _settings(tmp: Path, **kw: object) -> ControllerSettings:
    torch.save(theta0(), tmp / "init.pt")
    base: dict[str, object] = {"init": tmp / "init.pt", "listen": "127.0.0.1:0", "http": "127.0.0.1:0"}
    return ControllerSettings.model_validate(base | kw)


def test_settings_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tls_cert and tls_key are required"):
        ControllerSettings.model_validate({"init": tmp_path / "x.pt"})
    with pytest.raises(ValidationError, match="insecure"):
        _settings(tmp_path, insecure=True, tls_cert=tmp_path / "c", tls_key=tmp_path / "k")
    with pytest.raises(ValidationError) as err:
        _settings(tmp_path, insecure=True, listen="localhost", rounds={"min_updates": 0})
    locs = {tuple(e["loc"]) for e in err.value.errors()}
    assert locs == {("listen",), ("rounds", "min_updates")}
    assert _settings(tmp_path, insecure=True, http="off").http is None


def test_loaders_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match=r"^init: cannot read"):
        load_init(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SettingsFileError, match=r"^init: .* not a torch.save file"):
        load_init(tmp_path / "junk.pt")
    torch.save({"w": torch.tensor([1.0, float("nan")])}, tmp_path / "nan.pt")
    with pytest.raises(SettingsFileError, match="'w' has non-finite values"):
        load_init(tmp_path / "nan.pt")
    (tmp_path / "tokens.json").write_text(json.dumps({"du-0": ""}))
    with pytest.raises(SettingsFileError, match=r"^tokens: .*'du-0' needs a non-empty string token"):
        load_tokens(tmp_path / "tokens.json")
    (tmp_path / "tokens.json").write_text("[1]")
    with pytest.raises(SettingsFileError, match=r"^tokens: .*JSON object"):
        load_tokens(tmp_path / "tokens.json")


async def _health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    resp = await stub.Check(health_pb2.HealthCheckRequest(service="metahrl.v1.MetaController"), timeout=5)
    return int(resp.status)


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    """Poll ``check`` (bounded) until it is true."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def test_tls_app_serves_grpc_health_and_metrics(tmp_path: Path) -> None:
    pki = make_pki()
    for name in ("ca_cert", "server_key", "server_cert"):
        (tmp_path / name).write_bytes(getattr(pki, name))
    (tmp_path / "tokens.json").write_text(json.dumps({"du-0": "s3cret"}))
    settings = _settings(
        tmp_path, tls_cert=tmp_path / "server_cert", tls_key=tmp_path / "server_key",
        tokens=tmp_path / "tokens.json", port_file=tmp_path / "ports.json", rounds={"min_updates": 1},
    )  # fmt: skip

    async def main_() -> None:
        running = await start(settings)
        ports = json.loads((tmp_path / "ports.json").read_text())
        assert ports == {"grpc": running.port, "http": running.http_port}
        tls = ClientTls(root_ca=pki.ca_cert)
        du = make_client(f"localhost:{running.port}", "du-0", token="s3cret", tls=tls)
        du.start()
        assert await du.register() and await du.upload(make_update(0))
        assert await du.wait_version(1, 10.0) is not None
        creds = grpc.ssl_channel_credentials(pki.ca_cert)
        async with grpc.aio.secure_channel(f"localhost:{running.port}", creds) as channel:
            assert await _health(channel) == SERVING
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}", timeout=5) as http:
            assert (await http.get("/ric/v1/health/alive")).status_code == 200
            ready = await http.get("/ric/v1/health/ready")
            assert ready.status_code == 200 and ready.json()["checks"]["sdl"] is True
            text = (await http.get("/ric/v1/metrics")).text
        assert "metahrl_meta_registered_dus 1.0" in text and "metahrl_meta_version 1.0" in text
        assert 'metahrl_meta_task_weight{du="du-0",group="high"} 1.0' in text
        await du.close()
        await running.stop()
        assert not running.controller.alive()

    asyncio.run(main_())


def test_health_follows_the_sdl(tmp_path: Path, redis_server: RedisServer) -> None:
    settings = _settings(tmp_path, insecure=True, sdl=redis_server.url, sdl_check_s=0.1)

    async def main_() -> None:
        running: RunningController = await start(settings)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}", timeout=5)

        async def state(want_grpc: int, want_http: int) -> bool:
            return await _health(channel) == want_grpc and (
                (await http.get("/ric/v1/health/ready")).status_code == want_http
            )

        assert await state(SERVING, 200)
        redis_server.kill()
        await _until(lambda: state(NOT_SERVING, 503))
        ready = (await http.get("/ric/v1/health/ready")).json()
        assert ready["checks"] == {"started": True, "sdl": False, "durable": True}
        assert (await http.get("/ric/v1/health/alive")).status_code == 200  # alive, not ready
        redis_server.start()
        await _until(lambda: state(SERVING, 200))
        await http.aclose()
        await channel.close()
        await running.stop()

    asyncio.run(main_())


def test_cli_help_and_start_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["meta-controller", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for text in ("--tls-client-ca", "mutual TLS", "PERMISSION_DENIED", "(default: softmin)", "--sdl-check"):
        assert text in out, text
    assert main(["meta-controller", "--init", str(tmp_path / "none.pt"), "--insecure", "--http", "off"]) == 1
    assert "cannot start: init: cannot read" in capsys.readouterr().err
    assert main(["meta-controller", "--init", "x.pt", "--min-updates", "0"]) == 2
    assert "rounds.min_updates (--min-updates): Input should be greater" in capsys.readouterr().err
    assert main(["meta-controller", "--init", "x.pt"]) == 2
    assert "tls_cert and tls_key are required unless insecure" in capsys.readouterr().err
