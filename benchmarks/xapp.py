"""DU xApp latency: 7 DUs × 30 UEs (the paper scenario), KPM every 10 ms, paper network sizes.

The xApp (this process) serves all DUs over E2 (direct: TCP on loopback; osc: through the OSC
platform stand-in over real RMR) while ``metahrl e2sim --realtime --fading scheduled`` (another
process; scheduled fading is exact for per-TTI fading and keeps the simulator at real time on 2
cores) runs the E2 nodes paced to the wall clock, as a deployment sees them. Measured in the same run:

* **decision** — a window's last indication received → every control of the decision written
  to the transport (per DU and period), p50/p99, with learning off and then on (a learner
  thread per DU, one gradient step of all four learners per transition);
* **round trip** — indication received → the node's acknowledge of a control, p50/p99;
* **act** — the bare ``HierarchicalAgent.act`` of one DU on an observation of this run (the
  reference the decision is compared with).

JSON keys (``--json``): ``xapp_decision_p50_ms``, ``xapp_decision_p99_ms``,
``xapp_decision_p50_learning_ms``, ``xapp_decision_p99_learning_ms``, ``xapp_roundtrip_p50_ms``,
``xapp_roundtrip_p99_ms``, ``xapp_act_p50_ms``, ``xapp_act_p99_ms``,
``xapp_decision_to_act_ratio`` (p50), ``xapp_learning_slowdown_ratio`` (p99 on / p99 off),
``xapp_controls_per_s``, ``xapp_timeouts``, ``xapp_lost``. Targets: round trip p99 ≤ 10 ms in
direct mode on 2 cores; learning on ≤ 1.5× in p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import numpy as np
import torch

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--e2", choices=("direct", "osc"), default="direct", help="E2 access mode")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase (default 10)")
    p.add_argument("--warmup-s", type=float, default=2.0, help="unmeasured seconds before each phase")
    p.add_argument("--scenario", default="paper", help="scenario (default paper: 7 DUs × 30 UEs)")
    p.add_argument("--agent", default="paper", help="training config for the network sizes (default paper)")
    p.add_argument(
        "--du",
        default="all",
        help="DUs the xApp serves ('all' or e.g. '0'); the other DUs' nodes connect but are not "
        "subscribed (a lighter load, to see latency without queueing)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--quick", action="store_true", help="1 s phases (a smoke test, not a measurement)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, q)) if xs else float("nan")


async def _phase(args: argparse.Namespace, learn: str) -> dict[str, Any]:
    from metahrl.xapp_setup import build_service, freeze_gc
    from xapps.service.settings import XappSettings

    settings = XappSettings.model_validate(
        {
            "scenario": args.scenario,
            "agent": args.agent,
            "du": args.du,
            "e2": {"mode": args.e2, "listen_port": 0},
            "learning": {"mode": learn, "explore": learn == "online"},
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        e2 = None
        ric_port = 0
        if args.e2 == "osc":
            from osc_platform.process import platform_process
            from ric.sdl import MemorySdl
            from xapps.e2access.osc import OscE2

            info = await stack.enter_async_context(platform_process())
            e2, ric_port = OscE2(info.xapp_settings(), MemorySdl()), info.e2_port
        bundle = build_service(settings, e2=e2)
        service = bundle.service
        await freeze_gc()  # as `metahrl xapp` does
        await service.start()
        return await _measure(args, service, ric_port or service.e2.port)  # type: ignore[attr-defined]
    raise AssertionError("unreachable")


async def _measure(args: argparse.Namespace, service: Any, port: int) -> dict[str, Any]:
    duration = args.warmup_s + args.seconds + 30.0
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "metahrl", "e2sim", "--scenario", args.scenario, "--realtime",
        "--fading", "scheduled", "--ric", f"127.0.0.1:{port}", "--duration-s", str(duration),
        "--log-level", "ERROR", "--json", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await service.wait_decisions(1, 30)
        await asyncio.sleep(args.warmup_s)
        for rt in service.dus.values():
            rt.counters.decision_s.clear()
            rt.counters.roundtrip_s.clear()
        sent0 = sum(rt.counters.controls_sent for rt in service.dus.values())
        t0 = time.perf_counter()
        await asyncio.sleep(args.seconds)
        elapsed = time.perf_counter() - t0
        decision = [x for rt in service.dus.values() for x in rt.counters.decision_s]
        roundtrip = [x for rt in service.dus.values() for x in rt.counters.roundtrip_s]
        sent = sum(rt.counters.controls_sent for rt in service.dus.values()) - sent0
        timeouts = sum(rt.counters.timeouts for rt in service.dus.values())
        dropped = sum(sum(rt.counters.dropped.values()) for rt in service.dus.values())
        act = _act_times(next(iter(service.dus.values())))
    finally:
        if sim.returncode is None:
            sim.terminate()
        out, _ = await sim.communicate()
        await service.close()
    stats = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    lost = int(stats.get("indications_dropped", 0)) + dropped
    return {
        "decision": decision,
        "roundtrip": roundtrip,
        "act": act,
        "controls_per_s": sent / elapsed,
        "decisions_per_s": len(decision) / elapsed,
        "required_per_s": len(service.dus) * 1000.0 / service.period_ms,
        "timeouts": timeouts,
        "lost": lost,
    }


def _act_times(rt: Any) -> list[float]:
    """Bare act() of the DU's agent on its last observation, 200 times."""
    from xapps.agent.interface import observation_of_du

    mdp = rt.controller.mdp
    obs = observation_of_du(mdp._see(mdp.window, high_due=True), 0)
    agent = rt.actor.agent
    out = []
    with torch.no_grad():
        for _ in range(200):
            t = time.perf_counter()
            agent.act(obs, False)
            out.append(time.perf_counter() - t)
    return out


