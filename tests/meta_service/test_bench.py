"""`metahrl bench meta-service --quick --json` runs end to end (a smoke run, not a measurement):
a real controller process, 7 and 30 concurrent clients, every documented key present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KEYS = [
    f"{k}_{n}"
    for n in (7, 30)
    for k in ("round_ms", "commit_to_all_ms", "inprocess_ms", "round_ratio_to_inprocess",
              "controller_peak_rss_mb", "controller_start_rss_mb", "round_updates_mb")
] + [f"wire_bytes_per_update_{d}" for d in ("float32", "bfloat16")] + [
    "wire_bytes_ratio_bfloat16_to_float32"
]  # fmt: skip


def test_bench_meta_service_quick() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "metahrl", "bench", "meta-service", "--quick", "--json"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    for key in KEYS:
        assert key in result and result[key] > 0, key
    assert result["wire_bytes_ratio_bfloat16_to_float32"] == 0.5  # exact: 2 vs 4 bytes per value
    assert result["wire_bytes_per_update_float32"] == 4 * result["params_per_du"]
