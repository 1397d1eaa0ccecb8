"""`metahrl chaos` at small scale (3 DUs, 3-second faults): every fault injected into the real
processes (e2sim, one xApp per DU, the meta-controller, a Redis of the run), and what each must
survive checked from the report's figures.

Latency verdicts (the slow learner's decision budget) are measurements, not asserted here: speed
lives in benchmarks; this test asserts what must hold on any machine — nothing lost, nothing
applied twice, state restored, control carried on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("chaos")
    cmd = [sys.executable, "-m", "metahrl", "chaos", "--hold-s", "3", "--out", str(out), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=540, stdin=subprocess.DEVNULL)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no report (exit {done.returncode}):\n{done.stderr[-4000:]}"
    data: dict[str, Any] = json.loads(lines[-1])
    data["_stderr"] = done.stderr
    data["_out"] = Path(out)
    assert data["error"] is None, done.stderr[-4000:]
    return data


def _fault(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [f for f in report["faults"] if f["fault"] == name]
    assert found, f"{name} not in the report"
    return dict(found[0]["figures"]) | {"_ok": found[0]["ok"], "_line": found[0]["behaviour"]}


def test_meta_controller_kill_restores_state_and_loses_no_acknowledged_update(report: dict[str, Any]) -> None:
    f = _fault(report, "meta-kill")
    assert f["acked_updates"], f["_line"]  # it was killed with acknowledged updates in the round
    assert f["updates_lost"] == 0, f["_line"]
    before, restored = f["meta_version_before"], f["meta_version_restored"]
    assert before >= 1 and before <= restored <= before + 1, f["_line"]  # from Redis, not θ0
    assert f["degraded_dus"], f["_line"]  # readiness said so
    assert all(rate > 0 for rate in f["acks_per_s_during"].values()), f["_line"]  # control went on


def test_du_xapp_kill_resumes_from_checkpoint_and_others_carry_on(report: dict[str, Any]) -> None:
    f = _fault(report, "du-kill")
    assert f["checkpoint_loaded"], f["_line"]
    assert f["learner_updates_resumed"] > 0, f["_line"]
    assert f["others_stayed_ready"], f["_line"]
    assert all(rate > 0 for rate in f["others_acks_per_s_during"].values()), f["_line"]


def test_e2_link_cut_resubscribes_and_applies_nothing_twice(report: dict[str, Any]) -> None:
    f = _fault(report, "e2-drop")
    assert f["_ok"], f["_line"]
    assert f["subscriptions_reestablished"] >= 1 and f["duplicate_acks"] == 0


def test_ric_side_reset_resubscribes_on_the_same_link(report: dict[str, Any]) -> None:
    f = _fault(report, "e2-reset")
    assert f["_ok"], f["_line"]
    assert f["subscriptions_reestablished"] >= 1 and f["reconnections"] == 0 and f["duplicate_acks"] == 0


def test_redis_restart_refuses_and_counts_then_recovers(report: dict[str, Any]) -> None:
    f = _fault(report, "redis-restart")
    assert all(n > 0 for n in f["checkpoint_writes_failed"].values()), f["_line"]  # counted, not dropped
    assert all(rate > 0 for rate in f["acks_per_s_during"].values()), f["_line"]
    assert f["meta_sdl_check_false"], f["_line"]
    assert f["meta_version_after"] is not None  # a round closed after Redis came back


def test_slow_learner_and_delay_leave_control_going(report: dict[str, Any]) -> None:
    slow = _fault(report, "slow-learner")
    assert slow["decision_p99_ms"] is not None, slow["_line"]  # decisions went on
    assert slow["learner_updates_per_s"] > 0, slow["_line"]  # the slow learner ran beside the loop
    delay = _fault(report, "net-delay")
    assert delay["acks_during"] > 0, delay["_line"]
    # +20 ms each way: every round trip is ≥ 40 ms longer, so the p50's bucket bound is ≥ 50 ms
    assert delay["roundtrip_p50_during_ms"] >= 50, delay["_line"]


def test_no_control_lost_or_applied_twice_end_to_end(report: dict[str, Any]) -> None:
    acc = report["accounting"]
    assert acc["duplicate_acks"] == 0 and acc["lost_acked"] == 0, acc
    compared = [row for row in acc["per_du"].values() if "match" in row]
    assert len(compared) >= 2 and all(row["match"] for row in compared), acc
    assert (report["_out"] / "report.json").exists()
