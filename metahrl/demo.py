"""`metahrl demo`: the whole system on loopback — E2 nodes, DU xApps, meta-controller, and
a new DU that joins mid-run from the current meta-initialisation.

Separate processes on 127.0.0.1 (ports picked free at start; logs in OUT/logs):
  meta-controller   θ0 = a fresh tiny agent of the scenario's sizes; gRPC insecure, or mutual
                    TLS with --tls (a CA and certificates made for this run in OUT/pki)
  xapp-base         ONE process serving the base DUs (scratch, online learning, exploration,
                    task updates to the meta-controller): one process for several DUs because
                    the demo must fit 2 CPU cores — every xApp process is a Python+torch runtime
  xapp-meta         the first joining DU, --init meta (started once meta-version >= 1)
  xapp-scratch      the second joining DU, same task, --init scratch: the comparison
  e2sim             the simulator as E2 nodes, --lockstep (simulated time follows the xApps;
                    --realtime: paced by the wall clock), the joining DUs off the air until
                    they join (--join DU@SECONDS)
  osc-platform      with --e2 osc only: the OSC RIC stand-in (E2 termination, Subscription
                    Manager REST, E2 Manager node states); every E2 node connects to it and the
                    xApps subscribe through it and exchange E2 over real RMR (librmr)

State (--sdl): in memory, or redis://HOST:PORT[/DB] for the meta-controller's rounds and the
xApps' agents, under namespaces of this run (metahrl-demo-<id>…) that are deleted at the end.

Default scenario (built in, written to OUT/scenario.yaml): 5 DUs; DUs 0-2 run the 'small'
task, DUs 3-4 a task no base DU runs (heavier eMBB, more URLLC) and join mid-run. Before they
join their UEs are served by the base DUs. Simulated time in lockstep runs slower than real
time on 2 cores (about 0.1x), so a 4-minute run covers some 20-30 simulated seconds.

Phases (shown with wall and simulated time):
  1  the base DUs control from scratch and learn online
  2  meta-rounds: the first meta-version closed while they control
  3  the two new DUs join: one from the current meta-init, one from scratch
  4  continuous operation (second half of the time after the join)

Display (--display): a live table when stderr is a terminal (per DU: slice QoS, throughput,
delay, PRB shares, reward, control outcomes, E2 round trip, meta-version and Softmin weight),
otherwise a plain line every --progress-s seconds (scraped from each /ric/v1/metrics).
A child that dies stops the demo with its last log lines (exit 1); Ctrl-C / SIGTERM stop every
child (exit 130). --out DIR writes report.md, adaptation.png and results.json.

Examples:
  metahrl demo --out runs/demo                                   # about 4.5 minutes
  metahrl demo --e2 osc --tls --sdl redis://127.0.0.1:6379 --out runs/demo-osc
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meta_controller.pki import PkiFiles
from metahrl.demo_live import Display, View, open_display
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

__all__ = [
    "Demo",
    "DemoConfig",
    "Topology",
    "add_arguments",
    "demo_scenario",
    "run",
    "start_e2sim",
    "start_meta",
    "wait_http",
    "write_theta0",
    "xapp_child",
]

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
    e2: Literal["direct", "osc"] = Field(
        "direct", description="E2 access: direct, or osc (through the OSC platform stand-in over RMR)"
    )
    sdl: str = Field(
        "memory",
        pattern=r"^(memory|redis://\S+)$",
        description="state store: memory or redis://HOST:PORT[/DB] (this run's keys deleted at the end)",
    )
    tls: bool = Field(
        False, description="mutual TLS between xApps and meta-controller (a PKI made for the run)"
    )
    realtime: bool = Field(False, description="pace the simulator by the wall clock instead of lockstep")
    display: Literal["auto", "live", "plain"] = Field(
        "auto", description="live table, plain lines, or auto (live when stderr is a terminal)"
    )


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
        elif info.default is False:
            p.add_argument(flag, action="store_const", const=True, default=None, help=info.description)
        elif get_origin(info.annotation) is Literal:
            p.add_argument(
                flag,
                choices=get_args(info.annotation),
                default=None,
                help=f"{info.description} (default {info.default})",
            )
        else:
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


@dataclass(frozen=True)
class OscPorts:
    """Where the OSC platform stand-in serves (from its --ready-file)."""

    e2_port: int
    route_table: str
    submgr_url: str
    e2mgr_url: str


@dataclass
class Topology:
    """The files and ports of one run."""

    run_dir: Path
    scenario_path: Path
    n_du: int
    new_dus: tuple[int, ...]  # the two that join mid-run (none: every DU is on the air from the start)
    meta_http: int = 0
    meta_grpc: int = 0
    e2: dict[int, int] = field(default_factory=dict)  # DU → the E2 port its xApp listens on
    node_ports: dict[int, int] = field(default_factory=dict)  # DU → where its E2 node connects (default: e2)
    http: dict[str, int] = field(default_factory=dict)  # xApp child name → HTTP port
    namespace: str = "metahrl-demo"  # SDL namespace prefix of this run
    pki: PkiFiles | None = None  # --tls
    osc: OscPorts | None = None  # --e2 osc, once the platform serves

    @property
    def pair(self) -> tuple[int, int]:
        """The demo's two joining DUs."""
        first, second = self.new_dus
        return first, second

    @property
    def base_dus(self) -> list[int]:
        return [d for d in range(self.n_du) if d not in self.new_dus]


