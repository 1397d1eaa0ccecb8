"""Assemble a DU xApp from its settings: tasks, agents, E2 access, state, metrics.

The glue between the xApp (``xapps``, which knows nothing of the simulator) and the project's
scenario and training files: the DU tasks come from a scenario file (``e2sim.du_tasks``), a
scratch agent's sizes from a training config, an ``--init`` checkpoint from ``metahrl train``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from e2sim.config import ScenarioConfig
from e2sim.du_tasks import du_tasks
from e2sim.env import HierarchicalSlicingEnv
from e2sim.scenario import load_scenario
from experiments.checkpoint import load_training_checkpoint
from experiments.config import TrainConfig, load_train_config
from experiments.train import agent_config_for
from ric.e2sm_common import preload_service_models
from ric.server import RicConfig
from ric.transport import TransportConfig, TransportKind
from slicing import MdpConfig
from slicing.task import DuTask
from xapps.agent import AgentPool, CheckpointError, HierarchicalAgent, HierarchicalConfig
from xapps.du.learner import actor_weights, load_actor_weights
from xapps.du.meta_link import MetaLinkMetrics, open_meta_link
from xapps.du.service import XappService
from xapps.e2access.base import E2Access
from xapps.e2access.direct import DirectE2
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappSettings
from xapps.service.state import CheckpointStore

__all__ = ["XappBundle", "build_service", "freeze_gc", "make_e2"]

_log = logging.getLogger("metahrl.xapp")


@dataclass
class XappBundle:
    service: XappService
    registry: CollectorRegistry
    sdl: Any
    init: str  # what each DU started from


def _scenario(settings: XappSettings) -> ScenarioConfig:
    return load_scenario(settings.scenario)


def _selected(settings: XappSettings, tasks: list[DuTask]) -> list[DuTask]:
    if settings.du == "all":
        return tasks
    bad = [d for d in settings.du if d >= len(tasks)]
    if bad:
        raise ValueError(f"du: DUs {bad} are not in the scenario ({len(tasks)} DUs)")
    return [tasks[d] for d in settings.du]


def _pool_from_checkpoint(path: Path, n_du: int) -> tuple[AgentPool, dict[str, Any]]:
    """The agents of a ``metahrl train`` checkpoint; any defect is a `CheckpointError` naming it."""
    try:
        state = load_training_checkpoint(path)
        meta = state["meta"]
        cfg = HierarchicalConfig.model_validate(meta["agent"])
        pool = AgentPool.create(cfg, len(state["pool"]["agents"]))
    except (CheckpointError, KeyError, TypeError, ValueError) as exc:  # pydantic's errors are ValueErrors
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(
            f"init: {what}" if str(path) in what else f"init: checkpoint {path}: {what}"
        ) from None
    if len(pool) != n_du:
        raise ValueError(f"init: checkpoint {path} holds {len(pool)} DU agents, the scenario has {n_du} DUs")
    try:
        pool.load_state_dict(state["pool"])
    except CheckpointError as exc:
        raise CheckpointError(f"init: checkpoint {path}: {exc}") from None
    return pool, meta


def _train_config(settings: XappSettings) -> TrainConfig:
    return load_train_config(settings.agent)


def make_e2(settings: XappSettings, sdl: Any) -> E2Access:
    """The E2 access the settings ask for (osc: its notification router is ``e2.router``)."""
    e2 = settings.e2
    if e2.mode == "direct":
        transport = TransportConfig(kind=TransportKind(e2.transport))
        return DirectE2(e2.listen_host, e2.listen_port, RicConfig(transport=transport))
    from ric.sdl import MemorySdl
    from xapps.e2access.osc import OscE2, OscE2Settings  # needs librmr: imported in osc mode only

    osc = OscE2Settings(
        rmr_port=e2.rmr_port,
        submgr_url=e2.submgr_url,
        e2mgr_url=e2.e2mgr_url,
        client_host=e2.http_callback_host or settings.name,
        http_port=settings.http.port,
        control_timeout_s=settings.control.control_timeout_s,
        instance=settings.name,  # prefixes the SubscriptionIds kept in the SDL
        sdl_namespace=f"{settings.state.sdl_namespace}-osc",  # beside the xApp's own keys
    )
    return OscE2(osc, sdl if sdl is not None else MemorySdl())


def build_service(
    settings: XappSettings,
    *,
    e2: E2Access | None = None,
    registry: CollectorRegistry | None = None,
    sdl: Any = None,
) -> XappBundle:
    """The service for ``settings`` (not started)."""
    scenario = _scenario(settings)
    tasks = du_tasks(scenario)
    served = _selected(settings, tasks)
    train = _train_config(settings)
    env = HierarchicalSlicingEnv(scenario, train.env)
    if settings.init_kind == "checkpoint":
        pool, _ = _pool_from_checkpoint(Path(settings.init), scenario.n_du)
        init = f"checkpoint {settings.init}"
    else:
        pool = AgentPool.create(agent_config_for(env, train), scenario.n_du, seed=settings.seed)
        init = settings.init_kind
    ue_slots = settings.control.ue_slots or pool[0].config.max_ues
    if ue_slots != pool[0].config.max_ues:
        raise ValueError(
            f"control.ue_slots: {ue_slots}, but the agents have {pool[0].config.max_ues} UE slots"
        )
    mdp = MdpConfig(
        ue_slots=ue_slots,
        high_period_steps=settings.control.high_period_steps,
        kover_scale=train.env.kover_scale,
    )
    if mdp.obs_low_dim != pool[0].config.obs_low_dim:
        raise ValueError("the agents' observation size does not match the MDP's (ue_slots)")
    registry = registry or CollectorRegistry()
    metrics = XappMetrics(registry)
    if sdl is None and settings.state.sdl != "memory":
        from ric.sdl import open_sdl

        sdl = open_sdl(settings.state.sdl)
    store = None
    if settings.state.checkpoint_dir is not None or sdl is not None:
        store = CheckpointStore(
            settings.state.checkpoint_dir, sdl, settings.state.sdl_namespace, metrics=metrics
        )
    agents = {t.du: pool[t.du] for t in served}
    if store is not None:
        _resume(store, agents)
    actors = _actors(settings, agents)
    link_metrics = MetaLinkMetrics(registry)
    links = {
        t.du: open_meta_link(
            settings.meta, f"du{t.du}", t.descriptor(), layout=agents[t.du].get_params(), metrics=link_metrics
        )
        for t in served
    }
    service = XappService(
        settings,
        served,
        agents,
        actors,
        mdp,
        e2 or make_e2(settings, sdl),
        metrics,
        checkpoints=store,
        sdl=sdl,
        low_reward_qos_weight=train.low_reward_qos_weight,
        meta_links=links,
    )
    return XappBundle(service, registry, sdl, init)


def _resume(store: CheckpointStore, agents: dict[int, HierarchicalAgent]) -> None:
    for du, agent in agents.items():
        loaded = store.load_latest(str(du))
        if loaded is None:
            continue
        state, meta = loaded
        agent.load_state_dict(state)
        _log.info("DU %d: resumed from checkpoint (%s)", du, meta)


def _actors(settings: XappSettings, agents: dict[int, HierarchicalAgent]) -> dict[int, HierarchicalAgent]:
    """The control loop's copies: the agents themselves when nothing learns, else fresh agents
    with the same actor weights (no replay buffers)."""
    if settings.learning.mode == "off":
        return agents
    out = {}
    for du, agent in agents.items():
        twin = HierarchicalAgent(agent.config, seed=settings.seed + 1000 + du)
        load_actor_weights(twin, actor_weights(agent))
        for name, ddpg in twin.agents().items():  # the same exploration schedule
            ddpg.num_explore_acts = agent.agents()[name].num_explore_acts
        out[du] = twin
    return out


async def freeze_gc() -> None:
    """Compile the E2SM codecs (in a worker thread), then move everything alive (agents,
    codecs) out of the cyclic GC's reach, as ``metahrl e2sim`` does. Call it once the service
    is built, before it starts: the per-decision garbage still triggers young collections, but
    the full ones no longer walk the whole heap (at 7 DUs they cost ~0.15 ms of CPU per
    decision, in pauses of tens of ms), and no first E2 Setup compiles the codecs on the loop."""
    await asyncio.to_thread(preload_service_models)
    gc.collect()
    gc.freeze()
