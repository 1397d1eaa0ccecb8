"""The E2 simulator at the paper's Table 2 sizes, over E2: 7, 15, 20 and 30 DUs × 200 UEs.

For each size N, the ``large`` scenario's DU task (200 UEs per DU: 60 eMBB, 100 mMTC, 40 URLLC;
fading on scheduled links) with N DUs runs as N E2 nodes (``e2sim.e2node``, real-time pacing:
``metahrl e2sim --scenario large --realtime``) in a child process, connected over loopback TCP
to the project's RIC library (``ric.server``) in this process. Each DU has the two KPM
subscriptions of the issue: slice level (style 1, the DU xApp's per-slice measurements) every
10 ms, each report answered by an RC slice-quota control (style 2 / action 6), and UE level
(style 4, every UE, the DU xApp's per-UE measurements) every 100 ms — 200 UEs per report.

Figures per size (keys end in ``_N``):

- ``realtime_factor``: simulated time / wall time over the measured window (target ≥ 1.0);
  ``lag_start_ms`` / ``lag_end_ms``: how far the simulator was behind the wall clock when
  the window opened and closed (it never runs ahead; above 1 a lag is being caught up,
  and real time is kept when the lag does not grow);
- ``node_cpu_pct`` / ``node_cpu_pct_per_du``: CPU of the E2 node process (the simulator and
  every node), in % of one core; ``ric_cpu_pct``: the RIC side's;
- ``indications_per_s`` sent by the nodes; ``indications_dropped``: dropped at a full send
  queue (the bounded backpressure of ``ric.transport``);
- ``kpm_encode_us_per_ue``: one DU's UE-level report built from the window and encoded (the
  E2SM-KPM message), per UE, measured in the node process after the run; in-run reference
  ``kpm_encode_typed_us_per_ue``: the same report through the typed path (one
  ``UeMeasReport`` per UE, ``kpm.encode_indication_message``), and their ratio;
- ``roundtrip_p50_ms`` / ``roundtrip_p99_ms``: a slice-level indication sent → the control
  it caused received, on the node side;
- ``peak_rss_mb`` of the node process;
- from the node's own CPU accounting (``E2SimNodes.cpu``), per simulated second:
  ``sim_step_cpu_ms_per_sim_s`` (stepping the simulator and collecting its windows: over
  1,000 ms means no real time on one core whatever E2 costs), ``reports_cpu_ms_per_du_per_sim_s``
  (building, encoding and sending one DU's reports) and ``controls_cpu_ms_per_du_per_sim_s``
  (decoding, applying and acknowledging its controls);
- ``sim_alone_tti_per_s``: the same simulator stepped alone in the node process after the run
  (no E2), the in-run bound: ``realtime_factor`` cannot exceed ``sim_alone_tti_per_s`` / 1000
  on one core; ``sim_cpu_ms_per_sim_s``: CPU ms it needs per simulated second (over 1,000: no
  real time on one core whatever E2 costs); the rest of the node's CPU is the E2 side
  (``e2_cpu_pct``, and ``e2_cpu_ms_per_du_per_sim_s``: E2 CPU ms per DU per simulated second,
  which CPU-time accounting keeps meaningful on a loaded machine).

The machine's cores are shared by the simulator, the nodes and the RIC side; on a 2-core
machine shared with other work the figures are noisy (the load average is reported).
``--duration-s`` / ``--warmup-s`` / ``--dus`` make a short run possible.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["SIZES", "add_arguments", "run"]

SIZES = (7, 15, 20, 30)
SLICE_PERIOD_MS = 10
UE_PERIOD_MS = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--dus",
        default=",".join(map(str, SIZES)),
        help="comma-separated DU counts (default 7,15,20,30: the paper's Table 2 sizes)",
    )
    p.add_argument(
        "--duration-s", type=float, default=10.0, help="measured seconds per size after warm-up (default 10)"
    )
    p.add_argument("--warmup-s", type=float, default=3.0, help="warm-up seconds per size (default 3)")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(n < 1 for n in sizes):
        raise SystemExit(f"error: --dus: expected comma-separated positive DU counts, got {text!r}")
    return sizes


# ---------------------------------------------------------------------------------------
# RIC side (this process)
# ---------------------------------------------------------------------------------------


def slice_level_prbs(message: Any) -> tuple[int, float]:
    """(UEs, PRBs used) of a slice-level report of the DU xApp's per-slice measurements."""
    from slicing import measurements as meas

    records = message.data[0].records
    n = len(records) // len(meas.SLICE_MEASUREMENTS)  # labels per measurement (the slices)
    conn = meas.SLICE_MEASUREMENTS.index(meas.CONN_MEAN) * n
    used = meas.SLICE_MEASUREMENTS.index(meas.PRB_USED) * n
    return int(sum(records[conn : conn + n])), float(sum(records[used : used + n]))


@dataclass
class _UeTally:
    reports: int = 0
    ues: int = 0


_UE_TALLY = _UeTally()


