"""Checkpoints: a DU xApp learning online saves its agents (disk and a real Redis SDL) and a
restarted one resumes from them; the TD-error variance and learner version reach the metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from e2sim.core import Simulator
from e2sim.e2node import E2SimConfig, E2SimNodes
from metahrl.xapp_setup import XappBundle, build_service
from ric.sdl import open_sdl
from tests.xapp_du.helpers import SMALL, small_scenario
from xapps.service.settings import XappSettings


def _settings(tmp: Path) -> XappSettings:
    return XappSettings.model_validate(
        {
            "scenario": str(SMALL),
            "agent": "tiny",
            "e2": {"listen_port": 0},
            "learning": {"mode": "online", "explore": True, "snapshot_every_updates": 20},
            "state": {
                "checkpoint_dir": str(tmp),
                "sdl": "redis://127.0.0.1:6379/0",
                "sdl_namespace": "t-xapp",
            },
        }
    )


def _run(bundle: XappBundle, steps: int) -> None:
    async def main() -> None:
        service = bundle.service
        await service.start()
        port = service.e2.port  # type: ignore[attr-defined]
        nodes = E2SimNodes(
            Simulator(small_scenario()), E2SimConfig(ric_port=port, lockstep=True, duration_s=steps * 1e-2)
        )
        try:
            await asyncio.wait_for(nodes.run(), 300)
            for rt in service.dus.values():
                assert rt.learner is not None and await asyncio.to_thread(rt.learner.drain, 120.0)
        finally:
            await service.close()

    asyncio.run(main())


def _actor_params(bundle: XappBundle, du: int) -> dict[str, torch.Tensor]:
    learner = bundle.service.dus[du].learner
    assert learner is not None
    return {k: v for k, v in learner.agent.get_params().items() if ".actor." in f".{k}"}


def test_a_restarted_xapp_resumes_from_its_checkpoints(tmp_path: Path) -> None:
    try:
        sdl = open_sdl("redis://127.0.0.1:6379/0")
        sdl.ping()
    except Exception as exc:  # the test's real Redis is what CI starts
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    sdl.delete("t-xapp", sdl.keys("t-xapp"))  # a previous run's checkpoints
    first = build_service(_settings(tmp_path))
    _run(first, steps=200)
    learner = first.service.dus[0].learner
    assert learner is not None and learner.updates > 50
    registry = first.registry
    assert registry.get_sample_value("metahrl_du_learner_version", {"du": "0"}) >= 2
    assert registry.get_sample_value("metahrl_du_td_error_variance", {"du": "0", "level": "embb"}) >= 0.0
    saved = _actor_params(first, 0)
    assert list(tmp_path.iterdir()), "no checkpoint on disk"

    again = build_service(_settings(tmp_path))
    resumed = _actor_params(again, 0)
    assert all(torch.equal(resumed[k], saved[k]) for k in saved)
    actor = again.service.dus[0].actor.agent
    assert all(torch.equal(p, saved[k]) for k, p in actor.get_params().items() if k in saved)
    fresh = XappSettings.model_validate(
        {**_settings(tmp_path).model_dump(mode="json"), "state": {"sdl": "memory"}}
    )
    other = build_service(fresh)
    assert not all(torch.equal(_actor_params(other, 0)[k], saved[k]) for k in saved)  # resumption did it
