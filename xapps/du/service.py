"""The DU xApp service: E2 access, one control loop per DU, learning, state, HTTP.

Per DU (:class:`DuRuntime`): when its E2 node comes up, subscribe to KPM (four actions, see
:mod:`xapps.du.reports`); each complete KPI window → one decision (:mod:`xapps.du.decision`) →
the changed per-UE PRB ratios, then the slice-level PRB quotas (always, last) as E2SM-RC
controls. Outcomes are awaited without blocking the loop: acknowledged / failed / timed out /
disconnected are counted, the round trip (indication received → acknowledge) is measured, and
a per-UE ratio that did not reach the node is sent again next time. A node that goes away and
comes back is subscribed again and its episode restarts. An indication that cannot be used is
counted by reason and logged (the first of each reason per DU, then every 1000th), never fatal.

Learning (``learning.mode = online``) runs in a :class:`~xapps.du.learner.Learner` thread per
DU; the loop only hands transitions over and swaps in actor snapshots between decisions.
Checkpoints of the training copy go to disk and/or the SDL every ``checkpoint_interval_s``
(in a worker thread); a restarted xApp resumes from the newest one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from ric import rc
from ric.e2sm_common import GnbDuUeId
from ric.ids import SLICE_LEVEL_UE
from ric.plmn import Plmn
from ric.server import ControlOutcome, KpmIndication
from slicing import SLICE_NAMES, KpiWindow, MdpConfig
from slicing.task import SLICE_SST, DuTask
from xapps.agent import HierarchicalAgent
from xapps.du.decision import Decision, DuController
from xapps.du.learner import Actor, Learner
from xapps.du.meta_link import MetaLink
from xapps.du.reports import UnusableIndication, WindowAssembler, kpm_actions
from xapps.e2access.base import E2Access, KpmSubscription, NodeDown, NodeUp
from xapps.service.http import Check, Readiness, e2_check, meta_check, sdl_check
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappControls, XappSettings
from xapps.service.state import CheckpointStore

__all__ = ["DuRuntime", "ServiceCounters", "XappService"]

_log = logging.getLogger(__name__)
_SWEEP_S = 0.02  # how often controls past their timeout are cancelled
_WATCH_S = 0.25  # how often a connected DU without a subscription is re-subscribed
_LOG_EVERY = 1000  # a repeated failure is logged the first time, then every N-th
_OUTCOME_COUNTER = {"failed": "failed", "timeout": "timeouts", "disconnected": "disconnected"}


def _save(store: CheckpointStore, du: str, learner: Learner, meta: dict[str, Any]) -> None:
    store.save(du, learner.state_dict(), meta)


@dataclass
class ServiceCounters:
    """Per-DU counters (also exported as metrics)."""

    windows: int = 0
    decisions: int = 0
    controls_sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    timeouts: int = 0
    disconnected: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    subscribe_failures: int = 0
    subscriptions: int = 0
    resubscriptions: int = 0  # subscriptions ended while the node stayed up (a Reset, a deletion)
    resets: int = 0  # RIC-initiated E2 Resets (O&M)
    decision_s: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    roundtrip_s: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


_KEPT = 4096  # bound of each per-DU table of control values (cleared when full)


@dataclass
class _ControlValues:
    """One DU's control values by content, built (and validated) once: a quota set or UE ID
    that repeats is the same object, and the E2 access's cache of encoded payloads
    (``ric.server``) is hit without building new ones."""

    plmn: Plmn
    ue_quota: dict[tuple[int, int], tuple[rc.SlicePrbQuota]] = field(default_factory=dict)
    slice_quotas: dict[tuple[int, ...], tuple[rc.SlicePrbQuota, ...]] = field(default_factory=dict)
    ue_ids: dict[int, GnbDuUeId] = field(default_factory=dict)

    @staticmethod
    def _kept(table: dict[Any, Any]) -> dict[Any, Any]:
        if len(table) >= _KEPT:
            table.clear()
        return table

    def ue(self, task: DuTask, ue_id: int, sl: int, ratio: int) -> tuple[GnbDuUeId, tuple[rc.SlicePrbQuota]]:
        ue = self.ue_ids.get(ue_id)
        if ue is None:
            ue = self._kept(self.ue_ids)[ue_id] = GnbDuUeId(ue_id)
        quotas = self.ue_quota.get((sl, ratio))
        if quotas is None:
            quota = rc.SlicePrbQuota(self.plmn, SLICE_SST[sl], task.slice_sd[sl], 0, ratio, 0)
            quotas = self._kept(self.ue_quota)[(sl, ratio)] = (quota,)
        return ue, quotas

    def slices(self, task: DuTask, ratios: tuple[int, ...]) -> tuple[rc.SlicePrbQuota, ...]:
        quotas = self.slice_quotas.get(ratios)
        if quotas is None:
            quotas = tuple(
                rc.SlicePrbQuota(self.plmn, SLICE_SST[s], task.slice_sd[s], 0, r, 0)
                for s, r in enumerate(ratios)
            )
            self._kept(self.slice_quotas)[ratios] = quotas
        return quotas


@dataclass
class DuRuntime:
    """One DU's control loop state."""

    task: DuTask
    controller: DuController
    actor: Actor
    learner: Learner | None
    assembler: WindowAssembler
    counters: ServiceCounters = field(default_factory=ServiceCounters)
    subscription: KpmSubscription | None = None
    connected: bool = False
    subscribing: asyncio.Task[None] | None = None
    episode_return: float = 0.0
    returns: list[float] = field(default_factory=list)
    values: _ControlValues = field(init=False)

    def __post_init__(self) -> None:
        self.values = _ControlValues(Plmn.parse(self.task.plmn))

    @property
    def du(self) -> int:
        return self.task.du

    @property
    def subscribed(self) -> bool:
        return self.subscription is not None and self.subscription.active


