"""Phase 2: meta-training, Algorithm 1 lines 2–16, in one process (no sockets).

Each DU of the training scenario is one task g. One **iteration** t:

1. every task resets its agent to θ_M (line 5–6; targets synced, fresh Adam moments — the inner
   loop starts from θ_M, not from moments accumulated at earlier iterations' adapted points; the
   task's replay is kept: it is the DU's data, as in the deployed xApp);
2. every task collects T_e episodes with θ_M, all DUs stepping together (lines 7–10). The first
   T_e − q go to the task's replay buffer (support set B_g^tr); the last q go to a separate buffer
   (query set B_g^val), emptied at every iteration, so support and query never share a
   transition and the query set holds only this iteration's data;
3. inner update (eq. 11, line 11): ``inner_steps`` DDPG updates of every network at both levels on
   minibatches of the support buffer — the agent's own update (Adam, α = its learning rates),
   the update the DU xApp runs;
4. query gradient (line 12): the DDPG loss gradient at the adapted θ'_g of each network whose
   support learner is ready, on a minibatch of at most ``batch_size`` query transitions
   (`HierarchicalAgent.query_gradients`), clipped per network (``task_grad_clip``); first-order
   MAML (or, for the ablation, full second-order MAML through a plain-SGD inner loop). Frozen
   levels (``preset.frozen``) get no inner updates and no gradient, so θ_M keeps them;
5. task weights from each learner's TD-error variance (eq. 14–16, line 13), one weight vector per
   agent group ("high", "low.0", "low.1", "low.2"); a group in which some task has no TD errors yet
   gets equal variances, i.e. uniform weights, for that iteration;
6. the meta-update (eq. 13, line 15) by `meta_controller.maml.meta_update` — the function the
   meta-controller service applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor

from e2sim.config import ScenarioConfig
from e2sim.env import HierarchicalSlicingEnv
from experiments.meta.budget import level_of
from experiments.meta.envs import agent_config, derive_seed, make_env, make_pool, to_cpu, to_device
from experiments.meta.preset import MetaTrainConfig, ReproducePreset
from experiments.meta.pretrain import GROUPS, td_variances
from experiments.meta.rollout import collect_episode, update_pool
from meta_controller.algorithm import MetaConfig, clip_per_network, meta_step, variances_with_fallback
from meta_controller.maml import second_order_meta_gradient
from meta_controller.weights import WeightingScheme
from xapps.agent import Batch, HierarchicalAgent, HierarchicalConfig, ReplayBuffer

__all__ = ["MetaLearner", "MetaTrainResult", "clip_per_network"]


@dataclass
class MetaTrainResult:
    theta: dict[str, Tensor]  # θ_M after the last iteration (CPU)
    curve: list[float] = field(default_factory=list)  # per iteration: mean per-DU Σ R_h (θ_M, exploring)
    weights: dict[str, list[list[float]]] = field(default_factory=dict)  # group → per iteration
    variances: dict[str, list[list[float]]] = field(default_factory=dict)
    delay_ms: list[float] = field(default_factory=list)  # wall time of each meta_update call


def _query_config(
    cfg: HierarchicalConfig, query_episodes: int, env: HierarchicalSlicingEnv
) -> HierarchicalConfig:
    """The query pool's shape: replay capacity = the transitions of one iteration's query set."""
    steps = env.config.episode_steps
    high = max(1, query_episodes * (steps // env.config.high_period_steps))
    return cfg.model_copy(
        update={
            "high": cfg.high.model_copy(update={"buffer_size": high}),
            "low": cfg.low.model_copy(update={"buffer_size": query_episodes * steps}),
        }
    )


class MetaLearner:
    """θ_M and the training tasks' agents; `iteration()` runs one pass of Algorithm 1."""

    def __init__(
        self,
        scenario: ScenarioConfig,
        preset: ReproducePreset,
        scheme: WeightingScheme,
        theta0: Mapping[str, Tensor],
        seed: int,
        *,
        config: MetaTrainConfig | None = None,
        episode_steps: int | None = None,
        static_means: Mapping[str, list[float]] | None = None,
        second_order: bool = False,
        device: str = "cpu",
    ) -> None:
        self.cfg = config or preset.meta
        self.scheme, self.seed, self.second_order = scheme, seed, second_order
        self.env = make_env(scenario, preset, episode_steps)
        agent_cfg = agent_config(preset, self.env)
        n = self.env.n_du
        self.tasks = make_pool(agent_cfg, n, theta0, derive_seed(seed, "meta-tasks"), device)
        self.query = make_pool(
            _query_config(agent_cfg, self.cfg.query_episodes, self.env),
            n,
            None,
            derive_seed(seed, "meta-query"),
            device,
        )
        self.frozen = preset.frozen
        self.theta: dict[str, Tensor] = to_device(theta0, device)
        self.static_means = static_means
        if scheme == "static-var" and static_means is None:
            raise ValueError("the static-var scheme needs the phase-1 mean TD variances")
        self.meta_config = MetaConfig(
            beta=self.cfg.beta,
            beta_actor=self.cfg.beta_actor,
            scheme=scheme,
            temperature=self.cfg.temperature,
            normalise=self.cfg.normalise,
            variance=self.cfg.variance,
            task_grad_clip=self.cfg.task_grad_clip,
        )
        self.result = MetaTrainResult(
            theta={}, weights={g: [] for g in GROUPS}, variances={g: [] for g in GROUPS}
        )
        self.t = 0

    # ---- one iteration ---------------------------------------------------------------------
    def iteration(self) -> float:
        """Lines 4–15 of Algorithm 1 for every task, then the meta-update; returns the reward."""
        for agent in self.tasks:
            agent.set_params(self.theta)
            agent.reset_optimizers()
        self._empty_query()
        reward = self._collect()
        grads = [self._task_gradient(g, agent) for g, agent in enumerate(self.tasks)]
        variances = self._variances()
        weights, delay_ms = self._meta_update(grads, variances)
        self.result.delay_ms.append(delay_ms)
        self._record(reward, weights, variances)
        self.t += 1
        return reward

    def _meta_update(
        self, grads: list[dict[str, Tensor]], variances: dict[str, list[float]] | None
    ) -> tuple[Mapping[str, tuple[float, ...]], float]:
        """Eq. 13 by `meta_controller.algorithm.meta_step` (the service's function). Returns the
        weights and the wall time (ms) of the `meta_update` call(s) alone."""
        step = meta_step(self.theta, grads, variances, self.meta_config)
        self.theta = step.params
        return step.weights, step.update_ms

    def _collect(self) -> float:
        cfg, total = self.cfg, 0.0
        for e in range(cfg.episodes):
            is_query = e >= cfg.episodes - cfg.query_episodes
            seed = derive_seed(self.seed, "meta-episode", self.t, e)
            ret = collect_episode(self.env, self.tasks, seed, store=self.query if is_query else None)
            total += float(ret.mean())
        return total / cfg.episodes

    def _empty_query(self) -> None:
        """Fresh query buffers B^val (capacity: one iteration's query episodes)."""
        for agent in self.query:
            for learner in agent.agents().values():
                old = learner.replay
                learner.replay = ReplayBuffer(
                    old.capacity, old.obs_dim, old.act_dim, masked=old.masked, device=old.device
                )

    def _query_batches(self, g: int, agent: HierarchicalAgent) -> dict[str, Batch]:
        """A query minibatch (≤ batch_size of this iteration's query set) for every learner of
        task `g` that is not frozen and whose support learner is ready (has made inner updates)."""
        out: dict[str, Batch] = {}
        support = agent.agents()
        for name, q in self.query[g].agents().items():
            n = len(q.replay)
            if level_of(name) in self.frozen or n == 0 or not support[name].ready():
                continue
            out[name] = q.sample(min(q.config.batch_size, n))
        return out

    def _task_gradient(self, g: int, agent: HierarchicalAgent) -> dict[str, Tensor]:
        query = self._query_batches(g, agent)
        if self.second_order:
            grads = self._second_order_gradient(agent, query)
        else:
            for _ in range(self.cfg.inner_steps):
                update_pool([agent], self.frozen)
            grads = agent.query_gradients(query) if query else {}
        full = {k: grads[k] if k in grads else torch.zeros_like(v) for k, v in self.theta.items()}
        return clip_per_network(full, self.cfg.task_grad_clip)

    def _second_order_gradient(self, agent: HierarchicalAgent, query: dict[str, Batch]) -> dict[str, Tensor]:
        """Full MAML through ``inner_steps`` plain-SGD steps (α = ``second_order_alpha``)."""
        ready = [n for n, learner in agent.agents().items() if learner.ready() and n in query]
        if not ready:
            return {}
        support = [{n: agent.agents()[n].sample() for n in ready} for _ in range(self.cfg.inner_steps)]
        query_ready = {n: query[n] for n in ready}
        for n in ready:  # the TD errors of θ_M on the query set stand in for the inner updates'
            learner = agent.agents()[n]
            learner.td_stats.update(learner.critic_loss(query_ready[n]).td_error.cpu().numpy())
        return second_order_meta_gradient(
            self.theta, agent.loss, support, query_ready, self.cfg.second_order_alpha, self.cfg.inner_steps
        )

    def _variances(self) -> dict[str, list[float]] | None:
        if self.scheme == "uniform":
            return None
        if self.scheme == "static-var":
            assert self.static_means is not None
            return {g: list(self.static_means[g]) for g in GROUPS}
        return variances_with_fallback(td_variances(self.tasks, self.cfg.variance))

    def _record(
        self,
        reward: float,
        weights: Mapping[str, tuple[float, ...]],
        variances: Mapping[str, list[float]] | None,
    ) -> None:
        n = len(self.tasks)
        self.result.curve.append(reward)
        for g in GROUPS:
            w = weights.get(g, weights.get("", tuple([1.0 / n] * n)))
            self.result.weights[g].append([float(x) for x in w])
            self.result.variances[g].append([] if variances is None else [float(x) for x in variances[g]])

    # ---- whole run -------------------------------------------------------------------------
    def run(
        self, iterations: int | None = None, progress: Callable[[int], None] | None = None
    ) -> MetaTrainResult:
        for _ in range(iterations if iterations is not None else self.cfg.iterations):
            self.iteration()
            if progress is not None:
                progress(self.t)
        self.result.theta = to_cpu(self.theta)
        return self.result
