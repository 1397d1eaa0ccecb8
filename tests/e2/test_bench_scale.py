"""`metahrl bench e2sim-scale` runs end to end at a tiny size (2 DUs × 200 UEs, ~1.5 s measured):
its JSON keys are there and the values are sane. A smoke run, not a measurement — speed lives
in the benchmark."""

from __future__ import annotations

import json
import math
import subprocess
import sys

KEYS = (
    "realtime_factor",
    "lag_start_ms",
    "lag_end_ms",
    "node_cpu_pct",
    "node_cpu_pct_per_du",
    "e2_cpu_pct",
    "ric_cpu_pct",
    "indications_per_s",
    "indications_dropped",
    "kpm_encode_us_per_ue",
    "kpm_encode_typed_us_per_ue",
    "roundtrip_p50_ms",
    "roundtrip_p99_ms",
    "peak_rss_mb",
    "sim_alone_tti_per_s",
    "sim_step_cpu_ms_per_sim_s",
    "reports_cpu_ms_per_du_per_sim_s",
    "controls_cpu_ms_per_du_per_sim_s",
)


def test_bench_e2sim_scale_tiny_run() -> None:
    cmd = [sys.executable, "-m", "metahrl", "bench", "e2sim-scale", "--json"]
    cmd += ["--dus", "2", "--duration-s", "1.5", "--warmup-s", "1"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=180)
    res = json.loads(out.stdout)
    for key in KEYS:
        assert math.isfinite(res[f"{key}_2"]), key
    # Paced to the wall clock: above 1 only while a start-up lag is caught up (at the
    # simulator's own speed, a few times real time at this size); the lag is never negative.
    assert 0 < res["realtime_factor_2"] < 20
    assert res["lag_start_ms_2"] >= 0 and res["lag_end_ms_2"] >= 0
    assert res["node_cpu_pct_2"] > 0 and res["peak_rss_mb_2"] > 50  # 400 UEs' state, the codecs
    # 2 DUs: 100 slice-level + 10 UE-level reports per second each at real time; at least a
    # tenth of that arrives even on a loaded machine, and every UE report carries the DU's UEs.
    assert res["indications_per_s_2"] > 0.1 * 2 * 110 * res["realtime_factor_2"]
    assert res["ue_reports_received_2"] > 0 and res["ues_per_ue_report_2"] > 150
    assert 0 < res["roundtrip_p50_ms_2"] <= res["roundtrip_p99_ms_2"]
    assert res["controls_lost_2"] == res["controls_not_acked_2"] == 0
    # The packed encoding is the typed one's bytes (checked in the run) and cheaper.
    assert res["kpm_encode_us_per_ue_2"] < res["kpm_encode_typed_us_per_ue_2"]
    assert res["slice_period_ms"] == 10 and res["ue_period_ms"] == 100
    # The phases are parts of the node's CPU: together at most all of it (5 % for the rounding
    # of three figures and the clock reads between them).
    parts = res["sim_step_cpu_ms_per_sim_s_2"] + 2 * sum(
        res[f"{k}_cpu_ms_per_du_per_sim_s_2"] for k in ("reports", "controls")
    )
    node_ms_per_sim_s = 10 * res["node_cpu_pct_2"] / res["realtime_factor_2"]
    assert 0 < parts <= 1.05 * node_ms_per_sim_s
