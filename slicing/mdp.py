"""The hierarchical MDP of SPEC §3 over KPI windows: observations, rewards, actions → controls.

:class:`SlicingMdp` is sans-IO and vectorized over ``n_du`` DUs: the training env holds one for
all DUs of a scenario, a DU xApp one per DU. Per decision (one low-level step, 10 ms)::

    obs = mdp.reset(first_window)            # step 0: the high level is due
    plan = mdp.plan(action)                  # ControlPlan for the E2 node(s)
    ... the node applies the plan and measures the next window ...
    obs, reward = mdp.observe(window)

Observations (float32):

- ``high`` (D, 12): per slice [QoS of the last closed high window, UEs / U, slice share in
  force, demand / K], demand = PRBs per TTI that would carry what arrived plus what waits
  (arrived + buffered bits per TTI over each UE's bits per PRB·TTI), capped at 2.
- ``low`` (D, 3, 5 + 5U): per slice [Q_a, Q_m, Q_x (mean, min, max UE throughput) / c_x,
  quota / K, UEs / U], then per UE slot [present, last share of the slice, throughput / c_x
  (≤ 4), buffer / (c_x × window) (≤ 10) / 10, bits per PRB·TTI / (B × TTI × 8)].
- ``ue_mask`` (D, 3, U): occupied slots. UEs a DU serves in a slice fill slots 0..U−1 in
  increasing UE id; UEs beyond U get no slot (ratio 0, counted in ``unslotted``).

Rewards: ``high`` (D,) R_h = Σ_l QoS_l over the high window that just closed (eq. 8), when
``high_valid``; ``low`` (D, 3), selected by ``MdpConfig.low_reward``:

- ``eq9`` (default, the paper's): r_l = sigmoid(Q̄_m) − sigmoid(K_over), Q̄_m the slice's minimum
  UE throughput normalised by eq. 10's c_m, c_x of the DU's task (`eq9_low_reward`);
- ``slice-qos`` (slice-aware, `slice_qos_low_reward`): r_l = QoS_l − (sigmoid(K_over) − ½), with
  QoS_l the SLA-normalised slice QoS of the step's window (eq. 5–7 as in R_h: eMBB mean UE
  throughput against its SLA, mMTC served fraction × capacity against demand, URLLC worst delay
  between its SLA budget (1) and its deadline (0)), and the same over-request penalty, shifted so
  that no over-request costs nothing. eq. 9 scores eMBB-style throughput in every slice: for
  Poisson mMTC/URLLC traffic the minimum UE throughput is set by the arrivals, not by the
  allocation, so it says nothing about their latency (issue 14).

Actions live in [-1, 1] like a Gymnasium ``Box``: ``slice_shares`` (D, 3) → simplex by
w = (a + 1)/2 + 1e-3, share = w / Σw (applied only when the high level is due);
``ue_action`` (D, 3, U) → per-UE shares by a softmax over the slice's present slots, then the
integer ratios of :mod:`slicing.controls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from slicing.controls import ControlPlan, quota_rbs, slice_rbs_of, ue_ratios
from slicing.qos import WindowQos, window_qos
from slicing.slices import N_SLICES, CellSpec, SlaTable
from slicing.window import KpiWindow

__all__ = [
    "HIGH_FEATURES",
    "LOW_GLOBAL",
    "LOW_PER_UE",
    "LOW_REWARDS",
    "HierAction",
    "HierObs",
    "HierReward",
    "LowReward",
    "MdpConfig",
    "SlicingMdp",
    "Slots",
    "action_to_shares",
    "eq9_low_reward",
    "high_block",
    "shares_to_action",
    "slice_qos_low_reward",
]

_L = N_SLICES
LowReward = Literal["eq9", "slice-qos"]
LOW_REWARDS: tuple[str, ...] = get_args(LowReward)
HIGH_FEATURES = ("qos", "ue_fraction", "last_share", "demand_share")
LOW_GLOBAL = ("q_avg", "q_min", "q_max", "budget_share", "ue_fraction")
LOW_PER_UE = ("present", "last_alloc", "throughput", "backlog", "spectral_eff")


@dataclass(frozen=True)
class HierObs:
    high: NDArray[np.float32]  # (D, 12)
    low: NDArray[np.float32]  # (D, 3, 5 + 5U)
    ue_mask: NDArray[np.bool_]  # (D, 3, U)
    high_due: bool


@dataclass(frozen=True)
class HierAction:
    slice_shares: NDArray[np.floating[Any]] | None = None  # (D, 3) in [-1, 1]
    ue_action: NDArray[np.floating[Any]] | None = None  # (D, 3, U) in [-1, 1]
    scheduler: str = "pf"  # the node's own scheduler when ue_action is None ('rr' | 'pf')


@dataclass(frozen=True)
class HierReward:
    high: NDArray[np.float64]  # (D,) R_h of the window that closed; 0 when not valid
    low: NDArray[np.float64]  # (D, 3)
    high_valid: bool


@dataclass(frozen=True)
class MdpConfig:
    """Slots, time scales and reward shaping (the env's and the xApp's settings feed it)."""

    ue_slots: int
    high_period_steps: int = 10
    kover_scale: float = 1.0
    low_reward: LowReward = "eq9"

    def __post_init__(self) -> None:
        if self.ue_slots < 1 or self.high_period_steps < 1 or self.kover_scale < 0:
            raise ValueError(f"invalid MDP config {self}")
        if self.low_reward not in LOW_REWARDS:
            raise ValueError(f"low_reward {self.low_reward!r}: choose one of {', '.join(LOW_REWARDS)}")

    @property
    def obs_high_dim(self) -> int:
        return len(HIGH_FEATURES) * _L

    @property
    def obs_low_dim(self) -> int:
        return len(LOW_GLOBAL) + len(LOW_PER_UE) * self.ue_slots


@dataclass(frozen=True)
class Slots:
    """Where each UE of a window sits in the (D, 3, U) slot grid."""

    slot: NDArray[np.int64]  # (N,) slot index, -1 when beyond U
    table: NDArray[np.int64]  # (D, 3, U) window index of the UE in each slot, -1 when empty

    @property
    def mask(self) -> NDArray[np.bool_]:
        return self.table >= 0

    @property
    def unslotted(self) -> int:
        return int((self.slot < 0).sum())


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


def eq9_low_reward(q: WindowQos, sla: SlaTable, kover_scale: float) -> NDArray[np.float64]:
    """eq. 9 with the DU's task normalisers (eq. 10): sigmoid(Q̄_m) − sigmoid(K_over), (D, 3)."""
    cm, cx = sla.cm_mbps, sla.cx_mbps
    q_m = np.where(q.n_ues > 0, (np.nan_to_num(q.throughput_min_mbps) - cm) / (cx - cm), 1.0)
    return _sigmoid(q_m) - _sigmoid(kover_scale * q.kover_rbs)


