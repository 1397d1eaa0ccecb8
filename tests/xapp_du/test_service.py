"""The DU xApp end to end over direct E2 (TCP on loopback) against the simulator's E2 nodes."""

from __future__ import annotations

import asyncio

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from e2sim.config import ScenarioConfig
from e2sim.core import Simulator
from e2sim.du_tasks import du_tasks
from e2sim.e2node import E2SimConfig, E2SimNodes
from e2sim.scenario import load_scenario
from slicing import quota_rbs
from tests.xapp_du.helpers import run_closed_loop, share_env, small_scenario, tiny_pool
from xapps.du.service import XappService
from xapps.e2access.direct import DirectE2
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappSettings


def test_seven_dus_controls_are_acknowledged_and_obeyed() -> None:
    scenario = load_scenario("paper")
    env = share_env(scenario)
    pool = tiny_pool(env, seed=1)
    service, rec, nodes = run_closed_loop(scenario, pool, env, seed=5, steps=12)
    sim = nodes.sim
    assert sim.n_du == 7 and nodes.stats()["lockstep_timeouts"] == 0
    stats = service.stats()
    for du in range(7):
        c = stats[str(du)]
        assert c["decisions"] == 13 and c["failed"] == c["timeouts"] == 0
        assert c["acknowledged"] == c["controls_sent"] > 13  # slice quotas + per-UE ratios
        last = rec.decisions[du][-1]
        # Obeyed: the simulator runs the last decision's slice quotas and per-UE shares.
        np.testing.assert_array_equal(sim.slice_rbs[du], quota_rbs(last.slice_ratio, sim.n_rbs))
        plan_ids = rec.windows[du][-1].ue_id
        sent = {}
        for d in rec.decisions[du]:
            sent.update({c.ue_id: c.ratio for c in d.ue_controls})
        for u in plan_ids:
            assert sim.ue_share[u - 1] == sent[int(u)] / 100.0
    assert sum(len(d.ue_controls) for d in rec.decisions[0][1:]) < 12 * len(
        rec.windows[0][-1].ue_id
    )  # deltas


def _small_service(scenario: ScenarioConfig) -> tuple[XappService, DirectE2]:
    """An xApp serving the small scenario's 3 DUs with tiny agents, over direct E2 on any port."""
    env = share_env(scenario)
    pool = tiny_pool(env)
    e2 = DirectE2("127.0.0.1", 0)
    agents = {d: pool[d] for d in range(3)}
    metrics = XappMetrics(CollectorRegistry())
    return XappService(XappSettings(), du_tasks(scenario), agents, agents, env.mdp_config, e2, metrics), e2


async def _readiness_across_a_disconnect() -> list[tuple[str, bool]]:
    scenario = small_scenario()
    service, e2 = _small_service(scenario)
    await service.start()
    cfg = E2SimConfig(ric_port=e2.port, realtime=True, backoff_initial_s=0.2, backoff_max_s=0.2)
    nodes = E2SimNodes(Simulator(scenario, seed=0), cfg)
    run = asyncio.create_task(nodes.run())
    seen = [("start", service.readiness().ready)]

    async def until(ready: bool) -> None:
        async with asyncio.timeout(10):
            while service.readiness().ready != ready:
                await asyncio.sleep(0.01)

    try:
        await until(True)
        await service.wait_decisions(3, 10)
        seen.append(("subscribed", service.readiness().ready))
        await e2.server.disconnect_all()
        await until(False)
        checks = service.readiness().checks
        seen.append(("away", any(not c.ok for k, c in checks.items() if k.startswith("e2."))))
        await until(True)
        before = {du: rt.counters.decisions for du, rt in service.dus.items()}
        async with asyncio.timeout(10):
            while any(rt.counters.decisions <= before[du] + 2 for du, rt in service.dus.items()):
                await asyncio.sleep(0.01)
        seen.append(("back", service.readiness().ready))
        seen.append(("resubscribed", all(rt.counters.subscriptions == 2 for rt in service.dus.values())))
    finally:
        nodes.stop()
        await run
        await service.close()
    return seen


def test_readiness_is_false_while_a_node_is_away_and_true_after_it_resubscribes() -> None:
    seen = asyncio.run(_readiness_across_a_disconnect())
    assert seen == [
        ("start", False),
        ("subscribed", True),
        ("away", True),
        ("back", True),
        ("resubscribed", True),
    ]


async def _across_a_ric_reset() -> dict[str, object]:
    scenario = small_scenario()
    service, e2 = _small_service(scenario)
    await service.start()
    nodes = E2SimNodes(Simulator(scenario, seed=0), E2SimConfig(ric_port=e2.port, realtime=True))
    run = asyncio.create_task(nodes.run())
    out: dict[str, object] = {}
    try:
        await service.wait_decisions(3, 10)
        rt = service.dus[1]
        before = rt.counters.decisions
        await asyncio.to_thread(service.reset_e2, 1)  # as the HTTP thread calls it
        out["subscription_ended"] = rt.subscription is None or not rt.subscription.active
        async with asyncio.timeout(10):  # the watchdog re-subscribes; decisions resume
            while not (rt.subscribed and rt.counters.decisions > before + 2):
                await asyncio.sleep(0.01)
        out["stats"] = service.stats()["1"]
        out["others"] = [service.stats()[str(d)]["resubscriptions"] for d in (0, 2)]
        out["exported"] = {
            s.labels["du"]: s.value
            for fam in text_string_to_metric_families(_render(service.metrics.registry))
            if fam.name == "metahrl_du_e2_resubscriptions"
            for s in fam.samples
            if s.name.endswith("_total")
        }
        out["connected"] = rt.connected
        try:
            await asyncio.to_thread(service.reset_e2, 7)
        except KeyError:
            out["unknown_du"] = "KeyError"
    finally:
        nodes.stop()
        await run
        await service.close()
    return out


def test_a_ric_reset_ends_the_subscription_and_the_du_resubscribes() -> None:
    out = asyncio.run(_across_a_ric_reset())
    stats = out["stats"]
    assert isinstance(stats, dict)
    assert out["subscription_ended"] and out["connected"]  # the link stays up across a Reset
    assert stats["resets"] == 1 and stats["resubscriptions"] == 1 and stats["subscriptions"] == 2
    assert out["others"] == [0, 0]  # the other DUs' subscriptions were not touched
    assert out["exported"] == {"1": 1.0}  # and Prometheus sees the one renewal, on DU 1 only
    assert out["unknown_du"] == "KeyError"


def test_metrics_report_decisions_and_controls() -> None:
    scenario = small_scenario()
    env = share_env(scenario)
    service, _, _ = run_closed_loop(scenario, tiny_pool(env), env, seed=2, steps=12)  # one 100 ms window
    text = service.metrics.registry
    families = {f.name: f for f in text_string_to_metric_families(_render(text))}
    decisions = [s for s in families["metahrl_du_decision_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in decisions) == 3 * 13
    acked = [s for s in families["metahrl_du_controls"].samples if s.labels.get("outcome") == "acknowledged"]
    assert sum(s.value for s in acked) == sum(v["acknowledged"] for v in service.stats().values())
    qos = [s for s in families["metahrl_du_slice_qos_ratio"].samples]
    assert len(qos) == 9 and all(0.0 <= s.value <= 1.0 for s in qos)  # gauges of the closed window
    high = [s for s in families["metahrl_du_reward"].samples if s.labels["level"] == "high"]
    assert len(high) == 3 and all(0.0 <= s.value <= 3.0 for s in high)  # R_h = Σ QoS


def _render(registry: CollectorRegistry) -> str:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode()
