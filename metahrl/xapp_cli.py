"""`metahrl xapp`: the DU HRL xApp — KPM in, E2SM-RC slice and per-UE PRB control out.

One process serves one DU (``--du 3``) or several (``--du all``, ``--du 0,2``). Each DU's KPM
reports (every 10 ms by default) become the slicing MDP's observations; the hierarchical agent
(the one ``metahrl train`` trains) acts — the slice split every ``high_period_steps`` periods,
per-UE shares every period — and the xApp sends the per-UE PRB ratios and the slice PRB quotas
as E2SM-RC controls.

E2 access (``--e2``):
  direct  the xApp is the RIC side of E2: E2 nodes connect to --listen (``metahrl e2sim --ric``
          points there; TCP framing by default, SCTP with --transport sctp)
  osc     through an OSC near-RT RIC over RMR (Subscription Manager REST, E2 termination);
          ``metahrl osc-platform`` is a local stand-in for one

Settings, highest priority first: these flags; ``METAHRL_XAPP_*`` environment variables
(nested with ``__``, e.g. METAHRL_XAPP_E2__MODE=osc); the OSC descriptor named by CONFIG_FILE
(its ``controls``); defaults. ``--settings-reference`` lists every setting.

Examples (two terminals):
  metahrl xapp --du all --listen 127.0.0.1:36422
  metahrl e2sim --ric 127.0.0.1:36422

HTTP (port 8080 by default): /ric/v1/health/alive, /ric/v1/health/ready, /ric/v1/config
(GET/PUT), /ric/v1/metrics. A PUT needs ``Authorization: Bearer <token>``, the token given by
METAHRL_XAPP_HTTP__TOKEN_FILE (a file, e.g. a mounted Secret) or METAHRL_XAPP_HTTP__TOKEN;
without one, config changes are refused (403).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

__all__ = ["add_arguments", "overrides_of", "run"]

_log = logging.getLogger("metahrl.xapp")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--du", default=None, help="DU indices to serve: 'all' (default) or e.g. '0,2'")
    p.add_argument("--e2", choices=("direct", "osc"), default=None, help="E2 access mode (default direct)")
    p.add_argument(
        "--listen", default=None, help="direct mode: E2 listen HOST:PORT (default 127.0.0.1:36422)"
    )
    p.add_argument("--transport", choices=("tcp", "sctp"), default=None, help="direct mode: E2 transport")
    p.add_argument(
        "--scenario", default=None, help="scenario name or YAML: the DU tasks served (default paper)"
    )
    p.add_argument(
        "--init",
        default=None,
        help="initial policy: a checkpoint from `metahrl train` (file or run directory), "
        "'meta' (the meta-controller's meta-initialisation) or 'scratch' (default)",
    )
    p.add_argument("--agent", default=None, help="training config for scratch agents (default paper)")
    p.add_argument("--learn", choices=("off", "online"), default=None, help="online learning (default off)")
    p.add_argument("--explore", action="store_true", default=None, help="exploration noise while learning")
    p.add_argument("--period-ms", type=int, default=None, help="KPM reporting period (default 10)")
    p.add_argument("--http", default=None, help="HTTP API HOST:PORT (default 127.0.0.1:8080; port 0: any)")
    p.add_argument("--no-http", action="store_true", help="do not serve the HTTP API")
    p.add_argument("--checkpoint-dir", default=None, help="directory for periodic agent checkpoints")
    p.add_argument("--sdl", default=None, help="SDL: memory (default), redis://HOST:PORT[/DB] or dbaas")
    p.add_argument("--meta", default=None, help="meta-controller HOST:PORT (default: none)")
    p.add_argument("--seed", type=int, default=None, help="seed of scratch agents (default 0)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds (wall clock)")
    p.add_argument("--log-level", default=None, help="debug | info | warning | error")
    p.add_argument("--json", action="store_true", help="print final per-DU counters as one JSON object")
    p.add_argument(
        "--settings-reference", action="store_true", help="list every setting (name, env variable, default)"
    )


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, as dotted settings overrides (``ValueError`` naming a bad flag)."""
    out: dict[str, Any] = {}
    simple = {
        "du": "du",
        "e2": "e2.mode",
        "transport": "e2.transport",
        "scenario": "scenario",
        "init": "init",
        "agent": "agent",
        "learn": "learning.mode",
        "explore": "learning.explore",
        "period_ms": "control.kpm_period_ms",
        "checkpoint_dir": "state.checkpoint_dir",
        "sdl": "state.sdl",
        "meta": "meta.address",
        "seed": "seed",
        "log_level": "log_level",
    }
    for flag, key in simple.items():
        value = getattr(args, flag)
        if value is not None:
            out[key] = value
    endpoints = (("listen", "e2.listen_host", "e2.listen_port"), ("http", "http.host", "http.port"))
    for flag, host_key, port_key in endpoints:
        text = getattr(args, flag)
        if text is not None:
            out[host_key], out[port_key] = _endpoint(text, flag)
    return out


def _endpoint(text: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` with port 0 allowed (any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--{flag}: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> int:
    from xapps.service.settings import SettingsError, load_settings, settings_reference

    if args.settings_reference:
        for doc in settings_reference():
            sys.stdout.write(f"{doc.name}  ({doc.env})  default {doc.default!r}: {doc.description}\n")
        return 0
    try:
        settings = load_settings(overrides_of(args))
    except (SettingsError, ValueError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import torch

    from meta_controller.grpc_runtime import hold_aio_runtime

    torch.set_num_threads(settings.torch_threads)
    hold_aio_runtime()
    try:
        stats = asyncio.run(_main(settings, args))
    except (ValueError, OSError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(stats) + "\n")
    return 0


async def _main(settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    from metahrl.xapp_setup import build_service, freeze_gc
    from xapps.service.http import Heartbeat, create_app, serve

    bundle = build_service(settings)
    service = bundle.service
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    http = None
    beat = Heartbeat(max_age_s=5.0)
    if not args.no_http:
        routers = [service.e2.router] if hasattr(service.e2, "router") else []  # osc: submgr notifications
        app = create_app(service, bundle.registry, routers, alive=beat, config_token=settings.http.token)
        http, bound = await serve(app, settings.http.host, settings.http.port)
        if hasattr(service.e2, "use_http_port"):  # osc: the ClientEndpoint port submgr posts to
            service.e2.use_http_port(bound)
        _log.info("HTTP API on %s:%d", settings.http.host, bound)
    try:
        await freeze_gc()
        await service.start()
        port = getattr(service.e2, "port", None)
        _log.info(
            "serving DUs %s (%s; init %s; learning %s)%s",
            sorted(service.dus),
            settings.e2.mode,
            bundle.init,
            settings.learning.mode,
            f"; E2 on {settings.e2.listen_host}:{port}" if port is not None else "",
        )
        deadline = None if args.duration_s is None else loop.time() + args.duration_s
        while not stop.is_set() and (deadline is None or loop.time() < deadline):
            beat.beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        if http is not None:
            await http.stop()
        await service.close()
    return service.stats()
