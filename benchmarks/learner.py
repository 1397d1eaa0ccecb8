"""Learner throughput: gradient steps/s of one DU's four DDPG learners (1 high + 3 low) at the
paper's network sizes (256-512-512, tanh, batch 128), and the ratio to a bare PyTorch DDPG update
of the same networks measured in the same run.

A learner step is one `HierarchicalAgent.update()`: for each of the four learners, replay
sampling, a critic step, an actor step and the soft target updates, plus UE masking, gradient
clipping, TD-error statistics and metrics. The bare reference does the same four DDPG updates
CleanRL-style with plain `nn.Sequential` actor/critic and the same Adam kernel on fixed tensors,
nothing else. The two are timed in alternating rounds; figures are medians.

Dimensions are the hierarchical env's (`e2sim.env`): high obs = 4 features × L = 3 slices = 12
(QoS, UE fraction, last share, demand share), low obs = 5 slice features + 5 per UE slot =
5 + 5·U_max = 155 at U_max = 30.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from e2sim.env import HIGH_FEATURES, LOW_GLOBAL, LOW_PER_UE
from xapps.agent import DDPGConfig, HierarchicalAgent, HierarchicalConfig, Observation

__all__ = ["add_arguments", "run"]

N_SLICES = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the learners run")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--batch", type=int, default=128, help="minibatch size (paper: 128)")
    parser.add_argument("--max-ues", type=int, default=30, help="U_max UE slots per slice")
    parser.add_argument("--rounds", type=int, default=8, help="alternating timing rounds")
    parser.add_argument("--iters", type=int, default=5, help="steps per round and side")
    parser.add_argument(
        "--adam", choices=("fused", "foreach", "for-loop"), default="fused", help="Adam kernel"
    )


def obs_dims(max_ues: int) -> tuple[int, int]:
    """(obs_high_dim, obs_low_dim) used for the benchmark."""
    return len(HIGH_FEATURES) * N_SLICES, len(LOW_GLOBAL) + len(LOW_PER_UE) * max_ues


def _make_agent(args: argparse.Namespace) -> HierarchicalAgent:
    high_dim, low_dim = obs_dims(args.max_ues)
    ddpg = DDPGConfig(batch_size=args.batch, optimizer_impl=args.adam, buffer_size=4096)
    cfg = HierarchicalConfig(
        obs_high_dim=high_dim, obs_low_dim=low_dim, max_ues=args.max_ues, high=ddpg, low=ddpg
    )
    agent = HierarchicalAgent(cfg, seed=0, device=args.device)
    rng = np.random.default_rng(0)
    n = 2048
    for learner in agent.agents().values():
        o, a = learner.obs_dim, learner.act_dim
        masks = [rng.random((n, a)) < 0.7 for _ in range(2)] if learner.masked else [None, None]
        learner.replay.add_batch(
            rng.normal(size=(n, o)), rng.uniform(-1, 1, (n, a)), rng.normal(size=n),
            rng.normal(size=(n, o)), rng.random(n) < 0.01, *masks,
        )  # fmt: skip
    return agent


class _BareDDPG:
    """CleanRL's DDPG update on fixed tensors: the reference cost of the same networks."""

    def __init__(self, obs_dim: int, act_dim: int, args: argparse.Namespace) -> None:
        dev, b = torch.device(args.device), args.batch

        def mlp(i: int, o: int) -> list[nn.Module]:
            return [nn.Linear(i, 256), nn.Tanh(), nn.Linear(256, 512), nn.Tanh(),
                    nn.Linear(512, 512), nn.Tanh(), nn.Linear(512, o)]  # fmt: skip

        self.actor = nn.Sequential(*mlp(obs_dim, act_dim), nn.Tanh()).to(dev)
        self.qf = nn.Sequential(*mlp(obs_dim + act_dim, 1)).to(dev)
        self.actor_target, self.qf_target = copy.deepcopy(self.actor), copy.deepcopy(self.qf)
        kw = {"fused": True} if args.adam == "fused" else {"foreach": args.adam == "foreach"}
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=1e-4, **kw)
        self.q_opt = torch.optim.Adam(self.qf.parameters(), lr=1e-3, **kw)
        self.obs, self.next_obs = torch.randn(b, obs_dim, device=dev), torch.randn(b, obs_dim, device=dev)
        self.act = torch.rand(b, act_dim, device=dev) * 2 - 1
        self.rew, self.done = torch.randn(b, device=dev), torch.zeros(b, device=dev)

    def step(self, gamma: float = 0.99, tau: float = 0.005) -> None:
        with torch.no_grad():
            next_a = self.actor_target(self.next_obs)
            qf_next = self.qf_target(torch.cat([self.next_obs, next_a], 1)).view(-1)
            y = self.rew + (1 - self.done) * gamma * qf_next
        qf_loss = F.mse_loss(self.qf(torch.cat([self.obs, self.act], 1)).view(-1), y)
        self.q_opt.zero_grad()
        qf_loss.backward()
        self.q_opt.step()
        actor_loss = -self.qf(torch.cat([self.obs, self.actor(self.obs)], 1)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        for net, target in ((self.actor, self.actor_target), (self.qf, self.qf_target)):
            for p, tp in zip(net.parameters(), target.parameters(), strict=True):
                tp.data.copy_(tau * p.data + (1 - tau) * tp.data)


def _timed(fn: Callable[[], object], n: int, device: str) -> list[float]:
    """Per-call milliseconds of `fn`, n calls."""
    out = []
    for _ in range(n):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def _act_obs(agent: HierarchicalAgent) -> Observation:
    cfg = agent.config
    rng = np.random.default_rng(1)
    return Observation(
        high=rng.normal(size=cfg.obs_high_dim).astype(np.float32),
        low=rng.normal(size=(cfg.n_slices, cfg.obs_low_dim)).astype(np.float32),
        ue_mask=rng.random((cfg.n_slices, cfg.max_ues)) < 0.7,
        high_due=True,
    )


def measure(args: argparse.Namespace) -> dict[str, object]:
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    agent = _make_agent(args)
    high_dim, low_dim = obs_dims(args.max_ues)
    bare_high = _BareDDPG(high_dim, N_SLICES, args)
    bare_lows = [_BareDDPG(low_dim, args.max_ues, args) for _ in range(N_SLICES)]

    def bare_du_step() -> None:
        for bare in (bare_high, *bare_lows):
            bare.step()

    for fn in (agent.update, bare_du_step):  # warm-up (allocator, Adam state, kernels)
        _timed(fn, 3, args.device)
    learner_ms: list[float] = []
    bare_ms: list[float] = []
    for _ in range(args.rounds):
        learner_ms += _timed(agent.update, args.iters, args.device)
        bare_ms += _timed(bare_du_step, args.iters, args.device)
    bare_high_ms = statistics.median(_timed(bare_high.step, args.iters * 2, args.device))
    bare_low_ms = statistics.median(_timed(bare_lows[0].step, args.iters * 2, args.device))
    obs = _act_obs(agent)
    act_ms = statistics.median(_timed(lambda: agent.act(obs, explore=True), 50, "cpu"))

    step_ms, bare_step_ms = statistics.median(learner_ms), statistics.median(bare_ms)
    return {
        "device": args.device,
        "torch_threads": torch.get_num_threads() if args.device == "cpu" else None,
        "torch_version": torch.__version__,
        "adam": args.adam,
        "batch": args.batch,
        "obs_high_dim": high_dim,
        "obs_low_dim": low_dim,
        "max_ues": args.max_ues,
        "hidden_sizes": list(agent.config.low.hidden_sizes),
        "learner_step_ms": step_ms,
        "learner_steps_per_s": 1e3 / step_ms,
        "gradient_steps_per_s": 4 * 1e3 / step_ms,
        "bare_update_ms": bare_step_ms,
        "bare_update_ms_high": bare_high_ms,
        "bare_update_ms_low": bare_low_ms,
        "learner_overhead_ratio": step_ms / bare_step_ms,
        "learner_step_ms_min": min(learner_ms),
        "bare_update_ms_min": min(bare_ms),
        "act_ms": act_ms,
        "samples": len(learner_ms),
    }


def run(args: argparse.Namespace) -> int:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available")
    result = measure(args)
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"learner (1 high + {N_SLICES} low DDPG, 256-512-512, batch {result['batch']}, "
        f"{result['device']}, {result['torch_threads']} threads, Adam {result['adam']})"
    )
    print(f"  learner step          {result['learner_step_ms']:.2f} ms  "
          f"({result['learner_steps_per_s']:.1f} steps/s, "
          f"{result['gradient_steps_per_s']:.1f} learner gradient steps/s)")  # fmt: skip
    high, low = result["bare_update_ms_high"], result["bare_update_ms_low"]
    print(
        f"  bare DDPG x4          {result['bare_update_ms']:.2f} ms  (high {high:.2f} ms, low {low:.2f} ms)"
    )
    print(f"  overhead ratio        {result['learner_overhead_ratio']:.3f}")
    print(f"  act (one DU, explore) {result['act_ms']:.3f} ms")
    return 0