def slice_qos_low_reward(q: WindowQos, kover_scale: float) -> NDArray[np.float64]:
    """The slice-aware low-level reward (module docs): QoS_l − (sigmoid(K_over) − ½), (D, 3)."""
    return np.asarray(q.qos, np.float64) - (_sigmoid(kover_scale * q.kover_rbs) - 0.5)


def slots_of(w: KpiWindow, ue_slots: int) -> Slots:
    """UEs of each (DU, slice) in increasing UE id fill slots 0..U−1."""
    n = w.n_ues
    seg = w.seg
    order = np.lexsort((w.ue_id, seg))
    seg_o = seg[order]
    first = np.searchsorted(seg_o, seg_o, side="left")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first
    slot = np.where(rank < ue_slots, rank, -1)
    table = np.full((w.n_du * _L, ue_slots), -1, np.int64)
    ok = slot >= 0
    table[seg[ok], slot[ok]] = np.flatnonzero(ok)
    return Slots(slot, table.reshape(w.n_du, _L, ue_slots))


class SlicingMdp:
    """Observation, reward and control mapping of ``n_du`` DUs (see the module docs)."""

    def __init__(self, n_du: int, cell: CellSpec, sla: SlaTable, config: MdpConfig) -> None:
        if sla.n_du != n_du:
            raise ValueError(f"SLA table has {sla.n_du} DUs, expected {n_du}")
        self.n_du, self.cell, self.sla, self.config = n_du, cell, sla, config
        self.steps = 0
        self.shares = np.full((n_du, _L), 1.0 / _L)
        self.high_qos = np.ones((n_du, _L))
        self._window = KpiWindow.empty(n_du)
        self._slots = slots_of(self._window, config.ue_slots)
        self._high_window: KpiWindow | None = None
        self._alloc_key = np.zeros(0, np.int64)  # (DU, UE id) keys of the last plan's UEs
        self._alloc_val = np.zeros(0)  # their allocation in RBs (share × slice RBs)
        self.last_qos: WindowQos | None = None
        self.last_high_qos: WindowQos | None = None
        self._ratio_of: tuple[tuple[Any, ...], NDArray[np.int64]] | None = None  # shares -> ratios

    # ------------------------------------------------------------------ API
    @property
    def high_due(self) -> bool:
        """The high level acts at the current step."""
        return self.steps % self.config.high_period_steps == 0

    @property
    def window(self) -> KpiWindow:
        """The last observed window."""
        return self._window

    @property
    def slots(self) -> Slots:
        return self._slots

    def reset(self, window: KpiWindow) -> HierObs:
        """Start an episode from the first window (the high level is due)."""
        self.steps = 0
        self.shares = np.full((self.n_du, _L), 1.0 / _L)
        self.high_qos = np.ones((self.n_du, _L))
        self._high_window = None
        self._alloc_key, self._alloc_val = np.zeros(0, np.int64), np.zeros(0)
        return self._see(window, high_due=True)

    def plan(self, action: HierAction) -> ControlPlan:
        """The controls for ``action`` at the current step (slice shares only when due)."""
        k = self.cell.n_rbs
        if self.high_due and action.slice_shares is not None:
            a = np.asarray(action.slice_shares, np.float64)
            if a.shape != (self.n_du, _L) or not np.isfinite(a).all():
                raise ValueError(f"slice_shares: expected finite ({self.n_du}, {_L}), got {a.shape}")
            self.shares = action_to_shares(a)
        ratio = self._slice_ratio(k)
        w = self._window
        if action.ue_action is None:
            e = np.zeros(0, np.int64)
            self._alloc_key, self._alloc_val = e, np.zeros(0)
            return ControlPlan(ratio, e, e.copy(), e.copy(), e.copy())
        share = self.ue_shares(action.ue_action)
        ue_ratio = ue_ratios(share, w.seg, self._slots.slot >= 0)
        budget = quota_rbs(ratio, k).astype(np.float64).ravel()[w.seg]
        self._remember_alloc(ue_ratio / 100.0 * budget)
        return ControlPlan(ratio, w.ue_id.copy(), w.du.copy(), w.slice.copy(), ue_ratio)

    def _slice_ratio(self, k: int) -> NDArray[np.int64]:
        """The slice ratios of the shares in force: computed when the shares change (the high
        level acts every ``high_period_steps``), reused in between (the same numbers)."""
        key = (self.shares.dtype.str, self.shares.shape, self.shares.tobytes())
        if self._ratio_of is None or self._ratio_of[0] != key:
            self._ratio_of = (key, ControlPlan.slice_ratio_of(slice_rbs_of(self.shares, k), k))
        return self._ratio_of[1].copy()

    def ue_shares(self, ue_action: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """(N,) each window UE's softmax share of its slice from the slot actions (0 unslotted)."""
        vals = self.slot_values(ue_action)
        seg = self._window.seg
        e = np.exp(vals - 1.0)  # vals ≤ 1; exp(-inf) = 0 for unslotted UEs
        z = np.bincount(seg, weights=e, minlength=self.n_du * _L)
        return np.where(z[seg] > 0, e / np.maximum(z[seg], 1e-300), 0.0)

    def slot_values(self, ue_action: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """(N,) the action value of each window UE's slot, clipped to [-1, 1]; -inf unslotted."""
        a = np.asarray(ue_action, np.float64)
        shape = (self.n_du, _L, self.config.ue_slots)
        if a.shape != shape or not np.isfinite(a).all():
            raise ValueError(f"ue_action: expected finite {shape}, got {a.shape}")
        slot = self._slots.slot
        vals = np.clip(a.reshape(self.n_du * _L, -1)[self._window.seg, np.maximum(slot, 0)], -1.0, 1.0)
        return np.where(slot >= 0, vals, -np.inf)

    def set_allocation(self, rbs: NDArray[np.float64]) -> None:
        """Record the RBs given to each window UE by a mapping other than :meth:`plan` (the
        env's offline-only 'request' and 'simplex' modes); they feed the next observation."""
        self._remember_alloc(np.asarray(rbs, np.float64))

    def observe(self, window: KpiWindow) -> tuple[HierObs, HierReward]:
        """Advance one step with the window measured under the last plan."""
        self.steps += 1
        self._high_window = window if self._high_window is None else self._high_window.merged(window)
        q = self._qos(window)
        high_valid = self.high_due
        r_high = np.zeros(self.n_du)
        if high_valid:
            assert self._high_window is not None
            hq = self._qos(self._high_window)
            r_high = hq.qos.sum(axis=1)  # eq. 8
            self.high_qos = hq.qos
            self.last_high_qos = hq
            self._high_window = None
        reward = HierReward(high=r_high, low=self._low_reward(q), high_valid=high_valid)
        return self._see(window, high_due=high_valid, qos=q), reward

    # ------------------------------------------------------------------ internals
    def _qos(self, w: KpiWindow) -> WindowQos:
        return window_qos(w, self.sla, self.cell.tti_ms)

    def _remember_alloc(self, alloc: NDArray[np.float64]) -> None:
        self._alloc_key = self._window.key_with(self._span())
        self._alloc_val = alloc

    def _span(self) -> int:
        return 1 << 40

    def _last_alloc(self, w: KpiWindow) -> NDArray[np.float64]:
        keys = w.key_with(self._span())
        if not len(self._alloc_key):
            return np.zeros(w.n_ues)
        order = np.argsort(self._alloc_key, kind="stable")
        pos = np.minimum(np.searchsorted(self._alloc_key[order], keys), len(order) - 1)
        hit = self._alloc_key[order][pos] == keys
        return np.where(hit, self._alloc_val[order][pos], 0.0)

    def _low_reward(self, q: WindowQos) -> NDArray[np.float64]:
        if self.config.low_reward == "slice-qos":
            return slice_qos_low_reward(q, self.config.kover_scale)
        return eq9_low_reward(q, self.sla, self.config.kover_scale)

    def _see(self, w: KpiWindow, high_due: bool, qos: WindowQos | None = None) -> HierObs:
        if w.n_du != self.n_du:
            raise ValueError(f"window of {w.n_du} DUs, expected {self.n_du}")
        last_alloc = self._last_alloc(w)
        self._window = w
        self._slots = slots_of(w, self.config.ue_slots)
        q = qos or self._qos(w)
        self.last_qos = q
        return self._build(w, q, last_alloc, high_due)

    def _build(self, w: KpiWindow, q: WindowQos, last_alloc: NDArray[np.float64], high_due: bool) -> HierObs:
        cell, u_slots, d = self.cell, self.config.ue_slots, self.n_du
        ttis = max(w.duration_ms / cell.tti_ms, 1.0)
        window_s = ttis * cell.tti_s
        thr = w.delivered_kbit / (window_s * 1e3)  # Mbit/s
        rate_bits = w.rate_per_prb_kbps * cell.tti_ms  # bits per PRB·TTI
        need_rbs = (w.arrived_kbit + w.buffer_kbit) * 1e3 / ttis / np.maximum(rate_bits, 1.0)
        demand = np.bincount(w.seg, weights=need_rbs, minlength=d * _L).reshape(d, _L)
        n_rbs = cell.n_rbs
        high = np.concatenate(
            [self.high_qos, q.n_ues / u_slots, self.shares, np.minimum(demand / n_rbs, 2.0)], axis=1
        ).astype(np.float32)
        cx = self.sla.cx_mbps
        table = self._slots.table
        mask = table >= 0
        ue = np.maximum(table, 0)
        budget = self._budget(w)
        cx_ue = cx[:, :, None]
        if w.n_ues:
            feats = [
                mask,
                last_alloc[ue] / np.maximum(budget, 1.0)[:, :, None],
                np.minimum(thr[ue] / cx_ue, 4.0),
                np.minimum(w.buffer_kbit[ue] * 1e3 / (cx_ue * 1e6 * window_s), 10.0) / 10.0,
                rate_bits[ue] / (cell.rb_bandwidth_hz * cell.tti_s * 8.0),
            ]
            per_ue = np.stack(feats, axis=-1) * mask[..., None]
        else:
            per_ue = np.zeros((d, _L, u_slots, len(LOW_PER_UE)))
        glob = np.stack(
            [
                np.nan_to_num(q.throughput_mbps) / cx,
                np.nan_to_num(q.throughput_min_mbps) / cx,
                np.nan_to_num(q.throughput_max_mbps) / cx,
                budget / n_rbs,
                q.n_ues / u_slots,
            ],
            axis=-1,
        )
        low = np.concatenate([glob, per_ue.transpose(0, 1, 3, 2).reshape(d, _L, -1)], axis=-1)
        return HierObs(high=high, low=low.astype(np.float32), ue_mask=mask, high_due=high_due)

    def _budget(self, w: KpiWindow) -> NDArray[np.float64]:
        """(D, 3) the slice quotas the window reports."""
        return np.asarray(w.slice_prb_quota, np.float64)
