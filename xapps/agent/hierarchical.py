"""The hierarchical agent of one DU (SPEC §3): a high-level DDPG for the inter-slice RB split and
one low-level DDPG per slice for per-UE RB requests, on two time scales.

Design choices (see also the module docs of `interface`):

- **One agent per DU.** Each DU is a meta-learning task with its own adapted parameters θ_g,
  replay data and TD-error variance σ²_TD,g, and the DU xApp runs exactly one. Keeping one
  `HierarchicalAgent` per DU makes those per-task things plain attributes; the offline trainer
  holds D of them in an `AgentPool`, which takes and returns (D, …) arrays. Acting is four
  batch-1 forward passes per DU, cheap next to learning, whose cost is the same either way.
- **Fixed U_max with masking for varying UE counts.** Each slice's actor outputs U_max scores and
  its critic sees U_max action slots; slots of absent UEs are set to −1 (no request) before the
  critic sees them, so they never change Q, the losses or the gradients, and the env ignores them.
  This keeps the paper's plain 256-512-512 MLPs and the env's fixed (L, U_max) contract. A shared
  per-UE network (permutation-equivariant, any UE count) generalises better across UE counts but
  is not the paper's agent and needs per-UE features the SPEC's state (Q_a, Q_m, Q_x, last
  allocation) does not define; it could replace `Actor`/`Critic` behind the same API.
- **Two time scales, driven by the env's `high_due` flag.** The high level acts when the flag is
  set and its action is held until the next one; its transition spans the window:
  (s_h at the window's first step, a_h, R_h given when the window closes, s_h at the next
  decision), so its discount applies per window. `TwoTimeScaleClock` produces the flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from xapps.agent.checkpoint import (
    check_config,
    check_format,
    check_keys,
    check_tensor,
    get_int,
    get_mapping,
)
from xapps.agent.ddpg import DDPG, DDPGConfig, UpdateMetrics
from xapps.agent.interface import Action, AgentStateError, ObservationLike, Transition
from xapps.agent.replay import Batch
from xapps.agent.td_stats import TDVariance

__all__ = ["HierarchicalAgent", "HierarchicalConfig"]

_FORMAT = "metahrl.agent.hierarchical/1"


class HierarchicalConfig(BaseModel):
    """Shape and hyper-parameters of one DU's hierarchical agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    obs_high_dim: int = Field(gt=0, description="length of the high-level observation (env)")
    obs_low_dim: int = Field(gt=0, description="length of each slice's low-level observation (env)")
    n_slices: int = Field(default=3, ge=1, description="L: slices (eMBB, mMTC, URLLC)")
    max_ues: int = Field(default=30, ge=1, description="U_max: UE slots per slice (masked)")
    high: DDPGConfig = Field(default_factory=DDPGConfig, description="high-level DDPG")
    low: DDPGConfig = Field(default_factory=DDPGConfig, description="each low-level DDPG")
    high_update_every: int = Field(
        default=1,
        ge=1,
        description="the high level takes a gradient step every N update() calls (1: every call, "
        "i.e. ~N_window steps per high transition; set to the window length for one per window)",
    )