def _prepare(cfg: DemoConfig, run_dir: Path) -> Topology:
    """Write the scenario and θ0, pick the ports."""
    from e2sim.scenario import load_scenario

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    for stale in ("meta.ports", "osc.ready"):  # an earlier run's in the same --out
        (run_dir / stale).unlink(missing_ok=True)
    path = Path(cfg.scenario) if cfg.scenario else run_dir / "scenario.yaml"
    if cfg.scenario is None:
        path.write_text(yaml.safe_dump(demo_scenario(), sort_keys=False))
    scenario = load_scenario(path)
    new = cfg.new_dus or (scenario.n_du - 2, scenario.n_du - 1)
    if scenario.n_du < 3 or len(set(new)) != 2 or not all(0 <= d < scenario.n_du for d in new):
        raise ValueError(f"new_dus: {new} must be two distinct DUs of the scenario, with one DU left")
    write_theta0(path, run_dir / "theta0.pt", cfg.seed)
    topo = Topology(run_dir, path, scenario.n_du, (new[0], new[1]), meta_http=free_port())
    topo.namespace = f"metahrl-demo-{uuid.uuid4().hex[:8]}"
    if cfg.tls:
        from meta_controller.pki import make_pki

        topo.pki = make_pki("metahrl-demo-du").write(run_dir / "pki")
    base_port = free_port()
    topo.e2 = {d: base_port for d in topo.base_dus} | {new[0]: free_port(), new[1]: free_port()}
    topo.http = {"xapp-base": free_port(), "xapp-meta": free_port(), "xapp-scratch": free_port()}
    return topo


def write_theta0(scenario: Path, out: Path, seed: int) -> None:
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


