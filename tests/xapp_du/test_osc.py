"""The DU xApp through an OSC near-RT RIC: real librmr, the project's platform stand-in (E2
termination bridging E2AP to RMR 12050 / 12040–12042, Subscription Manager REST), the
simulator's E2 nodes in lockstep. The loop must follow the in-process env exactly, as over
direct E2 (the RMR hop carries the same E2AP PDUs)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from experiments.policy import GreedyPolicy
from osc_platform import OscPlatform, OscPlatformSettings
from ric.rmr import free_port
from ric.sdl import MemorySdl
from tests.osc_platform.conftest import require_rmr
from tests.xapp_du.helpers import closed_loop, du_returns, env_rollout, share_env, small_scenario, tiny_pool
from xapps.e2access.osc import OscE2

STEPS = 15


def test_osc_closed_loop_over_real_rmr_equals_the_env() -> None:
    require_rmr()
    scenario = small_scenario()
    env = share_env(scenario)
    seen, env_ret = env_rollout(env, GreedyPolicy(tiny_pool(env, seed=4)), seed=3, steps=STEPS)
    out: dict[str, Any] = {}

    async def main() -> None:
        settings = OscPlatformSettings(e2_port=0, http_port=0, rmr_port=free_port())
        async with OscPlatform(settings) as platform:
            osc = OscE2(platform.local_xapp_settings(), MemorySdl())
            service, rec, nodes = await closed_loop(
                scenario, tiny_pool(env, seed=4), env, seed=3, steps=STEPS, e2=osc, ric_port=platform.e2_port
            )
            out.update(service=service, rec=rec, nodes=nodes, counters=osc.counters)

    asyncio.run(asyncio.wait_for(main(), 180))
    rec, service = out["rec"], out["service"]
    assert out["nodes"].stats()["lockstep_timeouts"] == 0
    for du in range(env.n_du):
        assert len(rec.decisions[du]) == STEPS + 1
        for k, d in enumerate(rec.decisions[du]):
            np.testing.assert_array_equal(d.obs.low[0], seen[k].low[du], err_msg=f"DU {du} step {k}")
            np.testing.assert_array_equal(d.obs.high[0], seen[k].high[du])
    np.testing.assert_array_equal(du_returns(rec, env.n_du), env_ret)
    stats = service.stats()
    assert all(stats[str(d)]["acknowledged"] == stats[str(d)]["controls_sent"] for d in range(env.n_du))
