"""`metahrl demo` end to end (separate processes on loopback): every phase happens, the joining DU
starts from a meta-init of version >= 1 and controls its cell, the report is written and no child
process outlives the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from e2sim.core import Simulator
from e2sim.e2_cli import parse_du_times
from e2sim.e2node import E2SimConfig, E2SimNodes
from e2sim.scenario import load_scenario
from metahrl.demo_procs import Child, ChildDied, Sample
from metahrl.demo_report import roundtrip_percentiles

SMALL = Path(__file__).resolve().parents[2] / "experiments" / "scenarios" / "small.yaml"
REDIS_URL = "redis://127.0.0.1:6379"  # .ci/run makes sure one listens there


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_every_phase_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "metahrl", "demo", "--duration-s", "75", "--round-every-s", "5"]
    done = subprocess.run([*cmd, "--out", str(out), "--json"], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["error"] is None
    assert [p["phase"] for p in summary["phases"]] == [1, 2, 3, 4]
    assert sorted(summary["controls_by_du"]) == ["0", "1", "2", "3", "4"]
    for du, controls in summary["controls_by_du"].items():
        assert controls["acknowledged"] > 0, du
    assert summary["meta_version_final"] >= 2
    assert summary["meta_init_version"] >= 1  # the joining DU started from a closed round's θ_M
    assert set(summary["joins"]) == {"3", "4"} and min(summary["joins"].values()) >= 2.0
    assert summary["new_dus"]["meta_init"]["mean"] is not None
    assert summary["new_dus"]["scratch"]["mean"] is not None
    assert (out / "report.md").read_text().count("| 3 |") >= 1
    assert (out / "adaptation.png").stat().st_size > 1000
    assert json.loads((out / "results.json").read_text())["observations"]
    assert sorted(summary["roundtrip_s"]) == ["0", "1", "2", "3", "4"]
    assert all(0 < p["p50"] <= p["p99"] for p in summary["roundtrip_s"].values())
    assert any(key.startswith("du3/") for key in summary["weights_final"])  # the joiner took part
    assert all(status is not None for status in summary["exit_status"].values())
    assert not [p for p in summary["pids"].values() if _alive(p)]


def test_a_dead_child_is_reported_with_its_last_log_lines(tmp_path: Path) -> None:
    child = Child("e2sim", ["e2sim", "--ric", "nonsense"], tmp_path / "e2sim.log")
    child.start()
    assert child.proc is not None
    child.proc.wait(60)
    with pytest.raises(ChildDied, match=r"e2sim exited with status 2[\s\S]*expected HOST:PORT"):
        child.check()


def test_roundtrip_percentiles_from_a_real_histogram() -> None:
    registry = CollectorRegistry()
    hist = Histogram(
        "metahrl_du_control_roundtrip_seconds", "rt", ["du"], buckets=(0.001, 0.01, 0.1), registry=registry
    )
    for value in [0.0005] * 50 + [0.005] * 45 + [0.05] * 5:
        hist.labels(du="0").observe(value)
    samples = [
        Sample(s.name, tuple(sorted(s.labels.items())), float(s.value))
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
    ]
    assert roundtrip_percentiles(samples) == {"0": {"p50": 0.001, "p90": 0.01, "p99": 0.1}}


def test_join_option_parsing_and_validation() -> None:
    assert parse_du_times(["3@20", "4@2.5"]) == {3: 20.0, 4: 2.5}
    with pytest.raises(ValueError, match="--join: expected DU@SECONDS"):
        parse_du_times(["3"])
    with pytest.raises(ValueError, match="--leave: expected DU@SECONDS"):
        parse_du_times(["3@soon"], "--leave")
    sim = Simulator(load_scenario(SMALL), seed=0)
    with pytest.raises(ValueError, match="join_at_s: DU 7 is not in the scenario"):
        E2SimNodes(sim, E2SimConfig(join_at_s={7: 1.0}))
    nodes = E2SimNodes(sim, E2SimConfig(join_at_s={2: 1.0}))
    assert not sim.du_active[2] and sim.du_active[:2].all()
    assert not (sim.serving == 2).any()  # before joining the DU carries no traffic
    nodes.node_set_up(2)
    assert sim.du_active[2]


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0).ping())
    except redis.RedisError:
        return False


def test_demo_over_osc_rmr_with_tls_and_redis_state(tmp_path: Path) -> None:
    """The same phases through the OSC platform stand-in (real RMR), with mutual TLS to the
    meta-controller and the state in a real Redis; the run's keys are gone afterwards."""
    if not _redis_up():
        pytest.skip(f"no Redis at {REDIS_URL} (.ci/run starts one)")
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "metahrl", "demo", "--duration-s", "75", "--round-every-s", "5",
        "--e2", "osc", "--tls", "--sdl", REDIS_URL, "--display", "plain", "--out", str(out), "--json",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["error"] is None
    assert [p["phase"] for p in summary["phases"]] == [1, 2, 3, 4]
    for du, controls in summary["controls_by_du"].items():
        assert controls["acknowledged"] > 0, du
    assert summary["meta_version_final"] >= 2  # TLS clients' updates were accepted
    assert summary["meta_init_version"] >= 1
    platform = summary["final"]["osc-platform"]
    assert platform["indications_forwarded"] > 0 and platform["controls_forwarded"] > 0, platform
    assert summary["final"]["e2sim"]["connects"] == 5  # every node through the platform's E2 port
    assert "(mutual TLS)" in (out / "logs" / "meta-controller.log").read_text()
    assert summary["sdl_keys_deleted"] > 0
    import redis

    left = list(redis.Redis.from_url(REDIS_URL).scan_iter(match="*metahrl-demo-*", count=1000))
    assert not left, left[:5]
    assert [v["version"] for v in summary["weights_by_version"]] == sorted(
        {v["version"] for v in summary["weights_by_version"]}
    )
    assert not [p for p in summary["pids"].values() if _alive(p)]