def xapp_child(name: str, topo: Topology, cfg: DemoConfig, dus: list[int], init: str, meta: bool) -> Child:
    args = [
        "xapp", "--du", ",".join(map(str, dus)), "--listen", f"127.0.0.1:{topo.e2[dus[0]]}",
        "--http", f"127.0.0.1:{topo.http[name]}", "--scenario", str(topo.scenario_path),
        "--agent", "tiny", "--init", init, "--learn", "online", "--explore", "--seed", str(cfg.seed),
        "--json",
    ]  # fmt: skip
    if meta:
        args += ["--meta", f"127.0.0.1:{topo.meta_grpc}"]
    if cfg.sdl != "memory":
        args += ["--sdl", cfg.sdl]
    env = {
        "METAHRL_XAPP_META__ROUND_EVERY_S": str(cfg.round_every_s),
        "METAHRL_XAPP_NAME": name,
        "METAHRL_XAPP_STATE__SDL_NAMESPACE": f"{topo.namespace}-{name}",
    }
    if meta and topo.pki is not None:
        env |= {
            "METAHRL_XAPP_META__TLS": "true",
            "METAHRL_XAPP_META__CA_FILE": str(topo.pki.ca_cert),
            "METAHRL_XAPP_META__CERT_FILE": str(topo.pki.client_cert),
            "METAHRL_XAPP_META__KEY_FILE": str(topo.pki.client_key),
        }
    if topo.osc is not None:
        args += ["--e2", "osc"]
        env |= {
            "RMR_SEED_RT": topo.osc.route_table,
            "METAHRL_XAPP_E2__RMR_PORT": str(free_port()),
            "METAHRL_XAPP_E2__RMR_ROUTE_PORT": str(free_port()),
            "METAHRL_XAPP_E2__SUBMGR_URL": topo.osc.submgr_url,
            "METAHRL_XAPP_E2__E2MGR_URL": topo.osc.e2mgr_url,
            "METAHRL_XAPP_E2__HTTP_CALLBACK_HOST": "127.0.0.1",
        }
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
    display: Display | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        if self.display is not None:
            self.display.say(self.now(), text)
        else:
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
        if meta:
            self.last_samples["meta-controller"] = meta
        obs = Observation(self.now(), self.sim_s(), meta_version(meta), dus, meta_weights(meta))
        self.record.observations.append(obs)
        return obs

    def view(self, obs: Observation) -> View:
        """The display's view of the last observation."""
        rtt = {
            int(du): (p["p50"] * 1e3, p["p99"] * 1e3)
            for name, samples in self.last_samples.items()
            if name != "meta-controller"
            for du, p in roundtrip_percentiles(samples).items()
        }
        meta = self.last_samples.get("meta-controller", [])
        meta_round = next((x.value for x in meta if x.name == "metahrl_meta_round"), None)
        phase = max(self.record.phases, key=lambda m: m.phase, default=None)
        title = f"{phase.phase} {phase.title}" if phase else ""
        return View(obs, self.topo.pair, title, rtt, meta_round)

    def _dus_of(self, name: str) -> list[int]:
        return {"xapp-base": self.topo.base_dus, "xapp-meta": [self.topo.new_dus[0]]}.get(
            name, [self.topo.new_dus[1]]
        )

    def stop_all(self) -> dict[str, int | None]:
        order = ["e2sim", "xapp-meta", "xapp-scratch", "xapp-base", "meta-controller", "osc-platform"]
        return {n: self.children[n].stop() for n in order if n in self.children}


