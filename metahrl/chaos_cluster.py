"""The system `metahrl chaos` breaks: the demo's processes, one xApp per DU, a Redis of its own,
and an observing proxy (`metahrl.e2proxy`) on every E2 link.

:class:`Cluster` starts and restarts the children (as Kubernetes would restart a pod), kills them
(``kill -9``), and reads what each says about itself: Prometheus metrics and readiness over HTTP,
and the proxies' independent counts of what crossed each E2 link.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metahrl.demo import (
    Demo,
    DemoConfig,
    Topology,
    demo_scenario,
    start_e2sim,
    start_meta,
    wait_http,
    write_theta0,
    xapp_child,
)
from metahrl.demo_procs import ChildDied, Sample, free_port, scrape
from metahrl.e2proxy import E2Proxy

__all__ = ["Cluster", "DuView", "MetaView", "RecoveryTimeout", "RedisChild", "chaos_scenario"]


class RecoveryTimeout(RuntimeError):
    """A condition the chaos run waited for did not come in time."""


def chaos_scenario(n_du: int) -> dict[str, Any]:
    """``n_du`` DUs of the demo's base task, all on the air from the start."""
    return {
        "name": "chaos",
        "description": "metahrl chaos: every DU runs the demo's base task, one xApp per DU",
        "n_du": n_du,
        "radio": {"fading": "scheduled"},
        "tasks": {"base": demo_scenario()["tasks"]["base"]},
        "assignment": ["base"] * n_du,
    }


# ---------------------------------------------------------------------------------------- Redis


@dataclass
class RedisChild:
    """A ``redis-server`` of the run: its own port and directory, every write in its AOF before
    the reply (``appendfsync always``), so that a kill loses nothing it acknowledged."""

    directory: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 15.0) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise ChildDied("redis-server is not installed (Debian: apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no",
        ]  # fmt: skip
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ChildDied(f"redis-server on port {self.port} did not start (see {log.name})")
            time.sleep(0.05)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except (redis.RedisError, OSError):
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10.0)
            except subprocess.TimeoutExpired:
                self.kill()


# ---------------------------------------------------------------------------------------- views


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    want = set(labels.items())
    return sum(s.value for s in samples if s.name == name and want <= set(s.labels))


@dataclass(frozen=True)
class DuView:
    """What one DU's xApp says at one moment (its metrics and readiness)."""

    at: float
    samples: list[Sample]
    ready: dict[str, Any] | None  # the readiness JSON (None: no answer)
    du: str

    def count(self, name: str, **labels: str) -> float:
        return _value(self.samples, name, du=self.du, **labels)

    @property
    def acked(self) -> float:
        return self.count("metahrl_du_controls_total", outcome="acknowledged")

    def controls(self, outcome: str) -> float:
        return self.count("metahrl_du_controls_total", outcome=outcome)

    @property
    def connected(self) -> bool:
        return self.count("metahrl_du_e2_connected") == 1

    @property
    def subscribed(self) -> bool:
        return self.count("metahrl_du_e2_subscribed") == 1

    @property
    def meta_degraded(self) -> bool:
        return _value(self.samples, "metahrl_du_meta_degraded") == 1

    @property
    def meta_version(self) -> float:
        return _value(self.samples, "metahrl_du_meta_version", du=f"du{self.du}")

    @property
    def contributions_accepted(self) -> float:
        return _value(
            self.samples, "metahrl_du_meta_contributions_total", du=f"du{self.du}", outcome="accepted"
        )

    def checkpoints(self, outcome: str) -> float:
        return _value(self.samples, "metahrl_du_checkpoints_total", outcome=outcome, target="sdl")

    @property
    def learner_updates(self) -> float:
        return self.count("metahrl_du_learner_updates_total")

    def check_ok(self, name: str) -> bool | None:
        """Readiness check ``name`` (e.g. ``sdl``, ``meta``, ``e2.du1``); None: no answer."""
        if self.ready is None:
            return None
        check = self.ready.get("checks", {}).get(name)
        return None if check is None else bool(check.get("ok"))

    def buckets(self, metric: str) -> list[tuple[float, float]]:
        """A histogram's cumulative buckets (le, count) for this DU, summed over other labels."""
        out: dict[float, float] = {}
        for s in self.samples:
            if s.name == metric + "_bucket" and s.label("du") == self.du:
                le = float(str(s.label("le")))
                out[le] = out.get(le, 0.0) + s.value
        return sorted(out.items())


