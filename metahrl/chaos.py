"""`metahrl chaos`: break the running system one fault at a time and report what it did.

Starts the demo's processes on loopback — the E2 simulator (lockstep), one DU xApp per DU
(online learning, SDL checkpoints), the meta-controller (rounds, SDL state) and a Redis of its own
(append-only file, fsync on every write) — with an observing proxy on every E2 link, then injects,
one at a time, waiting for the system to be healthy before each:

  meta-kill      kill -9 of the meta-controller while a round holds acknowledged updates; restarted:
                 it must come back at the meta-version it had stored (the same, or the next if the
                 round closed as it died) and the next meta-version must include every update that
                 was acknowledged; the DUs keep controlling, degraded in readiness
  du-kill        kill -9 of one DU's xApp; restarted: it resumes from its SDL checkpoint and
                 re-subscribes; the other DUs keep controlling and stay ready
  e2-drop        one E2 node's link cut and refused for a while: the xApp sees it go, the node
                 reconnects, KPM subscriptions are re-established, no control is applied twice
  e2-reset       a RIC-side E2 Reset of one link (the xApp's O&M endpoint): the node drops its
                 subscriptions, the link stays up, the xApp re-subscribes
  redis-restart  kill -9 of Redis; restarted on its append-only file: control goes on, writes that
                 cannot be made are refused and counted, both services recover
  net-delay      extra latency on one E2 link (tc netem where the kernel has it, else in the proxy)
  slow-learner   one DU's learner made far slower than the control loop: decisions stay within
                 their budget (the KPM period)

At the end the E2 simulator stops and, for every DU whose xApp was never restarted, the
acknowledged controls the xApp counted are compared with those the proxy saw cross the link
(none lost, none counted twice). One report line per fault: what was injected, what the system
did, the time to recover, what was lost. Logs are kept in OUT/logs (--out), else a temporary
directory. Exit status 0 when every fault passed, 1 otherwise.

Examples:
  metahrl chaos                                   # every fault, about 3-4 minutes on 2 cores
  metahrl chaos --faults meta-kill,e2-drop --hold-s 5 --json
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metahrl.chaos_cluster import Cluster
from metahrl.chaos_faults import FAULTS, FaultName, FaultResult, FaultSettings, run_fault
from metahrl.demo_procs import ChildDied

__all__ = ["ChaosConfig", "add_arguments", "run"]


class ChaosConfig(BaseModel):
    """The chaos run's settings (each a flag of `metahrl chaos`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: tuple[FaultName, ...] = Field(FAULTS, description="faults to inject, in this order")
    n_du: int = Field(3, ge=2, le=7, description="DUs (one xApp process each)")
    hold_s: float = Field(8.0, gt=0, le=600, description="how long each fault lasts")
    recover_timeout_s: float = Field(
        90.0, gt=0, description="longest wait for a recovery before a fault fails"
    )
    round_every_s: float = Field(6.0, gt=0, description="seconds between each DU's task updates")
    checkpoint_interval_s: float = Field(2.0, gt=0, description="seconds between each xApp's SDL checkpoints")
    slow_updates_per_step: int = Field(
        200, ge=2, le=1000, description="the slow learner's gradient steps per stored transition"
    )
    delay_ms: float = Field(20.0, gt=0, le=1000, description="net-delay: added latency each way")
    decision_budget_ms: float = Field(10.0, gt=0, description="a decision's budget (the KPM period)")
    seed: int = Field(0, description="simulator and agent seed")

    @field_validator("faults", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(x.strip() for x in value.split(",") if x.strip())
        return value

    def settings(self) -> FaultSettings:
        return FaultSettings(
            self.hold_s,
            self.recover_timeout_s,
            self.slow_updates_per_step,
            self.delay_ms,
            self.decision_budget_ms,
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    for name, info in ChaosConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        if name == "faults":
            p.add_argument(
                flag, default=None, help=f"comma-separated, from {','.join(FAULTS)} (default: all)"
            )
        else:
            kind = type(info.default)
            p.add_argument(flag, type=kind, default=None, help=f"{info.description} (default {info.default})")
    p.add_argument("--out", type=Path, default=None, help="keep logs and write report.json here")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")


def config_of(args: argparse.Namespace) -> ChaosConfig:
    data = {k: getattr(args, k) for k in ChaosConfig.model_fields if getattr(args, k, None) is not None}
    return ChaosConfig.model_validate(data)


class _Stop(Exception):
    """Ctrl-C or SIGTERM."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _say(t0: float) -> Any:
    def say(text: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - t0:6.1f}s] {text}\n")
        sys.stderr.flush()

    return say


def _acked_when_settled(cluster: Cluster, du: int, delivered: int, timeout_s: float = 10.0) -> int:
    """DU ``du``'s acknowledged-control count once it has caught up with what its proxy delivered,
    or as it stands after ``timeout_s`` (a real loss stays short of it). A fixed wait was not enough
    on a loaded machine: acknowledgements still in flight were counted as lost."""
    deadline = time.monotonic() + timeout_s
    counted = int(cluster.du(du).acked)
    while counted < delivered and time.monotonic() < deadline:
        time.sleep(0.2)
        counted = int(cluster.du(du).acked)
    return counted


def accounting(cluster: Cluster) -> dict[str, Any]:
    """Stop the E2 simulator, then compare each never-restarted xApp's acknowledged controls with
    what its proxy saw delivered; duplicates over every link."""
    cluster.demo.children["e2sim"].stop()
    time.sleep(1.0)  # the last acknowledgements reach the xApps (each count below waits for its own)
    out: dict[str, Any] = {"per_du": {}, "duplicate_acks": 0, "lost_acked": 0}
    for du, proxy in cluster.proxies.items():
        counts = proxy.counts()
        out["duplicate_acks"] += counts.duplicate_acks
        delivered = counts.control_acks - counts.acks_lost_in_cut
        row: dict[str, Any] = {
            "proxy_acks_delivered": delivered,
            "proxy_control_requests": counts.control_requests,
        }
        if cluster.restarts.get(f"xapp-{du}", 0) == 0:
            counted = _acked_when_settled(cluster, du, delivered)
            row["xapp_acknowledged"] = counted
            row["match"] = counted == delivered
            out["lost_acked"] += max(0, delivered - counted)
        out["per_du"][f"du{du}"] = row
    compared = [r for r in out["per_du"].values() if "match" in r]
    out["ok"] = out["duplicate_acks"] == 0 and bool(compared) and all(r["match"] for r in compared)
    return out


def _line(r: FaultResult) -> str:
    rec = "—" if r.recover_s is None else f"{r.recover_s:.1f} s"
    status = "SKIP" if r.skipped else "ok" if r.ok else "FAIL"
    return (
        f"[{status}] {r.fault}: {r.injected}\n"
        f"        did: {r.behaviour}\n        recovered in {rec}; lost: {r.lost}\n"
    )


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_of(args)
    except ValidationError as err:
        sys.stderr.write(f"metahrl chaos: invalid settings: {err}\n")
        return 2
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    t0 = time.monotonic()
    say = _say(t0)
    results: list[FaultResult] = []
    error: str | None = None
    final: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="metahrl-chaos-") as tmp:
        run_dir = args.out or Path(tmp)
        cluster: Cluster | None = None
        try:
            cluster = Cluster.start(
                run_dir, cfg.n_du, cfg.seed, cfg.round_every_s, cfg.checkpoint_interval_s, say
            )
            for i, name in enumerate(cfg.faults):
                say(f"--- {name}")
                settings = replace(cfg.settings(), last=i == len(cfg.faults) - 1)
                result = run_fault(name, cluster, settings)
                results.append(result)
                sys.stderr.write(_line(result))
            final = accounting(cluster)
        except ChildDied as err:
            error = str(err)
            say(f"error: {err}")
        except _Stop as sig:
            error = f"stopped by {sig}"
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if cluster is not None:
                cluster.stop()
        report = {
            "faults": [r.as_dict() for r in results],
            "accounting": final,
            "passed": sum(r.ok for r in results),
            "failed": sum(not r.ok and r.skipped is None for r in results),
            "wall_s": round(time.monotonic() - t0, 1),
            "error": error,
        }
        if args.out is not None:
            (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    if final:
        sys.stderr.write(
            f"accounting: {final['duplicate_acks']} controls applied twice, "
            f"{final['lost_acked']} acknowledged lost; xApp vs link: {final['per_du']}\n"
        )
    sys.stderr.write(
        f"chaos: {report['passed']} of {len(cfg.faults)} faults passed in {report['wall_s']} s\n"
    )
    if args.json:
        sys.stdout.write(json.dumps(report, default=str) + "\n")
    if error is not None:
        return 130 if error.startswith("stopped") else 1
    return 0 if report["failed"] == 0 and final.get("ok") else 1
