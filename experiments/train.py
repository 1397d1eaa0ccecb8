"""Train the HRL agents (one `HierarchicalAgent` per DU, in an `AgentPool`) from scratch on a
scenario, with periodic greedy evaluation, CSV/JSONL logs, a learning-curve PNG and exact resume.

One training step:

1. every DU's agent acts (μ(s) + exploration noise; the high level only when ``high_due``);
2. the environment advances one low-level step (10 ms);
3. each agent stores its transition (R_h closes a high-level window when one ends;
   ``reward_high = reward.high if reward.high_valid else None``; the slice agents get eq. 9's
   r_l, plus ``low_reward_qos_weight``·(QoS_l − 1) when that option is set);
4. after ``learning_starts`` steps: every ``update_every`` steps each low-level learner takes
   ``updates_per_step`` gradient steps, and every ``high_update_every`` steps each high-level
   learner takes ``high_updates_per_step``.

Episodes are truncated at ``env.episode_steps`` and restart from a seed derived from
(run seed, episode index). Evaluations run the greedy policy on a *fresh* environment with the
fixed ``eval_seed``; they do not touch the training environment or the agents' state, so a run
with and without evaluations learns the same thing.

Run directory (``--out``): ``train.{csv,jsonl}`` (interval means every ``log_every`` steps),
``eval.{csv,jsonl}`` (greedy evaluations; baseline references at step 0), ``episodes.{csv,jsonl}``
(return per training episode), ``timing.{csv,jsonl}`` (wall-clock speed — the only
non-deterministic file), ``baselines.json``, ``config.yaml``, ``learning_curve.png`` and
``checkpoint.pt`` (see :mod:`experiments.checkpoint`). Resuming restores everything and cuts the
logs back to what they held at the checkpoint, so it continues exactly as if uninterrupted (bit
for bit with the same torch thread count and device).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from e2sim.config import ScenarioConfig
from e2sim.env import HierAction, HierarchicalSlicingEnv, HierObs
from e2sim.policies import make_baseline
from e2sim.runner import RunResult, run_policy
from experiments.checkpoint import (
    CHECKPOINT_NAME,
    FORMAT,
    CheckpointError,
    check_meta,
    decode_env,
    encode_env,
    load_training_checkpoint,
    save_training_checkpoint,
)
from experiments.config import TrainConfig
from experiments.logs import RunLogs, read_jsonl
from experiments.metrics import (
    EPISODE_COLUMNS,
    EVAL_COLUMNS,
    TIMING_COLUMNS,
    TRAIN_COLUMNS,
    IntervalStats,
    eval_row,
)
from experiments.plot import plot_learning_curve
from experiments.policy import GreedyPolicy
from xapps.agent import AgentPool, HierarchicalConfig, Transition

__all__ = ["RunExistsError", "TrainResult", "Trainer", "agent_config_for", "episode_seed"]

_STREAMS = {
    "train": TRAIN_COLUMNS,
    "eval": EVAL_COLUMNS,
    "episodes": EPISODE_COLUMNS,
    "timing": TIMING_COLUMNS,
}


class RunExistsError(FileExistsError):
    """The output directory already holds a run and ``resume`` was not asked for."""


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    step: int
    finished: bool  # reached config.steps
    last_eval: dict[str, Any] | None


def episode_seed(seed: int, episode: int) -> int:
    """Env seed of training episode `episode` of run `seed`."""
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def agent_config_for(env: HierarchicalSlicingEnv, config: TrainConfig) -> HierarchicalConfig:
    return HierarchicalConfig(
        obs_high_dim=env.obs_high_dim,
        obs_low_dim=env.obs_low_dim,
        n_slices=3,
        max_ues=env.ue_slots,
        high=config.high,
        low=config.low,
    )


class Trainer:
    """A training run in `out_dir`: a fresh start, or (``resume=True``) its last checkpoint."""

    def __init__(
        self,
        scenario: ScenarioConfig,
        config: TrainConfig,
        seed: int,
        out_dir: Path,
        *,
        resume: bool = False,
    ) -> None:
        self.config, self.seed, self.out_dir = config, seed, Path(out_dir)
        self.scenario = config.apply_fading(scenario)
        self.env = HierarchicalSlicingEnv(self.scenario, config.env)
        self.agent_config = agent_config_for(self.env, config)
        self.pool = AgentPool.create(self.agent_config, self.env.n_du, seed=seed, device=config.device)
        self.logs = RunLogs(self.out_dir, _STREAMS)
        self.step = self.episode = self.high_updates = self.low_updates = 0
        self.stats = IntervalStats()
        self.episode_return = np.zeros(self.env.n_du)
        self.baselines: dict[str, dict[str, float]] = {}
        self.last_train_row: dict[str, Any] | None = None
        self.last_eval_row: dict[str, Any] | None = None
        self._wall = (time.perf_counter(), 0, 0)  # (time, step, updates) at the last timing row
        if resume:
            self._restore()
        else:
            self._start()

    # ---- identity, start, checkpoint -------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.model_dump(mode="json"),
            "config": self.config.fingerprint(),
            "seed": self.seed,
            "agent": self.agent_config.model_dump(mode="json"),
        }

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def _start(self) -> None:
        if self.checkpoint_path.exists():
            raise RunExistsError(
                f"{self.out_dir} already holds a training run; resume it or choose another output dir"
            )
        self.logs.create()
        dump = self.config.model_dump(mode="json")
        (self.out_dir / "config.yaml").write_text(yaml.safe_dump(dump, sort_keys=False), encoding="utf-8")
        self.obs, _ = self.env.reset(episode_seed(self.seed, 0))
        self._evaluate_baselines()
        self._evaluate()

    def save(self) -> None:
        """Write a checkpoint of everything (atomically)."""
        env_tensor, sha = encode_env({"env": self.env, "obs": self.obs})
        trainer = {
            "step": self.step,
            "episode": self.episode,
            "high_updates": self.high_updates,
            "low_updates": self.low_updates,
            "stats": self.stats.state(),
            "episode_return": [float(x) for x in self.episode_return],
            "baselines": self.baselines,
            "log_offsets": self.logs.offsets(),
            "last_train_row": self.last_train_row,
            "last_eval_row": self.last_eval_row,
        }
        state = {
            "format": FORMAT,
            "meta": self.meta(),
            "pool": self.pool.state_dict(),
            "trainer": trainer,
            "env": env_tensor,
            "env_sha256": sha,
        }
        save_training_checkpoint(self.checkpoint_path, state)
        self.plot()

    def _restore(self) -> None:
        state = load_training_checkpoint(self.checkpoint_path)
        check_meta(state["meta"], self.meta())
        self.pool.load_state_dict(state["pool"])
        env_state = decode_env(state["env"], state["env_sha256"])
        env = env_state.get("env") if isinstance(env_state, dict) else None
        if not isinstance(env, HierarchicalSlicingEnv) or not isinstance(env_state.get("obs"), HierObs):
            raise CheckpointError("checkpoint.env: not a saved HierarchicalSlicingEnv and observation")
        if env.scenario != self.scenario or env.config != self.config.env:
            raise CheckpointError("checkpoint.env: environment scenario/config differ from this run")
        self.env, self.obs = env, env_state["obs"]
        self._restore_trainer(state["trainer"])

    def _restore_trainer(self, t: Any) -> None:
        try:
            self.step, self.episode = int(t["step"]), int(t["episode"])
            self.high_updates, self.low_updates = int(t["high_updates"]), int(t["low_updates"])
            self.stats = IntervalStats(t["stats"])
            self.episode_return = np.array(t["episode_return"], np.float64).reshape(self.env.n_du)
            self.baselines = {k: dict(v) for k, v in t["baselines"].items()}
            self.last_train_row, self.last_eval_row = t["last_train_row"], t["last_eval_row"]
            offsets = t["log_offsets"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint.trainer: malformed ({exc!r})") from exc
        try:
            self.logs.truncate(offsets)
        except (OSError, KeyError) as exc:
            raise CheckpointError(f"cannot restore the run's logs: {exc}") from exc
        self._wall = (time.perf_counter(), self.step, self.high_updates + self.low_updates)

    # ---- the loop --------------------------------------------------------------------------
    def run(
        self,
        should_stop: Callable[[], bool] | None = None,
        on_step: Callable[[Trainer], None] | None = None,
    ) -> TrainResult:
        """Train up to ``config.steps``. `should_stop` is polled after every step (e.g. a Ctrl-C
        flag): when it says so, a checkpoint is written and the run returns unfinished."""
        cfg = self.config
        while self.step < cfg.steps:
            self._train_step()
            self._learn()
            if self.step % cfg.log_every == 0:
                self._log_train()
            if self.step % cfg.eval_every == 0:
                self._evaluate()
            if self.step % cfg.checkpoint_every == 0:
                self.save()
            if on_step is not None:
                on_step(self)
            if should_stop is not None and should_stop() and self.step < cfg.steps:
                self.save()
                return TrainResult(self.out_dir, self.step, False, self.last_eval_row)
        self._finish()
        return TrainResult(self.out_dir, self.step, True, self.last_eval_row)

    def _finish(self) -> None:
        cfg = self.config
        partial_log, partial_eval = self.step % cfg.log_every != 0, self.step % cfg.eval_every != 0
        if partial_log:
            self._log_train()
        if partial_eval:
            self._evaluate()
        if partial_log or partial_eval or self.step % cfg.checkpoint_every:
            self.save()

    def _train_step(self) -> None:
        obs = self.obs
        action = self.pool.act(obs, explore=True)
        env_action = HierAction(slice_shares=action.slice_shares, ue_action=action.ue_action)
        nxt, rew, term, trunc, info = self.env.step(env_action)
        r_high = rew.high.astype(np.float32) if rew.high_valid else None
        r_low = rew.low
        if self.config.low_reward_qos_weight:
            r_low = r_low + self.config.low_reward_qos_weight * (info["kpis"].qos - 1.0)
        share = self.config.share_high_experience
        before = [agent.high.replay.pos for agent in self.pool] if share else []
        self.pool.observe(Transition(obs, action, r_low.astype(np.float32), nxt, r_high, term, trunc))
        if share:
            self._share_high(before)
        self.step += 1
        self.stats.add_low_reward(rew.low)
        if rew.high_valid:
            self.stats.add_window(rew.high, info["high_kpis"], self.scenario.radio.n_rbs)
            self.episode_return += rew.high
        if term.any() or trunc.any():
            self._end_episode()
            nxt, _ = self.env.reset(episode_seed(self.seed, self.episode))
        self.obs = nxt

    def _share_high(self, before: list[int]) -> None:
        """Copy the high-level transitions just stored by each DU into every other DU's buffer."""
        new: list[tuple[torch.Tensor, torch.Tensor, float, torch.Tensor, bool] | None] = []
        for agent, pos in zip(self.pool, before, strict=True):
            rb = agent.high.replay
            if rb.pos != pos:
                i = (rb.pos - 1) % rb.capacity
                new.append((rb.obs[i].clone(), rb.action[i].clone(), float(rb.reward[i]),
                            rb.next_obs[i].clone(), bool(rb.done[i])))  # fmt: skip
            else:
                new.append(None)
        for d, agent in enumerate(self.pool):
            for j, tr in enumerate(new):
                if tr is not None and j != d:
                    s, a, r, s2, done = tr
                    agent.high.store(s.numpy(), a.numpy(), r, s2.numpy(), done)

    def _end_episode(self) -> None:
        r = self.episode_return
        row = {"episode": self.episode, "step": self.step, "return": float(r.mean())}
        row |= {"return_min_du": float(r.min()), "return_max_du": float(r.max())}
        self.logs["episodes"].write(row)
        self.episode += 1
        self.episode_return = np.zeros(self.env.n_du)

    def _learn(self) -> None:
        cfg = self.config
        if self.step <= cfg.learning_starts:
            return
        if self.step % cfg.update_every == 0:
            for agent in self.pool:
                for learner in agent.low:
                    for _ in range(cfg.updates_per_step):
                        m = learner.update()
                        if m is not None:
                            self.stats.add_update("low", m)
                            self.low_updates += 1
        if self.step % cfg.high_update_every == 0:
            for agent in self.pool:
                for _ in range(cfg.high_updates_per_step):
                    m = agent.high.update()
                    if m is not None:
                        self.stats.add_update("high", m)
                        self.high_updates += 1

    # ---- logging and evaluation ------------------------------------------------------------
    def _log_train(self) -> None:
        row = self.stats.row(
            step=self.step,
            episode=self.episode,
            high_updates=self.high_updates,
            low_updates=self.low_updates,
        )
        self.logs["train"].write(row)
        self.last_train_row = row
        self.stats = IntervalStats()
        now, updates = time.perf_counter(), self.high_updates + self.low_updates
        t0, s0, u0 = self._wall
        dt = max(now - t0, 1e-9)
        timing = {"step": self.step, "wall_s": dt, "env_steps_per_s": (self.step - s0) / dt}
        self.logs["timing"].write(timing | {"updates_per_s": (updates - u0) / dt})
        self._wall = (now, self.step, updates)

    def eval_env(self) -> HierarchicalSlicingEnv:
        """A fresh environment for one evaluation (episode = the evaluation's length)."""
        env_cfg = self.config.env.model_copy(update={"episode_steps": self.config.eval_steps})
        return HierarchicalSlicingEnv(self.scenario, env_cfg)

    def evaluate(self) -> RunResult:
        """Greedy policy on a fresh env with the fixed eval seed (no effect on training)."""
        return run_policy(
            self.eval_env(), GreedyPolicy(self.pool), self.config.eval_steps, seed=self.config.eval_seed
        )

    def _evaluate(self) -> None:
        row = eval_row(self.step, self.evaluate())
        self.logs["eval"].write(row)
        self.last_eval_row = row

    def _evaluate_baselines(self) -> None:
        cfg = self.config
        for name in cfg.baseline_refs:
            env = self.eval_env()
            res = run_policy(env, make_baseline(name, env, seed=cfg.eval_seed), cfg.eval_steps, cfg.eval_seed)
            self.logs["eval"].write(eval_row(0, res))
            self.baselines[name] = {"return": res.return_mean, "reward_high_mean": res.reward_high_mean}
        text = json.dumps(self.baselines, indent=2, allow_nan=False)
        (self.out_dir / "baselines.json").write_text(text, encoding="utf-8")

    def plot(self) -> None:
        """Redraw ``learning_curve.png`` from the logs."""
        evals = [r for r in read_jsonl(self.logs["eval"].jsonl_path) if r["policy"] == "hrl"]
        refs = {k: v["reward_high_mean"] for k, v in self.baselines.items()}
        refs = {k: v for k, v in refs.items() if math.isfinite(v)}
        title = f"{self.scenario.name} · seed {self.seed} · {self.env.n_du} DUs"
        plot_learning_curve(
            self.out_dir / "learning_curve.png", read_jsonl(self.logs["train"].jsonl_path), evals, refs, title
        )
