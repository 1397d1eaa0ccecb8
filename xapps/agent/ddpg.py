"""DDPG (Lillicrap et al. 2016) as the paper uses it at both levels (SPEC §3).

Reads like CleanRL's ``ddpg_continuous_action.py``: an `actor` μ(s) and a `critic` Q(s, a), their
`actor_target` and `critic_target` copies tracked by Polyak averaging with rate `tau`, a replay
buffer, and one `update()` that does

    y        = r + gamma · (1 − done) · Q_target(s', μ_target(s'))
    td_error = y − Q(s, a)                     critic: minimise mean(td_error²)
    actor:  minimise −mean Q(s, μ(s))          targets: θ' ← tau·θ + (1 − tau)·θ'

and returns its metrics. The two losses are also free functions, `critic_loss` and `actor_loss`,
that take an optional parameter dict (names as in `DDPG.parameters_dict`, e.g.
``"critic.0.weight"``) and evaluate the networks with `torch.func.functional_call`: that is
what meta-learning uses to compute query-set losses and gradients at adapted parameters without
touching the agent.

Per-UE agents pass a UE mask: action slots of absent UEs are replaced by `MASK_FILL` (= −1, "no
RB request") before they reach the critic, both for stored actions and for μ(s), so they never
influence Q, the losses, or the gradients.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn
from torch.func import functional_call

from xapps.agent.checkpoint import (
    check_config,
    check_format,
    check_keys,
    check_tensor,
    get_int,
    get_mapping,
    load_module_state,
    load_optimizer_state,
)
from xapps.agent.networks import Activation, Actor, Critic, init_uniform_
from xapps.agent.noise import NoiseKind, make_noise
from xapps.agent.replay import Batch, ReplayBuffer
from xapps.agent.td_stats import TDStats, TDVariance

__all__ = [
    "DDPG",
    "MASK_FILL",
    "CriticLoss",
    "DDPGConfig",
    "Networks",
    "UpdateMetrics",
    "actor_loss",
    "critic_loss",
    "ddpg_loss",
    "make_adam",
    "mask_action",
    "soft_update",
]

MASK_FILL = -1.0
"""Value that replaces the action of an absent (masked) UE: −1 maps to a zero RB request."""

OptimizerImpl = Literal["auto", "fused", "foreach", "for-loop"]
Params = Mapping[str, Tensor]
_FORMAT = "metahrl.agent.ddpg/1"


class DDPGConfig(BaseModel):
    """Hyper-parameters of one DDPG learner. Defaults follow the paper (§VII-A) where it says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden_sizes: tuple[int, ...] = Field(
        default=(256, 512, 512),
        description="hidden layer widths of actor and critic (paper: 256-512-512)",
    )
    activation: Activation = Field(default="tanh", description="hidden activation (paper: tanh)")
    actor_lr: float = Field(default=1e-4, gt=0, description="actor Adam learning rate (choice: 1e-4)")
    critic_lr: float = Field(default=1e-3, gt=0, description="critic Adam learning rate (choice: 1e-3)")
    gamma: float = Field(default=0.99, ge=0, le=1, description="discount factor (paper: 0.99)")
    tau: float = Field(default=0.005, gt=0, le=1, description="Polyak rate of the target networks")
    batch_size: int = Field(default=128, ge=1, description="minibatch size (paper: 128)")
    buffer_size: int = Field(
        default=20_000,
        ge=1,
        description="replay capacity in transitions (≈29 MB for a 30-slot slice agent, obs 155)",
    )
    learning_starts: int = Field(
        default=256,
        ge=0,
        description="no updates until the buffer holds max(this, batch_size) transitions",
    )
    random_steps: int = Field(
        default=0,
        ge=0,
        description="first N exploring actions are uniform in [-1, 1], not μ(s) + noise",
    )
    policy_frequency: int = Field(
        default=1, ge=1, description="actor and target update every N critic updates (DDPG: 1)"
    )
    max_grad_norm: float | None = Field(
        default=10.0,
        gt=0,
        description="clip each network's gradient L2 norm to this; None disables",
    )
    noise: NoiseKind = Field(default="gaussian", description="exploration noise: gaussian | ou")
    noise_sigma: float = Field(default=0.1, ge=0, description="exploration noise scale σ")
    ou_theta: float = Field(default=0.15, gt=0, description="OU mean-reversion rate θ")
    ou_dt: float = Field(default=1.0, gt=0, description="OU time step (1: one step per action)")
    optimizer_impl: OptimizerImpl = Field(
        default="auto",
        description="Adam kernel; auto = fused (fastest measured on CPU: 6.5 vs 8.0 ms foreach per update)",
    )
    td_window: int = Field(default=1000, ge=1, description="TD errors kept for the windowed variance")