def quantile_between(before: DuView, after: DuView, metric: str, q: float) -> float | None:
    """Upper bound of the ``q`` quantile of ``metric`` over the observations made between two
    views of the same process (bucket deltas); None when there were none."""
    b0 = dict(before.buckets(metric))
    delta = [(le, c - b0.get(le, 0.0)) for le, c in after.buckets(metric)]
    total = delta[-1][1] if delta else 0.0
    if total <= 0:
        return None
    return next(le for le, c in delta if c >= q * total)


@dataclass(frozen=True)
class MetaView:
    """What the meta-controller says (None fields: it did not answer)."""

    samples: list[Sample] | None

    @property
    def up(self) -> bool:
        return self.samples is not None

    def value(self, name: str, **labels: str) -> float:
        return _value(self.samples or [], name, **labels)

    @property
    def version(self) -> int | None:
        found = [s.value for s in self.samples or [] if s.name == "metahrl_meta_version"]
        return int(found[0]) if found else None

    def weighted_dus(self) -> set[str]:
        """DUs with a task weight in the latest meta-version (``du0``, …)."""
        return {
            str(s.label("du"))
            for s in self.samples or []
            if s.name == "metahrl_meta_task_weight" and s.label("group") == "high"
        }


# ---------------------------------------------------------------------------------------- cluster


