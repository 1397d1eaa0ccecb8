"""Issue 14's findings about the reproduction pipeline, one test each that would have caught it.

All on the micro preset's tiny scenarios (2 DUs, 16-unit networks, 10-step episodes), seeded;
the whole file runs in a few seconds on one core.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments.meta.adapt import MethodInit, adapt_agent_config, adapt_task
from experiments.meta.aggregate import Loaded, load_all
from experiments.meta.analysis import entropy, init_check, trained_vs_equal
from experiments.meta.envs import agent_config, initial_params, load_scenarios, make_env, make_pool
from experiments.meta.estimate import calibrate
from experiments.meta.evaluation import evaluate_episodes, evaluate_policy
from experiments.meta.headroom import shots_to_threshold, summarise_sweeps
from experiments.meta.metatrain import MetaLearner
from experiments.meta.preset import PresetError, ReproducePreset, load_preset, preset_from_dict
from experiments.meta.pretrain import mean_params, pretrain
from experiments.meta.report import label
from experiments.meta.rollout import collect_episode
from experiments.meta.runs import RunContext, RunSpec, execute_run, method_preset
from experiments.meta.sweep import FixedSplitPolicy, split_grid

MICRO = load_preset("micro")
SCENARIOS = load_scenarios(MICRO)


def _micro(**changes: object) -> ReproducePreset:
    """The micro preset with top-level changes (validated like a preset file)."""
    data = MICRO.model_dump(mode="json") | changes
    return preset_from_dict(data)


# ---- preset validation -------------------------------------------------------------------------


def test_a_learner_that_can_never_become_ready_is_refused_with_the_numbers() -> None:
    # micro's high level stores 1 transition per 10-step episode, so 5 shots hold 5 < 64
    with pytest.raises(PresetError) as err:
        _micro(
            adapt=MICRO.adapt.model_dump(mode="json") | {"shots": {"eval_shots": [0, 5], "batch_size": 64}}
        )
    text = str(err.value)
    assert "phase 3 (adaptation)" in text and "high level gets 1 transitions per shot × 5 shots" in text
    assert "needs 64" in text


def test_a_level_that_is_frozen_needs_no_data() -> None:
    shots = {"eval_shots": [0, 5], "batch_size": 64}
    data = {"frozen": ["high"], "adapt": MICRO.adapt.model_dump(mode="json") | {"shots": shots}}
    with pytest.raises(PresetError, match="low level"):  # the low level still needs 64 > 10 × 5
        _micro(**data)
    low = MICRO.low.model_dump(mode="json") | {"buffer_size": 500}
    ok = _micro(frozen=["high"], low=low)
    assert [b.level for b in ok.learning_budgets()] == ["low"] * len(ok.learning_budgets())


@pytest.mark.parametrize(
    "field",
    [
        {"adapt": {"converge_tolerance": 0.02}},
        {"meta": {"unknown_budget": 3}},
        {"sweep": {"grid": 3}},
        {"env": {"ue_slots": 8}},  # the preset's ue_slots sets it; a second value would be ignored
    ],
)
def test_fields_nothing_reads_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(PresetError):
        preset_from_dict(MICRO.model_dump(mode="json") | field)


def test_an_evaluation_warm_up_must_end_on_a_window_boundary() -> None:
    with pytest.raises(PresetError, match="eval_warmup_steps"):
        _micro(adapt=MICRO.adapt.model_dump(mode="json") | {"eval_warmup_steps": 5})


def test_the_pretrained_control_needs_meta_init_pretrain() -> None:
    with pytest.raises(PresetError, match="pretrained"):
        _micro(methods=["drl", "pretrained"])
    meta = MICRO.meta.model_dump(mode="json") | {"init": "pretrain"}
    preset = _micro(methods=["drl", "pretrained", "maml-adaptive"], meta=meta)
    assert preset.needs_pretrain("maml-adaptive") and preset.needs_pretrain("pretrained")
    assert not preset.needs_pretrain("drl")


def test_adaptation_uses_the_shot_minibatch() -> None:
    env = make_env(SCENARIOS.train, MICRO)
    cfg = adapt_agent_config(MICRO, env)
    assert cfg.high.batch_size == cfg.low.batch_size == MICRO.adapt.shots.batch_size == 4


# ---- meta-training -----------------------------------------------------------------------------


def _meta(preset: ReproducePreset, scheme: str = "softmin") -> tuple[MetaLearner, dict[str, torch.Tensor]]:
    config = agent_config(preset, make_env(SCENARIOS.train, preset))
    theta0 = initial_params(config, 0)
    return MetaLearner(SCENARIOS.train, preset, scheme, theta0, 0), theta0  # type: ignore[arg-type]


def test_query_sets_hold_only_the_current_iteration() -> None:
    learner, _ = _meta(MICRO)
    for _ in range(3):
        learner.iteration()
        for agent in learner.query:
            # one query episode of 10 steps: 10 slice transitions and 1 high-level window
            assert [len(a.replay) for a in agent.agents().values()] == [1, 10, 10, 10]


def test_adam_moments_restart_at_every_reset_to_theta_m() -> None:
    learner, _ = _meta(MICRO)
    steps = MICRO.meta.inner_steps
    for _ in range(3):
        learner.iteration()
        opt = learner.tasks[0].low[0].critic_optimizer
        counts = {float(st["step"]) for st in opt.state.values()}
        assert counts == {float(steps)}  # accumulated moments would count 2×, 3× inner_steps


def test_a_frozen_level_gets_no_updates_no_meta_gradient_and_no_td_statistics() -> None:
    frozen = _micro(frozen=["high"])
    learner, theta0 = _meta(frozen)
    theta = learner.run(3).theta
    for key, value in theta.items():
        same = torch.equal(value, theta0[key])
        assert same == key.startswith("high."), key
    for agent in learner.tasks:
        assert agent.high.num_updates == 0 and math.isnan(agent.td_variance()["high"].windowed)
    p1 = pretrain(SCENARIOS, frozen, 0)
    assert all(
        torch.equal(p[k], v) for p in p1.task_params for k, v in theta0.items() if k.startswith("high.")
    )


def test_mean_params_averages_the_phase_one_agents() -> None:
    a = {"w": torch.tensor([1.0, 2.0])}
    b = {"w": torch.tensor([3.0, 6.0])}
    assert torch.equal(mean_params([a, b])["w"], torch.tensor([2.0, 4.0]))


# ---- adaptation --------------------------------------------------------------------------------


def _partner_replay() -> dict[str, object]:
    env = make_env(SCENARIOS.train, MICRO)
    pool = make_pool(agent_config(MICRO, env), env.n_du, None, 7)
    for e in range(5):
        collect_episode(env, pool, 100 + e)
    return {name: learner.replay.state_dict() for name, learner in pool[0].agents().items()}


def test_mtl_makes_as_many_updates_as_drl() -> None:
    """MTL's prefilled buffer made its learners ready from shot 1 (more updates than the others)."""
    name, scenario = next(iter(SCENARIOS.new_tasks.items()))
    env = make_env(SCENARIOS.train, MICRO)
    theta0 = initial_params(agent_config(MICRO, env), 0)
    drl = adapt_task(scenario, name, MICRO, MethodInit(theta0), 0)
    mtl = adapt_task(scenario, name, MICRO, MethodInit(theta0, _partner_replay()), 0)
    assert drl["gradient_steps"] > 0
    assert mtl["gradient_steps"] == drl["gradient_steps"]


