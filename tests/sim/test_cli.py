"""`metahrl sim` and `metahrl bench sim` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from metahrl.cli import main


def test_sim_json(capsys) -> None:
    rc = main(["sim", "--steps", "20", "--json", "--no-progress", "--fading", "scheduled"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["policy"] == "equal-pf" and out["scenario"] == "paper"
    assert set(out["slices"]) == {"embb", "mmtc", "urllc"}
    for key in ("throughput_mbps", "latency_mean_ms", "deadline_miss_rate", "sla_satisfaction", "jain"):
        assert key in out["slices"]["embb"]


def test_sim_table_and_trace(tmp_path: Path, capsys) -> None:
    out_file = tmp_path / "trace.csv"
    rc = main(
        [
            "sim",
            "--steps",
            "20",
            "--policy",
            "static-rr",
            "--out",
            str(out_file),
            "--no-progress",
            "--fading",
            "scheduled",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "thr Mbit/s" in text and "urllc" in text
    header = out_file.read_text().splitlines()[0]
    assert header.startswith("step,t_ms,du,slice")


def test_sim_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out_file = tmp_path / "trace.parquet"
    assert (
        main(["sim", "--steps", "10", "--out", str(out_file), "--no-progress", "--fading", "scheduled"]) == 0
    )
    assert pq.read_table(out_file).num_rows == 10 * 7 * 3


def test_sim_bad_scenario_is_a_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntasks: {d: {embb: {n_ues: -3}}}\n")
    assert main(["sim", "--scenario", str(bad), "--steps", "5", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "tasks.d.embb.n_ues" in err


def test_bench_sim_smoke() -> None:
    """The benchmark runs end to end and prints its stable keys (numbers are not asserted here:
    speed lives in the benchmark, not in tests)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "metahrl",
            "bench",
            "sim",
            "--json",
            "--ttis",
            "20",
            "--large-ttis",
            "3",
            "--repeats",
            "1",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    res = json.loads(out.stdout)
    for key in (
        "paper_full_tti_per_s",
        "paper_full_ratio_to_kernel",
        "paper_scheduled_tti_per_s",
        "large_scheduled_tti_per_s",
        "large_peak_mem_mb",
        "sched_kernel_tti_per_s",
        "paper_scheduled_ratio_to_sched_kernel",
        "large_sched_kernel_tti_per_s",
        "large_scheduled_ratio_to_sched_kernel",
    ):
        assert res[key] > 0
