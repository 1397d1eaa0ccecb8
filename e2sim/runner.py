"""Run a policy in the environment and summarise per-slice KPIs (used by ``metahrl sim``/``eval``)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from e2sim.config import SLICE_NAMES
from e2sim.env import HierarchicalSlicingEnv
from e2sim.kpi import SliceKpis
from e2sim.policies import Policy

__all__ = ["RunResult", "SliceSummary", "Trace", "run_policy"]

TRACE_COLUMNS = (
    "step",
    "t_ms",
    "du",
    "slice",
    "n_ues",
    "rb_quota",
    "rb_used",
    "kover_rbs",
    "throughput_mbps",
    "throughput_min_mbps",
    "latency_max_ms",
    "deadline_miss_rate",
    "qos",
    "reward_low",
    "reward_high",
)


@dataclass
class Trace:
    """Per-step, per-(DU, slice) rows, kept as column arrays."""

    columns: dict[str, list[NDArray[Any]]] = field(default_factory=lambda: {c: [] for c in TRACE_COLUMNS})

    def add(
        self,
        step: int,
        t_ms: float,
        k: SliceKpis,
        r_low: NDArray[np.float64],
        r_high: NDArray[np.float64] | None,
    ) -> None:
        d, n_sl = k.qos.shape
        du, sl = np.meshgrid(np.arange(d), np.arange(n_sl), indexing="ij")
        vals: dict[str, NDArray[Any]] = {
            "step": np.full(d * n_sl, step),
            "t_ms": np.full(d * n_sl, t_ms),
            "du": du.ravel(),
            "slice": sl.ravel(),
            "n_ues": k.n_ues.ravel(),
            "rb_quota": k.rb_quota.ravel(),
            "rb_used": k.rb_used.ravel(),
            "kover_rbs": k.kover_rbs.ravel(),
            "throughput_mbps": k.throughput_mbps.ravel(),
            "throughput_min_mbps": k.throughput_min_mbps.ravel(),
            "latency_max_ms": k.latency_max_ms.ravel(),
            "deadline_miss_rate": k.deadline_miss_rate.ravel(),
            "qos": k.qos.ravel(),
            "reward_low": r_low.ravel(),
            "reward_high": (np.repeat(r_high, n_sl) if r_high is not None else np.full(d * n_sl, np.nan)),
        }
        for c in TRACE_COLUMNS:
            self.columns[c].append(vals[c])

    def write(self, path: Path) -> None:
        cols = {c: (np.concatenate(v) if v else np.array([])) for c, v in self.columns.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise RuntimeError(
                    "writing Parquet needs pyarrow: pip install 'oran-metahrl[parquet]'"
                ) from None
            table = pa.table({c: cols[c] for c in TRACE_COLUMNS})
            table = table.append_column("slice_name", pa.array([SLICE_NAMES[i] for i in cols["slice"]]))
            pq.write_table(table, path)
            return
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow([*TRACE_COLUMNS, "slice_name"])
            n = len(cols["step"])
            for i in range(n):
                w.writerow([_fmt(cols[c][i]) for c in TRACE_COLUMNS] + [SLICE_NAMES[int(cols["slice"][i])]])


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return "" if np.isnan(x) else f"{float(x):.6g}"
    return str(int(x))


@dataclass(frozen=True)
class SliceSummary:
    """Whole-run KPIs of one slice over all DUs (units in the names)."""

    name: str
    throughput_mbps: float  # mean UE throughput
    latency_mean_ms: float
    latency_max_ms: float  # mean over DUs and high-level windows of eq. 7's l_d
    deadline_miss_rate: float
    qos: float  # mean SLA-normalised QoS
    sla_satisfaction: float  # fraction of (DU, 100 ms window) meeting the SLA
    jain: float  # mean Jain's index (demand-normalised) over windows and DUs
    rb_share: float  # mean fraction of the K RBs given to the slice


@dataclass(frozen=True)
class RunResult:
    policy: str
    scenario: str
    seed: int
    steps: int
    sim_seconds: float
    return_mean: float  # Σ_t R_h per DU, averaged over DUs (eq. 8)
    reward_high_mean: float  # mean R_h per high-level step (0..3)
    reward_low_mean: float  # mean r_l per low-level step and slice (eq. 9)
    jain: float  # mean per-DU Jain's index
    rb_utilisation: float
    handovers: int
    slices: tuple[SliceSummary, ...]

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "slices"}
        d["slices"] = {s.name: {k: v for k, v in s.__dict__.items() if k != "name"} for s in self.slices}
        return d


def run_policy(
    env: HierarchicalSlicingEnv,
    policy: Policy,
    steps: int,
    seed: int = 0,
    trace: Trace | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``steps`` low-level steps (a new episode starts when one truncates)."""
    obs, _ = env.reset(seed)
    highs: list[SliceKpis] = []
    r_high_sum = np.zeros(env.n_du)
    r_low: list[NDArray[np.float64]] = []
    handovers = 0
    for i in range(steps):
        obs, rew, _, trunc, info = env.step(policy.act(obs))
        k: SliceKpis = info["kpis"]
        assert env.sim is not None
        if trace is not None:
            trace.add(i, info["t_ms"], k, rew.low, rew.high if rew.high_valid else None)
        if rew.high_valid:
            highs.append(info["high_kpis"])
            r_high_sum += rew.high
        r_low.append(rew.low)
        if progress is not None:
            progress(i + 1)
        if trunc.all() and i + 1 < steps:
            handovers += env.sim.handovers_total
            obs, _ = env.reset(seed + i + 1)
    assert env.sim is not None
    handovers += env.sim.handovers_total
    return _summarise(env, policy.name, seed, steps, highs, r_high_sum, r_low, handovers)