def test_the_estimator_stops_when_a_learner_can_never_be_ready() -> None:
    low = MICRO.low.model_copy(update={"buffer_size": 4, "learning_starts": 8})
    broken = MICRO.model_copy(update={"low": low})  # bypasses validation, as a hand-built preset could
    with pytest.raises(ValueError, match="at most 4"):
        calibrate(SCENARIOS, broken)


# ---- evaluation, sweep, shots ------------------------------------------------------------------


def test_evaluation_pools_episodes_and_skips_the_warm_up() -> None:
    env = make_env(SCENARIOS.train, MICRO, 40)
    split = FixedSplitPolicy(env, (0.6, 0.2, 0.2))
    one = [evaluate_policy(env, split, 20, s, warmup=10) for s in (1, 2)]
    both = evaluate_episodes(env, lambda _s: split, 20, [1, 2], warmup=10)
    assert both.cumulative_reward == pytest.approx(np.mean([r.cumulative_reward for r in one]))
    # 20 counted steps = 2 windows per episode whatever the warm-up: Σ R_h ≤ 2 windows × 3
    assert all(r.cumulative_reward <= 6.0 + 1e-9 for r in one)
    # the warm-up's steps are not measured: the first 20 steps' KPIs differ from steps 10-30's
    assert evaluate_policy(env, split, 20, 1).kpi_quantiles != one[0].kpi_quantiles


def test_split_grid() -> None:
    grid = split_grid(10)
    assert len(grid) == 36 and len(set(grid)) == 36
    assert all(abs(sum(s) - 1) < 1e-12 and min(s) >= 0.1 - 1e-12 for s in grid)


def test_shots_to_threshold_does_not_reward_a_flat_curve() -> None:
    shots = [0, 1, 2, 4, 8]
    flat = {str(k): {"cumulative_reward": 50.0} for k in shots}
    rising = {str(k): {"cumulative_reward": 50.0 + 10 * k} for k in shots}
    assert shots_to_threshold(flat, shots, 95.0) == math.inf  # never reaches: "> T_new", not 0
    assert shots_to_threshold(rising, shots, 95.0) == 8.0
    assert shots_to_threshold(rising, shots, 40.0) == 0.0


