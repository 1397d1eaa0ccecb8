"""Parity: the xApp over E2 (lockstep) sees and does exactly what the in-process env does.

Tolerance: none. Every value the observation and rewards read crosses E2 as a REAL (float64)
or an exact integer, and the env's window holds wire-unit values as decode(encode(x))
(``slicing.measurements``), so the KPM-decoded observation must equal the env's bit for bit;
only ``RRU.PrbUsedDl`` is quantised (an integer mean), and nothing in the MDP reads it.
"""

from __future__ import annotations

import numpy as np

from experiments.policy import GreedyPolicy
from tests.xapp_du.helpers import (
    du_returns,
    env_rollout,
    run_closed_loop,
    share_env,
    small_scenario,
    tiny_pool,
)

STEPS = 25  # 2.5 high-level periods


def test_kpm_decoded_observations_and_returns_equal_the_env() -> None:
    scenario = small_scenario()
    env = share_env(scenario)
    pool = tiny_pool(env, seed=3)
    seen, env_ret = env_rollout(env, GreedyPolicy(pool), seed=11, steps=STEPS)
    service, rec, nodes = run_closed_loop(scenario, tiny_pool(env, seed=3), env, seed=11, steps=STEPS)
    assert nodes.stats()["lockstep_timeouts"] == 0
    for du in range(env.n_du):
        got = rec.decisions[du]
        assert len(got) == STEPS + 1, f"DU {du}: {len(got)} decisions"
        for k, d in enumerate(got):
            want = seen[k]
            assert d.obs.high_due == want.high_due
            np.testing.assert_array_equal(d.obs.high[0], want.high[du], err_msg=f"DU {du} step {k} high")
            np.testing.assert_array_equal(d.obs.low[0], want.low[du], err_msg=f"DU {du} step {k} low")
            np.testing.assert_array_equal(d.obs.ue_mask[0], want.ue_mask[du])
    np.testing.assert_array_equal(du_returns(rec, env.n_du), env_ret)
    assert env_ret.sum() > 0  # the comparison covered real rewards
    c = service.stats()
    assert all(c[str(d)]["failed"] == 0 and c[str(d)]["timeouts"] == 0 for d in range(env.n_du))
