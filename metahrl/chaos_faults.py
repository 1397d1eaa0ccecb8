"""The faults `metahrl chaos` injects, one at a time, each returning a :class:`FaultResult`.

Every fault waits for the system to be healthy first (every DU connected, subscribed and
controlling), injects, watches what the system does while the fault lasts (``hold_s``), undoes
it (restarts what it killed, as Kubernetes would), and measures the time until the affected part
controls again and what was lost. A condition that does not come in time fails the fault
(``ok: false``, with the reason); the run goes on with the next one.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from metahrl.chaos_cluster import Cluster, DuView, RecoveryTimeout, quantile_between

__all__ = ["FAULTS", "FaultName", "FaultResult", "FaultSettings", "run_fault"]

FaultName = Literal[
    "meta-kill", "du-kill", "e2-drop", "e2-reset", "redis-restart", "slow-learner", "net-delay"
]
FAULTS: tuple[FaultName, ...] = (
    "meta-kill",
    "du-kill",
    "e2-drop",
    "e2-reset",
    "redis-restart",
    "net-delay",
    "slow-learner",  # last: with nothing after it, its xApp is not restarted a second time
)

_RESUMED = re.compile(r"DU (\d+): resumed from checkpoint \((.*)\)")
_UPDATES = re.compile(r"'updates': (\d+)")


@dataclass(frozen=True)
class FaultSettings:
    hold_s: float  # how long each fault lasts
    recover_timeout_s: float  # longest wait for a recovery
    slow_updates_per_step: int  # the slow learner's gradient steps per transition
    delay_ms: float  # the network impairment, each direction
    decision_budget_ms: float  # a decision must be written within this (the KPM period)
    last: bool = False  # the run's last fault: nothing to restore for those after it


@dataclass
class FaultResult:
    """One fault's report line and its figures."""

    fault: str
    injected: str
    behaviour: str = ""
    recover_s: float | None = None
    lost: str = ""
    ok: bool = False
    skipped: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "injected": self.injected,
            "behaviour": self.behaviour,
            "recover_s": None if self.recover_s is None else round(self.recover_s, 2),
            "lost": self.lost,
            "ok": self.ok,
            "skipped": self.skipped,
            "figures": self.figures,
        }


def run_fault(name: FaultName, cluster: Cluster, s: FaultSettings) -> FaultResult:
    """Inject fault ``name``; a recovery that times out is a failed result, never an exception."""
    result = FaultResult(name, "")
    try:
        healthy(cluster, s.recover_timeout_s)
        _FAULTS[name](cluster, s, result)
    except RecoveryTimeout as err:
        result.ok = False
        result.behaviour = (result.behaviour + "; " if result.behaviour else "") + f"FAILED: {err}"
    return result


# ------------------------------------------------------------------------------------ helpers


def healthy(c: Cluster, timeout_s: float) -> None:
    """Every DU connected, subscribed and acknowledging controls (two views apart)."""
    first = c.dus()

    def ok() -> bool:
        now = c.dus()
        return all(v.connected and v.subscribed and v.acked > first[d].acked for d, v in now.items())

    c.wait("every DU connected, subscribed and controlling", ok, timeout_s)


def _controlling(c: Cluster, du: int, since: DuView) -> Callable[[], bool]:
    """DU ``du`` acknowledged controls after ``since`` (the same process) and is subscribed."""

    def ok() -> bool:
        v = c.du(du)
        return v.subscribed and v.acked > since.acked

    return ok


def _restart(c: Cluster, du: int, what: str, s: FaultSettings, env: dict[str, str] | None = None) -> None:
    """Start DU ``du``'s xApp again (``env`` added) and wait until the new process controls."""
    c.start_xapp(du, extra_env=env)
    fresh = c.du(du)
    since = DuView(fresh.at, [], None, str(du))  # a new process: every acknowledge counts
    c.wait(f"DU {du} {what}", _controlling(c, du, since), s.recover_timeout_s)


