"""DDPG: paper network shapes, soft updates, functional losses, and learning a toy task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.agent.conftest import tiny_ddpg
from xapps.agent import DDPG, DDPGConfig, actor_loss, critic_loss, soft_update


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_default_config_is_the_papers_networks() -> None:
    agent = DDPG(12, 3)
    assert _linear_shapes(agent.actor) == [(12, 256), (256, 512), (512, 512), (512, 3)]
    assert _linear_shapes(agent.critic) == [(15, 256), (256, 512), (512, 512), (512, 1)]
    assert sum(isinstance(m, nn.Tanh) for m in agent.critic.modules()) == 3
    cfg = agent.config
    assert (cfg.actor_lr, cfg.critic_lr, cfg.gamma, cfg.batch_size) == (1e-4, 1e-3, 0.99, 128)
    assert agent.actor_optimizer.defaults["fused"] is True


def test_soft_update_is_polyak_averaging() -> None:
    torch.manual_seed(0)
    source, target = nn.Linear(4, 3), nn.Linear(4, 3)
    before = [p.detach().clone() for p in target.parameters()]
    soft_update(target, source, 0.3)
    for t, s, b in zip(target.parameters(), source.parameters(), before, strict=True):
        torch.testing.assert_close(t, 0.3 * s + 0.7 * b, rtol=0, atol=1e-7)
    soft_update(target, source, 1.0)
    assert all(torch.equal(t, s) for t, s in zip(target.parameters(), source.parameters(), strict=True))


def test_update_moves_targets_by_tau() -> None:
    agent = DDPG(3, 2, tiny_ddpg(tau=0.25), seed=1)
    for _ in range(8):
        agent.store(np.ones(3), np.zeros(2), 1.0, np.ones(3), False)
    old_target = [p.clone() for p in agent.actor_target.parameters()]
    agent.update()
    for t, s, b in zip(agent.actor_target.parameters(), agent.actor.parameters(), old_target, strict=True):
        torch.testing.assert_close(t, 0.25 * s + 0.75 * b, rtol=0, atol=1e-7)


def test_same_seed_same_agent_and_global_rng_untouched() -> None:
    state = torch.random.get_rng_state()
    a, b = DDPG(4, 2, tiny_ddpg(), seed=5), DDPG(4, 2, tiny_ddpg(), seed=5)
    obs = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(a.act(obs, explore=True), b.act(obs, explore=True))
    assert torch.equal(state, torch.random.get_rng_state())
    c = DDPG(4, 2, tiny_ddpg(), seed=6)
    assert not torch.equal(a.actor[0].weight, c.actor[0].weight)


def _filled(seed: int = 0, masked: bool = False) -> DDPG:
    agent = DDPG(3, 2, tiny_ddpg(), seed=seed, masked=masked)
    rng = np.random.default_rng(seed)
    for _ in range(16):
        agent.store(
            rng.normal(size=3), rng.uniform(-1, 1, 2), rng.normal(), rng.normal(size=3), False,
            *((rng.random(2) < 0.5, rng.random(2) < 0.5) if masked else ()),
        )  # fmt: skip
    return agent


def test_functional_losses_match_module_calls_and_autograd() -> None:
    agent = _filled()
    batch = agent.sample()
    params = agent.get_params()
    direct = agent.critic_loss(batch)
    functional = critic_loss(agent.nets, batch, agent.config.gamma, params)
    torch.testing.assert_close(functional.loss, direct.loss)
    torch.testing.assert_close(actor_loss(agent.nets, batch, params), agent.actor_loss(batch))

    critic_params = {k: v for k, v in params.items() if k.startswith("critic.")}
    grads = torch.func.grad(lambda p: critic_loss(agent.nets, batch, agent.config.gamma, p).loss)(
        critic_params
    )
    reference = agent.query_gradients(batch)
    for name, g in grads.items():
        torch.testing.assert_close(g, reference[name])
    assert set(reference) == set(agent.parameters_dict())


def test_functional_loss_evaluates_at_the_given_parameters() -> None:
    agent, other = _filled(seed=0), _filled(seed=1)
    batch = agent.sample()
    at_other = {k: v for k, v in other.get_params().items() if k.startswith("actor.")}
    swapped = DDPG(3, 2, tiny_ddpg(), seed=0)
    swapped.critic.load_state_dict(agent.critic.state_dict())
    swapped.actor.load_state_dict(other.actor.state_dict())
    torch.testing.assert_close(actor_loss(agent.nets, batch, at_other), actor_loss(swapped.nets, batch))
    assert not torch.allclose(actor_loss(agent.nets, batch, at_other), agent.actor_loss(batch))


def test_update_metrics_and_policy_frequency() -> None:
    agent = DDPG(3, 2, tiny_ddpg(policy_frequency=2), seed=0)
    assert agent.update() is None  # nothing stored yet
    for _ in range(8):
        agent.store(np.zeros(3), np.zeros(2), 0.5, np.zeros(3), True)
    first, second = agent.update(), agent.update()
    assert first is not None and second is not None
    assert first.actor_loss is not None and second.actor_loss is None
    assert first.td_errors.shape == (8,)
    assert first.q_min <= first.q_mean <= first.q_max
    assert agent.td_variance().count == 16
    assert "td_error_var" in first.scalars()


def _bandit_target(s: np.ndarray) -> np.ndarray:
    return 0.5 * s[..., :1] - 0.3 * s[..., 1:2]


def test_ddpg_learns_a_contextual_bandit_far_better_than_chance() -> None:
    """One-step task, reward −(a − t(s))² with t(s) = 0.5·s₀ − 0.3·s₁, s ~ U[-1, 1]².

    Random actions score E[(a − t)²] = 1/3 + Var t ≈ 0.447; the best state-blind policy (a = 0)
    scores Var t = (0.25 + 0.09)/3 ≈ 0.113. We require a mean squared error below 5 % of
    Var t: only a policy that has learned the dependence on s gets there.
    """
    cfg = DDPGConfig(
        hidden_sizes=(64, 64), actor_lr=1e-3, critic_lr=2e-3, gamma=0.0, batch_size=64,
        learning_starts=64, buffer_size=4096, noise_sigma=0.3,
    )  # fmt: skip
    agent = DDPG(2, 1, cfg, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(1000):
        s = rng.uniform(-1, 1, 2).astype(np.float32)
        a = agent.act(s, explore=True)
        agent.store(s, a, float(-((a - _bandit_target(s)) ** 2).sum()), s, True)
        agent.update()
    test_s = rng.uniform(-1, 1, (1000, 2)).astype(np.float32)
    with torch.no_grad():
        a = agent.actor(torch.from_numpy(test_s)).numpy()
    mse = float(((a - _bandit_target(test_s)) ** 2).mean())
    var_t = float(_bandit_target(test_s).var())
    random_mse = float(((rng.uniform(-1, 1, (1000, 1)) - _bandit_target(test_s)) ** 2).mean())
    assert mse < 0.05 * var_t, (mse, var_t, random_mse)
    assert random_mse > 10 * mse


def test_bad_inputs_are_rejected() -> None:
    agent = DDPG(3, 2, tiny_ddpg())
    with pytest.raises(ValueError, match="observation shape"):
        agent.act(np.zeros(4), explore=False)
    with pytest.raises(ValueError, match="mask shape"):
        agent.act(np.zeros(3), explore=False, mask=np.ones(3, bool))
    with pytest.raises(ValueError):
        DDPGConfig(tau=0.0)