def test_headroom_flags_tasks_a_fixed_split_already_solves() -> None:
    splits = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], EQUAL := [1 / 3, 1 / 3, 1 / 3]]
    sweep = {
        "splits": splits,
        "train": [[10.0, 10.0], [5.0, 5.0], [8.0, 8.0]],  # training tasks prefer split 0
        "new": {"room": [10.0, 20.0, 12.0], "none": [10.0, 10.2, 10.0]},
    }
    out = summarise_sweeps({0: sweep, 1: sweep}, 0.15)
    assert out["train_splits"] == ["0.80/0.10/0.10"] and EQUAL
    room, none = out["tasks"]["room"], out["tasks"]["none"]
    assert room["headroom_vs_equal_pct"]["mean"] == pytest.approx(100 * (20 - 12) / 12)
    assert room["headroom_vs_train_split_pct"]["mean"] == pytest.approx(100.0)
    assert not room["flagged"] and none["flagged"]


def test_trained_hrl_is_set_against_each_training_tasks_equal_split() -> None:
    splits = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]  # equal split last
    loaded = Loaded()
    for seed, jitter in enumerate((0.0, 0.5, -0.5)):
        # DU0's best split is 0 (12), DU1's is 1 (9); the equal split gives 8 and 7
        train = [[12.0 + jitter, 5.0], [6.0, 9.0 + jitter], [8.0 + jitter, 7.0 - jitter]]
        loaded.sweeps[seed] = {"splits": splits, "train": train, "new": {"x": [1.0, 1.0, 1.0]}}
        # DU0's agent clearly beats its equal split; DU1's does not
        loaded.pretrain[seed] = {"train_tasks": ["DU0:a", "DU1:b"], "trained_on_train": [11.0 + jitter, 7.0]}
    out = trained_vs_equal(loaded)
    assert list(out) == ["DU0:a", "DU1:b"]
    a, b = out["DU0:a"], out["DU1:b"]
    assert a["equal"]["mean"] == pytest.approx(8.0) and b["equal"]["mean"] == pytest.approx(7.0)
    assert a["best_split"]["mean"] == pytest.approx(12.0) and b["best_split"]["mean"] == pytest.approx(9.0)
    assert a["vs_equal_pct"]["mean"] == pytest.approx(100 * np.mean([3 / 8, 3 / 8.5, 3 / 7.5]))
    assert a["cis_apart"] and not b["cis_apart"]
    del loaded.sweeps[2]  # only seeds with both a pretraining run and a sweep are paired
    assert trained_vs_equal(loaded)["DU0:a"]["trained"]["n"] == 2


def test_entropy_of_weights() -> None:
    assert entropy([1 / 3] * 3) == pytest.approx(1.0)
    assert entropy([1.0, 0.0, 0.0]) == pytest.approx(0.0)


@pytest.mark.parametrize("name", ["micro", "quick", "standard", "paper"])
def test_every_bundled_preset_lets_every_level_learn_in_every_phase(name: str) -> None:
    preset = load_preset(name)  # would raise PresetError otherwise
    assert all(b.first_ready is not None for b in preset.learning_budgets())


def test_meta_init_pretrain_runs_the_pretrained_control_and_checks_it_on_the_training_tasks(
    tmp_path: Path,
) -> None:
    meta = MICRO.meta.model_dump(mode="json") | {"init": "pretrain"}
    preset = _micro(seeds=1, methods=["pretrained", "maml-adaptive-paper"], meta=meta)
    ctx = RunContext(preset, str(tmp_path))
    specs = [RunSpec("pretrain", "-", 0), RunSpec("method", "pretrained", 0)]
    specs.append(RunSpec("method", "maml-adaptive-paper", 0))
    for spec in specs:
        execute_run(spec, ctx)
    loaded = load_all(tmp_path, specs)
    checks = init_check(loaded)
    assert set(checks) == {"pretrained", "maml-adaptive-paper"}
    assert all(c["init"]["n"] == 1 and c["theta0"]["n"] == 1 for c in checks.values())
    trained = loaded.pretrain[0]["trained_on_train"]  # each phase-1 agent, greedy on its own task
    assert len(trained) == len(loaded.pretrain[0]["train_tasks"]) and all(math.isfinite(x) for x in trained)
    # the control starts exactly where θ_M started: the mean of the phase-1 agents
    p1 = torch.load(tmp_path / "runs/pretrain/-/seed0.pt", weights_only=True)
    assert label("pretrained") == "pretrained, not meta-learned"
    assert mean_params(p1["task_params"]).keys() == initial_params(agent_config(preset), 0).keys()


def test_paper_variants_weight_raw_variances_at_t_one() -> None:
    standard = load_preset("standard")
    assert (standard.meta.normalise, standard.meta.temperature) == ("zscore", 0.3)
    paper = method_preset(standard, "maml-adaptive-paper").meta
    assert (paper.normalise, paper.temperature) == ("none", 1.0)
    assert method_preset(standard, "maml-adaptive").meta == standard.meta
