"""The deployment's shape on one host: OscE2 here, the stand-in in its own process
(``platform_process``), the simulator's E2 nodes here — over real RMR and TCP."""

from __future__ import annotations

import asyncio

import pytest

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes, slice_snssais
from osc_platform.process import platform_process
from ric import kpm, rc
from ric.plmn import Plmn
from ric.server import KpmIndication
from tests.osc_platform.conftest import osc_e2, require_rmr, run_async, until
from tests.sim.conftest import small_scenario
from xapps.e2access.base import KpmAction

pytestmark = pytest.mark.usefixtures("_rmr")


@pytest.fixture
def _rmr() -> None:
    require_rmr()


def test_xapp_and_nodes_through_a_stand_in_process() -> None:
    async def main() -> None:
        async with platform_process() as info:
            sim = Simulator(small_scenario(), seed=4)
            config = E2SimConfig(ric_port=info.e2_port, backoff_initial_s=0.05, progress_every_s=600)
            nodes = E2SimNodes(sim, config)
            running = asyncio.create_task(nodes.run())
            try:
                async with osc_e2(info.xapp_settings(poll_interval_s=0.05)) as e2:
                    node = "gnbd_001_001_000001_0"
                    await until(lambda: e2.connected(node), timeout=20, what="the node up in e2mgr")
                    got: list[KpmIndication] = []
                    action = kpm.node_level_action(["RRU.PrbUsedDl"], 10)
                    await e2.subscribe_kpm(node, [KpmAction(1, action)], 10, got.append)
                    await until(lambda: len(got) >= 3, what="indications over RMR")
                    s = slice_snssais(sim.scenario.slice_sd)[0]
                    quota = rc.SlicePrbQuota(Plmn("001", "01"), s.sst, s.sd, 0, 25, 0)
                    assert (await e2.send_slice_quotas(node, [quota])).acknowledged
                    assert sim.slice_rbs[0][0] == round(
                        0.25 * sim.n_rbs
                    )  # 3: the others keep theirs, within K
            finally:
                nodes.stop()
                await running

    run_async(main())
