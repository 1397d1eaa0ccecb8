"""`metahrl demo`: the whole system on loopback — E2 nodes, DU xApps, meta-controller, and
a new DU that joins mid-run from the current meta-initialisation.

Separate processes on 127.0.0.1 (ports picked free at start; logs in OUT/logs):
  meta-controller   θ0 = a fresh tiny agent of the scenario's sizes (--insecure, in-memory SDL)
  xapp-base         ONE process serving the base DUs (scratch, online learning, exploration,
                    task updates to the meta-controller): one process for several DUs because
                    the demo must fit 2 CPU cores — every xApp process is a Python+torch runtime
  xapp-meta         the first joining DU, --init meta (started once meta-version >= 1)
  xapp-scratch      the second joining DU, same task, --init scratch: the comparison
  e2sim             the simulator as E2 nodes, --lockstep (simulated time follows the xApps),
                    the joining DUs off the air until they join (--join DU@SECONDS)

Default scenario (built in, written to OUT/scenario.yaml): 5 DUs; DUs 0-2 run the 'small'
task, DUs 3-4 a task no base DU runs (heavier eMBB, more URLLC) and join mid-run. Before they
join their UEs are served by the base DUs. Simulated time in lockstep runs slower than real
time on 2 cores (about 0.1x), so a 4-minute run covers some 20-30 simulated seconds.

Phases (shown with wall and simulated time):
  1  the base DUs control from scratch and learn online
  2  meta-rounds: the first meta-version closed while they control
  3  the two new DUs join: one from the current meta-init, one from scratch
  4  continuous operation (second half of the time after the join)

Progress: a plain line every --progress-s seconds (scraped from each /ric/v1/metrics).
A child that dies stops the demo with its last log lines (exit 1); Ctrl-C / SIGTERM stop every
child (exit 130). --out DIR writes report.md, adaptation.png and results.json.

Example:  metahrl demo --out runs/demo            # about 4.5 minutes
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metahrl.demo_procs import Child, ChildDied, Sample, free_port, last_match, scrape
from metahrl.demo_report import (
    Observation,
    PhaseMark,
    Record,
    du_obs,
    meta_version,
    meta_weights,
    roundtrip_percentiles,
    summarise,
    write_outputs,
)

__all__ = ["DemoConfig", "add_arguments", "run"]

_SIM_RE = re.compile(r"sim (\d+(?:\.\d+)?) s \(")
_JOIN_RE = re.compile(r"DU (\d+) joined at sim (\d+(?:\.\d+)?) s")
_INIT_RE = re.compile(r"DU (\d+): initialised from meta-version (\d+)")


class DemoConfig(BaseModel):
    """The demo's settings (each a flag of `metahrl demo`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str | None = Field(None, description="scenario YAML (None: the built-in 5-DU demo scenario)")
    new_dus: tuple[int, int] | None = Field(None, description="the two joining DUs (None: the last two)")
    duration_s: float = Field(240.0, gt=20, description="wall-clock seconds of operation after start-up")
    round_every_s: float = Field(10.0, gt=0, description="seconds between each DU's task updates")
    join_after_version: int = Field(1, ge=1, description="the new DUs start once this meta-version exists")
    join_at_sim_s: float = Field(2.0, ge=0, description="simulated second from which joining nodes connect")
    progress_s: float = Field(5.0, gt=0, description="seconds between progress lines")
    scrape_s: float = Field(1.0, gt=0, description="seconds between metric scrapes")
    seed: int = Field(0, description="simulator and agent seed")


