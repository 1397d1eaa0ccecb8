"""`metahrl osc-platform` as a real process: E2 nodes connect, REST answers, SIGTERM stops it."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes
from tests.osc_platform.conftest import free_port, require_rmr, run_async
from tests.ric.conftest import REPO_ROOT
from tests.sim.conftest import small_scenario

pytestmark = pytest.mark.usefixtures("_rmr")


@pytest.fixture
def _rmr() -> None:
    require_rmr()


async def _ready(proc: asyncio.subprocess.Process, ready_file: Path) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while not ready_file.exists():
            assert proc.returncode is None, "the process ended before it was ready"
            await asyncio.sleep(0.05)
    info: dict[str, Any] = json.loads(ready_file.read_text(encoding="utf-8"))
    return info


def test_osc_platform_command(tmp_path: Path) -> None:
    async def main() -> None:
        ready_file = tmp_path / "ready.json"
        args = ["--e2-port", "0", "--http-port", "0", "--rmr-port", str(free_port()), "--json"]
        args += ["--ready-file", str(ready_file)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "metahrl",
            "osc-platform",
            *args,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            info = await _ready(proc, ready_file)
            e2_port, route_table, http_port = info["e2_port"], info["route_table"], info["http_port"]
            assert info["submgr_url"] == f"http://127.0.0.1:{http_port}"
            assert "mse|12040|-1|127.0.0.1:" in Path(route_table).read_text(encoding="utf-8")
            sim = Simulator(small_scenario(), seed=2)
            nodes = E2SimNodes(sim, E2SimConfig(ric_port=e2_port, progress_every_s=600))
            running = asyncio.create_task(nodes.run())
            async with httpx.AsyncClient(timeout=5) as http:
                url = f"http://127.0.0.1:{http_port}/v1/nodeb/states"
                async with asyncio.timeout(20):
                    while (
                        len([s for s in (await http.get(url)).json() if s["connectionStatus"] == "CONNECTED"])
                        < 3
                    ):
                        await asyncio.sleep(0.05)
            nodes.stop()
            await running
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        counters = json.loads(out)
        assert counters["subscribe_invalid"] == 0 and "indications_forwarded" in counters

    run_async(main(), timeout=60)


def test_bad_settings_name_the_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "metahrl", "osc-platform", "--e2-port", "70000"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--e2-port" in proc.stderr