class Networks(NamedTuple):
    """The four networks of one DDPG learner."""

    actor: nn.Module
    critic: nn.Module
    actor_target: nn.Module
    critic_target: nn.Module


class CriticLoss(NamedTuple):
    loss: Tensor  # mean squared TD error (differentiable)
    td_error: Tensor  # (B,) y − Q(s, a), detached
    q: Tensor  # (B,) Q(s, a), detached


@dataclass(frozen=True)
class UpdateMetrics:
    """What one `DDPG.update` did. `actor_loss` is None on critic-only steps (policy_frequency)."""

    critic_loss: float
    actor_loss: float | None
    td_errors: npt.NDArray[np.float32]
    q_mean: float
    q_min: float
    q_max: float
    critic_grad_norm: float | None
    actor_grad_norm: float | None

    def scalars(self) -> dict[str, float]:
        """The scalar metrics (for logging); None entries are left out."""
        out = {k: v for k, v in asdict(self).items() if k != "td_errors" and v is not None}
        out["td_error_var"] = float(np.var(self.td_errors))
        return out


def mask_action(action: Tensor, mask: Tensor | None) -> Tensor:
    """Replace masked-out (absent-UE) action slots by `MASK_FILL`; gradients to them are zero."""
    if mask is None:
        return action
    return torch.where(mask, action, torch.full_like(action, MASK_FILL))


def _bind(module: nn.Module, params: Params | None, prefix: str) -> Callable[..., Tensor]:
    """`module`, or `module` evaluated at the entries of `params` named ``prefix.*``."""
    if params is None:
        return module
    head = prefix + "."
    sub = {k[len(head) :]: v for k, v in params.items() if k.startswith(head)}
    if not sub:
        return module
    return lambda *args: functional_call(module, sub, args)


def critic_loss(nets: Networks, batch: Batch, gamma: float, params: Params | None = None) -> CriticLoss:
    """Mean squared TD error of the critic on `batch`.

    `params` overrides any parameters it names (``critic.*``, and optionally ``actor_target.*`` /
    ``critic_target.*``); the target y is computed without gradient.
    """
    critic = _bind(nets.critic, params, "critic")
    actor_target = _bind(nets.actor_target, params, "actor_target")
    critic_target = _bind(nets.critic_target, params, "critic_target")
    with torch.no_grad():
        next_action = mask_action(actor_target(batch.next_obs), batch.next_mask)
        q_next = critic_target(batch.next_obs, next_action)
        y = batch.reward + gamma * (1.0 - batch.done) * q_next
    q = critic(batch.obs, mask_action(batch.action, batch.mask))
    td_error = y - q
    return CriticLoss(td_error.square().mean(), td_error.detach(), q.detach())


def actor_loss(nets: Networks, batch: Batch, params: Params | None = None) -> Tensor:
    """−mean Q(s, μ(s)) on `batch`; `params` may override ``actor.*`` and ``critic.*``."""
    actor = _bind(nets.actor, params, "actor")
    critic = _bind(nets.critic, params, "critic")
    return -critic(batch.obs, mask_action(actor(batch.obs), batch.mask)).mean()


