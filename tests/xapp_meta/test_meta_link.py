"""xapps.du.meta_link against a real controller over loopback gRPC (tiny networks): a DU agent
with synthetic transitions contributes from the meta-init, the round closes, and a DU that
starts later receives the new meta-init via `initial()` — equal bit for bit to the in-process
`task_update` + `meta_step` on deep copies of the same agents. With no controller reachable the
link is degraded, counts, and never raises."""

from __future__ import annotations

import asyncio
import copy
import socket
from collections.abc import Callable

import numpy as np
import pytest
import torch
from prometheus_client import CollectorRegistry
from torch import Tensor

from meta_controller.algorithm import GROUPS, MetaConfig, meta_step, task_update, variances_with_fallback
from meta_controller.metrics import ControllerMetrics
from meta_controller.params import GradientStack, ParamLayout
from meta_controller.rounds import RoundConfig, Rounds
from meta_controller.service import Controller, create_server
from meta_controller.store import MetaStore
from ric.sdl import MemorySdl
from xapps.agent import DDPGConfig, HierarchicalAgent, HierarchicalConfig, Observation, Transition
from xapps.du.meta_link import GrpcMetaLink, MetaLinkMetrics, MetaLinkOptions, NoMeta, open_meta_link
from xapps.service.settings import MetaSettings

OBS_HIGH, OBS_LOW, L, U, PERIOD = 5, 7, 3, 4, 3
OPTIONS = MetaLinkOptions(inner_steps=3, deadline_s=5.0, backoff_s=(0.02, 0.2), retries=2)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: extra threads only add hand-offs
    yield None
    torch.set_num_threads(before)


def tiny_agent(seed: int) -> HierarchicalAgent:
    ddpg = DDPGConfig(hidden_sizes=(16, 16), batch_size=8, buffer_size=64, learning_starts=8, td_window=20)
    cfg = HierarchicalConfig(
        obs_high_dim=OBS_HIGH, obs_low_dim=OBS_LOW, n_slices=L, max_ues=U, high=ddpg, low=ddpg
    )
    return HierarchicalAgent(cfg, seed=seed)


def _obs(rng: np.random.Generator, t: int) -> Observation:
    return Observation(
        high=rng.normal(size=OBS_HIGH).astype(np.float32),
        low=rng.normal(size=(L, OBS_LOW)).astype(np.float32),
        ue_mask=rng.random((L, U)) < 0.7,
        high_due=t % PERIOD == 0,
    )


def fill(agent: HierarchicalAgent, seed: int, steps: int = 40) -> None:
    """Synthetic experience: act on random observations, store transitions with toy rewards."""
    rng = np.random.default_rng(seed)
    obs = _obs(rng, 0)
    for t in range(steps):
        action = agent.act(obs)
        nxt = _obs(rng, t + 1)
        reward_low = -np.where(obs.ue_mask, (action.ue_action - 0.3) ** 2, 0).mean(axis=1)
        reward_high = float(-np.sum(action.slice_shares**2)) if nxt.high_due else None
        agent.observe(Transition(obs, action, reward_low.astype(np.float32), nxt, reward_high))
        obs = nxt


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)  # bounded poll


def _reference(theta: dict[str, Tensor], agents: list[HierarchicalAgent]) -> Tensor:
    updates = [task_update(a, theta, inner_steps=OPTIONS.inner_steps, config=MetaConfig()) for a in agents]
    stack = GradientStack.from_grads([u.grads for u in updates])
    variances = variances_with_fallback({g: [u.td_variance[g] for u in updates] for g in GROUPS})
    return meta_step(theta, stack, variances, MetaConfig()).flat


def _count(registry: CollectorRegistry, du: str, outcome: str) -> float:
    labels = {"du": du, "outcome": outcome}
    return registry.get_sample_value("metahrl_du_meta_contributions_total", labels) or 0.0


