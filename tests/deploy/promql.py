"""PromQL helpers for the checks: which metric names and labels an expression selects (parsed by
promql-parser), and which sample names and labels the services' metric registries really expose."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry

from meta_controller.metrics import ControllerMetrics
from xapps.service.metrics import XappMetrics

__all__ = ["GRAFANA_VARIABLES", "exposed_samples", "selectors"]

# Grafana's variables, replaced by values PromQL accepts before parsing.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$du": ".*",
    "$slice": ".*",
}
TARGET_LABELS = {"job", "instance", "app", "pod"}  # added by Prometheus / our scrape configs


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in re.sub(r"\{\{[^}]*\}\}", "", expr), f"unknown Grafana variable in {expr!r}"
    return expr


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) of every vector selector in `expr` (parsed for real)."""
    import promql_parser

    found: list[tuple[str, set[str]]] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names = {m.name for m in node.matchers.matchers}
            found.append((node.name or "", names - {"__name__"}))

    promql_parser.walk(promql_parser.parse(substitute(expr)), visit)
    return found


def exposed_samples() -> dict[str, set[str]]:
    """Sample name → label names, from the real registries with one value recorded per metric."""
    du_registry, meta_registry = CollectorRegistry(), CollectorRegistry()
    du = XappMetrics(du_registry)
    du.decision(0, 0.001, learning=True)
    du.roundtrip(0, 0.002)
    du.slice_kpis(0, "embb", qos=0.9, throughput_bps=1e6, latency_seconds=0.01, prb_share=0.5)
    du.reward(0, "high", 1.0)
    du.td_error_variance(0, "embb", 0.1)
    du.control(0, "acknowledged")
    du.indication_dropped(0, "stale")
    du.learner(0, version=1, lag_seconds=0.5, updates_total=3)
    du.e2_connected(0, True)
    du.subscribed(0, True)
    du.checkpoint("saved", "disk")
    du.meta(1, degraded=False)
    du.reward(0, "not-a-level", 1.0)  # counted in metahrl_du_metric_errors_total
    meta = ControllerMetrics(meta_registry)
    meta.closed(1.0, 0.01, {"high": {"0": 0.5}}, {"high": {"0": 0.2}})
    meta.reject("stale")
    meta.accepted.inc()
    meta.auth_failures.labels("unauthenticated").inc()
    meta.received_bytes.inc(10)
    meta.version.set(1)
    meta.round.set(2)
    meta.registered.set(3)
    meta.sdl_errors.inc()
    out: dict[str, set[str]] = {"up": set()}
    for registry in (du_registry, meta_registry):
        for family in registry.collect():
            for sample in family.samples:
                out.setdefault(sample.name, set()).update(sample.labels)
    return out
