"""Stable-Baselines3 learners (and our DDPG) as baselines for the high-level slice split.

``metahrl train --learner sb3-td3|sb3-sac|sb3-ppo|ddpg-split`` trains one high-level policy on
the :mod:`metahrl_gym` view of the scenario, shared by every DU (parameter sharing: each DU is one
slot of an SB3 ``VecEnv`` over the PettingZoo env, all in one simulator, so one env step gives D
transitions, like ``share_high_experience``). Per-UE scheduling inside slices follows a fixed
rule (``--low``: the node's PF scheduler by default), so the learners compare on the same problem.
``ddpg-split`` is our :class:`~xapps.agent.DDPG` (the high level of our HRL agent) on the same
view, budget and networks: the head-to-head reference. ``--low ckpt:PATH`` instead runs the
slice agents of a ``metahrl train`` checkpoint, greedy and frozen, inside slices (the learner
then replaces only our high level; :mod:`experiments.slice_low`).

Matched to the training config (``--config``): env steps (``steps``, low-level steps of 10 ms;
one decision is ``env.high_period_steps`` of them), networks (``high.hidden_sizes``,
``high.activation``), ``high.gamma``, ``high.tau``, ``high.batch_size``, ``high.buffer_size``,
``high.learning_starts`` (transitions), TD3's Gaussian noise ``high.noise_sigma``, gradient steps
per decision as the HRL trainer takes them (``high_updates_per_step`` every
``high_update_every`` low steps). Learning rates are SB3's defaults (the learner a reviewer would
pick), our DDPG keeps ``high.actor_lr``/``critic_lr``.

Run directory: ``baseline.json`` (learner, seed, ``low`` — for a checkpoint also its path and
SHA-256 in ``low_checkpoint`` —, config, scenario), ``eval.{csv,jsonl}``
(greedy evaluations with the fixed ``eval_seed``, baseline references at step 0, the same rows
as ``metahrl train``), ``timing.{csv,jsonl}`` and ``model.zip`` (SB3's own format; our DDPG:
``model.pt``). ``metahrl eval --policy sb3:RUN_DIR`` evaluates it beside everything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import torch
from numpy.typing import NDArray

from e2sim.config import ScenarioConfig
from e2sim.env import EnvConfig, HierAction, HierarchicalSlicingEnv, HierObs
from e2sim.policies import make_baseline
from e2sim.runner import RunResult, run_policy
from experiments.config import TrainConfig
from experiments.logs import RunLogs
from experiments.metrics import EVAL_COLUMNS, TIMING_COLUMNS, eval_row
from experiments.slice_low import LowSpec, SliceLow, parse_low
from experiments.train import RunExistsError, episode_seed
from metahrl_gym.core import LowDriver
from metahrl_gym.parallel import SliceSplitParallelEnv
from metahrl_gym.settings import LowRule

__all__ = [
    "LEARNERS",
    "BaselineRun",
    "Learner",
    "SplitPolicy",
    "load_split_policy",
    "run_dir_runner",
    "train_baseline",
    "updates_per_decision",
]

Learner = Literal["sb3-td3", "sb3-sac", "sb3-ppo", "ddpg-split"]
LEARNERS: tuple[str, ...] = get_args(Learner)
_META = "baseline.json"
_FORMAT = "metahrl.sb3-baseline/1"


def updates_per_decision(config: TrainConfig) -> int:
    """Gradient steps per high-level decision that the HRL trainer would take."""
    per_low = config.high_updates_per_step / config.high_update_every
    return max(1, round(config.env.high_period_steps * per_low))


# ---- the VecEnv over all DUs -------------------------------------------------------------------
def _vec_env_class() -> type:
    from stable_baselines3.common.vec_env import VecEnv

    class DuVecEnv(VecEnv):
        """Every DU of a :class:`SliceSplitParallelEnv` as one slot of an SB3 VecEnv.

        Episodes restart together (all DUs truncate at once) from ``episode_seed(seed, k)``;
        each slot's final observation is in ``infos[d]["terminal_observation"]`` with
        ``TimeLimit.truncated`` (SB3 then bootstraps through the time limit)."""

        def __init__(self, penv: SliceSplitParallelEnv, seed: int) -> None:
            self.penv, self.run_seed, self.episode = penv, seed, 0
            agent = penv.possible_agents[0]
            super().__init__(
                len(penv.possible_agents), penv.observation_space(agent), penv.action_space(agent)
            )
            self._actions: NDArray[np.float32] | None = None

        def reset(self) -> NDArray[np.float32]:
            obs, _ = self.penv.reset(seed=episode_seed(self.run_seed, self.episode))
            return np.stack([obs[a] for a in self.penv.possible_agents])

        def step_async(self, actions: NDArray[np.float32]) -> None:
            self._actions = np.asarray(actions, np.float32)

        def step_wait(self) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_], list[Any]]:
            assert self._actions is not None
            agents = self.penv.possible_agents
            obs, rew, _, trunc, _ = self.penv.step({a: self._actions[d] for d, a in enumerate(agents)})
            o = np.stack([obs[a] for a in agents])
            done = bool(trunc[agents[0]])
            infos: list[dict[str, Any]] = [{} for _ in agents]
            if done:
                for d, info in enumerate(infos):
                    info["terminal_observation"], info["TimeLimit.truncated"] = o[d], True
                self.episode += 1
                o = self.reset()
            r = np.array([rew[a] for a in agents], np.float32)
            return o, r, np.full(len(agents), done), infos

        def close(self) -> None:
            self.penv.close()

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            return [getattr(self.penv, attr_name, None)] * len(self._indices(indices))

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            setattr(self.penv, attr_name, value)

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
            return [getattr(self.penv, method_name)(*args, **kwargs)] * len(self._indices(indices))

        def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
            return [False] * len(self._indices(indices))

        def _indices(self, indices: Any) -> Sequence[int]:
            if indices is None:
                return range(self.num_envs)
            return [indices] if isinstance(indices, int) else list(indices)

    return DuVecEnv


# ---- models ------------------------------------------------------------------------------------
def _sb3_model(learner: Learner, venv: Any, config: TrainConfig, seed: int) -> Any:
    import stable_baselines3 as sb3
    from stable_baselines3.common.noise import NormalActionNoise

    h = config.high
    act = torch.nn.Tanh if h.activation == "tanh" else torch.nn.ReLU
    kwargs: dict[str, Any] = {"seed": seed, "device": "cpu", "gamma": h.gamma, "verbose": 0}
    net = list(h.hidden_sizes)
    if learner == "sb3-ppo":
        n_steps = max(8, min(2048, config.steps // config.env.high_period_steps // 8))
        ppo_policy = {"net_arch": {"pi": net, "vf": net}, "activation_fn": act}
        batch = min(h.batch_size, n_steps * venv.num_envs)
        return sb3.PPO(
            "MlpPolicy", venv, n_steps=n_steps, batch_size=batch, policy_kwargs=ppo_policy, **kwargs
        )
    off: dict[str, Any] = {
        "buffer_size": h.buffer_size,
        "learning_starts": h.learning_starts,
        "batch_size": h.batch_size,
        "tau": h.tau,
        "train_freq": 1,
        "gradient_steps": updates_per_decision(config),
        "policy_kwargs": {"net_arch": net, "activation_fn": act},
    }
    if learner == "sb3-sac":
        return sb3.SAC("MlpPolicy", venv, **off, **kwargs)
    noise = NormalActionNoise(np.zeros(3), np.full(3, h.noise_sigma))
    return sb3.TD3("MlpPolicy", venv, action_noise=noise, **off, **kwargs)


def _predictor(model: Any) -> Callable[[NDArray[np.float32]], NDArray[np.float32]]:
    def predict(obs: NDArray[np.float32]) -> NDArray[np.float32]:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action, np.float32)

    return predict


# ---- evaluation as an e2sim policy -----------------------------------------------------------
class SplitPolicy:
    """An e2sim ``Policy``: one shared high-level predictor for every DU, ``low`` inside slices."""

    def __init__(
        self, predict: Callable[[NDArray[np.float32]], NDArray[np.float32]], low: LowDriver, name: str
    ) -> None:
        self.predict, self.low, self.name = predict, low, name

    def act(self, obs: HierObs) -> HierAction:
        shares = self.predict(np.asarray(obs.high, np.float32)) if obs.high_due else None
        return HierAction(
            slice_shares=shares, ue_action=self.low.ue_action(obs), scheduler=self.low.scheduler
        )


def _greedy_eval(
    predict: Callable[[NDArray[np.float32]], NDArray[np.float32]],
    scenario: ScenarioConfig,
    env_cfg: EnvConfig,
    low: LowRule | SliceLow,
    steps: int,
    seed: int,
    name: str,
) -> RunResult:
    env = HierarchicalSlicingEnv(scenario, env_cfg.model_copy(update={"episode_steps": steps}))
    if not isinstance(low, SliceLow):
        low = SliceLow(parse_low(low), scenario, env_cfg)
    return run_policy(env, SplitPolicy(predict, low.driver(env), name), steps, seed=seed)


# ---- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaselineRun:
    out_dir: Path
    learner: str
    steps: int  # env (low-level) steps trained
    last_eval: dict[str, Any]
    wall_s_per_1000_steps: float
    gradient_steps: int = 0  # critic updates (the actor's: every 2nd for TD3, policy_frequency-th for ours)


class _Harness:
    """Logs, periodic greedy evaluation and timing shared by every learner."""

    def __init__(self, scenario: ScenarioConfig, config: TrainConfig, learner: str, low: SliceLow, out: Path):
        self.scenario, self.config, self.learner, self.low, self.out = scenario, config, learner, low, out
        self.logs = RunLogs(out, {"eval": EVAL_COLUMNS, "timing": TIMING_COLUMNS})
        self.next_eval = config.eval_every
        self.last_eval: dict[str, Any] = {}
        self.t0 = time.perf_counter()
        self.train_wall = 0.0  # wall time outside evaluations
        self.updates: Callable[[], int] = lambda: 0  # gradient steps so far (set by the learner)

    def start(self, meta: dict[str, Any]) -> None:
        if (self.out / _META).exists():
            raise RunExistsError(f"{self.out} already holds a baseline run; choose another output dir")
        self.logs.create()
        (self.out / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        cfg = self.config
        for name in cfg.baseline_refs:
            env = HierarchicalSlicingEnv(
                self.scenario, cfg.env.model_copy(update={"episode_steps": cfg.eval_steps})
            )
            res = run_policy(env, make_baseline(name, env, seed=cfg.eval_seed), cfg.eval_steps, cfg.eval_seed)
            self.logs["eval"].write(eval_row(0, res))

    def evaluate(self, step: int, predict: Callable[[NDArray[np.float32]], NDArray[np.float32]]) -> None:
        now = time.perf_counter()
        self.train_wall += now - self.t0
        cfg = self.config
        res = _greedy_eval(
            predict, self.scenario, cfg.env, self.low, cfg.eval_steps, cfg.eval_seed, self.learner
        )
        self.last_eval = eval_row(step, res)
        self.logs["eval"].write(self.last_eval)
        wall = max(self.train_wall, 1e-9)
        row = {"step": step, "wall_s": self.train_wall, "env_steps_per_s": step / wall}
        self.logs["timing"].write(row | {"updates_per_s": self.updates() / wall})
        self.t0 = time.perf_counter()

    def maybe_evaluate(
        self, step: int, predict: Callable[[NDArray[np.float32]], NDArray[np.float32]]
    ) -> None:
        while step >= self.next_eval:
            self.evaluate(step, predict)
            self.next_eval += self.config.eval_every

    def result(self, step: int, predict: Callable[[NDArray[np.float32]], NDArray[np.float32]]) -> BaselineRun:
        if not self.last_eval or self.last_eval["step"] != step:
            self.evaluate(step, predict)
        per_1000 = self.train_wall / max(step, 1) * 1000.0
        return BaselineRun(self.out, self.learner, step, self.last_eval, per_1000, self.updates())


def _train_sb3(learner: Learner, penv: SliceSplitParallelEnv, h: _Harness, seed: int) -> BaselineRun:
    from stable_baselines3.common.callbacks import BaseCallback

    cfg, n_du, period = h.config, penv.core.n_du, h.config.env.high_period_steps
    venv = _vec_env_class()(penv, seed)
    model = _sb3_model(learner, venv, cfg, seed)
    predict = _predictor(model)
    h.updates = lambda: int(model._n_updates)

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            h.maybe_evaluate(self.num_timesteps // n_du * period, predict)
            return True

    decisions = cfg.steps // period
    model.learn(total_timesteps=decisions * n_du, callback=Every())
    model.save(h.out / "model.zip")
    return h.result(decisions * period, predict)


def _train_ddpg(penv: SliceSplitParallelEnv, h: _Harness, seed: int) -> BaselineRun:
    from xapps.agent import DDPG

    cfg, agents = h.config, penv.possible_agents
    space = penv.observation_space(agents[0])
    ddpg = DDPG(space.shape[0], 3, cfg.high, seed=seed)
    h.updates = lambda: ddpg.num_updates

    def predict(obs: NDArray[np.float32]) -> NDArray[np.float32]:
        with torch.no_grad():
            return np.stack([ddpg.act(o, False) for o in obs])

    period, updates, episode = cfg.env.high_period_steps, updates_per_decision(cfg), 0
    obs, _ = penv.reset(seed=episode_seed(seed, episode))
    for k in range(1, cfg.steps // period + 1):
        acts = {a: ddpg.act(obs[a], True) for a in agents}
        nxt, rew, _, trunc, _ = penv.step(acts)
        for a in agents:  # truncation is a time limit: bootstrap through it (done=False)
            ddpg.store(obs[a], acts[a], rew[a], nxt[a], False)
        for _ in range(updates):
            ddpg.update()
        if trunc[agents[0]]:
            episode += 1
            nxt, _ = penv.reset(seed=episode_seed(seed, episode))
        obs = nxt
        h.maybe_evaluate(k * period, predict)
    torch.save(ddpg.state_dict(), h.out / "model.pt")
    return h.result(cfg.steps // period * period, predict)


def train_baseline(
    scenario: ScenarioConfig,
    config: TrainConfig,
    learner: Learner,
    seed: int,
    out_dir: Path,
    *,
    low: str | LowSpec = "pf",
) -> BaselineRun:
    """Train ``learner`` on the high-level view of ``scenario`` for ``config.steps`` env steps;
    ``low``: what schedules inside slices (:func:`~experiments.slice_low.parse_low`; a bad
    value or unfitting checkpoint raises :class:`~experiments.slice_low.LowError`)."""
    if learner not in LEARNERS:
        raise ValueError(f"learner: {learner!r} is not one of {', '.join(LEARNERS)}")
    sc = config.apply_fading(scenario)
    slice_low = SliceLow(parse_low(low) if isinstance(low, str) else low, sc, config.env)
    torch.manual_seed(seed)
    penv = SliceSplitParallelEnv(scenario=sc, env=config.env, fading=None, **slice_low.view_settings())
    h = _Harness(sc, config, learner, slice_low, Path(out_dir))
    meta = {"format": _FORMAT, "learner": learner, "seed": seed, **slice_low.meta(),
            "config": config.model_dump(mode="json"), "scenario": sc.model_dump(mode="json")}  # fmt: skip
    h.start(meta)
    if learner == "ddpg-split":
        return _train_ddpg(penv, h, seed)
    return _train_sb3(learner, penv, h, seed)


# ---- loading for `metahrl eval` ----------------------------------------------------------------
def _read_meta(run_dir: Path) -> dict[str, Any]:
    path = run_dir / _META
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a baseline run directory (no {_META})")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a {_FORMAT} file")
    return meta


def load_split_policy(
    run_dir: Path,
) -> tuple[Callable[[NDArray[np.float32]], NDArray[np.float32]], dict[str, Any]]:
    """The greedy predictor (obs (D, 12) → actions (D, 3)) of a baseline run and its metadata."""
    meta = _read_meta(run_dir)
    learner = cast(Learner, meta["learner"])
    if learner == "ddpg-split":
        from xapps.agent import DDPG, DDPGConfig

        ddpg = DDPG(12, 3, DDPGConfig.model_validate(meta["config"]["high"]))
        ddpg.load_state_dict(torch.load(run_dir / "model.pt", weights_only=False))

        def predict(obs: NDArray[np.float32]) -> NDArray[np.float32]:
            with torch.no_grad():
                return np.stack([ddpg.act(o, False) for o in obs])

        return predict, meta
    import stable_baselines3 as sb3

    cls: Any = {"sb3-td3": sb3.TD3, "sb3-sac": sb3.SAC, "sb3-ppo": sb3.PPO}[learner]
    return _predictor(cls.load(run_dir / "model.zip", device="cpu")), meta


def run_dir_runner(run_dir: Path, scenario: ScenarioConfig, steps: int) -> Callable[[int], RunResult]:
    """``seed -> RunResult`` for ``metahrl eval --policy sb3:RUN_DIR`` (the run's env settings
    and low level: a checkpoint's slice agents are reloaded, and must be the file it trained with)."""
    predict, meta = load_split_policy(run_dir)
    env_cfg = EnvConfig.model_validate(meta["config"]["env"])
    low = SliceLow.from_meta(meta, scenario, env_cfg)
    name = f"sb3:{run_dir}"
    return lambda seed: _greedy_eval(predict, scenario, env_cfg, low, steps, seed, name)
