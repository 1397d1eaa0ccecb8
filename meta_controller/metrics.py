"""Prometheus metrics of the meta-controller, on an injected registry (prefix ``metahrl_meta_``).

===============================================  =========  ==================================
metric                                           type       labels
===============================================  =========  ==================================
metahrl_meta_round_duration_seconds              histogram  — (first accepted update → close)
metahrl_meta_update_seconds                      histogram  — (the meta_step call)
metahrl_meta_updates_accepted_total              counter    —
metahrl_meta_updates_rejected_total              counter    reason
metahrl_meta_auth_failures_total                 counter    code (unauthenticated|permission_denied)
metahrl_meta_received_bytes_total                counter    —
metahrl_meta_task_weight                         gauge      du, group
metahrl_meta_td_error_variance                   gauge      du, group
metahrl_meta_version                             gauge      —
metahrl_meta_round                               gauge      —
metahrl_meta_registered_dus                      gauge      —
metahrl_meta_sdl_errors_total                    counter    —
metahrl_meta_push_timeouts_total                 counter    — (meta-init streams aborted: DU too slow)
===============================================  =========  ==================================

Label cardinality: ``du`` × 4 groups (bounded by the registered DUs); ``reason`` is a small enum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PREFIX", "REJECT_REASONS", "ROUND_BUCKETS_S", "ControllerMetrics"]

PREFIX: Final = "metahrl_meta_"
REJECT_REASONS: Final = (
    "stale", "closed_round", "duplicate", "invalid", "unknown_du", "unknown_upload", "incomplete",
    "empty_round", "sdl_unavailable",
)  # fmt: skip
ROUND_BUCKETS_S: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class ControllerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = PREFIX
        self.round_duration = Histogram(
            f"{p}round_duration_seconds", "First accepted update to round close", registry=registry,
            buckets=ROUND_BUCKETS_S,
        )  # fmt: skip
        self.update_seconds = Histogram(
            f"{p}update_seconds", "Wall time of the meta-update (eq. 13)", registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.accepted = Counter(f"{p}updates_accepted", "Task updates accepted", registry=registry)
        self.rejected = Counter(f"{p}updates_rejected", "Task updates refused", ["reason"], registry=registry)
        self.auth_failures = Counter(f"{p}auth_failures", "Refused credentials", ["code"], registry=registry)
        self.received_bytes = Counter(f"{p}received_bytes", "Update chunk bytes received", registry=registry)
        self.weight = Gauge(f"{p}task_weight", "Last task weight w_g", ["du", "group"], registry=registry)
        self.td_variance = Gauge(
            f"{p}td_error_variance", "Last reported TD-error variance", ["du", "group"], registry=registry
        )
        self.version = Gauge(f"{p}version", "Current meta-version", registry=registry)
        self.round = Gauge(f"{p}round", "Open round", registry=registry)
        self.registered = Gauge(f"{p}registered_dus", "Registered DUs", registry=registry)
        self.sdl_errors = Counter(f"{p}sdl_errors", "SDL operations that failed", registry=registry)
        self.push_timeouts = Counter(
            f"{p}push_timeouts",
            "Meta-init streams aborted: a DU did not take a chunk in time",
            registry=registry,
        )
        for reason in REJECT_REASONS:
            self.rejected.labels(reason)

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason if reason in REJECT_REASONS else "invalid").inc()

    def weights(self, weights: Mapping[str, Mapping[str, float]]) -> None:
        """The task weights of the meta-version in force (closed here, or restored at start)."""
        for group, per_du in weights.items():
            for du, w in per_du.items():
                self.weight.labels(du, group).set(w)

    def closed(
        self,
        duration_s: float,
        update_s: float,
        weights: Mapping[str, Mapping[str, float]],
        variances: Mapping[str, Mapping[str, float]],
    ) -> None:
        if math.isfinite(duration_s) and duration_s >= 0:
            self.round_duration.observe(duration_s)
        self.update_seconds.observe(max(0.0, update_s))
        self.weights(weights)
        for group, per_du in variances.items():
            for du, v in per_du.items():
                self.td_variance.labels(du, group).set(v)
