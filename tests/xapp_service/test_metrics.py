"""Metrics: every recording method reads back from the injected registry; bad labels are counted,
never raised; nothing lands on the global registry."""

from __future__ import annotations

import math

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from xapps.service.metrics import DECISION_BUCKETS_S, XappMetrics


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def m(reg: CollectorRegistry) -> XappMetrics:
    return XappMetrics(reg)


def value(reg: CollectorRegistry, name: str, **labels: str) -> float | None:
    return reg.get_sample_value(name, labels)


def test_decision_histogram_buckets_and_learning_label(m: XappMetrics, reg: CollectorRegistry) -> None:
    assert DECISION_BUCKETS_S[0] == 0.0001 and DECISION_BUCKETS_S[-1] == 1.0
    m.decision(3, 0.0003, learning=False)
    m.decision(3, 0.002, learning=False)
    m.decision(3, 0.02, learning=True)
    name = "metahrl_du_decision_seconds"
    off = {"du": "3", "learning": "false"}
    assert value(reg, name + "_count", **off) == 2
    assert value(reg, name + "_sum", **off) == pytest.approx(0.0023)
    assert value(reg, name + "_bucket", **off, le="0.00025") == 0
    assert value(reg, name + "_bucket", **off, le="0.0005") == 1
    assert value(reg, name + "_bucket", **off, le="0.0025") == 2
    assert value(reg, name + "_count", du="3", learning="true") == 1
    assert value(reg, name + "_bucket", du="3", learning="true", le="0.01") == 0


def test_roundtrip(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.roundtrip(0, 0.004)
    assert value(reg, "metahrl_du_control_roundtrip_seconds_count", du="0") == 1
    assert value(reg, "metahrl_du_control_roundtrip_seconds_bucket", du="0", le="0.005") == 1


def test_slice_kpis_in_base_units(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.slice_kpis(1, "urllc", qos=0.75, throughput_bps=8e6, latency_seconds=0.004, prb_share=0.25)
    labels = {"du": "1", "slice": "urllc"}
    assert value(reg, "metahrl_du_slice_qos_ratio", **labels) == 0.75
    assert value(reg, "metahrl_du_slice_throughput_bytes_per_second", **labels) == 1e6
    assert value(reg, "metahrl_du_slice_latency_seconds", **labels) == 0.004
    assert value(reg, "metahrl_du_slice_prb_share_ratio", **labels) == 0.25


def test_reward_and_td_variance_per_level(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.reward(2, "high", -1.5)
    m.reward(2, "embb", 0.5)
    m.td_error_variance(2, "mmtc", 0.125)
    assert value(reg, "metahrl_du_reward", du="2", level="high") == -1.5
    assert value(reg, "metahrl_du_reward", du="2", level="embb") == 0.5
    assert value(reg, "metahrl_du_td_error_variance", du="2", level="mmtc") == 0.125


def test_control_outcomes_and_drops(m: XappMetrics, reg: CollectorRegistry) -> None:
    for outcome in ("acknowledged", "acknowledged", "failed", "timeout", "disconnected"):
        m.control(0, outcome)
    m.indication_dropped(0, "unknown_ue")
    assert value(reg, "metahrl_du_controls_total", du="0", outcome="acknowledged") == 2
    assert value(reg, "metahrl_du_controls_total", du="0", outcome="timeout") == 1
    assert value(reg, "metahrl_du_indications_dropped_total", du="0", reason="unknown_ue") == 1


def test_learner_counts_updates_from_cumulative_totals(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.learner(0, version=3, lag_seconds=0.2, updates_total=10)
    m.learner(0, version=4, lag_seconds=0.1, updates_total=25)
    assert value(reg, "metahrl_du_learner_version", du="0") == 4
    assert value(reg, "metahrl_du_learner_lag_seconds", du="0") == 0.1
    assert value(reg, "metahrl_du_learner_updates_total", du="0") == 25
    m.learner(0, version=1, lag_seconds=0.0, updates_total=5)  # a restarted learner: re-base
    m.learner(0, version=2, lag_seconds=0.0, updates_total=8)
    assert value(reg, "metahrl_du_learner_updates_total", du="0") == 28


def test_learner_drops_are_counted_from_cumulative_totals(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.learner(1, version=1, lag_seconds=0.0, updates_total=3, dropped_total=0)
    m.learner(1, version=1, lag_seconds=0.5, updates_total=4, dropped_total=7)
    assert value(reg, "metahrl_du_learner_dropped_total", du="1") == 7
    m.learner(1, version=1, lag_seconds=0.0, updates_total=0, dropped_total=2)  # restarted: re-base
    m.learner(1, version=1, lag_seconds=0.0, updates_total=1, dropped_total=5)
    assert value(reg, "metahrl_du_learner_dropped_total", du="1") == 10


def test_connection_state_checkpoints_and_meta(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.e2_connected(5, True)
    m.subscribed(5, False)
    m.checkpoint("saved", "disk")
    m.checkpoint("failed", "sdl")
    m.meta(7, degraded=True)
    assert value(reg, "metahrl_du_e2_connected", du="5") == 1
    assert value(reg, "metahrl_du_e2_subscribed", du="5") == 0
    m.resubscribed(5)
    m.resubscribed(5)
    assert value(reg, "metahrl_du_e2_resubscriptions_total", du="5") == 2
    m.e2_connected(5, False)
    assert value(reg, "metahrl_du_e2_connected", du="5") == 0
    assert value(reg, "metahrl_du_checkpoints_total", outcome="saved", target="disk") == 1
    assert value(reg, "metahrl_du_checkpoints_total", outcome="failed", target="sdl") == 1
    assert value(reg, "metahrl_du_meta_init_version") == 7
    assert value(reg, "metahrl_du_meta_degraded") == 1


def test_values_outside_their_enums_are_counted_not_raised(m: XappMetrics, reg: CollectorRegistry) -> None:
    m.control(0, "maybe")
    m.slice_kpis(0, "ue-1234", 1.0, 1.0, 1.0, 1.0)
    m.reward(0, "middle", 1.0)
    m.checkpoint("saved", "tape")
    m.decision(0, math.nan, learning=False)
    m.roundtrip(0, -1.0)
    m.indication_dropped(0, "bored")
    assert value(reg, "metahrl_du_controls_total", du="0", outcome="maybe") is None
    assert value(reg, "metahrl_du_slice_qos_ratio", du="0", slice="ue-1234") is None
    assert value(reg, "metahrl_du_decision_seconds_count", du="0", learning="false") is None
    errors = {
        metric: value(reg, "metahrl_du_metric_errors_total", metric=metric)
        for metric in (
            "controls_total",
            "slice_kpis",
            "reward",
            "checkpoints_total",
            "decision_seconds",
            "control_roundtrip_seconds",
            "indications_dropped_total",
        )
    }
    assert errors == dict.fromkeys(errors, 1.0)


def test_registries_are_independent_and_the_global_one_untouched() -> None:
    a, b = CollectorRegistry(), CollectorRegistry()
    XappMetrics(a).control(0, "acknowledged")
    XappMetrics(b)  # same names on another registry: no clash
    assert a.get_sample_value("metahrl_du_controls_total", {"du": "0", "outcome": "acknowledged"}) == 1
    assert b.get_sample_value("metahrl_du_controls_total", {"du": "0", "outcome": "acknowledged"}) is None
    assert REGISTRY.get_sample_value("metahrl_du_meta_degraded") is None


def test_every_metric_name_follows_conventions(m: XappMetrics, reg: CollectorRegistry) -> None:
    for family in reg.collect():
        assert family.name.startswith("metahrl_du_")
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
