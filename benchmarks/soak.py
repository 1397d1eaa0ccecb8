"""Load and soak: the whole system at scale for minutes — memory, losses, latency, real time.

Starts on loopback the E2 simulator paced to the wall clock (``--realtime``), the DU xApps
(``--xapps`` processes sharing the DUs; online learning; task updates every ``--round-every-s``)
and the meta-controller (rounds over gRPC), with a scenario of ``--dus`` DUs × ``--ues`` UEs per
DU (the library's large-scale task: 30 % eMBB, 50 % mMTC, 20 % URLLC), and samples every
``--sample-s`` seconds:

* RSS and CPU of every process (psutil), over time; the RSS slope after warm-up (the first
  ``--warmup-fraction`` of the run), by least squares, in MB per minute;
* indications sent (E2 nodes) and decisions made (xApps), controls sent / acknowledged / failed /
  timed out / lost (acknowledged by an E2 node but never counted acknowledged by its xApp), the
  xApps' drops by reason (bounded queues: counted, never unbounded growth);
* control round trip p50 / p99 / max (histogram bucket bounds) and decision p99;
* the simulator's real-time factor (simulated seconds per wall second) and meta-versions closed.

The DU xApps subscribe every KPM action (slice and UE level) at one period, ``--kpm-period-ms``
(the xApp's ``e2.kpm_period_ms``; a slower UE-level period is not a setting of the xApp today).
Agents use the small ``tiny`` network sizes (as the demo does): this measures the system, not
the paper's network sizes.

JSON keys (``--json``): ``soak_minutes``, ``realtime_factor``, ``rss_mb_<proc>`` (peak),
``rss_slope_mb_per_min_<proc>``, ``cpu_pct_<proc>``, ``indications_sent``, ``decisions``,
``controls_sent``, ``controls_acked``, ``controls_failed``,
``controls_timeout``, ``controls_lost``, ``drops_<reason>``, ``roundtrip_p50_ms``,
``roundtrip_p99_ms``, ``roundtrip_max_ms``, ``decision_p99_ms``, ``meta_versions``,
``rss_slope_bound_mb_per_min`` (the bound the verdict uses) and ``rss_flat`` (every slope within it).
Targets: RSS slope ≈ 0 after warm-up (within the bound), 0 lost acknowledged controls; where real
time cannot be held, the factor says by how much.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["add_arguments", "run"]

_SIM_RE = re.compile(r"sim (\d+(?:\.\d+)?) s \((\d+(?:\.\d+)?)× real time\)")
_SLOPE_BOUND_MB_PER_MIN = 2.0
"""RSS slope bound: 2 MB/min is 20 MB over a 10-minute soak — well under what a leak of one
KPM window per decision would add (≥ 1 kB × 100 decisions/s/DU = 6 MB/min/DU)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dus", type=int, default=30, help="DUs (default 30)")
    p.add_argument("--ues", type=int, default=200, help="UEs per DU (default 200)")
    p.add_argument("--minutes", type=float, default=10.0, help="soak duration after start-up (default 10)")
    p.add_argument("--xapps", type=int, default=2, help="DU xApp processes sharing the DUs (default 2)")
    p.add_argument("--kpm-period-ms", type=int, default=10, help="KPM period of every action (default 10)")
    p.add_argument("--round-every-s", type=float, default=30.0, help="seconds between task updates")
    p.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples (default 5)")
    p.add_argument("--warmup-fraction", type=float, default=0.3, help="share of the run before slopes count")
    p.add_argument("--seed", type=int, default=0, help="simulator and agent seed")
    p.add_argument(
        "--out", type=Path, default=None, help="keep logs; write soak.json (with the series) and soak.png"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def soak_scenario(n_du: int, ues: int) -> dict[str, Any]:
    embb, urllc = round(0.3 * ues), round(0.2 * ues)
    mmtc = max(1, ues - embb - urllc)
    return {
        "name": f"soak-{n_du}x{ues}",
        "description": f"metahrl bench soak: {n_du} DUs × {ues} UEs (large-scale task mix)",
        "n_du": n_du,
        "radio": {"fading": "scheduled"},
        "tasks": {
            "soak": {
                "base": "large-scale",
                "embb": {"n_ues": max(1, embb)},
                "mmtc": {"n_ues": mmtc},
                "urllc": {"n_ues": max(1, urllc)},
            }
        },
        "assignment": {"default": "soak"},
    }


@dataclass
class _Series:
    t: list[float] = field(default_factory=list)
    rss_mb: dict[str, list[float]] = field(default_factory=dict)
    cpu_s: dict[str, list[float]] = field(default_factory=dict)
    realtime: list[float] = field(default_factory=list)


def _sample(procs: dict[str, Any], series: _Series, t: float) -> None:
    import psutil

    series.t.append(t)
    for name, proc in procs.items():
        try:
            mem, cpu = proc.memory_info().rss / 2**20, sum(proc.cpu_times()[:2])
        except psutil.Error:
            mem, cpu = float("nan"), float("nan")
        series.rss_mb.setdefault(name, []).append(mem)
        series.cpu_s.setdefault(name, []).append(cpu)


def _slope(t: list[float], y: list[float], start: float) -> float:
    pts = [(a, b) for a, b in zip(t, y, strict=True) if a >= start and b == b]
    if len(pts) < 3:
        return float("nan")
    ts, ys = np.array(pts).T
    return float(np.polyfit(ts / 60.0, ys, 1)[0])


def _hist_bound(samples: list[Any], metric: str, q: float | None) -> float | None:
    """Upper bound of quantile ``q`` (None: the largest observation) summed over every label."""
    buckets: dict[float, float] = {}
    for s in samples:
        if s.name == metric + "_bucket":
            le = float(str(s.label("le")))
            buckets[le] = buckets.get(le, 0.0) + s.value
    cum = sorted(buckets.items())
    total = cum[-1][1] if cum else 0.0
    if total <= 0:
        return None
    if q is None:
        return next(le for le, c in cum if c >= total)
    return next(le for le, c in cum if c >= q * total)


def _sum(samples: list[Any], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(s.value for s in samples if s.name == name and want <= set(s.labels))


def run(args: argparse.Namespace) -> int:
    if args.dus < 1 or args.ues < 3 or args.xapps < 1 or args.minutes <= 0:
        sys.stderr.write("metahrl bench soak: --dus ≥ 1, --ues ≥ 3, --xapps ≥ 1, --minutes > 0\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="metahrl-soak-") as tmp:
        run_dir = args.out or Path(tmp)
        result, series = _soak(args, run_dir)
        if args.out is not None:
            kept = {"t_s": series.t, "rss_mb": series.rss_mb, "realtime": series.realtime}
            body = result | {"series": kept}
            (args.out / "soak.json").write_text(json.dumps(body, indent=2))
            _plot(series, args.out / "soak.png")
    for key, value in result.items():
        sys.stderr.write(f"{key:40s} {value}\n")
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


def _plot(series: _Series, path: Path) -> None:
    """RSS of every process over time (and the real-time factor), as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True, height_ratios=(3, 1))
    minutes = np.asarray(series.t) / 60.0
    for name, rss in series.rss_mb.items():
        top.plot(minutes, rss, label=name)
    top.set_ylabel("RSS (MB)")
    top.legend(fontsize=7, ncols=3)
    top.grid(alpha=0.3)
    bottom.plot(minutes, series.realtime, color="black")
    bottom.set_ylabel("× real time")
    bottom.set_xlabel("minutes")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _soak(args: argparse.Namespace, run_dir: Path) -> tuple[dict[str, Any], _Series]:
    import psutil

    from metahrl.demo import Demo, DemoConfig, Topology, start_e2sim, start_meta, wait_http, write_theta0
    from metahrl.demo_procs import free_port, scrape

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    scenario = run_dir / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(soak_scenario(args.dus, args.ues), sort_keys=False))
    write_theta0(scenario, run_dir / "theta0.pt", args.seed)
    cfg = DemoConfig(
        scenario=str(scenario),
        seed=args.seed,
        round_every_s=args.round_every_s,
        realtime=True,
        display="plain",
    )
    groups = [list(g) for g in np.array_split(np.arange(args.dus), min(args.xapps, args.dus))]
    names = [f"xapp-{i}" for i in range(len(groups))]
    topo = Topology(run_dir, scenario, args.dus, (), meta_http=free_port())
    topo.namespace = f"metahrl-soak-{uuid.uuid4().hex[:8]}"
    for name, group in zip(names, groups, strict=True):
        port = free_port()
        topo.e2 |= {int(d): port for d in group}
        topo.http[name] = free_port()
    demo = Demo(cfg, topo)
    series = _Series()
    try:
        start_meta(demo)
        for name, group in zip(names, groups, strict=True):
            child = _xapp(name, topo, cfg, [int(d) for d in group], args.kpm_period_ms)
            demo.start(child)
        for name in names:
            wait_http(demo, name, timeout_s=300.0)
        start_e2sim(demo)
        procs = {n: psutil.Process(c.pid) for n, c in demo.children.items() if c.pid is not None}
        t0 = time.monotonic()
        end = t0 + args.minutes * 60.0
        next_progress = t0
        while time.monotonic() < end:
            demo.check()
            now = time.monotonic() - t0
            _sample(procs, series, now)
            m = _last_sim(demo)
            series.realtime.append(m)
            if time.monotonic() >= next_progress:
                rss = sum(v[-1] for v in series.rss_mb.values())
                demo.say(f"soak {now / 60:.1f}/{args.minutes:g} min: RSS {rss:.0f} MB, real time ×{m:.2f}")
                next_progress += 60.0
            time.sleep(args.sample_s)
        realtime = _last_sim(demo)
        wall = time.monotonic() - t0
        demo.children["e2sim"].stop()
        time.sleep(1.0)  # the last acknowledgements reach the xApps
        after = {n: scrape(topo.http[n], timeout_s=10.0) or [] for n in names}
        meta = scrape(topo.meta_http, timeout_s=10.0) or []
    finally:
        # an xApp's clean stop finishes its learner's queue and saves its agents: on a loaded
        # machine that can take longer than Child.stop's default 15 s before SIGKILL
        statuses = {n: c.stop(timeout_s=90.0) for n, c in reversed(list(demo.children.items()))}
    e2 = _final_json(demo, "e2sim")
    return _figures(args, series, after, meta, e2, realtime, wall, statuses), series


def _xapp(name: str, topo: Any, cfg: Any, dus: list[int], period_ms: int) -> Any:
    from metahrl.demo import xapp_child

    child = xapp_child(name, topo, cfg, dus, "scratch", meta=True)
    child.env["METAHRL_XAPP_CONTROL__KPM_PERIOD_MS"] = str(period_ms)
    return child


def _last_sim(demo: Any) -> float:
    from metahrl.demo_procs import last_match

    m = last_match(_SIM_RE, demo.children["e2sim"].log_text()) if "e2sim" in demo.children else None
    return float(m.group(2)) if m else float("nan")


def _final_json(demo: Any, name: str) -> dict[str, Any]:
    lines = [ln for ln in demo.children[name].stdout_text().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _figures(
    args: argparse.Namespace,
    series: _Series,
    after: dict[str, list[Any]],
    meta: list[Any],
    e2: dict[str, Any],
    realtime: float,
    wall: float,
    statuses: dict[str, int | None],
) -> dict[str, Any]:
    out: dict[str, Any] = {"soak_minutes": round(wall / 60, 2), "dus": args.dus, "ues_per_du": args.ues}
    out["realtime_factor"] = round(realtime, 3)
    start = args.warmup_fraction * (series.t[-1] if series.t else 0.0)
    slopes = {}
    for name, rss in series.rss_mb.items():
        key = name.replace("-", "_")
        out[f"rss_mb_{key}"] = round(float(np.nanmax(rss)), 1)
        slopes[key] = _slope(series.t, rss, start)
        out[f"rss_slope_mb_per_min_{key}"] = round(slopes[key], 3)
        cpu = series.cpu_s[name]
        out[f"cpu_pct_{key}"] = round(100 * (cpu[-1] - cpu[0]) / max(series.t[-1] - series.t[0], 1e-9), 1)
    all_after = [s for v in after.values() for s in v]
    out["indications_sent"] = int(e2.get("indications", 0))
    out["controls_acked"] = int(_sum(all_after, "metahrl_du_controls_total", outcome="acknowledged"))
    for outcome in ("failed", "timeout", "disconnected"):
        out[f"controls_{outcome}"] = int(_sum(all_after, "metahrl_du_controls_total", outcome=outcome))
    out["controls_sent"] = sum(out[f"controls_{k}"] for k in ("acked", "failed", "timeout", "disconnected"))
    node_acked = int(e2.get("controls_acked", 0))
    out["controls_acked_by_nodes"] = node_acked
    # acknowledged by a node, never counted acknowledged (nor timed out / disconnected) by its xApp
    unacked = out["controls_timeout"] + out["controls_disconnected"]
    out["controls_lost"] = max(0, node_acked - out["controls_acked"] - unacked)
    drops: dict[str, float] = {}
    for s in all_after:
        if s.name == "metahrl_du_indications_dropped_total":
            drops[str(s.label("reason"))] = drops.get(str(s.label("reason")), 0.0) + s.value
    out |= {f"drops_{k}": int(v) for k, v in sorted(drops.items())}
    out["learner_dropped"] = int(_sum(all_after, "metahrl_du_learner_dropped_total"))
    for key, q in (("p50", 0.5), ("p99", 0.99), ("max", None)):
        bound = _hist_bound(all_after, "metahrl_du_control_roundtrip_seconds", q)
        out[f"roundtrip_{key}_ms"] = None if bound is None else bound * 1e3
    bound = _hist_bound(all_after, "metahrl_du_decision_seconds", 0.99)
    out["decision_p99_ms"] = None if bound is None else bound * 1e3
    decisions = _sum(all_after, "metahrl_du_decision_seconds_count")
    out["decisions"] = int(decisions)
    versions = [s.value for s in meta if s.name == "metahrl_meta_version"]
    out["meta_versions"] = int(versions[0]) if versions else None
    out["rss_slope_bound_mb_per_min"] = _SLOPE_BOUND_MB_PER_MIN
    finite = [abs(v) for v in slopes.values() if v == v]
    out["rss_flat"] = bool(finite) and max(finite) <= _SLOPE_BOUND_MB_PER_MIN
    out["exit_status"] = statuses
    return out