async def _subscribe(node: Any, tally: Any, seqs: dict[str, int], gate: Any) -> None:
    """Slice level every 10 ms (each answered by a slice-quota control), UE level every 100 ms."""
    from benchmarks.e2 import _answer_with_control
    from ric import kpm
    from ric.e2sm_common import Snssai
    from slicing import measurements as meas

    slices = (Snssai(1, 1), Snssai(3, 2), Snssai(2, 3))  # the scenario's S-NSSAIs (SST 1/3/2)
    node_action = kpm.node_level_action(meas.SLICE_MEASUREMENTS, SLICE_PERIOD_MS, slices)
    answer = _answer_with_control(node, tally, seqs, gate, slice_level_prbs)
    await node.subscribe_kpm(node_action, SLICE_PERIOD_MS, callback=answer)
    present = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))
    ue_action = kpm.ue_condition_action(meas.UE_MEASUREMENTS, UE_PERIOD_MS, [present])

    def count(ind: Any) -> None:
        _UE_TALLY.reports += 1
        _UE_TALLY.ues += len(ind.message.reports)

    await node.subscribe_kpm(ue_action, UE_PERIOD_MS, callback=count)


# ---------------------------------------------------------------------------------------
# Node side (the child process, after the run)
# ---------------------------------------------------------------------------------------


def _best_us(fn: Any, repeats: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


def _node_probe(sim: Any, nodes: Any) -> dict[str, float]:
    """In the node process after the run: the UE-level report cost and the simulator alone."""
    from e2sim.e2node import _report_action, _ue_columns
    from ric import kpm
    from ric.ids import ue_id
    from slicing import measurements as meas

    node = nodes.nodes[0]
    present = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))
    definition = kpm.ue_condition_action(meas.UE_MEASUREMENTS, UE_PERIOD_MS, [present])
    action = _report_action(1, definition, sim, node.snssais)
    sim.step(UE_PERIOD_MS)
    w = sim.collect()
    ues = node._served(w)
    fast_us = _best_us(lambda: node._ue_report(action, w, UE_PERIOD_MS))

    def typed() -> bytes:
        cols = _ue_columns(action.names, w, nodes.kpi_window_of(w), ues, sim.radio.tti_ms)
        rows = zip(*(c.tolist() for c in cols), strict=True)
        reports = tuple(
            kpm.UeMeasReport(
                ue_id(int(u)),
                kpm.KpmIndicationFormat1((kpm.MeasDataItem(tuple(r)),), action.infos, UE_PERIOD_MS),
            )
            for u, r in zip(ues, rows, strict=True)
        )
        return kpm.encode_indication_message(kpm.KpmIndicationFormat3(reports))

    if typed() != node._ue_report(action, w, UE_PERIOD_MS):
        raise RuntimeError("the packed UE-level report differs from the typed encoding")
    typed_us = _best_us(typed, 3)
    ttis = 300
    t0, c0 = time.perf_counter(), time.process_time()
    sim.step(ttis)
    alone = ttis / (time.perf_counter() - t0)
    alone_cpu = ttis / max(time.process_time() - c0, 1e-9)
    n = max(len(ues), 1)
    return {
        "kpm_encode_us_per_ue": fast_us / n,
        "kpm_encode_typed_us_per_ue": typed_us / n,
        "report_ues": float(len(ues)),
        "sim_alone_tti_per_s": alone,
        "sim_alone_cpu_tti_per_s": alone_cpu,
    }


# ---------------------------------------------------------------------------------------
# One size, all sizes
# ---------------------------------------------------------------------------------------


