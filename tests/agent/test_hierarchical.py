"""Hierarchical agent: two time scales, high-window bookkeeping, masking, parameter access."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.agent.conftest import (
    EPISODE,
    OBS_HIGH,
    OBS_LOW,
    PERIOD,
    L,
    U,
    drive,
    tiny_config,
    toy_obs,
    toy_step,
)
from xapps.agent import (
    MASK_FILL,
    AgentPool,
    AgentStateError,
    HierarchicalAgent,
    Observation,
    Transition,
    TwoTimeScaleClock,
)


def test_high_action_is_held_between_decisions() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    actions = [toy_step(agent, t, update=False) for t in range(EPISODE)]
    for t, action in enumerate(actions):
        assert action.slice_shares.shape == (L,) and action.ue_action.shape == (L, U)
        assert np.all(np.abs(action.ue_action) <= 1.0)
        decision = t - t % PERIOD
        np.testing.assert_array_equal(action.slice_shares, actions[decision].slice_shares)
    assert not np.array_equal(actions[0].slice_shares, actions[PERIOD].slice_shares)


def test_high_transition_spans_the_window() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    actions = [toy_step(agent, t, update=False) for t in range(EPISODE)]
    # windows start at 0, 3, 6; the last is cut by truncation after step 7
    replay = agent.high.replay
    assert len(replay) == 3 and all(len(a.replay) == EPISODE for a in agent.low)
    for row, (start, next_start) in enumerate([(0, 3), (3, 6), (6, 8)]):
        np.testing.assert_array_equal(replay.obs[row].numpy(), toy_obs(start).high)
        np.testing.assert_array_equal(replay.action[row].numpy(), actions[start].slice_shares)
        np.testing.assert_array_equal(replay.next_obs[row].numpy(), toy_obs(next_start).high)
        assert replay.reward[row].item() == pytest.approx(-np.sum(actions[start].slice_shares ** 2))
    assert replay.done[:3].tolist() == [0.0, 0.0, 0.0]  # truncation bootstraps


def test_clock_produces_the_schedule() -> None:
    clock, due = TwoTimeScaleClock(period=10), []
    for _ in range(25):
        due.append(clock.high_due)
        clock.tick()
    assert [i for i, d in enumerate(due) if d] == [0, 10, 20]
    clock.reset()
    assert clock.high_due


def _obs(high_due: bool, mask: np.ndarray | None = None) -> Observation:
    return Observation(
        high=np.zeros(OBS_HIGH, np.float32),
        low=np.zeros((L, OBS_LOW), np.float32),
        ue_mask=np.ones((L, U), bool) if mask is None else mask,
        high_due=high_due,
    )


def test_out_of_order_use_is_an_error() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    with pytest.raises(AgentStateError, match="has not acted"):
        agent.act(_obs(False), explore=False)
    with pytest.raises(ValueError, match=r"observation\.low: shape"):
        agent.act(Observation(np.zeros(OBS_HIGH), np.zeros((L, 3)), np.ones((L, U), bool), True))
    action = agent.act(_obs(True), explore=False)
    tr = Transition(_obs(True), action, np.zeros(L, np.float32), _obs(True), reward_high=None)
    with pytest.raises(AgentStateError, match="reward_high is required"):
        agent.observe(tr)


def test_masked_slots_are_ignored() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    mask = np.ones((L, U), bool)
    mask[:, 1] = False
    action = agent.act(_obs(True, mask), explore=True)
    assert np.all(action.ue_action[:, 1] == MASK_FILL)

    learner = agent.low[0]
    drive(agent, range(20))
    batch = learner.sample()
    batch_mask = torch.ones_like(batch.action, dtype=torch.bool)
    batch_mask[:, 1] = False
    batch = type(batch)(**{**batch.__dict__, "mask": batch_mask, "next_mask": batch_mask})
    garbage = batch.action.clone()
    garbage[:, 1] = torch.randn(garbage.shape[0]) * 100
    altered = type(batch)(**{**batch.__dict__, "action": garbage})
    assert torch.equal(learner.critic_loss(batch).loss, learner.critic_loss(altered).loss)

    pi_loss = learner.actor_loss(batch)
    last = learner.actor[-2]
    w_grad, b_grad = torch.autograd.grad(pi_loss, [last.weight, last.bias])
    assert torch.all(w_grad[1] == 0) and b_grad[1] == 0  # no gradient to the masked output
    assert torch.any(w_grad[0] != 0)


def test_update_reports_per_learner_metrics_and_td_variance() -> None:
    agent = HierarchicalAgent(tiny_config(high_update_every=2), seed=0)
    drive(agent, range(40))
    metrics = agent.update()
    assert set(metrics) <= {"high", "low.0", "low.1", "low.2"}
    assert {"low.0", "low.1", "low.2"} <= set(metrics)
    td = agent.td_variance()
    assert set(td) == {"high", "low.0", "low.1", "low.2"}
    assert td["low.0"].count > 0 and td["low.0"].window_count == 20
    assert td["high"].count > 0 and np.isfinite(td["high"].windowed)


def test_networks_params_and_query_gradients() -> None:
    agent, other = HierarchicalAgent(tiny_config(), seed=0), HierarchicalAgent(tiny_config(), seed=1)
    assert set(agent.networks()) == {
        f"{n}.{k}" for n in ("high", "low.0", "low.1", "low.2") for k in ("actor", "critic")
    }
    assert len(agent.networks(include_targets=True)) == 16
    names = set(agent.parameters_dict())
    assert "low.1.critic.0.weight" in names and "high.actor.4.bias" in names
    agent.set_params(other.get_params())
    for name, p in agent.parameters_dict().items():
        assert torch.equal(p, other.parameters_dict()[name])
    assert torch.equal(agent.low[2].critic_target[0].weight, other.low[2].critic[0].weight)
    with pytest.raises(ValueError, match="missing"):
        agent.set_params({})

    drive(agent, range(40))
    grads = agent.query_gradients()
    assert set(grads) == names  # every learner is ready after 40 steps
    for name, g in grads.items():
        assert g.shape == agent.parameters_dict()[name].shape


def test_pool_acts_and_observes_on_batched_arrays() -> None:
    pool = AgentPool.create(tiny_config(), n_dus=2, seed=0)
    obs = [toy_obs(0), toy_obs(100)]
    batched = Observation(
        high=np.stack([o.high for o in obs]),
        low=np.stack([o.low for o in obs]),
        ue_mask=np.stack([o.ue_mask for o in obs]),
        high_due=True,
    )
    action = pool.act(batched)
    assert action.slice_shares.shape == (2, L) and action.ue_action.shape == (2, L, U)
    assert not np.array_equal(action.slice_shares[0], action.slice_shares[1])
    pool.observe(Transition(batched, action, np.zeros((2, L), np.float32), batched, np.ones(2, np.float32)))
    assert [len(a.high.replay) for a in pool] == [1, 1]
    assert pool[1].high.replay.reward[0].item() == 1.0
    assert len(pool.update()) == 2


def test_functional_loss_gradient_equals_query_gradients() -> None:
    """`torch.func.grad(agent.loss)` — what meta-learning differentiates — gives each critic its
    TD-loss gradient and each actor its policy-loss gradient, as the learners' updates use."""
    agent = HierarchicalAgent(tiny_config(), seed=0)
    drive(agent, range(40))
    batches = agent.sample_batches()
    reference = agent.query_gradients(batches)
    grads = torch.func.grad(agent.loss)(agent.get_params(), batches)
    assert set(grads) == set(reference)
    for name, g in grads.items():
        torch.testing.assert_close(g, reference[name], rtol=1e-5, atol=1e-7)
    shifted = {k: v + 0.01 for k, v in agent.get_params().items()}
    assert not torch.allclose(agent.loss(shifted, batches), agent.loss(agent.get_params(), batches))


def test_partial_window_without_reward_is_dropped_at_episode_end() -> None:
    agent = HierarchicalAgent(tiny_config(), seed=0)
    action = agent.act(_obs(True), explore=False)
    reward_low = np.zeros(L, np.float32)
    agent.observe(Transition(_obs(True), action, reward_low, _obs(False)))
    agent.observe(Transition(_obs(False), action, reward_low, _obs(False), truncated=True))
    assert len(agent.high.replay) == 0 and len(agent.low[0].replay) == 2
    with pytest.raises(AgentStateError, match="has not acted"):  # new episode: high acts first
        agent.act(_obs(False), explore=False)
