"""A DU xApp (direct E2) and the simulator's E2 nodes on loopback, for the xApp tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from e2sim.config import ScenarioConfig
from e2sim.core import Simulator
from e2sim.du_tasks import du_tasks
from e2sim.e2node import E2SimConfig, E2SimNodes
from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from e2sim.scenario import load_scenario
from slicing import KpiWindow
from xapps.agent import AgentPool, HierarchicalConfig
from xapps.agent.ddpg import DDPGConfig
from xapps.du.decision import Decision
from xapps.du.service import DuRuntime, XappService
from xapps.e2access.direct import DirectE2
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappSettings

SMALL = Path(__file__).resolve().parents[2] / "experiments" / "scenarios" / "small.yaml"


def small_scenario() -> ScenarioConfig:
    return load_scenario(SMALL)


def tiny_pool(env: HierarchicalSlicingEnv, seed: int = 0) -> AgentPool:
    net = DDPGConfig(
        hidden_sizes=(32, 32), batch_size=16, learning_starts=16, buffer_size=2000, random_steps=0
    )
    cfg = HierarchicalConfig(
        obs_high_dim=env.obs_high_dim, obs_low_dim=env.obs_low_dim, max_ues=env.ue_slots, high=net, low=net
    )
    return AgentPool.create(cfg, env.n_du, seed=seed)


@dataclass
class Recorder:
    """Every decision the xApp took, per DU, in order."""

    decisions: dict[int, list[Decision]] = field(default_factory=dict)
    windows: dict[int, list[KpiWindow]] = field(default_factory=dict)

    def __call__(self, rt: DuRuntime, window: KpiWindow, d: Decision) -> None:
        self.decisions.setdefault(rt.du, []).append(d)
        self.windows.setdefault(rt.du, []).append(window)


def run_closed_loop(
    scenario: ScenarioConfig, pool: AgentPool, env: HierarchicalSlicingEnv, **kw: Any
) -> tuple[XappService, Recorder, E2SimNodes]:
    """:func:`closed_loop` in a fresh event loop."""
    out: list[tuple[XappService, Recorder, E2SimNodes]] = []

    async def main() -> None:  # returns nothing: asyncio.run would repr a big task result
        out.append(await closed_loop(scenario, pool, env, **kw))

    asyncio.run(main())
    return out[0]


async def closed_loop(
    scenario: ScenarioConfig,
    pool: AgentPool,
    env: HierarchicalSlicingEnv,
    *,
    seed: int,
    steps: int,
    settings: dict[str, Any] | None = None,
    lockstep: bool = True,
    actors: AgentPool | None = None,
    meta_links: dict[int, Any] | None = None,
    during: Any = None,
    e2: Any = None,
    ric_port: int | None = None,
) -> tuple[XappService, Recorder, E2SimNodes]:
    """The xApp (all DUs, direct E2 on a free port) against E2 nodes of a fresh simulator;
    ``during(service)`` (a coroutine function) runs beside the loop once it has started."""
    s = XappSettings.model_validate({"e2": {"listen_port": 0}, **(settings or {})})
    e2 = e2 or DirectE2("127.0.0.1", 0)
    actor_pool = actors or pool
    service = XappService(
        s,
        du_tasks(scenario),
        {d: pool[d] for d in range(len(pool))},
        {d: actor_pool[d] for d in range(len(actor_pool))},
        env.mdp_config,
        e2,
        XappMetrics(CollectorRegistry()),
        meta_links=meta_links,
    )
    rec = Recorder()
    service.window_hooks.append(rec)
    await service.start()
    nodes = E2SimNodes(
        Simulator(scenario, seed=seed),
        E2SimConfig(
            ric_port=ric_port or e2.port,
            lockstep=lockstep,
            duration_s=steps * env.config.low_period_ttis * 1e-3,
        ),
    )
    try:
        await asyncio.wait_for(
            nodes.run() if during is None else _beside(nodes, during(service)), timeout=600
        )
        await _answered(service)  # the last controls' outcomes
        for rt in service.dus.values():  # learn from everything stored before the agents are read
            if rt.learner is not None:
                assert await asyncio.to_thread(rt.learner.drain, 600.0)
    finally:
        await service.close()
    return service, rec, nodes


async def _answered(service: XappService, timeout_s: float = 10.0) -> None:
    """Wait (bounded) until every control sent has an outcome."""

    def settled() -> bool:
        return all(
            rt.counters.controls_sent
            == rt.counters.acknowledged + rt.counters.failed + rt.counters.timeouts + rt.counters.disconnected
            for rt in service.dus.values()
        )

    async with asyncio.timeout(timeout_s):
        while not settled():
            await asyncio.sleep(0.01)


async def _beside(nodes: E2SimNodes, during: Any) -> None:
    """Run the nodes until ``during`` finishes (or their duration ends)."""
    run = asyncio.create_task(nodes.run())
    try:
        await during
    finally:
        nodes.stop()
        await run


def env_rollout(
    env: HierarchicalSlicingEnv, policy: Any, seed: int, steps: int
) -> tuple[list[Any], np.ndarray]:
    """Observations (reset + each step) and the per-DU return (sum of R_h) in-process."""
    obs, _ = env.reset(seed)
    seen = [obs]
    ret = np.zeros(env.n_du)
    for _ in range(steps):
        obs, rew, *_ = env.step(policy.act(obs))
        seen.append(obs)
        if rew.high_valid:
            ret += rew.high
    return seen, ret


def share_env(scenario: ScenarioConfig) -> HierarchicalSlicingEnv:
    return HierarchicalSlicingEnv(scenario, EnvConfig(low_action="share"))


def du_returns(rec: Recorder, n_du: int) -> np.ndarray:
    out = np.zeros(n_du)
    for du, ds in rec.decisions.items():
        out[du] = sum(float(d.reward.high[0]) for d in ds if d.reward is not None and d.reward.high_valid)
    return out


def take(xs: Sequence[Any], n: int) -> list[Any]:
    return list(xs[:n])