@dataclass
class Cluster:
    """The running system under test."""

    demo: Demo
    redis: RedisChild
    proxies: dict[int, E2Proxy]
    xapp_env: dict[str, str]  # every xApp's extra environment (checkpoint interval, …)
    restarts: dict[str, int] = field(default_factory=dict)

    # ---------------------------------------------------------------- building
    @classmethod
    def start(
        cls,
        run_dir: Path,
        n_du: int,
        seed: int,
        round_every_s: float,
        checkpoint_interval_s: float,
        say: Callable[[str], None] | None = None,
    ) -> Cluster:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "logs").mkdir(exist_ok=True)
        redis = RedisChild(run_dir / "redis")
        redis.start()
        scenario = run_dir / "scenario.yaml"
        scenario.write_text(yaml.safe_dump(chaos_scenario(n_du), sort_keys=False))
        write_theta0(scenario, run_dir / "theta0.pt", seed)
        cfg = DemoConfig(
            scenario=str(scenario), seed=seed, sdl=redis.url, round_every_s=round_every_s, display="plain"
        )
        topo = Topology(run_dir, scenario, n_du, (), meta_http=free_port(), meta_grpc=free_port())
        topo.namespace = f"metahrl-chaos-{uuid.uuid4().hex[:8]}"
        topo.e2 = {d: free_port() for d in range(n_du)}
        topo.http = {_name(d): free_port() for d in range(n_du)}
        proxies = {d: E2Proxy(("127.0.0.1", topo.e2[d]), name=f"du{d}").start() for d in range(n_du)}
        topo.node_ports = {d: p.port for d, p in proxies.items()}
        demo = Demo(cfg, topo)
        if say is not None:
            demo.say = say  # type: ignore[assignment,method-assign]
        token = secrets.token_urlsafe(24)  # the xApps' config / O&M token, for this run only
        env = {
            "METAHRL_XAPP_STATE__CHECKPOINT_INTERVAL_S": str(checkpoint_interval_s),
            "METAHRL_XAPP_HTTP__TOKEN": token,
        }
        cluster = cls(demo, redis, proxies, env)
        try:
            (run_dir / "meta.ports").unlink(missing_ok=True)
            start_meta(demo)
            for d in range(n_du):
                cluster.start_xapp(d, wait=False)
            for d in range(n_du):
                wait_http(demo, _name(d))
            start_e2sim(demo)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def n_du(self) -> int:
        return self.demo.topo.n_du

    def start_xapp(self, du: int, wait: bool = True, extra_env: dict[str, str] | None = None) -> None:
        name = _name(du)
        child = xapp_child(name, self.demo.topo, self.demo.cfg, [du], "scratch", meta=True)
        child.env |= self.xapp_env | (extra_env or {})
        if name in self.demo.children:
            self.restarts[name] = self.restarts.get(name, 0) + 1
            child.log_path = child.log_path.with_name(f"{name}.{self.restarts[name]}.log")
        self.demo.start(child)
        if wait:
            wait_http(self.demo, name)

    def restart_meta(self) -> None:
        (self.demo.topo.run_dir / "meta.ports").unlink(missing_ok=True)
        old = self.demo.children["meta-controller"]
        n = self.restarts["meta-controller"] = self.restarts.get("meta-controller", 0) + 1
        with contextlib.suppress(OSError):  # keep the killed run's log beside the new one's
            old.log_path.rename(old.log_path.with_name(f"meta-controller.before-restart-{n}.log"))
        start_meta(self.demo)

    def kill(self, name: str) -> float:
        """``kill -9`` child ``name``; the time it died."""
        child = self.demo.children[name]
        assert child.proc is not None
        os.kill(child.proc.pid, signal.SIGKILL)
        child.proc.wait(10.0)
        return time.monotonic()

    def check(self, allow_dead: tuple[str, ...] = ()) -> None:
        """Raise `ChildDied` if a child died that no fault killed."""
        for name, child in self.demo.children.items():
            if name not in allow_dead:
                child.check()

    def stop(self) -> dict[str, int | None]:
        order = ["e2sim", *(_name(d) for d in range(self.n_du)), "meta-controller"]
        out = {n: self.demo.children[n].stop() for n in order if n in self.demo.children}
        for proxy in self.proxies.values():
            proxy.close()
        self.redis.stop()
        return out

    # ---------------------------------------------------------------- reading
    def du(self, du: int) -> DuView:
        port = self.demo.topo.http[_name(du)]
        return DuView(time.monotonic(), scrape(port) or [], _get_json(port, "/ric/v1/health/ready"), str(du))

    def dus(self) -> dict[int, DuView]:
        return {d: self.du(d) for d in range(self.n_du)}

    def post(self, du: int, path: str, timeout_s: float = 15.0) -> int:
        """POST to DU ``du``'s xApp with the run's bearer token; the HTTP status (0: no answer)."""
        port = self.demo.topo.http[_name(du)]
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=b"")
        req.add_header("Authorization", f"Bearer {self.xapp_env['METAHRL_XAPP_HTTP__TOKEN']}")
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except (urllib.error.URLError, OSError, TimeoutError):
            return 0

    def meta(self) -> MetaView:
        return MetaView(scrape(self.demo.topo.meta_http))

    def meta_ready(self) -> dict[str, Any] | None:
        return _get_json(self.demo.topo.meta_http, "/ric/v1/health/ready")

    def wait(
        self,
        what: str,
        cond: Callable[[], bool],
        timeout_s: float,
        allow_dead: tuple[str, ...] = (),
        every_s: float = 0.25,
    ) -> float:
        """Poll ``cond`` until it holds; the seconds it took. `RecoveryTimeout` after ``timeout_s``."""
        t0 = time.monotonic()
        while not cond():
            self.check(allow_dead)
            if time.monotonic() - t0 > timeout_s:
                raise RecoveryTimeout(f"{what}: not within {timeout_s:.0f} s")
            time.sleep(every_s)
        return time.monotonic() - t0

    def log(self, name: str) -> str:
        return self.demo.children[name].log_text()


def _name(du: int) -> str:
    return f"xapp-{du}"


def _get_json(port: int, path: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """GET a JSON body, whatever the status (readiness answers 503 with its checks)."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as err:
        body = err.read()
    except (urllib.error.URLError, OSError, TimeoutError):
        return None
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        return data if isinstance(data, dict) else None
    return None