def demo_scenario() -> dict[str, Any]:
    """The built-in scenario: 3 base DUs on the 'small' task, 2 joining DUs on a new task."""
    return {
        "name": "demo",
        "description": "metahrl demo: DUs 0-2 run the small task, DUs 3-4 a new one and join mid-run",
        "n_du": 5,
        "radio": {"fading": "scheduled"},
        "tasks": {
            "base": {
                "embb": {"n_ues": 5, "rate_mbps": [10, 14], "sla_throughput_mbps": 12},
                "mmtc": {"n_ues": 4},
                "urllc": {"n_ues": 3},
            },
            "new": {
                "embb": {"n_ues": 4, "rate_mbps": [14, 18], "sla_throughput_mbps": 15},
                "mmtc": {"n_ues": 3},
                "urllc": {"n_ues": 5},
            },
        },
        "assignment": ["base", "base", "base", "new", "new"],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    for name, info in DemoConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if name == "new_dus":
            p.add_argument(flag, default=None, help=f"{info.description}; e.g. 3,4")
            continue
        kind = type(info.default) if info.default is not None else str
        p.add_argument(flag, type=kind, default=None, help=f"{info.description} (default {info.default})")
    p.add_argument(
        "--out", type=Path, default=None, help="write report.md, adaptation.png, results.json here"
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def config_of(args: argparse.Namespace) -> DemoConfig:
    data = {k: getattr(args, k) for k in DemoConfig.model_fields if getattr(args, k) is not None}
    if isinstance(data.get("new_dus"), str):
        data["new_dus"] = tuple(int(x) for x in data["new_dus"].split(","))
    return DemoConfig.model_validate(data)


@dataclass
class Topology:
    """The files and ports of one run."""

    run_dir: Path
    scenario_path: Path
    n_du: int
    new_dus: tuple[int, int]
    meta_http: int = 0
    meta_grpc: int = 0
    e2: dict[int, int] = field(default_factory=dict)  # DU → the E2 port its xApp listens on
    http: dict[str, int] = field(default_factory=dict)  # xApp child name → HTTP port

    @property
    def base_dus(self) -> list[int]:
        return [d for d in range(self.n_du) if d not in self.new_dus]


def _prepare(cfg: DemoConfig, run_dir: Path) -> Topology:
    """Write the scenario and θ0, pick the ports."""
    from e2sim.scenario import load_scenario

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    path = Path(cfg.scenario) if cfg.scenario else run_dir / "scenario.yaml"
    if cfg.scenario is None:
        path.write_text(yaml.safe_dump(demo_scenario(), sort_keys=False))
    scenario = load_scenario(path)
    new = cfg.new_dus or (scenario.n_du - 2, scenario.n_du - 1)
    if scenario.n_du < 3 or len(set(new)) != 2 or not all(0 <= d < scenario.n_du for d in new):
        raise ValueError(f"new_dus: {new} must be two distinct DUs of the scenario, with one DU left")
    _write_theta0(path, run_dir / "theta0.pt", cfg.seed)
    topo = Topology(run_dir, path, scenario.n_du, (new[0], new[1]), meta_http=free_port())
    base_port = free_port()
    topo.e2 = {d: base_port for d in topo.base_dus} | {new[0]: free_port(), new[1]: free_port()}
    topo.http = {"xapp-base": free_port(), "xapp-meta": free_port(), "xapp-scratch": free_port()}
    return topo


def _write_theta0(scenario: Path, out: Path, seed: int) -> None:
    """θ0: a fresh agent of the sizes the xApps build for this scenario (agent config 'tiny')."""
    import torch

    from e2sim.env import HierarchicalSlicingEnv
    from e2sim.scenario import load_scenario
    from experiments.config import load_train_config
    from experiments.train import agent_config_for
    from xapps.agent import HierarchicalAgent

    train = load_train_config("tiny")
    env = HierarchicalSlicingEnv(load_scenario(scenario), train.env)
    torch.save(HierarchicalAgent(agent_config_for(env, train), seed=seed + 99).get_params(), out)


def _xapp(name: str, topo: Topology, cfg: DemoConfig, dus: list[int], init: str, meta: bool) -> Child:
    args = [
        "xapp", "--du", ",".join(map(str, dus)), "--listen", f"127.0.0.1:{topo.e2[dus[0]]}",
        "--http", f"127.0.0.1:{topo.http[name]}", "--scenario", str(topo.scenario_path),
        "--agent", "tiny", "--init", init, "--learn", "online", "--explore", "--seed", str(cfg.seed),
        "--json",
    ]  # fmt: skip
    if meta:
        args += ["--meta", f"127.0.0.1:{topo.meta_grpc}"]
    env = {"METAHRL_XAPP_META__ROUND_EVERY_S": str(cfg.round_every_s), "METAHRL_XAPP_NAME": name}
    return Child(name, args, topo.run_dir / "logs" / f"{name}.log", env)


class _Stop(Exception):
    """Ctrl-C or SIGTERM."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@dataclass
class Demo:
    """The running demo: children, clock, record."""

    cfg: DemoConfig
    topo: Topology
    children: dict[str, Child] = field(default_factory=dict)
    record: Record = field(default_factory=Record)
    last_samples: dict[str, list[Sample]] = field(default_factory=dict)  # child name → last scrape
    t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        sys.stderr.write(f"[{self.now():6.1f}s] {text}\n")
        sys.stderr.flush()

    def start(self, child: Child) -> None:
        self.children[child.name] = child
        child.start()
        self.say(f"started {child.name} (pid {child.pid}): metahrl {' '.join(child.args[:3])} …")

    def check(self) -> None:
        for child in self.children.values():
            child.check()

    def sim_s(self) -> float | None:
        e2sim = self.children.get("e2sim")
        m = last_match(_SIM_RE, e2sim.log_text()) if e2sim else None
        return float(m.group(1)) if m else None

    def mark(self, phase: int, title: str) -> None:
        if any(m.phase == phase for m in self.record.phases):
            return
        sim = self.sim_s()
        self.record.phases.append(PhaseMark(phase, title, self.now(), sim))
        self.say(f"=== phase {phase}: {title} (sim {sim if sim is not None else '—'} s)")

    def observe(self) -> Observation:
        dus = {}
        for name, port in self.topo.http.items():
            if name not in self.children:
                continue
            samples = scrape(port)
            if samples:
                self.last_samples[name] = samples
            for du in self._dus_of(name) if samples else []:
                if (o := du_obs(samples or [], du)) is not None:
                    dus[du] = o
        meta = scrape(self.topo.meta_http)
        obs = Observation(self.now(), self.sim_s(), meta_version(meta), dus, meta_weights(meta))
        self.record.observations.append(obs)
        return obs

    def _dus_of(self, name: str) -> list[int]:
        return {"xapp-base": self.topo.base_dus, "xapp-meta": [self.topo.new_dus[0]]}.get(
            name, [self.topo.new_dus[1]]
        )

    def stop_all(self) -> dict[str, int | None]:
        order = ["e2sim", "xapp-meta", "xapp-scratch", "xapp-base", "meta-controller"]
        return {n: self.children[n].stop() for n in order if n in self.children}


def _progress(demo: Demo, obs: Observation) -> None:
    parts = [f"sim {obs.sim_s if obs.sim_s is not None else '—'} s", f"meta v{_int(obs.meta_version)}"]
    new = demo.topo.new_dus
    for du, o in sorted(obs.dus.items()):
        tag = "(meta)" if du == new[0] else "(scratch)" if du == new[1] else ""
        qos = "/".join(f"{q:.2f}" for q in o.qos)
        r = "—" if o.reward_high is None else f"{o.reward_high:+.3f}"
        ack = int(o.controls.get("acknowledged", 0))
        bad = int(sum(v for k, v in o.controls.items() if k != "acknowledged"))
        parts.append(f"du{du}{tag} qos {qos} R {r} ctl {ack}ok/{bad}bad")
    demo.say(" | ".join(parts))


def _int(x: float | None) -> str:
    return "—" if x is None else str(int(x))


def _wait_meta_ready(demo: Demo, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while meta_version(scrape(demo.topo.meta_http)) is None:
        demo.check()
        if time.monotonic() > deadline:
            raise ChildDied(
                "meta-controller did not serve its metrics within 90 s:\n"
                + demo.children["meta-controller"].tail()
            )
        time.sleep(0.3)
    demo.topo.meta_grpc = json.loads((demo.topo.run_dir / "meta.ports").read_text())["grpc"]


def _wait_http(demo: Demo, name: str, timeout_s: float = 120.0) -> None:
    """Wait until child ``name`` serves its metrics (it is then listening for E2 too)."""
    deadline = time.monotonic() + timeout_s
    while scrape(demo.topo.http[name]) is None:
        demo.check()
        if time.monotonic() > deadline:
            raise ChildDied(
                f"{name} did not serve HTTP within {timeout_s:.0f} s:\n" + demo.children[name].tail()
            )
        time.sleep(0.3)


def _start_meta(demo: Demo) -> None:
    topo = demo.topo
    args = [
        "meta-controller", "--init", str(topo.run_dir / "theta0.pt"), "--insecure",
        "--listen", "127.0.0.1:0", "--http", f"127.0.0.1:{topo.meta_http}",
        "--port-file", str(topo.run_dir / "meta.ports"), "--min-updates", str(len(topo.base_dus)),
        "--round-timeout", str(demo.cfg.round_every_s),
    ]  # fmt: skip
    demo.start(Child("meta-controller", args, topo.run_dir / "logs" / "meta-controller.log"))
    _wait_meta_ready(demo)


def _start_e2sim(demo: Demo) -> None:
    topo, cfg = demo.topo, demo.cfg
    ports = ",".join(str(topo.e2[d]) for d in range(topo.n_du))
    args = [
        "e2sim", "--scenario", str(topo.scenario_path), "--ric", f"127.0.0.1:{topo.e2[0]}",
        "--ric-ports", ports, "--lockstep", "--seed", str(cfg.seed), "--progress-s", "1", "--json",
    ]  # fmt: skip
    for du in topo.new_dus:
        args += ["--join", f"{du}@{cfg.join_at_sim_s}"]
    demo.start(Child("e2sim", args, topo.run_dir / "logs" / "e2sim.log"))


def _loop(demo: Demo) -> None:
    """Scrape, print, move through the phases until the duration has passed."""
    cfg, topo = demo.cfg, demo.topo
    end = demo.now() + cfg.duration_s
    next_line = demo.now()
    joined_at: float | None = None
    while demo.now() < end:
        demo.check()
        obs = demo.observe()
        version = obs.meta_version or 0
        if any(o.controls.get("acknowledged", 0) > 0 for o in obs.dus.values()):
            demo.mark(1, "base DUs control from scratch, learning online")
        if version >= 1:
            demo.mark(2, "meta-rounds close while the DUs control")
        if version >= cfg.join_after_version and joined_at is None:
            joined_at = demo.now()
            demo.start(_xapp("xapp-meta", topo, cfg, [topo.new_dus[0]], "meta", meta=True))
            demo.start(_xapp("xapp-scratch", topo, cfg, [topo.new_dus[1]], "scratch", meta=False))
        if joined_at is not None and all(d in obs.dus for d in topo.new_dus):
            demo.mark(3, f"DU {topo.new_dus[0]} joined from the meta-init, DU {topo.new_dus[1]} from scratch")
        phase3 = next((m.wall_s for m in demo.record.phases if m.phase == 3), None)
        if phase3 is not None and demo.now() >= phase3 + (end - phase3) / 2:
            demo.mark(4, "continuous operation")
        if demo.now() >= next_line:
            next_line += cfg.progress_s
            _progress(demo, obs)
        time.sleep(cfg.scrape_s)


def _facts(demo: Demo, statuses: dict[str, int | None]) -> dict[str, Any]:
    """What the children's logs and final JSON say."""
    out: dict[str, Any] = {"exit_status": statuses, "pids": {n: c.pid for n, c in demo.children.items()}}
    meta = demo.children.get("xapp-meta")
    init = last_match(_INIT_RE, meta.log_text()) if meta else None
    out["meta_init_version"] = int(init.group(2)) if init else None
    e2sim = demo.children.get("e2sim")
    text = e2sim.log_text() if e2sim else ""
    out["joins"] = {m.group(1): float(m.group(2)) for m in _JOIN_RE.finditer(text)}
    out["sim_time_s"] = demo.sim_s()
    out["roundtrip_s"] = {
        k: v for s in demo.last_samples.values() for k, v in roundtrip_percentiles(s).items()
    }
    out["final"] = {}
    for name, child in demo.children.items():
        lines = [ln for ln in child.stdout_text().splitlines() if ln.startswith("{")]
        if lines:
            out["final"][name] = json.loads(lines[-1])
    return out


def _run_demo(cfg: DemoConfig, run_dir: Path) -> tuple[Demo, str | None]:
    demo = Demo(cfg, _prepare(cfg, run_dir))
    error = None
    try:
        _start_meta(demo)
        demo.start(_xapp("xapp-base", demo.topo, cfg, demo.topo.base_dus, "scratch", meta=True))
        _wait_http(demo, "xapp-base")
        _start_e2sim(demo)
        _loop(demo)
    except ChildDied as err:
        error = str(err)
        demo.say(f"error: {err}")
    except _Stop as sig:
        error = f"stopped by {sig}"
        demo.say(f"{error}: stopping every child")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        statuses = demo.stop_all()
        demo.record.facts = _facts(demo, statuses)
    return demo, error


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_of(args)
    except (ValidationError, ValueError) as err:
        sys.stderr.write(f"metahrl demo: invalid settings: {err}\n")
        return 2
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with tempfile.TemporaryDirectory(prefix="metahrl-demo-") as tmp:
        run_dir = args.out or Path(tmp)
        try:
            demo, error = _run_demo(cfg, run_dir)
        except ValueError as err:
            sys.stderr.write(f"metahrl demo: {err}\n")
            return 2
        except _Stop:  # before any child started
            return 130
        summary = summarise(demo.record, demo.now(), demo.topo.new_dus) | {"error": error}
        if args.out is not None:
            write_outputs(demo.record, summary, args.out)
            demo.say(f"wrote {args.out}/report.md, results.json, adaptation.png")
    _print_summary(summary)
    if args.json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    return 0 if error is None else 130 if error.startswith("stopped") else 1


def _print_summary(s: dict[str, Any]) -> None:
    n = s["new_dus"]
    sys.stderr.write(
        f"summary: meta-version {s['meta_version_final']}; "
        f"joining DU got meta-init v{s['meta_init_version']}; "
        f"joins {s['joins']}; new DUs' mean sampled reward: meta-init DU {n['meta_init']['du']} "
        f"{n['meta_init']['mean']}, scratch DU {n['scratch']['du']} {n['scratch']['mean']}\n"
    )