def test_contribute_closes_a_round_and_a_new_du_starts_from_it() -> None:
    theta0 = tiny_agent(99).get_params()
    agents = [tiny_agent(i) for i in range(2)]
    for i, a in enumerate(agents):
        fill(a, seed=10 + i)
    want = _reference(theta0, [copy.deepcopy(a) for a in agents])

    async def main() -> None:
        rounds = Rounds(theta0, MetaConfig(), RoundConfig(min_updates=2, max_chunk_bytes=4096))
        controller = Controller(rounds, MetaStore(MemorySdl(), "t"), ControllerMetrics(CollectorRegistry()))
        await controller.start()
        server, port = create_server(controller, "127.0.0.1:0", insecure=True)
        await server.start()
        settings = MetaSettings(address=f"127.0.0.1:{port}")
        registry = CollectorRegistry()
        metrics = MetaLinkMetrics(registry)

        def link(du: str) -> GrpcMetaLink:
            made = open_meta_link(settings, du, {"scenario": "toy", "du": du}, layout=theta0,
                                  metrics=metrics, options=OPTIONS)  # fmt: skip
            assert isinstance(made, GrpcMetaLink)
            return made

        links = [link("du-0"), link("du-1")]
        for lk in links:
            await lk.start()
            init = await lk.initial(10.0)
            assert init is not None and all(torch.equal(init[k], theta0[k]) for k in theta0)
        await _until(lambda: all(lk.status == "ready" for lk in links))
        assert [lk.latest_version() for lk in links] == [0, 0]
        assert await links[0].contribute(copy.deepcopy(agents[0]))
        assert not await links[0].contribute(copy.deepcopy(agents[0]))  # once per meta-version
        assert _count(registry, "du-0", "already_sent") == 1
        assert controller.rounds.version == 0  # quorum 2: still open
        assert await links[1].contribute(copy.deepcopy(agents[1]))
        await _until(lambda: all(lk.latest_version() == 1 for lk in links))

        late = link("du-2")
        await late.start()
        init = await late.initial(10.0)
        assert init is not None and late.latest_version() == 1
        assert torch.equal(ParamLayout.of(theta0).flatten(init), want)  # bit for bit
        assert torch.equal(controller.rounds.theta_flat, want)
        assert list(controller.rounds.registered) == ["du-0", "du-1", "du-2"]
        assert _count(registry, "du-0", "accepted") == 1 and _count(registry, "du-1", "accepted") == 1

        await controller.stop()
        await server.stop(grace=0.5)  # the controller goes away mid-life
        await _until(lambda: links[0].status == "degraded")
        assert not await links[0].contribute(copy.deepcopy(agents[0]))  # version 1 not sent yet
        assert _count(registry, "du-0", "unreachable") == 1
        for lk in (*links, late):
            await lk.close()

    asyncio.run(main())


def test_no_controller_reachable_degrades_and_never_raises() -> None:
    async def main() -> None:
        agent = tiny_agent(0)
        fill(agent, seed=1)
        registry = CollectorRegistry()
        settings = MetaSettings(address=f"127.0.0.1:{_free_port()}")  # nobody listens there
        layout = agent.get_params()
        metrics = MetaLinkMetrics(registry)
        link = open_meta_link(settings, "du-0", {}, layout=layout, metrics=metrics, options=OPTIONS)
        await link.start()
        assert link.status == "degraded"
        assert await link.initial(0.3) is None and link.latest_version() is None
        assert not await link.contribute(agent)
        assert _count(registry, "du-0", "no_meta_init") == 1
        assert link.status == "degraded"
        await link.close()

    asyncio.run(main())


def test_off_without_an_address_and_file_errors_name_the_setting(tmp_path: object) -> None:
    off = open_meta_link(MetaSettings(), "du-0", {}, layout={"w": torch.zeros(2)})
    assert isinstance(off, NoMeta) and off.status == "off" and off.latest_version() is None
    assert asyncio.run(off.initial(0.1)) is None and not asyncio.run(off.contribute(tiny_agent(0)))
    missing = MetaSettings(address="127.0.0.1:1", tls=True, ca_file="/nonexistent/ca.pem")
    with pytest.raises(ValueError, match=r"^meta\.ca_file: cannot read"):
        open_meta_link(missing, "du-0", {}, layout={"w": torch.zeros(2)})
