"""Hierarchical slicing environment (SPEC §3) over a :class:`~e2sim.core.Simulator`.

Gymnasium's contract, vectorized over DUs: ``reset(seed) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``; same seed ⇒ same trajectory.

Two time scales: one ``step`` is one low-level step (``low_period_ttis`` TTIs, 10 ms by default).
The high level acts every ``high_period_steps`` low-level steps (100 ms): ``obs.high_due`` says
when; the slice shares in an action are applied only then (ignored otherwise), and
``reward.high`` is R_h of the high-level window that just closed (``reward.high_valid``).

Actions live in [-1, 1] like a Gymnasium ``Box``:

- ``slice_shares`` (D, 3): mapped to the simplex by w = (a + 1)/2 + 1e-3, share = w / Σw, then to
  integer RBs summing to K (largest remainder). :func:`shares_to_action` is the inverse for
  policies that think in shares.
- ``ue_action`` (D, 3, U): per-UE-slot RB requests, (a + 1)/2 × the slice's RB budget, rounded;
  requests above the budget are scaled down by the simulator and counted as K_over (eq. 9).
  With ``low_action = "simplex"`` the slots' values are softmax-normalised over present UEs
  instead (never over budget); these RB counts hold for the whole low-level step. With
  ``low_action = "share"`` the same softmax gives each UE a *share* of its slice's RBs that the
  simulator applies every TTI to the UEs with data (:meth:`Simulator.set_ue_shares`: a per-UE
  PRB-quota ratio, work-conserving, as a MAC scheduler applies an xApp's ratios; never over
  budget, so K_over = 0). ``None`` leaves the slice to the built-in scheduler
  (``scheduler``: 'rr' or 'pf').

UE slots: the UEs a DU serves in a slice, in increasing UE id, fill slots 0..U-1; ``ue_mask``
marks the filled ones. Slots move only when a UE hands over. UEs beyond U slots (possible
after many handovers) get no RBs under agent control and are counted in ``info['unslotted']``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from e2sim.config import ScenarioConfig
from e2sim.core import SchedulerKind, Simulator
from e2sim.counters import WindowCounters
from e2sim.kpi import SlaTable, SliceKpis, compute_kpis

__all__ = [
    "EnvConfig",
    "HierAction",
    "HierObs",
    "HierReward",
    "HierarchicalSlicingEnv",
    "action_to_shares",
    "high_block",
    "shares_to_action",
]

_L = 3
HIGH_FEATURES = ("qos", "ue_fraction", "last_share", "demand_share")
LOW_GLOBAL = ("q_avg", "q_min", "q_max", "budget_share", "ue_fraction")
LOW_PER_UE = ("present", "last_alloc", "throughput", "backlog", "spectral_eff")


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
    warmup_ttis: int = Field(0, ge=0, description="TTIs simulated at reset before the first step.")


@dataclass(frozen=True)
class HierObs:
    high: NDArray[np.float32]  # (D, 12): per slice QoS, UE fraction, last share, demand share
    low: NDArray[np.float32]  # (D, 3, 5 + 5U)
    ue_mask: NDArray[np.bool_]  # (D, 3, U)
    high_due: bool


@dataclass(frozen=True)
class HierAction:
    slice_shares: NDArray[np.floating[Any]] | None = None  # (D, 3) in [-1, 1]
    ue_action: NDArray[np.floating[Any]] | None = None  # (D, 3, U) in [-1, 1]
    scheduler: SchedulerKind = "pf"  # built-in scheduler when ue_action is None


@dataclass(frozen=True)
class HierReward:
    high: NDArray[np.float64]  # (D,) R_h (eq. 8) of the window that closed; 0 when not valid
    low: NDArray[np.float64]  # (D, 3) r_l (eq. 9/10)
    high_valid: bool


def high_block(name: str) -> slice:
    """Columns of ``HierObs.high`` holding one feature for the three slices (see HIGH_FEATURES)."""
    i = HIGH_FEATURES.index(name)
    return slice(i * _L, (i + 1) * _L)


def action_to_shares(a: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    w = (np.clip(np.asarray(a, np.float64), -1.0, 1.0) + 1.0) / 2.0 + 1e-3
    return w / w.sum(axis=-1, keepdims=True)


def shares_to_action(shares: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """Inverse of :func:`action_to_shares` (up to its 1e-3 floor) for shares on the simplex."""
    s = np.asarray(shares, np.float64)
    s = s / s.sum(axis=-1, keepdims=True)
    k = s.shape[-1]
    w = s * (1.0 + k * 1e-3) - 1e-3
    return np.clip(2.0 * w - 1.0, -1.0, 1.0)


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


class HierarchicalSlicingEnv:
    """All DUs of a scenario stepped together (they interfere); rewards and obs per DU."""

    def __init__(self, scenario: ScenarioConfig, config: EnvConfig | None = None) -> None:
        self.scenario = scenario
        self.config = config or EnvConfig()
        self.n_du = scenario.n_du
        largest = max(tr.n_ues for t in scenario.tasks.values() for tr in t.slices)
        self.ue_slots = self.config.ue_slots or max(4, math.ceil(1.5 * largest))
        self.obs_high_dim = len(HIGH_FEATURES) * _L
        self.obs_low_dim = len(LOW_GLOBAL) + len(LOW_PER_UE) * self.ue_slots
        self.sla = SlaTable.from_scenario(scenario)
        self.sim: Simulator | None = None

    # ------------------------------------------------------------------ API
    def reset(self, seed: int = 0) -> tuple[HierObs, dict[str, Any]]:
        self.sim = Simulator(self.scenario, seed=seed)
        self._steps = 0
        self._shares = np.full((self.n_du, _L), 1.0 / _L)
        self.sim.set_slice_shares(self._shares)
        self._last_alloc = np.zeros(self.sim.n_ues, np.float64)
        if self.config.warmup_ttis:
            self.sim.step(self.config.warmup_ttis)
        window = self.sim.collect()
        self._high_window: WindowCounters | None = None
        self._high_qos = np.ones((self.n_du, _L))
        kpis = self._kpis(window)
        return self._observe(window, kpis, high_due=True), {"kpis": kpis}

    def step(
        self, action: HierAction
    ) -> tuple[HierObs, HierReward, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        sim = self._require_sim()
        cfg = self.config
        if self._steps % cfg.high_period_steps == 0 and action.slice_shares is not None:
            a = np.asarray(action.slice_shares, np.float64)
            if a.shape != (self.n_du, _L) or not np.isfinite(a).all():
                raise ValueError(f"slice_shares: expected finite ({self.n_du}, {_L}), got {a.shape}")
            self._shares = action_to_shares(a)
            sim.set_slice_shares(self._shares)
        unslotted = self._apply_low(action)
        sim.step(cfg.low_period_ttis)
        self._steps += 1
        window = sim.collect()
        kpis = self._kpis(window)
        self._high_window = window if self._high_window is None else self._high_window.merged(window)
        high_done = self._steps % cfg.high_period_steps == 0
        r_high = np.zeros(self.n_du)
        high_kpis = None
        if high_done:
            assert self._high_window is not None
            high_kpis = self._kpis(self._high_window)
            r_high = high_kpis.qos.sum(axis=1)  # eq. 8
            self._high_qos = high_kpis.qos
            self._high_window = None
        reward = HierReward(high=r_high, low=self._low_reward(kpis), high_valid=high_done)
        truncated = np.full(self.n_du, self._steps >= cfg.episode_steps)
        terminated = np.zeros(self.n_du, bool)
        obs = self._observe(window, kpis, high_due=high_done)
        info: dict[str, Any] = {
            "kpis": kpis,
            "high_kpis": high_kpis,
            "unslotted": unslotted,
            "t_ms": sim.t * sim.radio.tti_ms,
        }
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ internals
    def _require_sim(self) -> Simulator:
        if self.sim is None:
            raise RuntimeError("call reset() before step()")
        return self.sim

    def _kpis(self, w: WindowCounters) -> SliceKpis:
        sim = self._require_sim()
        u = sim.ues
        return compute_kpis(w, u.slice, u.sla_rate_bps, self.sla, sim.radio.tti_ms)

    def _slots(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Slot index of every UE (-1 if beyond U) and the (D, 3, U) UE id of every slot (-1)."""
        sim = self._require_sim()
        order = sim._order
        rank_o = sim._segment_rank(np.ones(sim.n_ues, bool))
        slot = np.empty(sim.n_ues, np.int64)
        slot[order] = rank_o
        slot[slot >= self.ue_slots] = -1
        table = np.full((self.n_du * _L, self.ue_slots), -1, np.int64)
        ok = slot >= 0
        table[sim._seg[ok], slot[ok]] = np.flatnonzero(ok)
        return slot, table.reshape(self.n_du, _L, self.ue_slots)

    def _apply_low(self, action: HierAction) -> int:
        sim = self._require_sim()
        if action.ue_action is None:
            sim.release_ue_control()
            sim.set_scheduler(action.scheduler)
            return 0
        a = np.asarray(action.ue_action, np.float64)
        shape = (self.n_du, _L, self.ue_slots)
        if a.shape != shape or not np.isfinite(a).all():
            raise ValueError(f"ue_action: expected finite {shape}, got {a.shape}")
        slot, _ = self._slots()
        ok = slot >= 0
        seg = sim._seg
        budget = sim.slice_rbs.ravel()[seg]
        vals = np.clip(a.reshape(-1, self.ue_slots)[seg, np.maximum(slot, 0)], -1.0, 1.0)
        if self.config.low_action == "share":
            share = self._softmax(np.where(ok, vals, -np.inf), seg)
            sim.set_share_allocation(share)
            self._last_alloc = share * budget
            return int((~ok).sum())
        if self.config.low_action == "request":
            req = np.where(ok, np.rint((vals + 1.0) / 2.0 * budget), 0).astype(np.int64)
        else:
            req = self._simplex_alloc(np.where(ok, vals, -np.inf), seg, budget)
        sim.set_allocation(req)
        self._last_alloc = req.astype(np.float64)
        return int((~ok).sum())

    def _softmax(self, vals: NDArray[np.float64], seg: NDArray[np.int64]) -> NDArray[np.float64]:
        """Softmax of per-UE values within each (DU, slice); -inf (unslotted) → 0."""
        e = np.exp(vals - 1.0)  # vals ≤ 1; exp(-inf) = 0 for unslotted UEs
        z = np.bincount(seg, weights=e, minlength=self.n_du * _L)
        return np.where(z[seg] > 0, e / np.maximum(z[seg], 1e-300), 0.0)

    def _simplex_alloc(
        self, vals: NDArray[np.float64], seg: NDArray[np.int64], budget: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        sim = self._require_sim()
        n_seg = self.n_du * _L
        exact = self._softmax(vals, seg) * budget
        base = np.floor(exact).astype(np.int64)
        left = sim.slice_rbs.ravel() - np.bincount(seg, weights=base, minlength=n_seg).astype(np.int64)
        # Remaining RBs to the largest fractional parts within each slice.
        order = np.lexsort((-(exact - base), seg))
        seg_p = seg[order]
        rank_p = np.arange(len(order)) - sim._seg_start[seg_p]
        extra = np.zeros_like(base)
        extra[order] = (rank_p < left[seg_p]) & np.isfinite(vals[order])
        return base + extra

    def _low_reward(self, k: SliceKpis) -> NDArray[np.float64]:
        """eq. 9 with the DU's task normalisers (eq. 10): sigmoid(Q̄_m) − sigmoid(K_over)."""
        cm, cx = self.sla.cm_mbps, self.sla.cx_mbps
        q_m = np.where(k.n_ues > 0, (np.nan_to_num(k.throughput_min_mbps) - cm) / (cx - cm), 1.0)
        return _sigmoid(q_m) - _sigmoid(self.config.kover_scale * k.kover_rbs)

    def _observe(self, w: WindowCounters, k: SliceKpis, high_due: bool) -> HierObs:
        sim = self._require_sim()
        n_rbs, u_slots = sim.n_rbs, self.ue_slots
        window_s = max(w.ttis, 1) * sim.radio.tti_s
        thr = w.delivered_bits / window_s / 1e6
        seg = sim._seg
        # Demand: RBs per TTI the slice would need to carry what arrived plus what waits.
        need_bits = w.arrived_bits / max(w.ttis, 1) + sim.queue_bits / max(w.ttis, 1)
        need_rbs = need_bits / np.maximum(sim.rate_est, 1.0)
        demand = np.bincount(seg, weights=need_rbs, minlength=self.n_du * _L).reshape(self.n_du, _L)
        high = np.concatenate(
            [
                self._high_qos,
                k.n_ues / u_slots,
                self._shares,
                np.minimum(demand / n_rbs, 2.0),
            ],
            axis=1,
        ).astype(np.float32)
        cx = self.sla.cx_mbps
        _, table = self._slots()
        mask = table >= 0
        ue = np.maximum(table, 0)
        budget = sim.slice_rbs.astype(np.float64)
        cx_ue = cx[:, :, None]
        per_ue = (
            np.stack(
                [
                    mask,
                    self._last_alloc[ue] / np.maximum(budget, 1.0)[:, :, None],
                    np.minimum(thr[ue] / cx_ue, 4.0),
                    np.minimum(sim.queue_bits[ue] / (cx_ue * 1e6 * window_s), 10.0) / 10.0,
                    sim.rate_est[ue] / (sim.radio.rb_bandwidth_hz * sim.radio.tti_s * 8.0),
                ],
                axis=-1,
            )
            * mask[..., None]
        )
        glob = np.stack(
            [
                np.nan_to_num(k.throughput_mbps) / cx,
                np.nan_to_num(k.throughput_min_mbps) / cx,
                np.nan_to_num(k.throughput_max_mbps) / cx,
                budget / n_rbs,
                k.n_ues / u_slots,
            ],
            axis=-1,
        )
        low = np.concatenate([glob, per_ue.transpose(0, 1, 3, 2).reshape(self.n_du, _L, -1)], axis=-1)
        return HierObs(high=high, low=low.astype(np.float32), ue_mask=mask, high_due=high_due)
