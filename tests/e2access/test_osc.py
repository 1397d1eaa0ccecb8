"""OscE2 end to end: real librmr, the OSC platform stand-in, the simulator's E2 nodes (TCP).

xApp (OscE2) ⇄ RMR 12050 / 12040-12042 ⇄ stand-in e2term ⇄ E2AP/TCP ⇄ E2SimNodes, with the
Subscription Manager and E2 Manager REST in between. Nothing is mocked.
"""

from __future__ import annotations

import asyncio

import pytest

from e2sim.e2node import slice_snssais
from ric import kpm, rc
from ric.cause import CauseRicRequest
from ric.ids import SLICE_LEVEL_UE
from ric.server import KpmIndication
from tests.e2.conftest import PLMN
from tests.osc_platform.conftest import osc_e2, require_rmr, run_async, topology, until, xapp_settings
from xapps.e2access.base import KpmAction, NodeEvent, NodeUp

pytestmark = pytest.mark.usefixtures("_rmr")

NAMES = tuple(kpm.MEASUREMENTS)
PRESENT = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))


@pytest.fixture
def _rmr() -> None:
    require_rmr()


async def _next_event(events: object, timeout: float = 10.0) -> NodeEvent:
    async with asyncio.timeout(timeout):
        return await anext(events)  # type: ignore[call-overload]


def _actions(slices: object) -> list[KpmAction]:
    node_level = kpm.node_level_action(["RRU.PrbUsedDl", "RRU.PrbAvailDl"], 10, slices)  # type: ignore[arg-type]
    return [KpmAction(1, node_level), KpmAction(2, kpm.ue_condition_action(NAMES, 10, [PRESENT]))]


def test_kpm_with_two_actions_and_controls_over_rmr() -> None:
    async def main() -> None:
        async with topology() as topo, osc_e2(xapp_settings(topo.platform)) as e2:
            events = e2.events()
            ups = {(await _next_event(events)) for _ in range(topo.sim.n_du)}
            assert ups == {NodeUp(n, reconnect=False) for n in topo.platform.server.nodes}
            node = sorted(topo.platform.server.nodes)[0]
            got: list[KpmIndication] = []
            snssais = slice_snssais(topo.sim.scenario.slice_sd)
            sub = await e2.subscribe_kpm(node, _actions(snssais), 10, got.append)
            await until(lambda: {i.action_id for i in got} == {1, 2}, what="indications of both actions")
            by_action = {i.action_id: i for i in got}
            assert isinstance(by_action[1].message, kpm.KpmIndicationFormat1)
            assert isinstance(by_action[2].message, kpm.KpmIndicationFormat3)
            assert all(i.node == node for i in got) and sub.active

            # slice quotas: acknowledged (12041) and obeyed by the simulator
            quotas = [
                rc.SlicePrbQuota(PLMN, s.sst, s.sd, 0, r, 0)
                for s, r in zip(snssais, (50, 30, 20), strict=True)
            ]
            outcome = await e2.send_slice_quotas(node, quotas)
            assert outcome.acknowledged and outcome.cause is None
            du = topo.platform.server.nodes[node].node_id.du_id  # type: ignore[union-attr]
            assert topo.sim.slice_rbs[du].tolist() == [round(12 * r / 100) for r in (50, 30, 20)]
            # a quota for a slice the node does not serve: 12042, a failed outcome with its cause
            bad = await e2.send_slice_quotas(node, [rc.SlicePrbQuota(PLMN, 99, 1, 0, 10, 0)], SLICE_LEVEL_UE)
            assert not bad.acknowledged and bad.cause is CauseRicRequest.CONTROL_MESSAGE_INVALID
            assert e2.counters.controls_acked == 1 and e2.counters.controls_failed == 1
            assert topo.platform.counters.controls_acked == 1 and topo.platform.counters.controls_failed == 1

            await sub.delete()
            assert not sub.active and topo.platform.submgr is not None
            assert topo.platform.submgr.subscriptions == {}
            assert e2.counters.indications_undecodable == 0 and e2.counters.callback_errors == 0

    run_async(main())
