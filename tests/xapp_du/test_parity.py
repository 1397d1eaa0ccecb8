"""Parity: the xApp over E2 (lockstep) sees and does exactly what the in-process env does.

Tolerance: none. Every value the observation and rewards read crosses E2 as a REAL (float64)
or an exact integer, and the env's window holds wire-unit values as decode(encode(x))
(``slicing.measurements``), so the KPM-decoded observation must equal the env's bit for bit;
only ``RRU.PrbUsedDl`` is quantised (an integer mean), and nothing in the MDP reads it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes
from e2sim.env import HierarchicalSlicingEnv
from experiments.checkpoint import load_training_checkpoint
from experiments.config import config_from_dict, load_train_config
from experiments.policy import GreedyPolicy
from experiments.train import Trainer
from metahrl.xapp_setup import build_service
from tests.xapp_du.helpers import (
    SMALL,
    Recorder,
    du_returns,
    env_rollout,
    run_closed_loop,
    share_env,
    small_scenario,
    tiny_pool,
)
from xapps.agent import AgentPool, HierarchicalConfig
from xapps.service.settings import XappSettings

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


def test_a_metahrl_train_checkpoint_acts_identically_over_e2(tmp_path: Path) -> None:
    """`metahrl xapp --init RUN` (the CLI's assembly, direct E2) vs the env with the same run's
    agents, greedy: same observations, same returns."""
    scenario = small_scenario()
    cfg = config_from_dict(
        {
            **load_train_config("tiny").model_dump(mode="json"),
            "steps": 40,
            "eval_steps": 10,
            "eval_every": 1000,
        }
    )
    run = tmp_path / "run"
    assert Trainer(scenario, cfg, seed=0, out_dir=run).run().finished
    state = load_training_checkpoint(run)
    agent_cfg = HierarchicalConfig.model_validate(state["meta"]["agent"])
    pool = AgentPool.create(agent_cfg, scenario.n_du)
    pool.load_state_dict(state["pool"])
    env = HierarchicalSlicingEnv(scenario, cfg.env)
    seen, env_ret = env_rollout(env, GreedyPolicy(pool), seed=5, steps=STEPS)

    settings = XappSettings.model_validate(
        {"scenario": str(SMALL), "agent": "tiny", "init": str(run), "e2": {"listen_port": 0}}
    )
    bundle = build_service(settings)
    rec = Recorder()
    bundle.service.window_hooks.append(rec)

    async def main() -> None:
        service = bundle.service
        await service.start()
        port = service.e2.port  # type: ignore[attr-defined]
        config = E2SimConfig(ric_port=port, lockstep=True, duration_s=STEPS * 1e-2)
        try:
            await asyncio.wait_for(E2SimNodes(Simulator(scenario, seed=5), config).run(), 120)
        finally:
            await service.close()

    asyncio.run(main())
    for du in range(scenario.n_du):
        for k, d in enumerate(rec.decisions[du]):
            np.testing.assert_array_equal(d.obs.low[0], seen[k].low[du], err_msg=f"DU {du} step {k}")
            np.testing.assert_array_equal(d.action.ue_action, GreedyPolicy(pool).act(seen[k]).ue_action[du])
    np.testing.assert_array_equal(du_returns(rec, scenario.n_du), env_ret)