class HierarchicalAgent:
    """One DU's agent: ``act`` → ``observe`` → ``update``, independent of any transport."""

    def __init__(
        self,
        config: HierarchicalConfig,
        *,
        seed: int | np.random.SeedSequence = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.config, self.device = config, torch.device(device)
        seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        seeds = seq.spawn(1 + config.n_slices)
        self.high = DDPG(config.obs_high_dim, config.n_slices, config.high, seed=seeds[0], device=device)
        self.low = [
            DDPG(config.obs_low_dim, config.max_ues, config.low, seed=s, masked=True, device=device)
            for s in seeds[1:]
        ]
        self._held: npt.NDArray[np.float32] | None = None  # high action in force
        self._pending: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None
        self.num_update_calls = 0

    def agents(self) -> dict[str, DDPG]:
        """``{"high": …, "low.0": …, …}`` in slice order."""
        return {"high": self.high} | {f"low.{i}": a for i, a in enumerate(self.low)}

    # ---- acting ---------------------------------------------------------------------------
    def _check_obs(self, obs: ObservationLike) -> None:
        cfg = self.config
        want = {
            "high": (cfg.obs_high_dim,),
            "low": (cfg.n_slices, cfg.obs_low_dim),
            "ue_mask": (cfg.n_slices, cfg.max_ues),
        }
        for name, shape in want.items():
            got = np.shape(getattr(obs, name))
            if got != shape:
                raise ValueError(f"observation.{name}: shape {got}, expected {shape} (one DU)")

    def act(self, obs: ObservationLike, explore: bool = True) -> Action:
        """The DU's action: a new high action when ``obs.high_due`` (else the one in force) and
        per-UE RB requests for every slice (−1 in masked slots)."""
        action, self._held = self.act_with(obs, explore, self._held)
        return action

    def act_with(
        self, obs: ObservationLike, explore: bool, held: npt.NDArray[np.float32] | None
    ) -> tuple[Action, npt.NDArray[np.float32]]:
        """`act` with the high action in force passed in and returned instead of kept: the one
        implementation behind `act` and side-effect-free greedy views (`GreedyPool`)."""
        self._check_obs(obs)
        if obs.high_due:
            held = self.high.act(obs.high, explore)
        elif held is None:
            raise AgentStateError("high_due is False but the high level has not acted yet")
        ue_action = np.stack(
            [a.act(obs.low[i], explore, mask=obs.ue_mask[i]) for i, a in enumerate(self.low)]
        )
        return Action(slice_shares=held.copy(), ue_action=ue_action), held

    def observe(self, tr: Transition) -> None:
        """Store one low-level step; a high window closes at ``next_obs.high_due`` / episode end."""
        self._check_obs(tr.obs)
        self._check_obs(tr.next_obs)
        done = bool(tr.terminated)
        for i, agent in enumerate(self.low):
            agent.store(
                tr.obs.low[i],
                tr.action.ue_action[i],
                float(tr.reward_low[i]),
                tr.next_obs.low[i],
                done,
                mask=tr.obs.ue_mask[i],
                next_mask=tr.next_obs.ue_mask[i],
            )
        if tr.obs.high_due:
            self._pending = (
                np.array(tr.obs.high, np.float32),
                np.array(tr.action.slice_shares, np.float32),
            )
        episode_end = done or bool(tr.truncated)
        if bool(tr.next_obs.high_due) or (episode_end and tr.reward_high is not None):
            self._close_window(tr, done)
        if episode_end:
            self.reset_episode()  # a partial window without R_h is dropped here

    def _close_window(self, tr: Transition, done: bool) -> None:
        if self._pending is None:
            raise AgentStateError("a high-level window closed but none was opened (high_due)")
        if tr.reward_high is None:
            raise AgentStateError("reward_high is required when next_obs.high_due closes a window")
        s_h, a_h = self._pending
        self.high.store(s_h, a_h, float(tr.reward_high), tr.next_obs.high, done)
        self._pending = None

    def reset_episode(self) -> None:
        """Forget the open high window and held action; restart the noise processes."""
        self._held, self._pending = None, None
        for agent in self.agents().values():
            agent.reset_noise()

    # ---- learning -------------------------------------------------------------------------
    def update(self) -> dict[str, UpdateMetrics]:
        """One gradient step for each learner that has enough data (the high level only every
        `high_update_every` calls); metrics keyed as in `agents`, learners that skipped absent."""
        out: dict[str, UpdateMetrics] = {}
        high_turn = self.num_update_calls % self.config.high_update_every == 0
        for name, agent in self.agents().items():
            if name == "high" and not high_turn:
                continue
            metrics = agent.update()
            if metrics is not None:
                out[name] = metrics
        self.num_update_calls += 1
        return out

    def td_variance(self) -> dict[str, TDVariance]:
        """Running and windowed TD-error variance of each learner."""
        return {name: agent.td_variance() for name, agent in self.agents().items()}

    def sample_batches(self, batch_size: int | None = None) -> dict[str, Batch]:
        """A minibatch from each learner whose buffer is `ready` (e.g. a query set)."""
        return {n: a.sample(batch_size) for n, a in self.agents().items() if a.ready()}

    def loss(self, params: Mapping[str, Tensor], batches: Mapping[str, Batch]) -> Tensor:
        """Σ over the learners in `batches` of `ddpg_loss` at `params` (names as in
        `parameters_dict`; missing names fall back to the live parameters).

        The ``loss_fn(params, batch)`` for functional meta-learning: ``torch.func.grad(agent.loss)``
        gives each critic its TD-loss gradient and each actor its policy-loss gradient.
        """
        agents = self.agents()
        unknown = sorted(set(batches) - set(agents))
        if unknown:
            raise KeyError(f"no learner named {unknown}; have {sorted(agents)}")
        total: Tensor | None = None
        for name, batch in batches.items():
            head = name + "."
            sub = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
            term = agents[name].loss(batch, sub)
            total = term if total is None else total + term
        if total is None:
            raise ValueError("no batches given")
        return total

    def query_gradients(self, batches: Mapping[str, Batch] | None = None) -> dict[str, Tensor]:
        """Critic- and actor-loss gradients at the current parameters, named as in
        `parameters_dict`, for the learners in `batches` (default: `sample_batches()`)."""
        batches = self.sample_batches() if batches is None else batches
        agents = self.agents()
        unknown = sorted(set(batches) - set(agents))
        if unknown:
            raise KeyError(f"no learner named {unknown}; have {sorted(agents)}")
        return {
            f"{name}.{key}": grad
            for name, batch in batches.items()
            for key, grad in agents[name].query_gradients(batch).items()
        }

    # ---- parameters -----------------------------------------------------------------------
    def networks(self, include_targets: bool = False) -> dict[str, nn.Module]:
        """``{"high.actor": …, "high.critic": …, "low.0.actor": …, …}``."""
        return {
            f"{name}.{net}": module
            for name, agent in self.agents().items()
            for net, module in agent.networks(include_targets).items()
        }

    def parameters_dict(self) -> dict[str, nn.Parameter]:
        """Live parameters, e.g. ``"low.1.critic.0.weight"`` (targets excluded)."""
        return {
            f"{name}.{key}": p
            for name, agent in self.agents().items()
            for key, p in agent.parameters_dict().items()
        }

    def get_params(self) -> dict[str, Tensor]:
        """Detached copies of `parameters_dict` (e.g. θ_g to send to the meta-controller)."""
        return {k: v.detach().clone() for k, v in self.parameters_dict().items()}

    def set_params(self, params: Mapping[str, Tensor], *, sync_targets: bool = True) -> None:
        """Load a full parameter dict (e.g. the meta-initialisation θ_M); checked before copying."""
        own = self.parameters_dict()
        check_keys(params, own, "params")
        for name, p in own.items():
            check_tensor(params[name], f"params.{name}", tuple(p.shape), p.dtype)
        for name, agent in self.agents().items():
            head = name + "."
            sub = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
            agent.set_params(sub, sync_targets=sync_targets)

    def reset_optimizers(self) -> None:
        for agent in self.agents().values():
            agent.reset_optimizers()

    # ---- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything (all learners, the open high window, the held action, counters)."""
        pending = None
        if self._pending is not None:
            pending = {"obs": torch.from_numpy(self._pending[0].copy())}
            pending["action"] = torch.from_numpy(self._pending[1].copy())
        held = None if self._held is None else torch.from_numpy(self._held.copy())
        return {
            "format": _FORMAT,
            "config": self.config.model_dump(mode="json"),
            "agents": {name: agent.state_dict() for name, agent in self.agents().items()},
            "held": held,
            "pending": pending,
            "update_calls": self.num_update_calls,
        }

    def load_state_dict(self, sd: Any, where: str = "agent") -> None:
        """Restore a `state_dict`; a corrupt or mismatched one raises `CheckpointError` naming the
        entry and leaves this agent unchanged."""
        sd = get_mapping(sd, where)
        check_keys(sd, ("format", "config", "agents", "held", "pending", "update_calls"), where)
        check_format(sd, _FORMAT, where)
        check_config(sd["config"], self.config.model_dump(mode="json"), f"{where}.config")
        agents_sd = get_mapping(sd["agents"], f"{where}.agents")
        check_keys(agents_sd, self.agents(), f"{where}.agents")
        staged = HierarchicalAgent(self.config, device=self.device)
        for name, agent in staged.agents().items():
            agent.load_state_dict(agents_sd[name], f"{where}.agents.{name}")
        staged._load_window(sd, where)
        self.__dict__.update(staged.__dict__)

    def _load_window(self, sd: Mapping[str, Any], where: str) -> None:
        n = self.config.n_slices
        if sd["held"] is not None:
            self._held = check_tensor(sd["held"], f"{where}.held", (n,), torch.float32).numpy().copy()
        if sd["pending"] is not None:
            pending = get_mapping(sd["pending"], f"{where}.pending")
            check_keys(pending, ("obs", "action"), f"{where}.pending")
            obs_shape = (self.config.obs_high_dim,)
            s_h = check_tensor(pending["obs"], f"{where}.pending.obs", obs_shape, torch.float32)
            a_h = check_tensor(pending["action"], f"{where}.pending.action", (n,), torch.float32)
            self._pending = (s_h.numpy().copy(), a_h.numpy().copy())
        self.num_update_calls = get_int(sd, "update_calls", where)
