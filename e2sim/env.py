"""Hierarchical slicing environment (SPEC §3) over a :class:`~e2sim.core.Simulator`.

Gymnasium's contract, vectorized over DUs: ``reset(seed) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``; same seed ⇒ same trajectory.

The MDP itself — observations, rewards (eq. 8–10), actions → controls — is the slicing
contract's :class:`~slicing.mdp.SlicingMdp`, the same one a DU xApp runs over E2: each step the
env applies the contract's :class:`~slicing.controls.ControlPlan` (the integers E2SM-RC would
carry) to the simulator, simulates one low-level step and fills a
:class:`~slicing.window.KpiWindow` in-process (:func:`e2sim.window.kpi_window`), exactly as an
E2 node fills its KPM reports. See :mod:`slicing.mdp` for observations and actions.

Two time scales: one ``step`` is one low-level step (``low_period_ttis`` TTIs, 10 ms by default).
The high level acts every ``high_period_steps`` low-level steps (100 ms): ``obs.high_due`` says
when; the slice shares in an action are applied only then (ignored otherwise), and
``reward.high`` is R_h of the high-level window that just closed (``reward.high_valid``).

Low-level action modes (``low_action``):

- ``share`` (the contract, what the DU xApp sends over E2): the softmax of each slice's slot
  values gives each UE a share of its slice's RBs, as integer percent ratios that the simulator
  applies every TTI to the UEs with data (:meth:`Simulator.set_ue_shares`; work-conserving, never
  over budget, so K_over = 0).
- ``request`` and ``simplex`` (offline only, no E2 mapping): per-UE RB counts held for the whole
  step — (a + 1)/2 × the slice's budget, rounded (over-budget requests are scaled down and
  counted as K_over, eq. 9), or the softmax shares as integer RBs.
- ``ue_action = None`` leaves the slices to the built-in scheduler (``scheduler``: 'rr' | 'pf').
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from e2sim.config import ScenarioConfig
from e2sim.control import apply_plan
from e2sim.core import Simulator
from e2sim.counters import WindowCounters
from e2sim.kpi import SliceKpis, compute_kpis, sla_table
from e2sim.window import cell_spec, kpi_window
from slicing import N_SLICES, MdpConfig, SlicingMdp
from slicing.mdp import (
    HIGH_FEATURES,
    LOW_GLOBAL,
    LOW_PER_UE,
    HierAction,
    HierObs,
    HierReward,
    LowReward,
    action_to_shares,
    high_block,
    shares_to_action,
)

__all__ = [
    "HIGH_FEATURES",
    "LOW_GLOBAL",
    "LOW_PER_UE",
    "EnvConfig",
    "HierAction",
    "HierObs",
    "HierReward",
    "HierarchicalSlicingEnv",
    "action_to_shares",
    "high_block",
    "shares_to_action",
]

_L = N_SLICES


class EnvConfig(BaseModel):
    """Time scales, slots and reward shaping of the hierarchical environment (SPEC §3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_period_ttis: int = Field(10, ge=1, description="TTIs per low-level step (10 ms).")
    high_period_steps: int = Field(10, ge=1, description="Low-level steps per high-level step.")
    episode_steps: int = Field(1000, ge=1, description="Low-level steps per episode (truncation).")
    ue_slots: int | None = Field(
        None, ge=1, description="U: UE slots per slice; default 1.5 × the largest slice on a DU."
    )
    low_action: Literal["request", "simplex", "share"] = Field(
        "request", description="How per-UE actions become RBs (see module docs)."
    )
    kover_scale: float = Field(1.0, ge=0, description="K_over is multiplied by this in eq. 9.")
    low_reward: LowReward = Field(
        "eq9",
        description="Slice agents' reward: eq9 (the paper's, min UE throughput) or slice-qos "
        "(each slice's SLA-normalised QoS: eMBB throughput, mMTC served fraction, URLLC delay "
        "against its budget; slicing/mdp.py).",
    )
    warmup_ttis: int = Field(0, ge=0, description="TTIs simulated at reset before the first step.")


def default_ue_slots(scenario: ScenarioConfig) -> int:
    largest = max(tr.n_ues for t in scenario.tasks.values() for tr in t.slices)
    return max(4, math.ceil(1.5 * largest))


class HierarchicalSlicingEnv:
    """All DUs of a scenario stepped together (they interfere); rewards and obs per DU."""

    def __init__(self, scenario: ScenarioConfig, config: EnvConfig | None = None) -> None:
        self.scenario = scenario
        self.config = config or EnvConfig()
        self.n_du = scenario.n_du
        self.ue_slots = self.config.ue_slots or default_ue_slots(scenario)
        self.mdp_config = MdpConfig(
            ue_slots=self.ue_slots,
            high_period_steps=self.config.high_period_steps,
            kover_scale=self.config.kover_scale,
            low_reward=self.config.low_reward,
        )
        self.obs_high_dim = self.mdp_config.obs_high_dim
        self.obs_low_dim = self.mdp_config.obs_low_dim
        self.sla = sla_table(scenario)
        self.sim: Simulator | None = None
        self.mdp: SlicingMdp | None = None

    # ------------------------------------------------------------------ API
    def reset(self, seed: int = 0) -> tuple[HierObs, dict[str, Any]]:
        self.sim = sim = Simulator(self.scenario, seed=seed)
        self.mdp = SlicingMdp(self.n_du, cell_spec(sim), self.sla, self.mdp_config)
        self._steps = 0
        self._high_counters: WindowCounters | None = None
        if self.config.warmup_ttis:
            sim.step(self.config.warmup_ttis)
        w = sim.collect()
        obs = self.mdp.reset(kpi_window(w, sim))
        return obs, {"kpis": self._kpis(w)}

    def step(
        self, action: HierAction
    ) -> tuple[HierObs, HierReward, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        sim, mdp = self._require()
        cfg = self.config
        unslotted = self._apply(action, sim, mdp)
        sim.step(cfg.low_period_ttis)
        self._steps += 1
        w = sim.collect()
        if self._high_counters is None:
            self._high_counters = w
        else:
            self._high_counters = self._high_counters.merged(w)
        obs, reward = mdp.observe(kpi_window(w, sim))
        high_kpis = None
        if reward.high_valid:
            high_kpis = self._kpis(self._high_counters)
            self._high_counters = None
        truncated = np.full(self.n_du, self._steps >= cfg.episode_steps)
        terminated = np.zeros(self.n_du, bool)
        info: dict[str, Any] = {
            "kpis": self._kpis(w),
            "high_kpis": high_kpis,
            "unslotted": unslotted,
            "t_ms": sim.t * sim.radio.tti_ms,
        }
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ internals
    def _require(self) -> tuple[Simulator, SlicingMdp]:
        if self.sim is None or self.mdp is None:
            raise RuntimeError("call reset() before step()")
        return self.sim, self.mdp

    def _kpis(self, w: WindowCounters) -> SliceKpis:
        sim, _ = self._require()
        u = sim.ues
        return compute_kpis(w, u.slice, u.sla_rate_bps, self.sla, sim.radio.tti_ms)

    def _apply(self, action: HierAction, sim: Simulator, mdp: SlicingMdp) -> int:
        """Apply the action's controls; the number of UEs without a slot."""
        mode = self.config.low_action
        if action.ue_action is None:
            plan = mdp.plan(action)
            apply_plan(sim, plan)
            sim.release_ue_control()
            sim.set_scheduler(action.scheduler)  # type: ignore[arg-type]
            return 0
        if mode == "share":
            apply_plan(sim, mdp.plan(action))
            return mdp.slots.unslotted
        vals = mdp.slot_values(action.ue_action)  # validates before anything is applied
        plan = mdp.plan(HierAction(slice_shares=action.slice_shares))
        apply_plan(sim, plan)
        w, ok = mdp.window, mdp.slots.slot >= 0
        budget_all = plan.slice_rbs(sim.n_rbs)
        budget = budget_all.ravel()[w.seg]
        if mode == "request":
            req = np.where(ok, np.rint((vals + 1.0) / 2.0 * budget), 0).astype(np.int64)
        else:
            req = self._simplex_alloc(mdp, vals, budget_all)
        full = np.zeros(sim.n_ues, np.int64)
        full[w.ue_id - 1] = req
        sim.set_allocation(full)
        mdp.set_allocation(req.astype(np.float64))
        return mdp.slots.unslotted

    @staticmethod
    def _simplex_alloc(
        mdp: SlicingMdp, vals: NDArray[np.float64], budget: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Softmax shares as integer RBs within each slice budget (largest remainder)."""
        w = mdp.window
        seg = w.seg
        n_seg = budget.size
        e = np.exp(vals - 1.0)
        z = np.bincount(seg, weights=e, minlength=n_seg)
        exact = np.where(z[seg] > 0, e / np.maximum(z[seg], 1e-300), 0.0) * budget.ravel()[seg]
        base = np.floor(exact).astype(np.int64)
        left = budget.ravel() - np.bincount(seg, weights=base, minlength=n_seg).astype(np.int64)
        order = np.lexsort((-(exact - base), seg))
        seg_p = seg[order]
        start = np.searchsorted(seg_p, np.arange(n_seg))
        rank_p = np.arange(len(order)) - start[seg_p]
        extra = np.zeros_like(base)
        extra[order] = (rank_p < left[seg_p]) & np.isfinite(vals[order])
        return base + extra
