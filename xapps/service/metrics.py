"""Prometheus metrics of the DU xApp, registered on an injected registry.

Names follow Prometheus conventions: prefix ``metahrl_du_``, base units in the name (seconds,
bytes, ratios 0–1), ``_total`` for counters. Labels are bounded: ``du`` (the DU index), ``slice``
(`SLICES`), ``level`` (`LEVELS`: the high-level agent or one slice's low-level agent) and small
enums (`CONTROL_OUTCOMES`, `DROP_REASONS`, `CHECKPOINT_OUTCOMES`, `CHECKPOINT_TARGETS`).

Every recording method is cheap and never raises: a label outside its enum (or a value that
cannot be recorded) is not recorded but counted in ``metahrl_du_metric_errors_total{metric}``.

==================================================  =========  ====================================
metric                                              type       labels
==================================================  =========  ====================================
metahrl_du_decision_seconds                         histogram  du, learning (true|false)
metahrl_du_control_roundtrip_seconds                histogram  du
metahrl_du_slice_qos_ratio                          gauge      du, slice
metahrl_du_slice_throughput_bytes_per_second        gauge      du, slice (the KPI in bit/s ÷ 8)
metahrl_du_slice_latency_seconds                    gauge      du, slice
metahrl_du_slice_prb_share_ratio                    gauge      du, slice
metahrl_du_reward                                   gauge      du, level
metahrl_du_td_error_variance                        gauge      du, level
metahrl_du_controls_total                           counter    du, outcome
metahrl_du_indications_dropped_total                counter    du, reason
metahrl_du_learner_version                          gauge      du
metahrl_du_learner_lag_seconds                      gauge      du
metahrl_du_learner_updates_total                    counter    du
metahrl_du_learner_dropped_total                    counter    du (transitions dropped: learner behind)
metahrl_du_e2_connected                             gauge      du (1 connected, 0 not)
metahrl_du_e2_subscribed                            gauge      du (1 subscribed, 0 not)
metahrl_du_e2_resubscriptions_total                 counter    du (subscriptions renewed: a Reset, a deletion)
metahrl_du_checkpoints_total                        counter    outcome, target
metahrl_du_meta_init_version                        gauge      —
metahrl_du_meta_degraded                            gauge      — (1: meta-controller unreachable)
metahrl_du_metric_errors_total                      counter    metric
==================================================  =========  ====================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "CHECKPOINT_OUTCOMES",
    "CHECKPOINT_TARGETS",
    "CONTROL_OUTCOMES",
    "DECISION_BUCKETS_S",
    "DROP_REASONS",
    "LEVELS",
    "PREFIX",
    "SLICES",
    "XappMetrics",
]

PREFIX: Final = "metahrl_du_"
SLICES: Final = ("embb", "mmtc", "urllc")
LEVELS: Final = ("high", *SLICES)
CONTROL_OUTCOMES: Final = ("acknowledged", "failed", "timeout", "disconnected")
DROP_REASONS: Final = (
    "decode_error",
    "unknown_subscription",
    "unknown_ue",
    "missing_measurement",
    "stale",
    "queue_full",
    "other",
)
CHECKPOINT_OUTCOMES: Final = ("saved", "failed", "loaded", "corrupt")
CHECKPOINT_TARGETS: Final = ("disk", "sdl")
# 100 µs … 1 s: the decision and round-trip targets are milliseconds; a 1 s value is a stall.
DECISION_BUCKETS_S: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


class XappMetrics:
    """The xApp's metrics on `registry` (never the process-global default registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(PREFIX + name, doc, labels, registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(PREFIX + name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(PREFIX + name, doc, labels, buckets=DECISION_BUCKETS_S, registry=registry)

        du, du_slice, du_level = ("du",), ("du", "slice"), ("du", "level")
        self._decision = histogram(
            "decision_seconds", "indication received → control written", ("du", "learning")
        )
        self._roundtrip = histogram("control_roundtrip_seconds", "indication → control → acknowledge", du)
        self._qos = gauge("slice_qos_ratio", "SLA-normalised QoS of the slice (0–1)", du_slice)
        self._throughput = gauge("slice_throughput_bytes_per_second", "slice throughput KPI", du_slice)
        self._latency = gauge("slice_latency_seconds", "slice latency KPI", du_slice)
        self._prb_share = gauge(
            "slice_prb_share_ratio", "share of the DU's PRBs given to the slice", du_slice
        )
        self._reward = gauge("reward", "last reward of the agent at this level", du_level)
        self._td_var = gauge("td_error_variance", "TD-error variance of the agent at this level", du_level)
        self._controls = counter("controls", "RIC Control outcomes", ("du", "outcome"))
        self._dropped = counter("indications_dropped", "indications the xApp could not use", ("du", "reason"))
        self._learner_version = gauge("learner_version", "version of the actor snapshot in use", du)
        self._learner_lag = gauge("learner_lag_seconds", "age of the actor snapshot in use", du)
        self._learner_updates = counter("learner_updates", "learner gradient updates", du)
        self._learner_dropped = counter(
            "learner_dropped", "transitions dropped because the learner fell behind (oldest first)", du
        )
        self._e2_connected = gauge("e2_connected", "1 while the DU's E2 node is connected", du)
        self._subscribed = gauge("e2_subscribed", "1 while the DU's KPM subscription is active", du)
        self._resubscriptions = counter(
            "e2_resubscriptions", "KPM subscriptions that ended while the node stayed up, renewed", du
        )
        self._checkpoints = counter("checkpoints", "checkpoint saves and loads", ("outcome", "target"))
        self._meta_version = gauge("meta_init_version", "version of the last meta-initialisation received")
        self._meta_degraded = gauge(
            "meta_degraded", "1 while the meta-controller is configured but unreachable"
        )
        self._errors = counter(
            "metric_errors", "values not recorded (label outside its enum, bad value)", ("metric",)
        )
        self._updates_seen: dict[str, float] = {}
        self._dropped_seen: dict[str, float] = {}
        # labelled children of the per-decision / per-control metrics, kept once created:
        # ``labels()`` (label checks, a lock, a dictionary) would otherwise run ~10 times a
        # decision; the values recorded are the same
        self._decision_of: dict[tuple[int | str, bool], Any] = {}
        self._roundtrip_of: dict[int | str, Any] = {}
        self._control_of: dict[tuple[int | str, str], Any] = {}

    # ---- the control loop -------------------------------------------------------------------

    def decision(self, du: int | str, seconds: float, learning: bool) -> None:
        """One decision's latency: indication received → control written."""
        child = self._decision_of.get((du, learning))
        if child is not None and _observable(seconds):
            child.observe(seconds)
            return
        self._guard(
            "decision_seconds",
            lambda: self._observe(
                self._decision, seconds, du=str(du), learning="true" if learning else "false"
            ),
        )
        if _observable(seconds):  # the child exists now
            self._decision_of[(du, learning)] = self._decision.labels(
                du=str(du), learning="true" if learning else "false"
            )

    def roundtrip(self, du: int | str, seconds: float) -> None:
        """One indication → control → acknowledge round trip."""
        child = self._roundtrip_of.get(du)
        if child is not None and _observable(seconds):
            child.observe(seconds)
            return
        self._guard("control_roundtrip_seconds", lambda: self._observe(self._roundtrip, seconds, du=str(du)))
        if _observable(seconds):
            self._roundtrip_of[du] = self._roundtrip.labels(du=str(du))

    def slice_kpis(
        self,
        du: int | str,
        slice: str,
        qos: float,
        throughput_bps: float,
        latency_seconds: float,
        prb_share: float,
    ) -> None:
        """The slice's KPIs from the last window (throughput in bit/s, exported in bytes/s)."""

        def record() -> None:
            labels = {"du": str(du), "slice": self._member(slice, SLICES)}
            self._qos.labels(**labels).set(qos)
            self._throughput.labels(**labels).set(throughput_bps / 8.0)
            self._latency.labels(**labels).set(latency_seconds)
            self._prb_share.labels(**labels).set(prb_share)

        self._guard("slice_kpis", record)

    def reward(self, du: int | str, level: str, value: float) -> None:
        self._guard(
            "reward", lambda: self._reward.labels(du=str(du), level=self._member(level, LEVELS)).set(value)
        )

    def td_error_variance(self, du: int | str, level: str, value: float) -> None:
        self._guard(
            "td_error_variance",
            lambda: self._td_var.labels(du=str(du), level=self._member(level, LEVELS)).set(value),
        )

    def control(self, du: int | str, outcome: str) -> None:
        """Count one RIC Control outcome (`CONTROL_OUTCOMES`)."""
        child = self._control_of.get((du, outcome))
        if child is not None:
            child.inc()
            return
        self._guard(
            "controls_total",
            lambda: self._controls.labels(du=str(du), outcome=self._member(outcome, CONTROL_OUTCOMES)).inc(),
        )
        if outcome in CONTROL_OUTCOMES:
            self._control_of[(du, outcome)] = self._controls.labels(du=str(du), outcome=outcome)

    def indication_dropped(self, du: int | str, reason: str) -> None:
        """Count one unusable indication (`DROP_REASONS`)."""
        self._guard(
            "indications_dropped_total",
            lambda: self._dropped.labels(du=str(du), reason=self._member(reason, DROP_REASONS)).inc(),
        )

    def learner(
        self, du: int | str, version: int, lag_seconds: float, updates_total: int, dropped_total: int = 0
    ) -> None:
        """The actor snapshot in use and the learner's cumulative update and drop counts."""

        def record() -> None:
            key = str(du)
            self._learner_version.labels(du=key).set(version)
            self._learner_lag.labels(du=key).set(lag_seconds)
            for counter, seen, total in (
                (self._learner_updates, self._updates_seen, updates_total),
                (self._learner_dropped, self._dropped_seen, dropped_total),
            ):
                last = seen.get(key, 0.0)
                if total > last:  # a restarted learner (smaller total) re-bases silently
                    counter.labels(du=key).inc(total - last)
                seen[key] = float(total)

        self._guard("learner", record)

    def e2_connected(self, du: int | str, connected: bool) -> None:
        self._guard("e2_connected", lambda: self._e2_connected.labels(du=str(du)).set(1 if connected else 0))

    def subscribed(self, du: int | str, subscribed: bool) -> None:
        self._guard("e2_subscribed", lambda: self._subscribed.labels(du=str(du)).set(1 if subscribed else 0))

    def resubscribed(self, du: int | str) -> None:
        """A subscription ended with the node up (an E2 Reset, a deletion by the node); renewing it."""
        self._guard("e2_resubscriptions_total", lambda: self._resubscriptions.labels(du=str(du)).inc())

    # ---- state and meta-controller ----------------------------------------------------------

    def checkpoint(self, outcome: str, target: str = "disk") -> None:
        """Count a checkpoint event (`CHECKPOINT_OUTCOMES`) on one target (`CHECKPOINT_TARGETS`)."""
        self._guard(
            "checkpoints_total",
            lambda: self._checkpoints.labels(
                outcome=self._member(outcome, CHECKPOINT_OUTCOMES),
                target=self._member(target, CHECKPOINT_TARGETS),
            ).inc(),
        )

    def meta(self, version: int, degraded: bool) -> None:
        """The meta-initialisation version in use and whether the meta-controller is unreachable."""

        def record() -> None:
            self._meta_version.set(version)
            self._meta_degraded.set(1 if degraded else 0)

        self._guard("meta", record)

    # ---- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _member(value: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} not in {allowed}")
        return value

    @staticmethod
    def _observe(histogram: Histogram, seconds: float, **labels: str) -> None:
        if not _observable(seconds):  # checked before a labelled child exists
            raise ValueError(f"cannot observe {seconds!r} s")
        histogram.labels(**labels).observe(seconds)

    def _guard(self, metric: str, record: Callable[[], None]) -> None:
        try:
            record()
        except (ValueError, TypeError):
            self._errors.labels(metric=metric).inc()


def _observable(seconds: float) -> bool:
    return isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0