def _one_size(n_du: int, args: argparse.Namespace) -> dict[str, float]:
    import numpy as np

    from benchmarks.e2 import NodeSpec, run_roundtrip

    _UE_TALLY.reports = _UE_TALLY.ues = 0
    spec = NodeSpec(scenario="large", n_du=n_du, fading="scheduled", probe=_node_probe)
    raw = run_roundtrip(args, spec, _subscribe)
    node = raw["node"]
    rtt = np.asarray(node["rtt_s"]) * 1000
    p50, p99 = (float(x) for x in np.percentile(rtt, [50, 99])) if len(rtt) else (float("nan"),) * 2
    factor = node["sim_s"] / node["wall_s"]
    cpu = node["cpu_pct"]
    # CPU seconds of the window: the node's, and the simulator's share at its own CPU-time
    # speed (TTIs / simulator TTIs per CPU second); the rest is the E2 side.
    node_cpu_s = cpu / 100.0 * node["wall_s"]
    sim_cpu_s = min(node_cpu_s, node["sim_s"] * 1000.0 / node["sim_alone_cpu_tti_per_s"])
    sim_pct = 100.0 * sim_cpu_s / node["wall_s"]
    e2_ms_per_du_s = 1000.0 * (node_cpu_s - sim_cpu_s) / max(node["sim_s"], 1e-9) / n_du
    s = f"_{n_du}"
    sim_s = max(node["sim_s"], 1e-9)
    phases = {
        f"{name}_ms_per_du_per_sim_s{s}": round(1000.0 * node[key] / sim_s / n_du, 2)
        for name, key in (("reports_cpu", "cpu_reports_s"), ("controls_cpu", "cpu_controls_s"))
        if key in node
    }
    if "cpu_step_s" in node:
        phases[f"sim_step_cpu_ms_per_sim_s{s}"] = round(1000.0 * node["cpu_step_s"] / sim_s, 1)
    return {
        **phases,
        f"realtime_factor{s}": round(factor, 3),
        f"lag_start_ms{s}": round(node["lag_start_ms"], 1),
        f"lag_end_ms{s}": round(node["lag_end_ms"], 1),
        f"node_cpu_pct{s}": round(cpu, 1),
        f"node_cpu_pct_per_du{s}": round(cpu / n_du, 2),
        f"e2_cpu_pct{s}": round(cpu - sim_pct, 1),
        f"e2_cpu_ms_per_du_per_sim_s{s}": round(e2_ms_per_du_s, 2),
        f"sim_cpu_ms_per_sim_s{s}": round(1e6 / node["sim_alone_cpu_tti_per_s"], 1),
        f"ric_cpu_pct{s}": round(raw["ric_cpu_pct"], 1),
        f"indications_per_s{s}": round(node["indications"] / node["wall_s"], 1),
        f"indications_dropped{s}": int(node["indications_dropped"]),
        f"ue_reports_received{s}": _UE_TALLY.reports,
        f"ues_per_ue_report{s}": round(_UE_TALLY.ues / max(_UE_TALLY.reports, 1), 1),
        f"kpm_encode_us_per_ue{s}": round(node["kpm_encode_us_per_ue"], 2),
        f"kpm_encode_typed_us_per_ue{s}": round(node["kpm_encode_typed_us_per_ue"], 2),
        f"kpm_encode_ratio_to_typed{s}": round(
            node["kpm_encode_us_per_ue"] / node["kpm_encode_typed_us_per_ue"], 3
        ),
        f"roundtrip_p50_ms{s}": round(p50, 3),
        f"roundtrip_p99_ms{s}": round(p99, 3),
        f"roundtrip_samples{s}": len(rtt),
        f"controls_lost{s}": int(node["lost"]),
        f"controls_not_acked{s}": int(raw["ric_total"]["controls"] - raw["ric_total"]["acked"]),
        f"peak_rss_mb{s}": round(node["peak_rss_mb"], 1),
        f"sim_alone_tti_per_s{s}": round(node["sim_alone_tti_per_s"], 1),
        f"sim_alone_realtime_factor{s}": round(node["sim_alone_tti_per_s"] / 1000.0, 3),
    }


def run(args: argparse.Namespace) -> int:
    sizes = _sizes(args.dus)
    out: dict[str, float] = {}
    for n_du in sizes:
        if not args.json:
            print(
                f"running {n_du} DUs × 200 UEs for {args.warmup_s:g} + {args.duration_s:g} s …",
                file=sys.stderr,
            )
        out.update(_one_size(n_du, args))
    out["slice_period_ms"] = SLICE_PERIOD_MS
    out["ue_period_ms"] = UE_PERIOD_MS
    out["cpu_count"] = os.cpu_count() or 0
    out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(out))
        return 0
    _print_table(out, sizes)
    return 0


def _print_table(out: dict[str, float], sizes: tuple[int, ...]) -> None:
    print(
        f"E2 nodes over loopback TCP against ric.server: slice-level KPM every {SLICE_PERIOD_MS} ms "
        f"(each answered by an RC control), UE-level every {UE_PERIOD_MS} ms"
    )
    head = (
        f"{'DUs':>4} {'RT factor':>9} {'sim alone':>9} {'node CPU%':>9} {'E2 CPU%':>8} {'E2 ms/DU·s':>10} "
        f"{'RIC CPU%':>8} {'ind/s':>7} {'dropped':>7} {'enc µs/UE':>9} {'typed':>7} "
        f"{'RTT p50':>8} {'p99 ms':>7} {'RSS MB':>7}"
    )
    print(head)
    for n in sizes:

        def g(key: str, n: int = n) -> float:
            return out[f"{key}_{n}"]

        print(
            f"{n:>4} {g('realtime_factor'):>9.3f} {g('sim_alone_realtime_factor'):>9.3f} "
            f"{g('node_cpu_pct'):>9.1f} {g('e2_cpu_pct'):>8.1f} {g('e2_cpu_ms_per_du_per_sim_s'):>10.2f} "
            f"{g('ric_cpu_pct'):>8.1f} {g('indications_per_s'):>7.0f} {int(g('indications_dropped')):>7d} "
            f"{g('kpm_encode_us_per_ue'):>9.2f} {g('kpm_encode_typed_us_per_ue'):>7.1f} "
            f"{g('roundtrip_p50_ms'):>8.2f} {g('roundtrip_p99_ms'):>7.2f} {g('peak_rss_mb'):>7.0f}"
        )
    print(
        "target: real-time factor ≥ 1.0 at 30 DUs. 'sim alone' is the simulator without E2 (its bound on "
        f"one core); {int(out['cpu_count'])} CPUs, load average {out['loadavg_1min']:.2f} (shared: noisy)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2sim_scale", description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