def test_live_dashboard_shows_every_du_and_the_meta_state_in_80_columns() -> None:
    from rich.console import Console

    from metahrl.demo_live import View, render
    from metahrl.demo_report import DuObs, Observation

    du = DuObs(
        (0.5, 1.0, 0.25), 2.5, {"acknowledged": 12345, "timeout": 2}, 3.0,
        (12.0, 0.1, 1.5), (104.0, 9.0, 0.5), (0.5, 0.2, 0.3),
    )  # fmt: skip
    obs = Observation(12.0, 1.5, 3.0, {0: du, 3: du, 4: du}, {"du0/high": 0.6, "du3/high": 0.4})
    console = Console(record=True, width=80, color_system=None)
    console.print(render(View(obs, (3, 4), "2 meta-rounds", {0: (1.0, 5.0)}, 4.0)))
    text = console.export_text()
    assert "meta-version 3" in text and "round 4" in text and "phase 2 meta-rounds" in text
    assert "…" not in text, text  # nothing truncated at 80 columns
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:2] in ("0 ", "3 ", "4 ")}
    assert [r[0] for r in rows.values()] == ["base", "meta", "scr"], text
    assert rows["0"][1:5] == ["50/100/25", "12/0/2", "104/9/0", "50/20/30"]  # QoS %, Mbit/s, ms, PRB %
    assert rows["0"][5:] == ["+2.50", "12.3k/2", "1/5", "3", "0.600"]
    assert rows["3"][-2:] == ["3", "0.400"] and rows["4"][-3:] == ["—", "3", "—"]


def test_plain_display_writes_progress_lines_at_its_period() -> None:
    import io

    from metahrl.demo_live import PlainDisplay, View
    from metahrl.demo_report import Observation

    out = io.StringIO()
    display = PlainDisplay(progress_s=5.0, out=out)
    for t in range(12):
        display.show(View(Observation(float(t), None, None, {}), (3, 4), ""))
    assert out.getvalue().count("meta v") == 3  # at 0, 5 and 10 s


def test_ctrl_c_stops_every_child_and_releases_every_port(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    cmd = [sys.executable, "-m", "metahrl", "demo", "--duration-s", "120", "--display", "plain", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    seen = ""
    while "=== phase 1" not in seen:  # every child is up once the base DUs control
        line = proc.stderr.readline()
        assert line and time.monotonic() < deadline, seen[-2000:]
        seen += line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["error"] == "stopped by SIGINT"
    assert {"meta-controller", "xapp-base", "e2sim"} <= set(summary["pids"])
    assert not [p for p in summary["pids"].values() if _alive(p)]
    assert len(summary["ports"]) >= 5
    for port in summary["ports"]:  # nothing listens any more: a server could bind each again
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
            s.bind(("127.0.0.1", port))
            s.listen()


def test_live_display_prints_messages_verbatim() -> None:
    import io

    from rich.console import Console

    from metahrl.demo_live import LiveDisplay

    display = LiveDisplay()
    display.console = Console(file=io.StringIO(), width=120, color_system=None)
    display.live.stop()
    display.say(3.0, "lockstep: awaiting ['gnbd_001_001_000003_0'] [bold]not markup[/bold]")
    out = display.console.file.getvalue()  # type: ignore[attr-defined]
    assert "[   3.0s] lockstep: awaiting ['gnbd_001_001_000003_0'] [bold]not markup[/bold]" in out