def _summarise(
    env: HierarchicalSlicingEnv,
    name: str,
    seed: int,
    steps: int,
    highs: list[SliceKpis],
    r_high_sum: NDArray[np.float64],
    r_low: list[NDArray[np.float64]],
    handovers: int,
) -> RunResult:
    if not highs:
        raise ValueError(
            f"run too short: {steps} steps < one high-level window ({env.config.high_period_steps} steps)"
        )

    def stack(attr: str) -> NDArray[np.float64]:
        return np.stack([getattr(h, attr) for h in highs])  # (W, D, L)

    n_rbs = env.scenario.radio.n_rbs
    slices = []
    lat_sum = stack("latency_mean_ms")
    for sl, sname in enumerate(SLICE_NAMES):
        slices.append(
            SliceSummary(
                name=sname,
                throughput_mbps=float(np.nanmean(stack("throughput_mbps")[:, :, sl])),
                latency_mean_ms=float(np.nanmean(lat_sum[:, :, sl]))
                if np.isfinite(lat_sum[:, :, sl]).any()
                else float("nan"),
                latency_max_ms=float(np.nanmean(stack("latency_max_ms")[:, :, sl])),
                deadline_miss_rate=float(np.mean(stack("deadline_miss_rate")[:, :, sl])),
                qos=float(np.mean(stack("qos")[:, :, sl])),
                sla_satisfaction=float(np.mean(stack("sla_met")[:, :, sl])),
                jain=float(np.mean(stack("jain")[:, :, sl])),
                rb_share=float(np.mean(stack("rb_quota")[:, :, sl]) / n_rbs),
            )
        )
    return RunResult(
        policy=name,
        scenario=env.scenario.name,
        seed=seed,
        steps=steps,
        sim_seconds=steps * env.config.low_period_ttis * env.scenario.radio.tti_ms / 1e3,
        return_mean=float(r_high_sum.mean()),
        reward_high_mean=float(np.mean([h.qos.sum(1).mean() for h in highs])),
        reward_low_mean=float(np.mean(r_low)),
        jain=float(np.mean(stack("du_jain"))),
        rb_utilisation=float(np.mean([h.rb_utilisation.mean() for h in highs])),
        handovers=handovers,
        slices=tuple(slices),
    )
