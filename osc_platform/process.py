"""The stand-in as a separate process (``metahrl osc-platform``), for benchmarks and demos that
want the deployment's shape — E2 termination and xApp in different processes — on one host.

::

    async with platform_process() as info:        # ports chosen free, ready when this returns
        e2sim → info.e2_port;  xApp → info.xapp_settings()  (route table, REST URLs)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osc_platform.platform import local_xapp_settings
from ric.rmr import free_port
from xapps.e2access.osc import OscE2Settings

__all__ = ["PlatformInfo", "platform_process"]


@dataclass(frozen=True)
class PlatformInfo:
    """Where a running stand-in process listens (from its ``--ready-file``)."""

    e2_port: int
    http_port: int
    rmr_endpoint: str
    route_table: Path
    submgr_url: str
    e2mgr_url: str
    pid: int

    def xapp_settings(self, rmr_port: int | None = None, **overrides: Any) -> OscE2Settings:
        """Settings for an :class:`xapps.e2access.osc.OscE2` of this host on that stand-in."""
        return local_xapp_settings(self.route_table, self.submgr_url, self.e2mgr_url, rmr_port, **overrides)


async def _wait_ready(proc: asyncio.subprocess.Process, ready: Path, timeout_s: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while not ready.exists():
            if proc.returncode is not None:
                raise RuntimeError(f"metahrl osc-platform exited with {proc.returncode} before it was ready")
            await asyncio.sleep(0.05)
    info: dict[str, Any] = json.loads(ready.read_text(encoding="utf-8"))
    return info


async def _stop(proc: asyncio.subprocess.Process, timeout_s: float) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def platform_process(
    *,
    rmr_port: int | None = None,
    args: Sequence[str] = (),
    ready_timeout_s: float = 30.0,
    stop_timeout_s: float = 10.0,
) -> AsyncIterator[PlatformInfo]:
    """Start ``metahrl osc-platform`` (E2 and REST on free ports, RMR on ``rmr_port`` or a free
    one, extra ``args`` appended), wait until it serves, stop it (SIGTERM, bounded) at exit."""
    with tempfile.TemporaryDirectory(prefix="metahrl-osc-proc-") as tmp:
        ready = Path(tmp) / "ready.json"
        command = [
            sys.executable, "-m", "metahrl", "osc-platform", "--e2-port", "0", "--http-port", "0",
            "--rmr-port", str(rmr_port or free_port()), "--ready-file", str(ready),
            "--log-level", "WARNING", *args,
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL)
        try:
            info = await _wait_ready(proc, ready, ready_timeout_s)
            yield PlatformInfo(
                e2_port=int(info["e2_port"]),
                http_port=int(info["http_port"]),
                rmr_endpoint=str(info["rmr_endpoint"]),
                route_table=Path(info["route_table"]),
                submgr_url=str(info["submgr_url"]),
                e2mgr_url=str(info["e2mgr_url"]),
                pid=proc.pid,
            )
        finally:
            await _stop(proc, stop_timeout_s)
