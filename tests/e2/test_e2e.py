"""End to end over TCP on 127.0.0.1: the simulator's E2 nodes (7 DUs) and the RIC library.

Everything waits on events with time bounds (no sleeps for synchronisation); ports are 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import numpy as np
import pytest

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes, slice_snssais
from ric import kpm, rc
from ric.cause import CauseRicRequest
from ric.e2ap import RicActionToBeSetup, RicActionType
from ric.ids import ue_id, ue_index
from ric.server import E2NodeHandle, KpmIndication, RicServer, Subscription, SubscriptionFailedError
from tests.e2.conftest import PLMN, fast_paper, run_async
from tests.ric.conftest import REPO_ROOT, vector

NAMES = tuple(kpm.MEASUREMENTS)
PRESENT = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))
UE_LEVEL = kpm.ue_condition_action(NAMES, 10, [PRESENT])


def _values(report: kpm.KpmIndicationFormat1) -> dict[str, kpm.MeasRecord]:
    return {name: value for (name, _label), value in report.as_dict().items()}


def _check_plausible(ind: KpmIndication, sim: Simulator) -> None:
    assert isinstance(ind.message, kpm.KpmIndicationFormat3)
    assert 10 <= len(ind.message.reports) <= 60
    for r in ind.message.reports:
        idx = ue_index(r.ue)
        assert idx is not None and 0 <= idx < sim.n_ues
        v = _values(r.report)
        assert isinstance(v["DRB.UEThpDl"], int) and 0 <= v["DRB.UEThpDl"] <= 100_000  # kbit/s
        assert isinstance(v["RRU.PrbUsedDl"], int) and 0 <= v["RRU.PrbUsedDl"] <= sim.n_rbs
        assert isinstance(v["RRU.PrbAvailDl"], int) and 0 <= v["RRU.PrbAvailDl"] <= sim.n_rbs
        delay = v["DRB.RlcSduDelayDl"]
        assert delay is None or 0 <= delay <= 10_000  # 0.1 ms units, below the 1 s mMTC deadline
        drop = v["DRB.RlcPacketDropRateDl"]
        assert isinstance(drop, float) and 0.0 <= drop <= 1.0
    assert unix_plausible(ind.header.collect_start_time)


def unix_plausible(ntp: int) -> bool:
    return 1.6e9 < kpm.unix_time(ntp) < 3e9


async def _until(sub: Subscription, check: object, limit: int = 300) -> KpmIndication:
    """The first indication of ``sub`` for which ``check(ind)`` holds (bounded)."""
    for _ in range(limit):
        ind = await sub.next(timeout=10)
        assert ind is not None, sub.end_reason
        if check(ind):  # type: ignore[operator]
            return ind
    raise AssertionError("no matching indication")


async def _slice_quota_obeyed(node: E2NodeHandle, sim: Simulator) -> None:
    snssais = slice_snssais(sim.scenario.slice_sd)
    action = kpm.node_level_action(["RRU.PrbUsedDl", "RRU.PrbAvailDl"], 10, snssais)
    sub = await node.subscribe_kpm(action, 10)
    ratios = (60, 25, 15)
    quotas = [rc.SlicePrbQuota(PLMN, s.sst, s.sd, 0, r, 0) for s, r in zip(snssais, ratios, strict=True)]
    outcome = await node.control_slice_quotas(quotas)
    assert outcome.acknowledged and outcome.cause is None
    du = node.node_id.du_id if node.node_id is not None else None
    assert du is not None and sim.slice_rbs[du].tolist() == [60, 25, 15]

    def applied(ind: KpmIndication) -> bool:
        assert isinstance(ind.message, kpm.KpmIndicationFormat1)
        values = ind.message.as_dict()
        return [values[("RRU.PrbAvailDl", kpm.MeasLabel(slice_id=s))] for s in snssais] == [60, 25, 15]

    ind = await _until(sub, applied)  # a whole window under the new quotas
    assert isinstance(ind.message, kpm.KpmIndicationFormat1)
    values = ind.message.as_dict()
    used = [values[("RRU.PrbUsedDl", kpm.MeasLabel(slice_id=s))] for s in snssais]
    assert all(isinstance(u, int) and 0 <= u <= q for u, q in zip(used, (60, 25, 15), strict=True))
    await sub.delete()
    assert sub.end_reason == "deleted"


async def _ue_quota_obeyed(node: E2NodeHandle, sub: Subscription, sim: Simulator) -> None:
    du = node.node_id.du_id if node.node_id is not None else None
    embb = np.flatnonzero((sim.serving == du) & (sim.ues.slice == 0))
    distance = np.hypot(*(sim.positions[embb] - sim.sites[du]).T)
    u = int(embb[np.argmin(distance)])  # the one nearest its DU: no handover during the test
    quota = rc.SlicePrbQuota(PLMN, 1, sim.scenario.slice_sd[0], 0, 12, 0)  # a 12 % share of its slice
    outcome = await node.control_slice_quotas([quota], ue=ue_id(u))
    assert outcome.acknowledged
    # A per-UE ratio is a share of the slice applied every TTI; the other eMBB UEs keep share 0.
    assert sim.ue_share[u] == 0.12 and sim.weighted[du, 0] and not sim.explicit[du, 0]

    def reports_usage(ind: KpmIndication) -> bool:
        assert isinstance(ind.message, kpm.KpmIndicationFormat3)
        mine = [r.report for r in ind.message.reports if r.ue == ue_id(u)]
        return bool(mine) and _values(mine[0])["RRU.PrbUsedDl"] > 0

    await _until(sub, reports_usage)  # the UE keeps being scheduled under its share


async def _bad_controls(node: E2NodeHandle, sim: Simulator) -> None:
    unknown_slice = rc.SlicePrbQuota(PLMN, 99, 1, 0, 10, 0)
    outcome = await node.control_slice_quotas([unknown_slice])
    assert not outcome.acknowledged and outcome.cause is CauseRicRequest.CONTROL_MESSAGE_INVALID
    du = node.node_id.du_id if node.node_id is not None else None
    elsewhere = int(np.flatnonzero((sim.serving != du) & (sim.ues.slice == 0))[0])
    quota = rc.SlicePrbQuota(PLMN, 1, sim.scenario.slice_sd[0], 0, 10, 0)
    outcome = await node.control_slice_quotas([quota], ue=ue_id(elsewhere))
    assert not outcome.acknowledged and outcome.cause is CauseRicRequest.CONTROL_FAILED_TO_EXECUTE
    # KPIMON-go's KPM v02.01 action definition: a subscription failure with a cause, no crash
    request = vector("kpm_osc_kpimon_go_action_definition_capture")
    trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(10))
    try:
        await node.subscribe(2, trigger, (RicActionToBeSetup(1, RicActionType.REPORT, request),))
    except SubscriptionFailedError as exc:
        assert exc.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
    else:
        raise AssertionError("a KPM v02.01 subscription was admitted")


async def _all_subscribed(nodes: list[E2NodeHandle], sim: Simulator) -> list[Subscription]:
    subs = [await node.subscribe_kpm(UE_LEVEL, 10) for node in nodes]
    for sub in subs:
        _check_plausible(await _until(sub, lambda _i: True), sim)
    return subs


def test_e2sim_nodes_and_ric_library_over_tcp() -> None:
    async def main() -> None:
        sim = Simulator(fast_paper(), seed=1)
        server = RicServer()
        port = await server.start("127.0.0.1", 0)
        config = E2SimConfig(ric_port=port, backoff_initial_s=0.05, backoff_max_s=0.2, progress_every_s=60)
        e2sim = E2SimNodes(sim, config)
        running = asyncio.create_task(e2sim.run())
        nodes = sorted(await server.wait_for_nodes(7, timeout=30), key=lambda n: n.name)
        assert [n.name for n in nodes] == [f"gnbd_001_001_{d + 1:06x}_0" for d in range(7)]
        assert all(set(n.ran_functions) == {2, 3} and n.kpm and n.rc for n in nodes)
        subs = await _all_subscribed(nodes, sim)  # KPM UE level every 10 ms on every DU
        await _slice_quota_obeyed(nodes[0], sim)
        await _ue_quota_obeyed(nodes[2], subs[2], sim)
        await _bad_controls(nodes[4], sim)
        assert all(n.controls_reordered == 0 for n in nodes)

        # The RIC goes away and comes back on the same port: every node reconnects and sets up.
        await server.close()
        assert all(s.end_reason is not None for s in subs)
        await asyncio.gather(*(c.wait_disconnected(timeout=10) for c in e2sim.clients))
        paused_at = sim.t
        server = RicServer()
        events = server.node_events()
        await server.start("127.0.0.1", port)
        async with asyncio.timeout(30):
            await anext(events)  # the first node is back (after failed attempts and backoff)
        assert sim.t - paused_at <= 1  # simulated time stood still without a RIC
        nodes = sorted(await server.wait_for_nodes(7, timeout=30), key=lambda n: n.name)
        await _all_subscribed(nodes, sim)  # re-subscribed by the RIC, indications flow again
        outcome = await nodes[1].control_slice_quotas([rc.SlicePrbQuota(PLMN, 2, 3, 0, 20, 0)])
        assert outcome.acknowledged and sim.slice_rbs[1][2] == 20
        assert all(c.counters.setups == 2 for c in e2sim.clients)
        e2sim.stop()
        await running
        await server.close()
        stats = e2sim.stats()
        assert stats["indications"] > 0 and stats["controls_failed"] == 2

    run_async(main(), timeout=90)


def test_a_du_that_leaves_disconnects_and_goes_off_the_air_while_the_others_go_on() -> None:
    async def main() -> None:
        sim = Simulator(fast_paper(), seed=1)
        server = RicServer()
        port = await server.start("127.0.0.1", 0)
        config = E2SimConfig(ric_port=port, progress_every_s=60, leave_at_s={2: 0.5})
        e2sim = E2SimNodes(sim, config)
        running = asyncio.create_task(e2sim.run())
        nodes = sorted(await server.wait_for_nodes(7, timeout=30), key=lambda n: n.name)
        subs = await _all_subscribed(nodes, sim)
        async with asyncio.timeout(30):
            while subs[2].end_reason is None:  # the leaving node's subscription ends with it
                await subs[2].next(timeout=5)
        assert sim.t * sim.radio.tti_s >= 0.5
        await e2sim.clients[2].wait_disconnected(timeout=10)
        assert not sim.du_active[2] and sim.du_active[[0, 1, 3, 4, 5, 6]].all()
        t_left = sim.t
        for sub in (subs[0], subs[6]):  # the others report on, with simulated time moving
            await _until(sub, lambda _i: sim.t > t_left + 50)
        assert not (sim.serving == 2).any()  # its UEs moved to other DUs
        assert not running.done()  # one node leaving does not end the run
        assert e2sim.clients[2].counters.connects == 1  # and it does not come back
        e2sim.stop()
        await running
        await server.close()

    run_async(main(), timeout=90)


def test_leave_schedule_is_validated() -> None:
    sim = Simulator(fast_paper(), seed=1)
    with pytest.raises(ValueError, match="leave_at_s: DU 9 is not in the scenario"):
        E2SimNodes(sim, E2SimConfig(leave_at_s={9: 1.0}))
    with pytest.raises(ValueError, match=r"leave_at_s: DU 3 leaves at 1.0 s, not after it joins \(2.0 s\)"):
        E2SimNodes(sim, E2SimConfig(join_at_s={3: 2.0}, leave_at_s={3: 1.0}))
    with pytest.raises(ValueError, match="leave_at_s: at least one DU must stay on the air"):
        E2SimNodes(sim, E2SimConfig(leave_at_s=dict.fromkeys(range(7), 1.0)))


def test_metahrl_e2sim_command_as_a_subprocess() -> None:
    """`metahrl e2sim` connects its 7 nodes, serves a subscription and a control, stops on SIGTERM."""

    async def main() -> None:
        server = RicServer()
        port = await server.start("127.0.0.1", 0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "metahrl",
            "e2sim",
            "--ric",
            f"127.0.0.1:{port}",
            "--fading",
            "scheduled",
            "--duration-s",
            "600",
            "--json",
            "--log-level",
            "WARNING",
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            nodes = await server.wait_for_nodes(7, timeout=60)
            sub = await nodes[0].subscribe_kpm(kpm.node_level_action(["RRU.PrbUsedDl"], 10), 10)
            ind = await sub.next(timeout=10)
            assert isinstance(ind, KpmIndication) and isinstance(ind.message, kpm.KpmIndicationFormat1)
            quota = rc.SlicePrbQuota(PLMN, 3, 2, 0, 30, 0)
            assert (await nodes[0].control_slice_quotas([quota])).acknowledged
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await proc.communicate()
            await server.close()
        assert proc.returncode == 0, err.decode()
        stats = json.loads(out)
        assert stats["setups"] == 7 and stats["controls_acked"] == 1 and stats["indications"] >= 1

    run_async(main(), timeout=120)
