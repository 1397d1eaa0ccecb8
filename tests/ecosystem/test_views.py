"""The Gymnasium and PettingZoo views: the ecosystem's own checkers, equivalence with the core env,
seeding, truncation, interference and settings errors."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test
from pettingzoo.utils.conversions import parallel_to_aec

import metahrl_gym
from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from e2sim.policies import make_baseline
from metahrl_gym.parallel import SliceSplitParallelEnv
from metahrl_gym.settings import SettingsError
from metahrl_gym.slice_schedule import SliceScheduleEnv
from metahrl_gym.slice_split import SliceSplitEnv
from slicing.mdp import shares_to_action
from tests.ecosystem.conftest import tiny_env, tiny_scenario

pytestmark = pytest.mark.filterwarnings("ignore:.*maximum value is infinity.*")


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_slice_split_passes_gymnasium_check_env(render_mode: str) -> None:
    env = gym.make("metahrl/SliceSplit-v0", render_mode=render_mode, scenario=tiny_scenario(), env=tiny_env())
    check_env(env.unwrapped)
    env.reset(seed=3)
    env.step(env.action_space.sample())
    frame = env.render()
    if render_mode == "ansi":
        assert isinstance(frame, str) and "embb share" in frame and "DU 0" in frame
    else:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.shape[2] == 3
        assert (frame != 255).any()  # bars were drawn


def test_slice_schedule_passes_gymnasium_check_env() -> None:
    env = gym.make("metahrl/SliceSchedule-v0", render_mode="ansi", scenario=tiny_scenario(), env=tiny_env())
    check_env(env.unwrapped)
    u = env.unwrapped
    assert isinstance(u, SliceScheduleEnv)
    assert env.observation_space.shape == (5 + 5 * u.ue_slots,)
    assert env.action_space.shape == (u.ue_slots,)


def test_parallel_env_passes_pettingzoo_api_and_seed_tests() -> None:
    def make() -> SliceSplitParallelEnv:
        return SliceSplitParallelEnv(scenario=tiny_scenario(), env=tiny_env())

    parallel_api_test(make(), num_cycles=25)
    parallel_seed_test(make, num_cycles=25)
    api_test(parallel_to_aec(make()), num_cycles=25)  # and as an AEC env, through PettingZoo's converter


def test_module_prefix_makes_without_importing_first() -> None:
    env = gym.make("metahrl_gym:metahrl/SliceSplit-v0", scenario=tiny_scenario(), env=tiny_env())
    assert env.spec is not None and env.spec.id == "metahrl/SliceSplit-v0"
    assert set(metahrl_gym.ENV_IDS) <= set(gym.registry)


def test_split_view_is_the_core_env_under_the_same_policy() -> None:
    """Equal split with PF on every DU through the view = the `equal-pf` baseline on the core env,
    window by window (same seed): the view adds no dynamics of its own."""
    sc, steps = tiny_scenario(), 40
    cfg = EnvConfig.model_validate({**tiny_env(steps), "low_action": "share"})
    env = SliceSplitEnv(scenario=sc, env=tiny_env(steps), du=1, others="equal", low="pf")
    env.reset(seed=5)
    equal = shares_to_action(np.full(3, 1.0 / 3.0)).astype(np.float32)
    rewards, truncated = [], False
    while not truncated:
        _, r, terminated, truncated, _ = env.step(equal)
        assert terminated is False
        rewards.append(r)
    assert len(rewards) == steps // 4
    core = HierarchicalSlicingEnv(sc, cfg)
    obs, _ = core.reset(5)
    policy = make_baseline("equal-pf", core)
    want = []
    for _ in range(steps):
        obs, rew, _, _, _ = core.step(policy.act(obs))
        if rew.high_valid:
            want.append(float(rew.high[1]))
    np.testing.assert_allclose(rewards, want, rtol=0, atol=1e-12)


def test_same_seed_same_trajectory_and_truncation_at_the_episode_end() -> None:
    def rollout(seed: int) -> list[float]:
        env = SliceSplitEnv(scenario=tiny_scenario(), env=tiny_env(24), others="random")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [float(obs.sum())]
        for i in range(6):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            assert not term and trunc == (i == 5)
            out += [r, float(obs.sum())]
        return out

    assert rollout(11) == rollout(11)
    assert rollout(11) != rollout(12)


def test_other_dus_interfere_with_the_learners_du() -> None:
    """Same seed and same actions on DU 0; only the other DU's split differs → DU 0 sees other
    QoS/throughput, because the other DU is really simulated next to it."""

    def du0_obs(others: str) -> np.ndarray:
        env = SliceSplitEnv(scenario=tiny_scenario(), env=tiny_env(40), others=others)
        env.reset(seed=2)
        a = shares_to_action(np.array([0.5, 0.25, 0.25])).astype(np.float32)
        return np.stack([env.step(a)[0] for _ in range(10)])

    assert not np.array_equal(du0_obs("equal"), du0_obs("static"))


def test_schedule_view_reward_and_mask_are_the_slice_agents() -> None:
    env = SliceScheduleEnv(scenario=tiny_scenario(), env=tiny_env(40), du=1, slice="embb")
    obs, info = env.reset(seed=4)
    u = env.ue_slots
    present = obs[5 : 5 + u]
    np.testing.assert_array_equal(present > 0.5, info["ue_mask"])
    assert info["ue_mask"].sum() == 3  # the 3 eMBB UEs of DU 1
    rewards = [env.step(np.zeros(u, np.float32))[1] for _ in range(8)]
    assert all(-1.0 < r < 1.0 for r in rewards)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"du": 5}, "du"),
        ({"env": {"episode_steps": 10, "high_period_steps": 4}}, "<root>"),
        ({"others": "best"}, "others"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_settings_errors_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError, match=f"field '{field}'"):
        SliceSplitEnv(scenario=tiny_scenario(), **kwargs)


def test_observations_stay_inside_the_declared_space() -> None:
    env = SliceScheduleEnv(scenario=tiny_scenario(), env=tiny_env(200), split="random")
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(200):
        assert env.observation_space.contains(obs)
        obs, *_ = env.step(env.action_space.sample())