def ddpg_loss(nets: Networks, batch: Batch, gamma: float, params: Params | None = None) -> Tensor:
    """`critic_loss` + `actor_loss` as one scalar, for functional meta-learning.

    The critic enters the actor term detached, so the gradient w.r.t. ``critic.*`` is that of the
    critic loss and w.r.t. ``actor.*`` that of the actor loss — the two directions `DDPG.update`
    descends. Target networks are constants (the learner's current targets).
    """
    q_loss = critic_loss(nets, batch, gamma, params).loss
    own = {f"critic.{k}": v for k, v in nets.critic.named_parameters()}
    given = {k: v for k, v in (params or {}).items() if k.startswith("critic.")}
    frozen = {k: v.detach() for k, v in (own | given).items()}
    return q_loss + actor_loss(nets, batch, {**(params or {}), **frozen})


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging θ' ← tau·θ + (1 − tau)·θ' (in place, as a lerp)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.lerp_(s, tau)


def make_adam(
    params: Iterator[nn.Parameter] | list[nn.Parameter], lr: float, impl: OptimizerImpl
) -> torch.optim.Adam:
    """Adam with the chosen kernel. `auto` is fused: on this project's CPU (2 threads, 256-512-512
    at batch 128) a full DDPG update took 6.5 ms fused vs 8.0 ms foreach vs 8.6 ms for-loop."""
    if impl in ("auto", "fused"):
        return torch.optim.Adam(params, lr=lr, fused=True)
    return torch.optim.Adam(params, lr=lr, foreach=impl == "foreach")


def _child_seeds(seed: int | np.random.SeedSequence, n: int) -> list[int]:
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [int(s.generate_state(1, dtype=np.uint32)[0]) for s in seq.spawn(n)]


