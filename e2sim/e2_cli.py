"""Run the simulator as E2 nodes (one per DU) connected to a near-RT RIC.

Each DU becomes an E2 node (``gnbd_001_001_<gNB ID>_0``) that connects to the RIC's E2
endpoint, performs E2 Setup advertising E2SM-KPM (RAN function 2) and E2SM-RC (RAN function 3),
serves KPM subscriptions (node-level style 1 with sliceID labels, UE-level styles 2/4/5) and
applies RC style 2 / action 6 controls (slice PRB quotas; UE ID GnbDuUeId(0) = slice level,
GnbDuUeId(i + 1) = simulator UE i). It reconnects with backoff when the RIC goes away.
Conventions in detail: `python -m pydoc e2sim.e2node`.

Time is simulated by default: the simulator runs as fast as it can (1 TTI = 1 ms of simulated
time) while at least one node is set up with the RIC, and stands still while none is;
--realtime paces it to the wall clock instead. Ctrl-C / SIGTERM stop cleanly.

Examples:
  metahrl e2sim --ric 127.0.0.1:36422                      # paper scenario, 7 E2 nodes, TCP
  metahrl e2sim --scenario stadium --ric ric:36422 --realtime --duration-s 60
  metahrl e2sim --transport sctp --ric 10.0.0.5:36422     # needs kernel SCTP
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys

from e2sim.cli import add_scenario_argument
from e2sim.core import Simulator
from e2sim.e2node import MIN_PERIOD_MS, E2SimConfig, E2SimNodes, ran_functions
from e2sim.scenario import ScenarioError, load_scenario
from ric.transport import SctpUnavailableError, TransportConfig, TransportKind, sctp_socket

__all__ = ["add_arguments", "parse_du_times", "parse_endpoint", "run"]

_log = logging.getLogger("e2sim")


def _error(message: str) -> None:
    sys.stderr.write(message + "\n")


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → ``(host, port)``; ``ValueError`` if invalid."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_argument(p)
    p.add_argument(
        "--ric", default="127.0.0.1:36422", help="the RIC's E2 endpoint HOST:PORT (default 127.0.0.1:36422)"
    )
    p.add_argument(
        "--transport",
        choices=[k.value for k in TransportKind],
        default="tcp",
        help="sctp (E2 standard, PPID 70; needs kernel SCTP) or tcp (4-byte length-prefixed PDUs; default)",
    )
    p.add_argument(
        "--period-ms",
        type=int,
        default=MIN_PERIOD_MS,
        help=f"shortest KPM reporting period served; the RIC picks the period (default {MIN_PERIOD_MS})",
    )
    p.add_argument(
        "--ric-ports",
        default=None,
        help="one RIC port per DU, comma-separated (each DU's node connects to its own xApp on "
        "the --ric host); default: every node connects to --ric",
    )
    p.add_argument(
        "--join",
        action="append",
        default=[],
        metavar="DU@SECONDS",
        help="DU DU joins at that simulated second: off the air and not connected until then, "
        "then its E2 node connects (E2 Setup at run time, retried every 0.5 s) and its radio "
        "goes on once the RIC accepts the setup; repeatable (e.g. --join 3@20 --join 4@20)",
    )
    p.add_argument(
        "--leave",
        action="append",
        default=[],
        metavar="DU@SECONDS",
        help="DU DU leaves at that simulated second: its E2 node disconnects for good (the RIC "
        "sees it go; its subscriptions end) and its radio goes off, its UEs moving to the other "
        "DUs; repeatable; may follow a --join of the same DU",
    )
    p.add_argument("--realtime", action="store_true", help="pace the simulator to the wall clock")
    p.add_argument(
        "--lockstep",
        action="store_true",
        help="simulated time follows the RIC: after each report a node waits for its answer "
        "(ending with the slice-level quota control) before the simulator steps on, so a closed "
        "loop over E2 follows the in-process env's trajectory for the same seed",
    )
    p.add_argument(
        "--lockstep-timeout-s",
        type=float,
        default=2.0,
        help="longest wait for the RIC's answer in lockstep before stepping on (default 2)",
    )
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this much simulated time")
    p.add_argument(
        "--fading", choices=("full", "scheduled"), default=None, help="override the scenario's fading"
    )
    p.add_argument("--progress-s", type=float, default=5.0, help="seconds between progress lines (default 5)")
    p.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    p.add_argument("--json", action="store_true", help="print final counters as one JSON object")


def parse_ports(text: str | None) -> tuple[int, ...]:
    """``P1,P2,…`` → ports; ``ValueError`` naming the bad entry."""
    if not text:
        return ()
    ports = []
    for part in text.split(","):
        if not part.strip().isdigit() or not 0 < int(part) < 65536:
            raise ValueError(f"--ric-ports: {part!r} is not a port")
        ports.append(int(part))
    return tuple(ports)


def parse_du_times(items: list[str], flag: str = "--join") -> dict[int, float]:
    """``["3@20", …]`` → ``{3: 20.0}`` (``--join`` / ``--leave``); ``ValueError`` naming the flag
    and the bad entry."""
    out: dict[int, float] = {}
    for item in items:
        du, sep, at = item.partition("@")
        try:
            if not sep:
                raise ValueError
            out[int(du)] = float(at)
        except ValueError:
            raise ValueError(f"{flag}: expected DU@SECONDS (e.g. 3@20), got {item!r}") from None
    return out


def _config(args: argparse.Namespace) -> E2SimConfig:
    host, port = parse_endpoint(args.ric)
    if args.lockstep and args.realtime:
        raise ValueError("--lockstep runs simulated time; it cannot be combined with --realtime")
    if args.lockstep_timeout_s <= 0:
        raise ValueError("--lockstep-timeout-s must be positive")
    return E2SimConfig(
        ric_host=host,
        ric_port=port,
        ric_ports=parse_ports(args.ric_ports),
        lockstep=args.lockstep,
        lockstep_timeout_s=args.lockstep_timeout_s,
        transport=TransportConfig(kind=TransportKind(args.transport)),
        realtime=args.realtime,
        duration_s=args.duration_s,
        progress_every_s=args.progress_s,
        min_period_ms=args.period_ms,
        join_at_s=parse_du_times(args.join, "--join"),
        leave_at_s=parse_du_times(args.leave, "--leave"),
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = _config(args)
        scenario = load_scenario(args.scenario)
    except (ValueError, ScenarioError) as err:
        _error(f"error: {err}")
        return 2
    if config.ric_ports and len(config.ric_ports) not in (1, scenario.n_du):
        _error(f"error: --ric-ports: {len(config.ric_ports)} ports for {scenario.n_du} DUs")
        return 2
    if args.period_ms < 1 or (args.duration_s is not None and args.duration_s <= 0):
        _error("error: --period-ms and --duration-s must be positive")
        return 2
    if config.transport.kind is TransportKind.SCTP:
        try:
            sctp_socket().close()
        except SctpUnavailableError as err:
            _error(f"error: {err.strerror}")
            return 1
    scenario = scenario.with_fading(args.fading)
    sim = Simulator(scenario, seed=args.seed)
    try:
        nodes = E2SimNodes(sim, config)
    except ValueError as err:
        _error(f"error: {err}")
        return 2
    ran_functions()  # compiles the E2SM ASN.1 specs now
    gc.collect()
    gc.freeze()  # long-lived objects (ASN.1 specs, simulator) out of the GC: no ~30 ms full-collection pauses
    _log.info(
        "%s: %d DUs × %d UEs, RIC %s over %s, %s time",
        scenario.name,
        sim.n_du,
        sim.n_ues,
        args.ric,
        args.transport,
        "real" if args.realtime else "simulated",
    )
    try:
        stats = asyncio.run(_main(nodes))
    except SctpUnavailableError as err:
        _error(f"error: {err.strerror}")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(stats) + "\n")
    return 0


async def _main(nodes: E2SimNodes) -> dict[str, int | float]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, nodes.stop)
    await nodes.run()
    return nodes.stats()
