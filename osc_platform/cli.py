"""Run the OSC platform stand-in: E2 termination (E2AP over TCP/SCTP ↔ RMR), the Subscription
Manager's REST API for xApps and E2 Manager-style node states.

For local runs and tests of `metahrl xapp --e2 osc` without a Kubernetes RIC. E2 nodes (for
example `metahrl e2sim --ric HOST:E2PORT`) connect to the E2 port; xApps reach it over real RMR
(librmr; message types RIC_INDICATION 12050, RIC_CONTROL_REQ/ACK/FAILURE 12040/12041/12042,
meid = E2 node name) and over HTTP:

  POST/DELETE/GET  http://HOST:HTTP_PORT/ric/v1/subscriptions   (submgr; the outcome is POSTed
                   to the xApp's ClientEndpoint at /ric/v1/subscriptions/response)
  GET              http://HOST:HTTP_PORT/v1/nodeb/states         (e2mgr node states)

xApps on this host route RIC_CONTROL_REQ to the stand-in with a static RMR route table
(RMR_SEED_RT): the one given with --route-table, else a generated one whose path is printed at
start. Indications are sent to each subscription's ClientEndpoint Host:RMRPort. Ctrl-C /
SIGTERM stop cleanly; --json prints the counters at exit.

Examples:
  metahrl osc-platform                                   # E2 36422, RMR 38000, REST 8088
  metahrl osc-platform --e2-port 36421 --http-port 8088 --rmr-port 38000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from osc_platform.platform import OscPlatform, OscPlatformSettings
from ric.rmr import RmrError

__all__ = ["add_arguments", "run"]

_log = logging.getLogger("osc_platform")


def _field_help(name: str) -> str:
    field = OscPlatformSettings.model_fields[name]
    return f"{field.description} (default {field.default})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--e2-host", default="127.0.0.1", help=_field_help("e2_host"))
    p.add_argument("--e2-port", type=int, default=36422, help=_field_help("e2_port"))
    p.add_argument("--transport", choices=["tcp", "sctp"], default="tcp", help=_field_help("transport"))
    p.add_argument("--rmr-port", type=int, default=38000, help=_field_help("rmr_port"))
    p.add_argument("--rmr-host", default="127.0.0.1", help=_field_help("rmr_host"))
    p.add_argument("--route-table", type=Path, default=None, help=_field_help("route_table"))
    p.add_argument("--http-host", default="127.0.0.1", help=_field_help("http_host"))
    p.add_argument("--http-port", type=int, default=8088, help=_field_help("http_port"))
    p.add_argument("--notify-first", action="store_true", help=_field_help("notify_first"))
    p.add_argument("--e2-timeout-s", type=float, default=2.0, help=_field_help("e2_timeout_s"))
    p.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="once serving, write {e2_port, http_port, rmr_endpoint, route_table, submgr_url, "
        "e2mgr_url} there as JSON (atomically), for scripts that start it with port 0",
    )
    p.add_argument("--json", action="store_true", help="print the counters as one JSON object at exit")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _settings(args: argparse.Namespace) -> OscPlatformSettings:
    return OscPlatformSettings(
        e2_host=args.e2_host,
        e2_port=args.e2_port,
        transport=args.transport,
        rmr_port=args.rmr_port,
        rmr_host=args.rmr_host,
        route_table=args.route_table,
        http_host=args.http_host,
        http_port=args.http_port,
        notify_first=args.notify_first,
        e2_timeout_s=args.e2_timeout_s,
    )


def _write_ready(path: Path, platform: OscPlatform) -> None:
    info = {
        "e2_port": platform.e2_port,
        "http_port": platform.http_port,
        "rmr_endpoint": platform.rmr_endpoint,
        "route_table": str(platform.route_table),
        "submgr_url": platform.submgr_url,
        "e2mgr_url": platform.e2mgr_url,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


async def _serve(settings: OscPlatformSettings, ready_file: Path | None) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with OscPlatform(settings) as platform:
        _log.info(
            "ready: E2 %s:%d, RMR %s (route table %s), REST http://%s:%d",
            settings.e2_host,
            platform.e2_port,
            platform.rmr_endpoint,
            platform.route_table,
            settings.http_host,
            platform.http_port,
        )
        if ready_file is not None:
            _write_ready(ready_file, platform)
        await stop.wait()
        return platform.counters.as_dict()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = _settings(args)
    except ValidationError as exc:
        errors = "; ".join(
            f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors()
        )
        sys.stderr.write(f"invalid settings: {errors}\n")
        return 2
    try:
        counters = asyncio.run(_serve(settings, args.ready_file))
    except (RmrError, OSError) as exc:
        sys.stderr.write(f"osc-platform: {exc}\n")
        return 1
    if args.json:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(json.dumps(counters, sort_keys=True) + "\n")
    return 0
