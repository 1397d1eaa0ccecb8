"""`metahrl bench e2`'s round trip runs end to end (a short smoke run, not a measurement)."""

from __future__ import annotations

import argparse

from benchmarks import e2 as bench


def test_roundtrip_benchmark_smoke() -> None:
    args = argparse.Namespace(repeats=1, batch_s=0.005, duration_s=0.5, warmup_s=0.5, json=True)
    out = bench._roundtrip(args)
    assert out["roundtrip_samples"] > 0
    assert out["roundtrip_p50_ms"] <= out["roundtrip_p99_ms"] <= out["roundtrip_max_ms"]
    assert out["roundtrip_ues_per_report"] >= 20
    assert out["roundtrip_controls_lost"] == out["roundtrip_controls_reordered"] == 0
    assert out["roundtrip_controls_not_acked"] == out["roundtrip_controls_unmatched"] == 0