class XappService:
    """The DU xApp for ``tasks`` (one or several DUs) over ``e2``; see the module docs."""

    def __init__(
        self,
        settings: XappSettings,
        tasks: Sequence[DuTask],
        agents: Mapping[int, HierarchicalAgent],
        actors: Mapping[int, HierarchicalAgent],
        mdp_config: MdpConfig,
        e2: E2Access,
        metrics: XappMetrics,
        *,
        checkpoints: CheckpointStore | None = None,
        sdl: Any = None,
        low_reward_qos_weight: float = 0.0,
        meta_links: Mapping[int, MetaLink] | None = None,
    ) -> None:
        self.settings = settings
        self.e2 = e2
        self.metrics = metrics
        self.checkpoints = checkpoints
        self.sdl = sdl
        self.meta_links: dict[int, MetaLink] = dict(meta_links or {})
        self.mdp_config = mdp_config
        self.period_ms = settings.control.kpm_period_ms
        self.dus: dict[int, DuRuntime] = {}
        self.by_node: dict[str, DuRuntime] = {}
        for task in tasks:
            rt = self._runtime(task, agents[task.du], actors[task.du], low_reward_qos_weight)
            self.dus[task.du] = rt
            self.by_node[task.node] = rt
        self._pending: deque[tuple[float, asyncio.Future[ControlOutcome]]] = deque()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self.window_hooks: list[Callable[[DuRuntime, KpiWindow, Decision], None]] = []

    def _runtime(
        self, task: DuTask, agent: HierarchicalAgent, actor_agent: HierarchicalAgent, qos_weight: float
    ) -> DuRuntime:
        learning = self.settings.learning
        actor = Actor(actor_agent)
        learner = None
        if learning.mode == "online":
            learner = Learner(
                agent,
                updates_per_step=learning.updates_per_step,
                snapshot_every=learning.snapshot_every_updates,
                name=f"learner-du{task.du}",
            )
            actor.refresh(learner.publish())  # the control loop starts from the learner's actors
        controller = DuController(task, self.mdp_config, actor, low_reward_qos_weight=qos_weight)
        assembler = WindowAssembler(task, kpm_actions(task, self.period_ms), self.period_ms)
        return DuRuntime(task, controller, actor, learner, assembler)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for link in self.meta_links.values():
            await link.start()
        if self.settings.init_kind == "meta":
            await self._meta_init()
        await self.e2.start()
        for rt in self.dus.values():
            if rt.learner is not None:
                rt.learner.start()
            self.metrics.e2_connected(rt.du, False)
            self.metrics.subscribed(rt.du, False)
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._events(), name="xapp-e2-events"),
            asyncio.create_task(self._sweep(), name="xapp-control-timeouts"),
            asyncio.create_task(self._watch_subscriptions(), name="xapp-subscription-watch"),
        ]
        if self.checkpoints is not None and self.settings.learning.mode == "online":
            self._tasks.append(asyncio.create_task(self._checkpoint_loop(), name="xapp-checkpoints"))
        if self.meta_links and self.settings.learning.mode == "online":
            self._tasks.append(asyncio.create_task(self._meta_rounds(), name="xapp-meta-rounds"))

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for rt in self.dus.values():
            if rt.subscribing is not None:
                rt.subscribing.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for rt in self.dus.values():  # first: the checkpoint then holds what the learner reached
            if rt.learner is not None:
                await asyncio.to_thread(rt.learner.stop)
        if self.checkpoints is not None and self.settings.learning.mode == "online":
            await self._save_all()
        await self.e2.close()
        for link in self.meta_links.values():
            await link.close()

    # ------------------------------------------------------------------ meta-controller
    def meta_status(self) -> str:
        """'off' (none configured), 'ready', or 'degraded' (some DU cannot reach it)."""
        states = {link.status for link in self.meta_links.values()}
        if not states or states == {"off"}:
            return "off"
        return "degraded" if "degraded" in states else "ready"

    async def _meta_init(self, timeout_s: float = 30.0) -> None:
        """Start every DU from the meta-controller's current meta-initialisation."""
        for du, link in self.meta_links.items():
            params = await link.initial(timeout_s)
            rt = self.dus[du]
            if params is None:
                _log.warning(
                    "DU %d: no meta-initialisation within %.0f s; starting as configured", du, timeout_s
                )
                continue
            agent = rt.learner.agent if rt.learner is not None else rt.actor.agent
            agent.set_params(params)
            if rt.learner is not None:
                rt.actor.refresh(rt.learner.publish())
            _log.info("DU %d: initialised from meta-version %s", du, link.latest_version())

    async def _meta_rounds(self) -> None:
        """Every ``meta.round_every_s``: each DU runs the inner loop on a copy of its learner's
        agent (its recent experience) and uploads the query update (:mod:`xapps.du.meta_link`)."""
        while True:
            await asyncio.sleep(self.settings.meta.round_every_s)
            for du, link in self.meta_links.items():
                learner = self.dus[du].learner
                if learner is None:
                    continue
                private = await asyncio.to_thread(learner.agent_copy)
                await link.contribute(private)
                self.metrics.meta(link.latest_version() or 0, link.status == "degraded")

    # ------------------------------------------------------------------ E2 nodes
    async def _events(self) -> None:
        async for event in self.e2.events():
            rt = self.by_node.get(event.node)
            if rt is None:
                _log.info("ignoring E2 node %s (not one of this xApp's DUs)", event.node)
                continue
            if isinstance(event, NodeUp):
                self._node_up(rt)
            elif isinstance(event, NodeDown):
                self._node_down(rt, event.reason)

    def _node_up(self, rt: DuRuntime) -> None:
        rt.connected = True
        self.metrics.e2_connected(rt.du, True)
        if rt.subscribing is None or rt.subscribing.done():
            rt.subscribing = asyncio.create_task(self._subscribe(rt), name=f"subscribe-du{rt.du}")

    def _node_down(self, rt: DuRuntime, reason: str) -> None:
        _log.warning("DU %d (%s) went away: %s", rt.du, rt.task.node, reason)
        rt.connected = False
        rt.subscription = None
        rt.assembler.reset()
        rt.controller.restart()
        self._end_episode(rt)
        self.metrics.e2_connected(rt.du, False)
        self.metrics.subscribed(rt.du, False)

    async def _subscribe(self, rt: DuRuntime) -> None:
        delay = 0.1
        while rt.connected and not self._stop.is_set():
            rt.assembler.reset()
            rt.controller.restart()
            try:
                rt.subscription = await self.e2.subscribe_kpm(
                    rt.task.node,
                    kpm_actions(rt.task, self.period_ms),
                    self.period_ms,
                    partial(self._indication, rt),
                )
            except Exception as exc:  # every failure is retried while the node is up
                rt.counters.subscribe_failures += 1
                _log.warning("DU %d: KPM subscription failed (%s); retrying in %.1f s", rt.du, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            rt.counters.subscriptions += 1
            self.metrics.subscribed(rt.du, True)
            _log.info("DU %d (%s): KPM subscription every %d ms", rt.du, rt.task.node, self.period_ms)
            return

    async def _watch_subscriptions(self) -> None:
        """Re-subscribe a DU whose KPM subscription ended while its node stayed connected (an E2
        Reset by either side, a deletion by the node): node events alone would never do it."""
        while True:
            await asyncio.sleep(_WATCH_S)
            for rt in self.dus.values():
                idle = rt.subscribing is None or rt.subscribing.done()
                if rt.connected and idle and rt.subscription is not None and not rt.subscribed:
                    _log.warning("DU %d: KPM subscription ended with the node up; re-subscribing", rt.du)
                    rt.counters.resubscriptions += 1
                    self.metrics.resubscribed(rt.du)
                    rt.subscription = None
                    self._end_episode(rt)
                    self.metrics.subscribed(rt.du, False)
                    rt.subscribing = asyncio.create_task(self._subscribe(rt), name=f"subscribe-du{rt.du}")

    def reset_e2(self, du: int, timeout_s: float = 10.0) -> None:
        """RIC-initiated E2 Reset of DU ``du``'s link (O&M; callable from any thread): its
        subscriptions end, pending controls fail, and the DU re-subscribes. ``KeyError``: a DU
        this xApp does not serve; ``ValueError``: the link cannot be reset now (down, osc)."""
        rt = self.dus[du]
        if self._loop is None or self._stop.is_set():
            raise ValueError("the xApp is not running")
        future = asyncio.run_coroutine_threadsafe(self._reset(rt), self._loop)
        try:
            future.result(timeout_s)
        except TimeoutError as exc:
            future.cancel()
            raise ValueError(f"DU {du}: E2 Reset not answered within {timeout_s:g} s") from exc
        except (ValueError, ConnectionError, RuntimeError) as exc:
            raise ValueError(f"DU {du}: {exc}") from exc

    async def _reset(self, rt: DuRuntime) -> None:
        if not rt.connected:
            raise ValueError(f"E2 node {rt.task.node} is not connected")
        await self.e2.reset(rt.task.node)
        rt.counters.resets += 1
        _log.warning("DU %d (%s): E2 link reset by this RIC (O&M)", rt.du, rt.task.node)

    # ------------------------------------------------------------------ the control loop
    def _indication(self, rt: DuRuntime, ind: KpmIndication) -> None:
        incomplete = rt.assembler.incomplete_dropped
        try:
            window = rt.assembler.add(ind)
        except UnusableIndication as exc:
            self._dropped(rt, exc.reason, str(exc))
            return
        finally:
            for _ in range(rt.assembler.incomplete_dropped - incomplete):
                self._dropped(rt, "stale", "a window never completed (a report of it is missing)")
        if window is None:
            return
        rt.counters.windows += 1
        self._decide(rt, window, ind.received_at)

    def _dropped(self, rt: DuRuntime, reason: str, detail: str) -> None:
        n = rt.counters.dropped.get(reason, 0) + 1
        rt.counters.dropped[reason] = n
        self.metrics.indication_dropped(rt.du, reason)
        if n == 1 or n % _LOG_EVERY == 0:
            _log.warning("DU %d: unusable indication #%d (%s): %s", rt.du, n, reason, detail)

    def _decide(self, rt: DuRuntime, window: KpiWindow, received_at: float) -> None:
        learning = rt.learner is not None
        if rt.learner is not None:
            if self.settings.learning.sync:
                rt.learner.drain(60.0)
            if rt.actor.refresh(rt.learner.snapshot):
                self._record_td(rt)
        explore = learning and self.settings.learning.explore
        try:
            decision = rt.controller.decide(window, explore)
        except ValueError as exc:  # a window the MDP refuses (shape, values)
            self._dropped(rt, "other", f"decision refused the window: {exc}")
            return
        self._send(rt, decision, received_at)
        loop_now = asyncio.get_running_loop().time()
        took = loop_now - received_at
        rt.counters.decisions += 1
        rt.counters.decision_s.append(took)
        self.metrics.decision(rt.du, took, learning)
        if decision.transition is not None and rt.learner is not None:
            rt.learner.submit(decision.transition)
        self._record(rt, decision)
        for hook in self.window_hooks:
            hook(rt, window, decision)

    def _send(self, rt: DuRuntime, d: Decision, received_at: float) -> None:
        task, node, values = rt.task, rt.task.node, rt.values
        deadline = asyncio.get_running_loop().time() + self.settings.control.control_timeout_s
        for c in d.ue_controls:
            ue, quota = values.ue(task, c.ue_id, c.slice, c.ratio)
            self._control(rt, node, quota, ue, c.ue_id, received_at, deadline)
        quotas = values.slices(task, tuple(d.slice_ratio.tolist()))
        self._control(rt, node, quotas, SLICE_LEVEL_UE, None, received_at, deadline)

    def _control(
        self,
        rt: DuRuntime,
        node: str,
        quotas: tuple[rc.SlicePrbQuota, ...],
        ue: Any,
        ue_id: int | None,
        received_at: float,
        deadline: float,
    ) -> None:
        try:
            future = self.e2.send_slice_quotas(node, quotas, ue)
        except Exception as exc:  # not connected, or the transport refused
            self._outcome_counted(rt, "disconnected", ue_id, f"not sent: {exc}")
            return
        rt.counters.controls_sent += 1
        future.add_done_callback(partial(self._on_outcome, rt, ue_id, received_at))
        self._pending.append((deadline, future))

    def _on_outcome(
        self, rt: DuRuntime, ue_id: int | None, received_at: float, future: asyncio.Future[ControlOutcome]
    ) -> None:
        if future.cancelled():
            self._outcome_counted(rt, "timeout", ue_id, "no answer in time")
            return
        exc = future.exception()
        if exc is not None:
            kind = "timeout" if isinstance(exc, TimeoutError) else "disconnected"
            self._outcome_counted(rt, kind, ue_id, str(exc))
            return
        outcome = future.result()
        if outcome.acknowledged:
            rt.counters.acknowledged += 1
            self.metrics.control(rt.du, "acknowledged")
            took = asyncio.get_running_loop().time() - received_at
            rt.counters.roundtrip_s.append(took)
            self.metrics.roundtrip(rt.du, took)
        else:
            self._outcome_counted(rt, "failed", ue_id, f"cause {outcome.cause}")

    def _outcome_counted(self, rt: DuRuntime, kind: str, ue_id: int | None, detail: str) -> None:
        field_name = _OUTCOME_COUNTER[kind]
        n = getattr(rt.counters, field_name) + 1
        setattr(rt.counters, field_name, n)
        self.metrics.control(rt.du, kind)
        if ue_id is not None:
            rt.controller.control_failed(ue_id)
        if n == 1 or n % _LOG_EVERY == 0:
            what = "slice quotas" if ue_id is None else f"UE {ue_id} ratio"
            _log.warning("DU %d: control (%s) %s #%d: %s", rt.du, what, kind, n, detail)

    async def _sweep(self) -> None:
        """Cancel the controls that outlived ``control_timeout_s`` (counted as timeouts)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_SWEEP_S)
            now = loop.time()
            pending = self._pending
            while pending and (pending[0][1].done() or pending[0][0] <= now):
                _, future = pending.popleft()
                if not future.done():
                    future.cancel()

    def _record(self, rt: DuRuntime, d: Decision) -> None:
        """Gauges once per high-level window (100 ms: the KPIs of that window), not per period."""
        if d.reward is None or not d.reward.high_valid:
            return
        du, q = rt.du, rt.controller.mdp.last_high_qos or d.qos
        for s, name in enumerate(SLICE_NAMES):
            thr = float(np.nan_to_num(q.throughput_mbps[0, s])) * 1e6
            lat = float(np.nan_to_num(q.latency_max_ms[0, s])) * 1e-3
            self.metrics.slice_kpis(du, name, float(q.qos[0, s]), thr, lat, float(d.slice_ratio[s]) / 100.0)
            self.metrics.reward(du, name, float(d.reward.low[0, s]))
        r = float(d.reward.high[0])
        self.metrics.reward(du, "high", r)
        rt.episode_return += r
        if rt.learner is not None:
            learner = rt.learner
            lag = time.monotonic() - rt.actor.taken_at
            self.metrics.learner(du, rt.actor.version, lag, learner.updates, learner.dropped)

    def _record_td(self, rt: DuRuntime) -> None:
        for name, value in rt.actor.td_variance.items():
            level = "high" if name == "high" else SLICE_NAMES[int(name.split(".")[1])]
            if value == value:  # NaN until a learner has TD errors
                self.metrics.td_error_variance(rt.du, level, value)

    def _end_episode(self, rt: DuRuntime) -> None:
        if rt.counters.decisions:
            rt.returns.append(rt.episode_return)
        rt.episode_return = 0.0

    # ------------------------------------------------------------------ state
    async def _checkpoint_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.5)
            if loop.time() - last >= self.settings.state.checkpoint_interval_s:
                last = loop.time()
                await self._save_all()

    async def _save_all(self) -> None:
        store = self.checkpoints
        if store is None:
            return
        for rt in self.dus.values():
            if rt.learner is None:
                continue
            meta = {
                "du": rt.du,
                "node": rt.task.node,
                "updates": rt.learner.updates,
                "version": rt.actor.version,
            }
            await asyncio.to_thread(_save, store, str(rt.du), rt.learner, meta)

    # ------------------------------------------------------------------ XappRuntime (HTTP)
    def readiness(self) -> Readiness:
        checks: dict[str, Check] = {}
        for rt in self.dus.values():
            checks[f"e2.du{rt.du}"] = e2_check(rt.connected, rt.subscribed)
        reachable = getattr(self.e2, "platform_reachable", None)  # osc: the RIC platform's REST
        if reachable is not None:
            ok = bool(reachable)
            checks["e2.platform"] = Check(
                ok=ok, detail="reachable" if ok else "E2 Manager / submgr unreachable"
            )
        checks["sdl"] = sdl_check(self.sdl)
        status = self.meta_status()
        checks["meta"] = meta_check(self.settings.meta.address, status != "degraded")
        return Readiness.of(checks)

    def controls(self) -> XappControls:
        return self.settings.controls()

    def apply_controls(self, new: XappControls) -> None:
        """A PUT of the run-time controls: the timeout, exploration and checkpoint interval are
        read at each use; the high-level period goes into every DU's MDP (from its next step)."""
        if new.learning.mode != self.settings.learning.mode:
            raise ValueError("learning.mode cannot change while the xApp runs (restart it)")
        self.settings = self.settings.with_controls(new)
        period = new.control.high_period_steps
        for rt in self.dus.values():
            mdp = rt.controller.mdp
            if mdp.config.high_period_steps != period:
                mdp.config = replace(mdp.config, high_period_steps=period)

    # ------------------------------------------------------------------ figures
    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rt in self.dus.values():
            c = rt.counters
            out[str(rt.du)] = {
                "windows": c.windows,
                "decisions": c.decisions,
                "controls_sent": c.controls_sent,
                "acknowledged": c.acknowledged,
                "failed": c.failed,
                "timeouts": c.timeouts,
                "disconnected": c.disconnected,
                "dropped": dict(c.dropped),
                "subscriptions": c.subscriptions,
                "resubscriptions": c.resubscriptions,
                "resets": c.resets,
                "learner_updates": 0 if rt.learner is None else rt.learner.updates,
                "actor_version": rt.actor.version,
            }
        return out

    async def wait_decisions(self, n: int, timeout_s: float) -> None:
        """Wait until every DU has made at least ``n`` decisions (tests, benchmarks)."""
        async with asyncio.timeout(timeout_s):
            while min(rt.counters.decisions for rt in self.dus.values()) < n:
                await asyncio.sleep(0.01)