def wait_meta_ready(demo: Demo, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    ports = demo.topo.run_dir / "meta.ports"  # written (atomically) once gRPC and HTTP serve
    while not ports.exists() or meta_version(scrape(demo.topo.meta_http)) is None:
        demo.check()
        if time.monotonic() > deadline:
            raise ChildDied(
                "meta-controller did not serve its metrics within 90 s:\n"
                + demo.children["meta-controller"].tail()
            )
        time.sleep(0.3)
    demo.topo.meta_grpc = json.loads(ports.read_text())["grpc"]


def wait_http(demo: Demo, name: str, timeout_s: float = 120.0) -> None:
    """Wait until child ``name`` serves its metrics (it is then listening for E2 too)."""
    deadline = time.monotonic() + timeout_s
    while scrape(demo.topo.http[name]) is None:
        demo.check()
        if time.monotonic() > deadline:
            raise ChildDied(
                f"{name} did not serve HTTP within {timeout_s:.0f} s:\n" + demo.children[name].tail()
            )
        time.sleep(0.3)


def start_meta(demo: Demo) -> None:
    topo = demo.topo
    args = [
        "meta-controller", "--init", str(topo.run_dir / "theta0.pt"),
        "--listen", f"127.0.0.1:{topo.meta_grpc}", "--http", f"127.0.0.1:{topo.meta_http}",
        "--port-file", str(topo.run_dir / "meta.ports"), "--min-updates", str(len(topo.base_dus)),
        "--round-timeout", str(demo.cfg.round_every_s),
        "--sdl", demo.cfg.sdl, "--namespace", f"{topo.namespace}-meta",
    ]  # fmt: skip
    if topo.pki is None:
        args.append("--insecure")
    else:
        pki = topo.pki
        args += ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
        args += ["--tls-client-ca", str(pki.ca_cert)]
    demo.start(Child("meta-controller", args, topo.run_dir / "logs" / "meta-controller.log"))
    wait_meta_ready(demo)


def _start_platform(demo: Demo) -> None:
    """The OSC platform stand-in; every E2 node connects to it (--e2 osc)."""
    topo = demo.topo
    ready = topo.run_dir / "osc.ready"
    args = [
        "osc-platform", "--e2-port", "0", "--http-port", "0", "--rmr-port", str(free_port()),
        "--ready-file", str(ready), "--json",
    ]  # fmt: skip
    demo.start(Child("osc-platform", args, topo.run_dir / "logs" / "osc-platform.log"))
    deadline = time.monotonic() + 60.0
    while not ready.exists():
        demo.check()
        if time.monotonic() > deadline:
            raise ChildDied(
                "osc-platform was not ready within 60 s:\n" + demo.children["osc-platform"].tail()
            )
        time.sleep(0.2)
    info = json.loads(ready.read_text())
    topo.osc = OscPorts(info["e2_port"], info["route_table"], info["submgr_url"], info["e2mgr_url"])


def start_e2sim(demo: Demo) -> None:
    topo, cfg = demo.topo, demo.cfg
    if topo.osc is not None:
        target = ["--ric", f"127.0.0.1:{topo.osc.e2_port}"]
    else:
        node_ports = topo.node_ports or topo.e2
        ports = ",".join(str(node_ports[d]) for d in range(topo.n_du))
        target = ["--ric", f"127.0.0.1:{node_ports[0]}", "--ric-ports", ports]
    args = [
        "e2sim", "--scenario", str(topo.scenario_path), *target,
        "--realtime" if cfg.realtime else "--lockstep",
        "--seed", str(cfg.seed), "--progress-s", "1", "--json",
    ]  # fmt: skip
    for du in topo.new_dus:
        args += ["--join", f"{du}@{cfg.join_at_sim_s}"]
    demo.start(Child("e2sim", args, topo.run_dir / "logs" / "e2sim.log"))


def _loop(demo: Demo) -> None:
    """Scrape, print, move through the phases until the duration has passed."""
    cfg, topo = demo.cfg, demo.topo
    end = demo.now() + cfg.duration_s
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
            demo.start(xapp_child("xapp-meta", topo, cfg, [topo.new_dus[0]], "meta", meta=True))
            demo.start(xapp_child("xapp-scratch", topo, cfg, [topo.new_dus[1]], "scratch", meta=False))
        if joined_at is not None and all(d in obs.dus for d in topo.new_dus):
            demo.mark(3, f"DU {topo.new_dus[0]} joined from the meta-init, DU {topo.new_dus[1]} from scratch")
        phase3 = next((m.wall_s for m in demo.record.phases if m.phase == 3), None)
        if phase3 is not None and demo.now() >= phase3 + (end - phase3) / 2:
            demo.mark(4, "continuous operation")
        if demo.display is not None:
            demo.display.show(demo.view(obs))
        time.sleep(cfg.scrape_s)


def _facts(demo: Demo, statuses: dict[str, int | None]) -> dict[str, Any]:
    """What the children's logs and final JSON say."""
    out: dict[str, Any] = {"exit_status": statuses, "pids": {n: c.pid for n, c in demo.children.items()}}
    topo = demo.topo
    ports = {topo.meta_http, topo.meta_grpc, *topo.e2.values(), *topo.http.values()}
    out["ports"] = sorted(ports | ({topo.osc.e2_port} if topo.osc else set()) - {0})
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
    demo = Demo(cfg, _prepare(cfg, run_dir), display=open_display(cfg.display, cfg.progress_s))
    error = None
    try:
        if cfg.e2 == "osc":
            _start_platform(demo)
        start_meta(demo)
        demo.start(xapp_child("xapp-base", demo.topo, cfg, demo.topo.base_dus, "scratch", meta=True))
        wait_http(demo, "xapp-base")
        start_e2sim(demo)
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
        demo.record.facts = _facts(demo, statuses) | {"sdl_keys_deleted": _clear_sdl(demo)}
        if demo.display is not None:
            demo.display.close()
            demo.display = None
    return demo, error


def _clear_sdl(demo: Demo) -> int | None:
    """Delete this run's keys from a Redis SDL (every namespace starts with the run's prefix);
    None for the in-memory store. A failure is reported, not raised: the run's results stand."""
    if demo.cfg.sdl == "memory":
        return None
    from ric.sdl import SdlError, open_sdl

    names = [f"{demo.topo.namespace}-{n}" for n in ("meta", *demo.topo.http)]
    names += [f"{n}-osc" for n in names]
    try:
        sdl = open_sdl(demo.cfg.sdl)
        try:
            deleted = 0
            for ns in names:
                keys = sdl.keys(ns)
                sdl.delete(ns, keys)
                deleted += len(keys)
            return deleted
        finally:
            sdl.close()
    except (SdlError, OSError) as err:
        demo.say(f"warning: could not delete this run's SDL keys ({demo.topo.namespace}-*): {err}")
        return None


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
        summary = summarise(demo.record, demo.now(), demo.topo.pair) | {"error": error}
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
