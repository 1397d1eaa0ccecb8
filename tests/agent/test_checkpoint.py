"""Checkpoints: bit-exact resume, round trips through a file, clear errors on bad state dicts."""

from __future__ import annotations

import io
from dataclasses import astuple
from typing import Any

import numpy as np
import pytest
import torch

from tests.agent.conftest import drive, tiny_config, tiny_ddpg, toy_obs
from xapps.agent import (
    AgentPool,
    CheckpointError,
    HierarchicalAgent,
    load_checkpoint_file,
    save_checkpoint_file,
)

N, K = 60, 29  # K mid-episode and mid-window, after the low-level buffers have wrapped


def _assert_equal(x: Any, y: Any, where: str) -> None:
    """Recursive exact equality of nested dicts/lists of tensors and scalars."""
    if isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for k in x:
            _assert_equal(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, list | tuple):
        assert len(x) == len(y), where
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            _assert_equal(a, b, f"{where}[{i}]")
    elif isinstance(x, torch.Tensor):
        assert torch.equal(x, y), where
    else:
        assert x == y, where


def _assert_same_agent(a: HierarchicalAgent, b: HierarchicalAgent) -> None:
    targets = b.networks(include_targets=True)
    for name, module in a.networks(include_targets=True).items():
        _assert_equal(module.state_dict(), targets[name].state_dict(), name)
    for name, learner in a.agents().items():
        other = b.agents()[name]
        for field in ("obs", "action", "reward", "next_obs", "done"):
            assert torch.equal(getattr(learner.replay, field), getattr(other.replay, field))
        for opt in ("actor_optimizer", "critic_optimizer"):
            _assert_equal(getattr(learner, opt).state_dict(), getattr(other, opt).state_dict(), opt)
        np.testing.assert_equal(astuple(learner.td_variance()), astuple(other.td_variance()))


def test_resume_is_bit_exact() -> None:
    uninterrupted = HierarchicalAgent(tiny_config(), seed=0)
    actions = drive(uninterrupted, range(N))

    first = HierarchicalAgent(tiny_config(), seed=0)
    drive(first, range(K))
    assert len(first.low[0].replay) == 24 and first.low[0].replay.pos != 0  # wrapped
    buffer = io.BytesIO()
    save_checkpoint_file(first.state_dict(), buffer)
    del first
    buffer.seek(0)
    resumed = HierarchicalAgent(tiny_config(), seed=12345)  # different init: state must win
    resumed.load_state_dict(load_checkpoint_file(buffer))
    resumed_actions = drive(resumed, range(K, N))

    for a, b in zip(actions[K:], resumed_actions, strict=True):
        assert (a.slice_shares == b.slice_shares).all() and (a.ue_action == b.ue_action).all()
    _assert_same_agent(uninterrupted, resumed)
    x, y = uninterrupted.act(toy_obs(N)), resumed.act(toy_obs(N))  # noise state too
    assert (x.ue_action == y.ue_action).all()


def test_state_dict_is_a_snapshot() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    drive(agent, range(20))
    sd = agent.state_dict()
    weight = sd["agents"]["low.0"]["networks"]["actor"]["0.weight"].clone()
    drive(agent, range(20, 30))
    assert torch.equal(sd["agents"]["low.0"]["networks"]["actor"]["0.weight"], weight)


def _checkpoint() -> dict:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    drive(agent, range(20))
    return agent.state_dict()


def test_mismatched_config_is_named() -> None:
    sd = _checkpoint()
    with pytest.raises(CheckpointError, match=r"agent\.config\.obs_low_dim: checkpoint 7 vs"):
        HierarchicalAgent(tiny_config(obs_low_dim=8)).load_state_dict(sd)
    with pytest.raises(CheckpointError, match=r"agent\.config\.low\.hidden_sizes"):
        HierarchicalAgent(tiny_config(low=tiny_ddpg(hidden_sizes=(16, 32)))).load_state_dict(sd)


def test_corrupt_entries_are_named_and_leave_the_agent_unchanged() -> None:
    sd = _checkpoint()
    target = HierarchicalAgent(tiny_config(), seed=3)
    before = target.get_params()

    bad = torch.zeros(16, 9)
    sd["agents"]["low.1"]["networks"]["critic"]["0.weight"] = bad
    with pytest.raises(CheckpointError, match=r"low\.1\.networks\.critic\.0\.weight: shape"):
        target.load_state_dict(sd)

    sd = _checkpoint()
    del sd["agents"]["high"]["optimizers"]["actor"]["param_groups"]
    with pytest.raises(CheckpointError, match=r"high\.optimizers\.actor: missing \['param_groups'\]"):
        target.load_state_dict(sd)

    sd = _checkpoint()
    sd["agents"]["low.2"]["replay"]["data"]["reward"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"low\.2\.replay\.data\.reward: shape"):
        target.load_state_dict(sd)

    sd = _checkpoint()
    sd["agents"]["low.0"]["networks"]["actor"]["0.weight"] = torch.zeros(16, 7)  # valid...
    sd["agents"]["low.0"]["noise"] = "garbage"  # ...but a later entry is corrupt
    with pytest.raises(CheckpointError, match=r"low\.0\.noise: expected a mapping"):
        target.load_state_dict(sd)
    for name, p in target.get_params().items():
        assert torch.equal(p, before[name]), name

    with pytest.raises(CheckpointError, match="format"):
        target.load_state_dict(_checkpoint() | {"format": "something/else"})
    with pytest.raises(CheckpointError, match=r"missing \['agents'\]"):
        target.load_state_dict({k: v for k, v in _checkpoint().items() if k != "agents"})


def test_unreadable_file_and_pool_size_mismatch() -> None:
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint_file(io.BytesIO(b"not a checkpoint"))
    pool = AgentPool.create(tiny_config(), n_dus=2)
    with pytest.raises(CheckpointError, match=r"pool\.agents: 1 agents in checkpoint vs 2"):
        pool.load_state_dict(pool.state_dict() | {"agents": [pool[0].state_dict()]})
    copy = AgentPool.create(tiny_config(), n_dus=2, seed=9)
    copy.load_state_dict(pool.state_dict())
    _assert_same_agent(copy[1], pool[1])