def run(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.seconds, args.warmup_s = 1.0, 0.5
    off = asyncio.run(_phase(args, "off"))
    on = asyncio.run(_phase(args, "online"))
    result = {
        "xapp_decision_p50_ms": _pct(off["decision"], 50),
        "xapp_decision_p99_ms": _pct(off["decision"], 99),
        "xapp_decision_p50_learning_ms": _pct(on["decision"], 50),
        "xapp_decision_p99_learning_ms": _pct(on["decision"], 99),
        "xapp_roundtrip_p50_ms": _pct(off["roundtrip"], 50),
        "xapp_roundtrip_p99_ms": _pct(off["roundtrip"], 99),
        "xapp_roundtrip_p99_learning_ms": _pct(on["roundtrip"], 99),
        "xapp_act_p50_ms": _pct(off["act"], 50),
        "xapp_act_p99_ms": _pct(off["act"], 99),
        "xapp_decisions": len(off["decision"]),
        "xapp_controls_per_s": off["controls_per_s"],
        "xapp_decisions_per_s": off["decisions_per_s"],
        "xapp_required_decisions_per_s": off["required_per_s"],
        "xapp_timeouts": off["timeouts"] + on["timeouts"],
        "xapp_lost": off["lost"] + on["lost"],
    }
    result["xapp_decision_to_act_ratio"] = result["xapp_decision_p50_ms"] / result["xapp_act_p50_ms"]
    result["xapp_learning_slowdown_ratio"] = (
        result["xapp_decision_p99_learning_ms"] / result["xapp_decision_p99_ms"]
    )
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    print(f"DU xApp, {args.scenario}, {args.e2} E2, KPM every 10 ms, {args.seconds:g} s per phase")
    r = result
    print(f"  decision  p50 {r['xapp_decision_p50_ms']:.2f} ms  p99 {r['xapp_decision_p99_ms']:.2f} ms")
    print(
        f"  learning  p50 {result['xapp_decision_p50_learning_ms']:.2f} ms  "
        f"p99 {result['xapp_decision_p99_learning_ms']:.2f} ms  "
        f"({result['xapp_learning_slowdown_ratio']:.2f}× p99)"
    )
    print(f"  roundtrip p50 {r['xapp_roundtrip_p50_ms']:.2f} ms  p99 {r['xapp_roundtrip_p99_ms']:.2f} ms")
    print(
        f"  act()     p50 {result['xapp_act_p50_ms']:.2f} ms  p99 {result['xapp_act_p99_ms']:.2f} ms  "
        f"(decision = {result['xapp_decision_to_act_ratio']:.2f}× act at p50)"
    )
    print(
        f"  {r['xapp_controls_per_s']:.0f} controls/s, {r['xapp_timeouts']} timeouts, {r['xapp_lost']} lost"
    )
    return 0