def _rates(before: dict[int, DuView], after: dict[int, DuView], dus: list[int]) -> dict[str, float]:
    """Acknowledged controls per second of each DU between two views."""
    out = {}
    for d in dus:
        dt = max(after[d].at - before[d].at, 1e-9)
        out[f"du{d}"] = round((after[d].acked - before[d].acked) / dt, 2)
    return out


def _watch(
    c: Cluster, hold_s: float, each: Callable[[dict[int, DuView]], None], allow_dead: tuple[str, ...] = ()
) -> None:
    """Look at every DU every 0.5 s for ``hold_s`` seconds."""
    end = time.monotonic() + hold_s
    while time.monotonic() < end:
        c.check(allow_dead)
        each(c.dus())
        time.sleep(0.5)


def _others(c: Cluster, du: int) -> list[int]:
    return [d for d in range(c.n_du) if d != du]


# ------------------------------------------------------------------------------------ meta-kill


def meta_kill(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """``kill -9`` the meta-controller while a round holds acknowledged updates; restart it."""
    acked, version = _await_open_round(c, s.recover_timeout_s)
    before = c.dus()
    t_kill = c.kill("meta-controller")
    r.injected = (
        f"kill -9 meta-controller at meta-version {version}, round holding updates of {sorted(acked)}"
    )
    degraded: set[int] = set()

    def look(views: dict[int, DuView]) -> None:
        # readiness is computed when asked; the metahrl_du_meta_degraded gauge only once a round
        degraded.update(d for d, v in views.items() if v.check_ok("meta") is False)

    _watch(c, s.hold_s, look, allow_dead=("meta-controller",))
    during = c.dus()
    t_restart = time.monotonic()
    c.restart_meta()
    restored = c.meta().version
    after = _await_recovery(c, version, look, s.recover_timeout_s + 3 * c.demo.cfg.round_every_s)
    recover = time.monotonic() - t_restart
    closed, included = after
    lost = sorted(acked - included)
    rates = _rates(before, during, list(range(c.n_du)))
    r.recover_s = time.monotonic() - t_kill
    r.behaviour = (
        f"restarted at meta-version {restored} (was {version}); DUs reported degraded in readiness: "
        f"{sorted(degraded)}; all kept controlling ({rates} acks/s during the outage); "
        f"meta-version {closed} closed with {sorted(included)}"
    )
    r.lost = f"{len(lost)} acknowledged updates" + (f" ({lost})" if lost else "")
    # the restored round may close as soon as the controller is back (its timeout has passed)
    r.ok = restored is not None and version <= restored <= version + 1 and closed == version + 1
    r.ok = r.ok and not lost and all(v > 0 for v in rates.values()) and bool(degraded)
    r.figures = {
        "meta_version_before": version,
        "meta_version_restored": restored,
        "acked_updates": sorted(acked),
        "updates_lost": len(lost),
        "outage_s": round(t_restart - t_kill, 2),
        "reconnect_s": round(recover, 2),
        "degraded_dus": sorted(degraded),
        "acks_per_s_during": rates,
    }


def _await_recovery(
    c: Cluster, version: int, look: Callable[[dict[int, DuView]], None], timeout_s: float
) -> tuple[int, set[str]]:
    """After a restart: wait until every DU reaches the controller again and a meta-version after
    ``version`` has closed; that version and the DUs it weighted (the first one seen)."""
    first: tuple[int, set[str]] | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c.check()
        meta = c.meta()
        if first is None and meta.version is not None and meta.version > version:
            first = (meta.version, meta.weighted_dus())
        views = c.dus()
        look(views)
        if first is not None and all(v.check_ok("meta") for v in views.values()):
            return first
        time.sleep(0.2)
    raise RecoveryTimeout(
        f"DUs back on the meta-controller and a meta-version after {version}: not within {timeout_s:.0f} s"
    )


def _await_open_round(c: Cluster, timeout_s: float) -> tuple[set[str], int]:
    """Wait for a round of the current meta-version holding ≥ 1 acknowledged update (and not
    closed yet); the DUs (``du<i>``) whose update for it was acknowledged, and the version."""
    start: dict[tuple[int, int], float] = {}  # (DU, version) → accepted count when first seen
    deadline = time.monotonic() + timeout_s + 3 * c.demo.cfg.round_every_s
    while time.monotonic() < deadline:
        c.check()
        version = c.meta().version
        views = c.dus()
        acked = set()
        for d, v in views.items():
            if version is None or int(v.meta_version) != version:
                continue
            first = start.setdefault((d, version), v.contributions_accepted)
            if v.contributions_accepted > first:
                acked.add(f"du{d}")
        open_round = version is not None and version >= 1 and c.meta().version == version
        if version is not None and open_round and 0 < len(acked) < c.n_du:
            return acked, version
        time.sleep(0.2)
    raise RecoveryTimeout(f"no open round with an acknowledged update within {timeout_s:.0f} s")


def _await_version_above(c: Cluster, version: int, timeout_s: float) -> int:
    def above() -> bool:
        v = c.meta().version
        return v is not None and v > version

    c.wait(f"a meta-version after {version} closes", above, timeout_s)
    return int(c.meta().version or 0)


# ------------------------------------------------------------------------------------ du-kill


def du_kill(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """``kill -9`` the last DU's xApp; restart it; it resumes from its checkpoint."""
    du = c.n_du - 1
    name = f"xapp-{du}"
    c.wait(f"DU {du} has saved a checkpoint", lambda: c.du(du).checkpoints("saved") >= 1, s.recover_timeout_s)
    last = c.du(du)
    before = c.dus()
    t_kill = c.kill(name)
    r.injected = f"kill -9 {name} (DU {du}) after {int(last.learner_updates)} learner updates"
    others_ready: dict[int, bool] = dict.fromkeys(_others(c, du), True)

    def look(views: dict[int, DuView]) -> None:
        for d in others_ready:
            ready = views[d].ready
            others_ready[d] = others_ready[d] and ready is not None and bool(ready.get("ready"))

    _watch_others(c, du, s.hold_s, look, name)
    during = {d: c.du(d) for d in _others(c, du)}
    t_restart = time.monotonic()
    _restart(c, du, "controls again", s)
    r.recover_s = time.monotonic() - t_kill
    resumed = _RESUMED.search(c.log(name))
    saved = _UPDATES.search(resumed.group(2)) if resumed else None
    kept = int(saved.group(1)) if saved else 0
    lost_updates = max(0, int(last.learner_updates) - kept)
    rates = _rates(before, during, _others(c, du))
    loaded = c.du(du).checkpoints("loaded")
    r.behaviour = (
        f"restarted; {'resumed from its SDL checkpoint' if resumed else 'NO checkpoint loaded'} "
        f"({kept} updates); KPM re-subscribed, controlling again; other DUs kept controlling "
        f"({rates} acks/s) and stayed ready: {all(others_ready.values())}"
    )
    r.lost = f"{lost_updates} learner updates since the last checkpoint"
    r.ok = bool(resumed) and loaded >= 1 and all(others_ready.values()) and all(v > 0 for v in rates.values())
    r.figures = {
        "outage_s": round(t_restart - t_kill, 2),
        "restart_to_control_s": round(r.recover_s - (t_restart - t_kill), 2),
        "learner_updates_before": int(last.learner_updates),
        "learner_updates_resumed": kept,
        "checkpoint_loaded": bool(resumed),
        "others_acks_per_s_during": rates,
        "others_stayed_ready": all(others_ready.values()),
    }


def _watch_others(
    c: Cluster, du: int, hold_s: float, each: Callable[[dict[int, DuView]], None], dead: str
) -> None:
    end = time.monotonic() + hold_s
    while time.monotonic() < end:
        c.check((dead,))
        each({d: c.du(d) for d in _others(c, du)})
        time.sleep(0.5)


# ------------------------------------------------------------------------------------ e2-drop


def e2_drop(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """Cut DU 0's E2 connection and refuse it for ``hold_s``; then let it reconnect."""
    du = 0
    proxy = c.proxies[du]
    p0, v0 = proxy.counts(), c.du(du)
    proxy.cut()
    t_cut = time.monotonic()
    r.injected = f"E2 link of DU {du} cut, reconnections refused for {s.hold_s:.0f} s"
    seen_down = [False]

    def look(views: dict[int, DuView]) -> None:
        v = views[du]
        seen_down[0] = seen_down[0] or (not v.connected and v.check_ok(f"e2.du{du}") is False)

    _watch(c, s.hold_s, look)
    proxy.restore()
    t_up = time.monotonic()
    c.wait(f"DU {du} re-subscribed and controlling", _controlling(c, du, c.du(du)), s.recover_timeout_s)
    r.recover_s = time.monotonic() - t_up
    p1, v1 = proxy.counts(), c.du(du)
    dup = p1.duplicate_acks - p0.duplicate_acks
    lost = p1.acks_lost_in_cut - p0.acks_lost_in_cut
    resub = p1.subscription_responses - p0.subscription_responses
    disconnected = v1.controls("disconnected") - v0.controls("disconnected")
    r.behaviour = (
        f"xApp saw the node go (readiness e2.du{du} false: {seen_down[0]}); node reconnected "
        f"{p1.connections - p0.connections}× after {p1.refused - p0.refused} refusals; "
        f"{resub} KPM subscriptions re-established; {int(disconnected)} in-flight controls counted "
        f"'disconnected'"
    )
    r.lost = f"{lost} acknowledged controls lost in the cut; {dup} applied twice"
    r.ok = seen_down[0] and resub >= 1 and dup == 0
    r.figures = {
        "outage_s": round(t_up - t_cut, 2),
        "subscriptions_reestablished": resub,
        "duplicate_acks": dup,
        "acks_lost_in_cut": lost,
        "controls_disconnected": int(disconnected),
    }


# ------------------------------------------------------------------------------------ e2-reset


def e2_reset(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """A RIC-side E2 Reset of DU 1's link (the xApp's O&M endpoint): the node drops its
    subscriptions, the link stays up, the xApp re-subscribes."""
    du = 1 % c.n_du
    proxy = c.proxies[du]
    p0, v0 = proxy.counts(), c.du(du)
    status = c.post(du, f"/ric/v1/e2/reset/{du}")
    t0 = time.monotonic()
    r.injected = f"RIC-side E2 Reset of DU {du}'s link (POST /ric/v1/e2/reset/{du}: HTTP {status})"
    if status != 204:
        r.behaviour = f"the xApp refused the reset (HTTP {status})"
        return

    def resubscribed() -> bool:
        return proxy.counts().subscription_responses > p0.subscription_responses and c.du(du).acked > v0.acked

    c.wait(f"DU {du} re-subscribed after the reset", resubscribed, s.recover_timeout_s)
    c.wait(f"DU {du} controls after the reset", _controlling(c, du, c.du(du)), s.recover_timeout_s)
    r.recover_s = time.monotonic() - t0
    p1 = proxy.counts()
    dup = p1.duplicate_acks - p0.duplicate_acks
    reconnects = p1.connections - p0.connections
    resub = p1.subscription_responses - p0.subscription_responses
    r.behaviour = (
        f"node answered the Reset and dropped its subscriptions; the xApp re-subscribed ({resub} new "
        f"subscription(s)) on the same connection ({reconnects} reconnections) and controls again"
    )
    v1 = c.du(du)
    unanswered = sum(v1.controls(k) - v0.controls(k) for k in ("failed", "timeout", "disconnected"))
    r.lost = f"{dup} controls applied twice; {int(unanswered)} in flight at the Reset counted unanswered"
    r.ok = resub >= 1 and dup == 0 and reconnects == 0
    r.figures = {
        "subscriptions_reestablished": resub,
        "duplicate_acks": dup,
        "reconnections": reconnects,
        "controls_unanswered": int(unanswered),
    }


# ------------------------------------------------------------------------------------ redis-restart


def redis_restart(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """``kill -9`` Redis for ``hold_s``; restart it on its append-only file."""
    before = c.dus()
    version = c.meta().version
    c.redis.kill()
    r.injected = f"kill -9 redis-server (SDL of every service) for {s.hold_s:.0f} s"
    not_ready: set[int] = set()

    def look(views: dict[int, DuView]) -> None:
        not_ready.update(d for d, v in views.items() if v.check_ok("sdl") is False)

    _watch(c, s.hold_s, look)
    during = c.dus()
    meta_ready = c.meta_ready() or {}
    meta_sdl_down = meta_ready.get("checks", {}).get("sdl") is False
    failed = {d: during[d].checkpoints("failed") - before[d].checkpoints("failed") for d in during}
    c.redis.start()
    t_up = time.monotonic()
    c.wait(
        "every DU's SDL check passes and a checkpoint is saved again",
        lambda: all(
            v.check_ok("sdl") and v.checkpoints("saved") > during[d].checkpoints("saved")
            for d, v in c.dus().items()
        ),
        s.recover_timeout_s,
    )
    r.recover_s = time.monotonic() - t_up
    closed = _await_version_above(c, version or 0, s.recover_timeout_s + 3 * c.demo.cfg.round_every_s)
    rates = _rates(before, during, list(range(c.n_du)))
    refused = c.meta().value("metahrl_meta_updates_rejected_total", reason="sdl_unavailable")
    r.behaviour = (
        f"DUs kept controlling ({rates} acks/s); readiness sdl false on DUs {sorted(not_ready)}, "
        f"meta-controller sdl check false: {meta_sdl_down}; checkpoint writes refused and counted "
        f"{ {f'du{d}': int(n) for d, n in failed.items()} }; meta updates refused (sdl_unavailable): "
        f"{int(refused)}; after the restart: checkpoints saved, meta-version {closed} closed"
    )
    r.lost = (
        "nothing acknowledged (Redis' AOF, appendfsync always); writes during the outage refused, counted"
    )
    r.ok = (
        not_ready == set(range(c.n_du))
        and all(v > 0 for v in rates.values())
        and all(n > 0 for n in failed.values())
    )
    r.figures = {
        "acks_per_s_during": rates,
        "checkpoint_writes_failed": {f"du{d}": int(n) for d, n in failed.items()},
        "meta_updates_refused_sdl": int(refused),
        "meta_sdl_check_false": meta_sdl_down,
        "meta_version_after": closed,
    }


# ------------------------------------------------------------------------------------ slow-learner


def slow_learner(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """The last DU's learner made ``slow_updates_per_step`` times slower (it cannot keep up):
    its decisions must stay within the budget (the learner is off the control path)."""
    du = c.n_du - 1
    name = f"xapp-{du}"
    base0 = c.du(du)
    time.sleep(s.hold_s)
    base1 = c.du(du)
    base_p99 = quantile_between(base0, base1, "metahrl_du_decision_seconds", 0.99)
    c.kill(name)
    slow = {"METAHRL_XAPP_LEARNING__UPDATES_PER_STEP": str(s.slow_updates_per_step)}
    _restart(c, du, "controls with the slow learner", s, slow)
    r.injected = f"DU {du}'s learner at {s.slow_updates_per_step} gradient steps per transition"
    slow0 = c.du(du)
    time.sleep(s.hold_s)
    slow1 = c.du(du)
    p50 = quantile_between(slow0, slow1, "metahrl_du_decision_seconds", 0.5)
    p99 = quantile_between(slow0, slow1, "metahrl_du_decision_seconds", 0.99)
    lag = slow1.count("metahrl_du_learner_lag_seconds")
    updates = slow1.learner_updates - slow0.learner_updates
    if not s.last:  # undo: the normal learner again, for the faults that follow
        c.kill(name)
        _restart(c, du, "controls with its normal learner", s)
    budget = s.decision_budget_ms / 1e3
    drops = "metahrl_du_learner_dropped_total"
    dropped = slow1.count(drops) - slow0.count(drops)
    within = p99 is not None and p99 <= budget
    r.behaviour = (
        f"decision p50/p99 ≤ {_ms(p50)}/{_ms(p99)} ms with the slow learner "
        f"(before: p99 ≤ {_ms(base_p99)} ms; budget {s.decision_budget_ms:g} ms: "
        f"{'within' if within else 'NOT within'}); learner {updates / s.hold_s:.0f} updates/s, "
        f"{int(dropped)} transitions dropped and counted, actor snapshot {lag:.1f} s old"
    )
    r.lost = f"{int(dropped)} transitions the learner could not take (dropped, counted)"
    # survived: the slow learner did not slow the decisions (within the budget, or no worse
    # than with the normal learner on this machine — histogram bucket bounds, so equal is equal)
    r.ok = p99 is not None and (within or (base_p99 is not None and p99 <= base_p99))
    r.figures = {
        "decision_within_budget": within,
        "learner_dropped": int(dropped),
        "decision_p50_ms": _ms(p50),
        "decision_p99_ms": _ms(p99),
        "decision_p99_before_ms": _ms(base_p99),
        "decision_budget_ms": s.decision_budget_ms,
        "learner_updates_per_s": round(updates / s.hold_s, 1),
        "actor_snapshot_age_s": round(lag, 2),
    }


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1e3, 3)


# ------------------------------------------------------------------------------------ net-delay


def netem_available() -> str | None:
    """None when ``tc … netem`` works in a network namespace here, else why not."""
    ns = "metahrl-chaos-probe"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as err:
        return f"cannot create a network namespace ({err})"
    try:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return None if done.returncode == 0 else f"tc netem: {done.stderr.strip() or done.returncode}"
    except (OSError, subprocess.SubprocessError) as err:
        return f"tc netem: {err}"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def net_delay(c: Cluster, s: FaultSettings, r: FaultResult) -> None:
    """``delay_ms`` more each way on DU 0's E2 link (in the proxy: the kernel here has no
    netem) for ``hold_s``: controls go on, slower; timeouts counted."""
    du = 0
    why = netem_available()
    v0 = c.du(du)
    time.sleep(s.hold_s)
    v1 = c.du(du)
    c.proxies[du].delay_s = s.delay_ms / 1e3
    r.injected = f"+{s.delay_ms:g} ms each way on DU {du}'s E2 link for {s.hold_s:.0f} s " + (
        "(tc netem)" if why is None else f"(in the proxy; netem unavailable: {why})"
    )
    time.sleep(1.0)  # what was in flight before the delay
    d0 = c.du(du)
    time.sleep(s.hold_s)
    d1 = c.du(du)
    c.proxies[du].delay_s = 0.0
    t_off = time.monotonic()
    c.wait(f"DU {du} controls after the delay", _controlling(c, du, d1), s.recover_timeout_s)
    r.recover_s = time.monotonic() - t_off
    rtt = "metahrl_du_control_roundtrip_seconds"
    before, during = quantile_between(v0, v1, rtt, 0.5), quantile_between(d0, d1, rtt, 0.5)
    timeouts = d1.controls("timeout") - d0.controls("timeout")
    acks = d1.acked - d0.acked
    r.behaviour = (
        f"round trip p50 ≤ {_ms(before)} → ≤ {_ms(during)} ms; controls went on ({int(acks)} acknowledged, "
        f"{int(timeouts)} timed out)"
    )
    r.lost = "nothing (a control that times out is counted 'timeout')"
    r.ok = acks > 0
    r.figures = {
        "netem": why is None,
        "netem_unavailable": why,
        "roundtrip_p50_before_ms": _ms(before),
        "roundtrip_p50_during_ms": _ms(during),
        "acks_during": int(acks),
        "timeouts_during": int(timeouts),
    }


_FAULTS: dict[str, Callable[[Cluster, FaultSettings, FaultResult], None]] = {
    "meta-kill": meta_kill,
    "du-kill": du_kill,
    "e2-drop": e2_drop,
    "e2-reset": e2_reset,
    "redis-restart": redis_restart,
    "slow-learner": slow_learner,
    "net-delay": net_delay,
}