class DDPG:
    """One DDPG learner: networks, optimizers, replay, exploration noise and TD statistics.

    Owns its random state (network init, replay sampling, noise, warm-up actions) through private
    `torch.Generator`s derived from `seed`, so it never reads or disturbs the global RNG, and
    `state_dict` captures everything needed to continue bit-exactly.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        config: DDPGConfig | None = None,
        *,
        seed: int | np.random.SeedSequence = 0,
        masked: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        cfg = config or DDPGConfig()
        self.config, self.obs_dim, self.act_dim, self.masked = cfg, obs_dim, act_dim, masked
        self.device = torch.device(device)
        init_seed, sample_seed, noise_seed, act_seed = _child_seeds(seed, 4)
        init_rng = torch.Generator().manual_seed(init_seed)
        with torch.device("meta"):  # allocate without nn.Linear's default init (global RNG)
            actor = Actor(obs_dim, act_dim, cfg.hidden_sizes, cfg.activation)
            critic = Critic(obs_dim, act_dim, cfg.hidden_sizes, cfg.activation)
        actor, critic = actor.to_empty(device="cpu"), critic.to_empty(device="cpu")
        init_uniform_(actor, init_rng)
        init_uniform_(critic, init_rng)
        self.actor, self.critic = actor.to(self.device), critic.to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.nets = Networks(self.actor, self.critic, self.actor_target, self.critic_target)
        self._actor_params = list(self.actor.parameters())
        self._critic_params = list(self.critic.parameters())
        self.actor_optimizer = make_adam(self._actor_params, cfg.actor_lr, cfg.optimizer_impl)
        self.critic_optimizer = make_adam(self._critic_params, cfg.critic_lr, cfg.optimizer_impl)
        self.replay = ReplayBuffer(cfg.buffer_size, obs_dim, act_dim, masked=masked, device=device)
        self.noise = make_noise(
            cfg.noise, (act_dim,), cfg.noise_sigma, noise_seed, theta=cfg.ou_theta, dt=cfg.ou_dt
        )
        self._sample_rng = torch.Generator().manual_seed(sample_seed)
        self._act_rng = torch.Generator().manual_seed(act_seed)
        self.td_stats = TDStats(cfg.td_window)
        self.num_updates = 0
        self.num_explore_acts = 0

    # ---- acting ---------------------------------------------------------------------------
    def act(
        self, obs: npt.ArrayLike, explore: bool, mask: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float32]:
        """Action in [-1, 1]^act_dim for one observation; μ(s) + noise (clipped) when exploring."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        if obs_t.shape != (self.obs_dim,):
            raise ValueError(f"observation shape {tuple(obs_t.shape)}, expected ({self.obs_dim},)")
        if explore and self.num_explore_acts < self.config.random_steps:
            action = torch.rand((self.act_dim,), generator=self._act_rng) * 2.0 - 1.0
        else:
            with torch.no_grad():
                action = self.actor(obs_t.to(self.device)).cpu()
            if explore:
                action = (action + self.noise.sample()).clamp_(-1.0, 1.0)
        self.num_explore_acts += int(explore)
        if mask is not None:  # mask_action, on the NumPy side (the same float32 values)
            mask_a = np.asarray(mask, dtype=bool)
            if mask_a.shape != (self.act_dim,):
                raise ValueError(f"mask shape {mask_a.shape}, expected ({self.act_dim},)")
            return np.where(mask_a, action.numpy(), np.float32(MASK_FILL))
        return action.numpy()

    def store(
        self,
        obs: npt.ArrayLike,
        action: npt.ArrayLike,
        reward: float,
        next_obs: npt.ArrayLike,
        done: bool,
        mask: npt.ArrayLike | None = None,
        next_mask: npt.ArrayLike | None = None,
    ) -> None:
        """Put one transition in the replay buffer (`done`: s' is terminal, no bootstrap)."""
        self.replay.add(obs, action, reward, next_obs, done, mask, next_mask)

    def reset_noise(self) -> None:
        """Start a fresh noise trajectory (call at episode boundaries)."""
        self.noise.reset()

    # ---- learning -------------------------------------------------------------------------
    def ready(self) -> bool:
        """Whether the buffer holds enough transitions for `update` to learn."""
        return len(self.replay) >= max(self.config.batch_size, self.config.learning_starts)

    def sample(self, batch_size: int | None = None) -> Batch:
        """A minibatch from the replay buffer (uses and advances this learner's sampling RNG)."""
        return self.replay.sample(batch_size or self.config.batch_size, self._sample_rng)

    def critic_loss(self, batch: Batch, params: Params | None = None) -> CriticLoss:
        return critic_loss(self.nets, batch, self.config.gamma, params)

    def actor_loss(self, batch: Batch, params: Params | None = None) -> Tensor:
        return actor_loss(self.nets, batch, params)

    def loss(self, batch: Batch, params: Params | None = None) -> Tensor:
        """`ddpg_loss`: critic + actor loss, critic detached in the actor term."""
        return ddpg_loss(self.nets, batch, self.config.gamma, params)

    def _step(
        self, optimizer: torch.optim.Optimizer, loss: Tensor, params: list[nn.Parameter]
    ) -> Tensor | None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=params)  # actor step: no wasted gradients for the critic's weights
        norm = None
        if self.config.max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(params, self.config.max_grad_norm, foreach=True)
        optimizer.step()
        return norm

    def update(self) -> UpdateMetrics | None:
        """One DDPG gradient step on a sampled minibatch; None while the buffer is too small."""
        if not self.ready():
            return None
        cfg = self.config
        batch = self.sample()
        qf_loss, td_error, q = critic_loss(self.nets, batch, cfg.gamma)
        critic_norm = self._step(self.critic_optimizer, qf_loss, self._critic_params)
        pi_loss = actor_norm = None
        if self.num_updates % cfg.policy_frequency == 0:
            pi_loss = actor_loss(self.nets, batch)
            actor_norm = self._step(self.actor_optimizer, pi_loss, self._actor_params)
            soft_update(self.actor_target, self.actor, cfg.tau)
            soft_update(self.critic_target, self.critic, cfg.tau)
        self.num_updates += 1
        td = td_error.cpu().numpy()
        self.td_stats.update(td)
        return self._metrics(qf_loss, pi_loss, td, q, critic_norm, actor_norm)

    @staticmethod
    def _metrics(
        qf_loss: Tensor,
        pi_loss: Tensor | None,
        td: npt.NDArray[np.float32],
        q: Tensor,
        critic_norm: Tensor | None,
        actor_norm: Tensor | None,
    ) -> UpdateMetrics:
        named = {
            "critic_loss": qf_loss, "q_mean": q.mean(), "q_min": q.min(), "q_max": q.max(),
            "actor_loss": pi_loss, "critic_grad_norm": critic_norm, "actor_grad_norm": actor_norm,
        }  # fmt: skip
        present = {k: v.detach().reshape(()) for k, v in named.items() if v is not None}
        v = dict(zip(present, torch.stack(list(present.values())).tolist(), strict=True))
        return UpdateMetrics(
            critic_loss=v["critic_loss"],
            actor_loss=v.get("actor_loss"),
            td_errors=td,
            q_mean=v["q_mean"],
            q_min=v["q_min"],
            q_max=v["q_max"],
            critic_grad_norm=v.get("critic_grad_norm"),
            actor_grad_norm=v.get("actor_grad_norm"),
        )

    def td_variance(self) -> TDVariance:
        """Running (Welford) and windowed variance of the TD errors of all updates so far."""
        return self.td_stats.variance()

    def query_gradients(self, batch: Batch) -> dict[str, Tensor]:
        """∂critic_loss/∂critic and ∂actor_loss/∂actor on `batch` at the current parameters,
        named as in `parameters_dict`; leaves `.grad` and the optimizers untouched."""
        c_loss = critic_loss(self.nets, batch, self.config.gamma).loss
        c_grads = torch.autograd.grad(c_loss, self._critic_params)
        a_grads = torch.autograd.grad(actor_loss(self.nets, batch), self._actor_params)
        names = [f"critic.{n}" for n, _ in self.critic.named_parameters()]
        names += [f"actor.{n}" for n, _ in self.actor.named_parameters()]
        return dict(zip(names, [*c_grads, *a_grads], strict=True))

    # ---- parameters -----------------------------------------------------------------------
    def networks(self, include_targets: bool = False) -> dict[str, nn.Module]:
        """``{"actor": …, "critic": …}`` (+ ``actor_target``, ``critic_target``)."""
        nets = self.nets._asdict()
        return nets if include_targets else {k: nets[k] for k in ("actor", "critic")}

    def parameters_dict(self) -> dict[str, nn.Parameter]:
        """Live parameters of actor and critic, e.g. ``"actor.0.weight"``."""
        return {
            f"{name}.{p_name}": p
            for name, module in self.networks().items()
            for p_name, p in module.named_parameters()
        }

    def get_params(self) -> dict[str, Tensor]:
        """Detached copies of `parameters_dict`."""
        return {k: v.detach().clone() for k, v in self.parameters_dict().items()}

    @torch.no_grad()
    def set_params(self, params: Params, *, sync_targets: bool = True) -> None:
        """Copy `params` (all names of `parameters_dict`) in; targets follow when `sync_targets`."""
        own = self.parameters_dict()
        check_keys(params, own, "params")
        for name, p in own.items():
            check_tensor(params[name], f"params.{name}", tuple(p.shape), p.dtype)
        for name, p in own.items():
            p.copy_(params[name])
        if sync_targets:
            self.actor_target.load_state_dict(self.actor.state_dict())
            self.critic_target.load_state_dict(self.critic.state_dict())

    def reset_optimizers(self) -> None:
        """Fresh Adam moments (e.g. after `set_params` with a new meta-initialisation)."""
        cfg = self.config
        self.actor_optimizer = make_adam(self._actor_params, cfg.actor_lr, cfg.optimizer_impl)
        self.critic_optimizer = make_adam(self._critic_params, cfg.critic_lr, cfg.optimizer_impl)

    # ---- checkpoints ----------------------------------------------------------------------
    def _dims(self) -> dict[str, Any]:
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "masked": self.masked}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume bit-exactly: networks, optimizers, replay, noise, RNGs,
        TD statistics and counters (a snapshot: later training does not change it)."""
        return {
            "format": _FORMAT,
            "config": self.config.model_dump(mode="json"),
            "dims": self._dims(),
            "networks": {
                name: {k: v.detach().clone().cpu() for k, v in module.state_dict().items()}
                for name, module in self.networks(include_targets=True).items()
            },
            "optimizers": {
                "actor": copy.deepcopy(self.actor_optimizer.state_dict()),
                "critic": copy.deepcopy(self.critic_optimizer.state_dict()),
            },
            "replay": self.replay.state_dict(),
            "noise": self.noise.state_dict(),
            "rng": {"sample": self._sample_rng.get_state(), "act": self._act_rng.get_state()},
            "td_stats": self.td_stats.state_dict(),
            "counters": {"updates": self.num_updates, "explore_acts": self.num_explore_acts},
        }

    def load_state_dict(self, sd: Any, where: str = "ddpg") -> None:
        """Restore a `state_dict`. Raises `CheckpointError` naming the first mismatching entry;
        on error this learner is left exactly as it was (the load is staged on a fresh copy)."""
        sd = get_mapping(sd, where)
        check_keys(sd, self.state_dict_keys(), where)
        check_format(sd, _FORMAT, where)
        check_config(sd["config"], self.config.model_dump(mode="json"), f"{where}.config")
        check_config(sd["dims"], self._dims(), f"{where}.dims")
        staged = DDPG(self.obs_dim, self.act_dim, self.config, masked=self.masked, device=self.device)
        staged._load_parts(sd, where)
        self.__dict__.update(staged.__dict__)

    @staticmethod
    def state_dict_keys() -> tuple[str, ...]:
        return (
            "format", "config", "dims", "networks", "optimizers", "replay", "noise", "rng",
            "td_stats", "counters",
        )  # fmt: skip

    def _load_parts(self, sd: Mapping[str, Any], where: str) -> None:
        nets = get_mapping(sd["networks"], f"{where}.networks")
        check_keys(nets, self.networks(include_targets=True), f"{where}.networks")
        for name, module in self.networks(include_targets=True).items():
            load_module_state(module, nets[name], f"{where}.networks.{name}")
        opts = get_mapping(sd["optimizers"], f"{where}.optimizers")
        check_keys(opts, ("actor", "critic"), f"{where}.optimizers")
        load_optimizer_state(self.actor_optimizer, opts["actor"], f"{where}.optimizers.actor")
        load_optimizer_state(self.critic_optimizer, opts["critic"], f"{where}.optimizers.critic")
        self.replay.load_state_dict(sd["replay"], f"{where}.replay")
        self.noise.load_state_dict(sd["noise"], f"{where}.noise")
        rng = get_mapping(sd["rng"], f"{where}.rng")
        check_keys(rng, ("sample", "act"), f"{where}.rng")
        for key, gen in (("sample", self._sample_rng), ("act", self._act_rng)):
            gen.set_state(check_tensor(rng[key], f"{where}.rng.{key}", dtype=torch.uint8))
        self.td_stats.load_state_dict(sd["td_stats"], f"{where}.td_stats")
        counters = get_mapping(sd["counters"], f"{where}.counters")
        check_keys(counters, ("updates", "explore_acts"), f"{where}.counters")
        self.num_updates = get_int(counters, "updates", f"{where}.counters")
        self.num_explore_acts = get_int(counters, "explore_acts", f"{where}.counters")
