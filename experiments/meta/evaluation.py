"""Greedy evaluation of any policy (learned or classical) on a fresh environment.

Every method and every classical scheduler is evaluated by this one loop, on the same env seed,
so their numbers are paired. Per high-level window (100 ms) and DU it records what the figures
need: R_h (eq. 8), the raw slice KPIs of eq. 5–7 (eMBB mean UE throughput u_s, mMTC
quality-weighted capacity d_s, URLLC worst latency l_d), the SLA-normalised slice QoS, Jain's
index, and every UE's throughput in the window. Distributions are kept as quantiles
(:data:`QUANTILES`), so a result file stays small whatever the run length.

UE throughput needs per-UE counters that the env does not expose in ``info``; :class:`UeProbe`
reads them from the simulator's window counters by wrapping ``Simulator.collect`` of the
evaluation's own simulator instance (nothing global is patched).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from e2sim.counters import WindowCounters
from e2sim.env import HierarchicalSlicingEnv
from e2sim.kpi import SliceKpis
from e2sim.policies import Policy

__all__ = ["QUANTILES", "EvalSummary", "UeProbe", "evaluate_episodes", "evaluate_policy"]

QUANTILES: tuple[float, ...] = tuple(float(q) for q in np.linspace(0.0, 1.0, 21))
"""Probability levels at which distributions (CDFs) are stored."""

_RAW_KPI = ("throughput_mbps", "density_capacity_mbps", "latency_max_ms")
"""The raw slice QoS of eq. 5–7, in slice order (eMBB, mMTC, URLLC)."""


def _quantiles(x: NDArray[np.float64]) -> list[float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [float("nan")] * len(QUANTILES)
    return [float(v) for v in np.quantile(x, QUANTILES)]


class UeProbe:
    """Per-UE delivered bits and latency sums, read off every window the simulator closes."""

    def __init__(self, env: HierarchicalSlicingEnv) -> None:
        sim = env.sim
        if sim is None:
            raise RuntimeError("attach the probe after env.reset()")
        self.ue_slice = sim.ues.slice.copy()
        self.tti_s = sim.radio.tti_s
        self._bits = np.zeros(sim.n_ues)
        self._ttis = 0
        self.latency_sum_ms = 0.0
        self.packets = 0
        original = sim.collect

        def collect() -> WindowCounters:
            w = original()
            self._bits += w.delivered_bits
            self._ttis += w.ttis
            self.latency_sum_ms += float(w.latency_sum_ms.sum())
            self.packets += int(w.delivered_packets.sum())
            return w

        setattr(sim, "collect", collect)  # noqa: B010 - instance attribute, this simulator only

    def window_throughput(self) -> NDArray[np.float64]:
        """Each UE's throughput (Mbit/s) since the last call; starts a new window."""
        thr = self._bits / max(self._ttis, 1) / self.tti_s / 1e6
        self._bits[:] = 0.0
        self._ttis = 0
        return thr


@dataclass
class EvalSummary:
    """One greedy evaluation (see the module docstring). Lists are per slice unless noted."""

    cumulative_reward: float  # Σ_t R_h over the evaluation, mean over DUs
    cumulative_reward_du: list[float]  # per DU
    reward_per_window: float  # mean R_h per 100 ms window (0–3)
    normalised_reward: float  # reward_per_window / 3, in [0, 1]
    qos_mean: list[float]  # SLA-normalised slice QoS, mean over windows and DUs
    kpi_mean: list[float]  # raw u_s (Mbit/s), d_s (Mbit/s), l_d (ms)
    latency_mean_ms: float  # per-packet latency over all delivered packets
    jain: float  # mean per-DU Jain's index
    sla_satisfaction: list[float]
    qos_quantiles: list[list[float]] = field(default_factory=list)
    kpi_quantiles: list[list[float]] = field(default_factory=list)
    ue_throughput_quantiles: list[list[float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Windows:
    kpis: list[SliceKpis] = field(default_factory=list)
    ue_thr: list[list[NDArray[np.float64]]] = field(default_factory=lambda: [[], [], []])


def _record_window(acc: _Windows, kpis: SliceKpis, probe: UeProbe) -> None:
    acc.kpis.append(kpis)
    thr = probe.window_throughput()
    for sl in range(3):
        acc.ue_thr[sl].append(thr[probe.ue_slice == sl])


def _episode(
    env: HierarchicalSlicingEnv, policy: Policy, steps: int, seed: int, warmup: int, acc: _Windows
) -> tuple[NDArray[np.float64], UeProbe]:
    """One episode from ``env.reset(seed)``: `warmup` uncounted steps, then `steps` counted ones."""
    obs, _ = env.reset(seed)
    for _ in range(warmup):
        obs, _, _, trunc, _ = env.step(policy.act(obs))
        if trunc.all():
            raise ValueError(f"evaluation warm-up of {warmup} steps outlasts the episode")
    probe = UeProbe(env)  # counts from here on
    ret = np.zeros(env.n_du)
    for _ in range(steps):
        obs, rew, _, trunc, info = env.step(policy.act(obs))
        if rew.high_valid:
            ret += rew.high
            _record_window(acc, info["high_kpis"], probe)
        if trunc.all():
            break
    return ret, probe


def evaluate_policy(
    env: HierarchicalSlicingEnv, policy: Policy, steps: int, seed: int, warmup: int = 0
) -> EvalSummary:
    """Run `policy` (no exploration) for `steps` counted env steps, after `warmup` uncounted
    ones, from ``env.reset(seed)``; a stateful policy (e.g. `GreedyPolicy`, which holds the high
    action) should be fresh."""
    return evaluate_episodes(env, lambda _seed: policy, steps, [seed], warmup)


def evaluate_episodes(
    env: HierarchicalSlicingEnv,
    make_policy: Callable[[int], Policy],
    steps: int,
    seeds: Sequence[int],
    warmup: int = 0,
) -> EvalSummary:
    """`evaluate_policy` once per seed, each episode with a fresh ``make_policy(seed)``; the
    summary pools the windows of every episode, its cumulative reward is the mean over episodes."""
    if not seeds:
        raise ValueError("an evaluation needs at least one seed")
    acc, total = _Windows(), np.zeros(env.n_du)
    latency, packets = 0.0, 0
    for s in seeds:
        ret, probe = _episode(env, make_policy(s), steps, s, warmup, acc)
        total += ret
        latency, packets = latency + probe.latency_sum_ms, packets + probe.packets
    if not acc.kpis:
        raise ValueError(f"evaluation too short: {steps} steps < one high-level window")
    return _summarise(acc, total / len(seeds), latency / packets if packets else float("nan"))


def _summarise(acc: _Windows, ret: NDArray[np.float64], latency_mean_ms: float) -> EvalSummary:
    qos = np.stack([k.qos for k in acc.kpis])  # (W, D, 3)
    raw = np.stack([np.stack([getattr(k, a)[:, sl] for sl, a in enumerate(_RAW_KPI)], -1) for k in acc.kpis])
    met = np.stack([k.sla_met for k in acc.kpis]).astype(np.float64)
    jain = np.stack([k.du_jain for k in acc.kpis])
    per_window = float(qos.sum(-1).mean())
    return EvalSummary(
        cumulative_reward=float(ret.mean()),
        cumulative_reward_du=[float(x) for x in ret],
        reward_per_window=per_window,
        normalised_reward=per_window / 3.0,
        qos_mean=[float(x) for x in qos.mean((0, 1))],
        kpi_mean=[
            float(np.nanmean(raw[..., sl])) if np.isfinite(raw[..., sl]).any() else float("nan")
            for sl in range(3)
        ],
        latency_mean_ms=latency_mean_ms,
        jain=float(jain.mean()),
        sla_satisfaction=[float(x) for x in met.mean((0, 1))],
        qos_quantiles=[_quantiles(qos[..., sl].ravel()) for sl in range(3)],
        kpi_quantiles=[_quantiles(raw[..., sl].ravel()) for sl in range(3)],
        ue_throughput_quantiles=[
            _quantiles(np.concatenate(acc.ue_thr[sl]) if acc.ue_thr[sl] else np.array([])) for sl in range(3)
        ],
    )
