"""Actions → the controls an E2 node applies (E2SM-RC style 2 / action 6), and back to RBs.

The RC "Slice-level PRB quota" action carries integer ratios in percent (0–100):

- **slice quotas** — header UE ID = the DU (slice level), one policy row per slice with its Max
  PRB Policy Ratio = the slice's RBs as a percentage of K. The high level's shares become integer
  RBs summing to K (largest remainder), then percentages; the node turns a ratio back into
  ``round(ratio × K / 100)`` RBs (:func:`quota_rbs`). Exact when K divides 100 (the paper's
  K = 100: ratio = RBs); otherwise quantised to 1 % of K.
- **per-UE ratios** — header UE ID = the UE, one row (its slice) whose max ratio is the UE's
  share of its slice's RBs in percent; the node applies the shares every TTI to the UEs with
  data (work-conserving). A slice's ratios sum to 100 (largest remainder) and every slotted UE
  gets at least 1 % while the slice has at most 100 of them, so no UE is starved by rounding;
  UEs the agent has no slot for get 0.

The training env applies exactly these integers, so an agent sees the same consequences of
its actions in-process and over E2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from slicing.slices import N_SLICES

__all__ = ["ControlPlan", "largest_remainder", "quota_rbs", "slice_rbs_of", "ue_ratios"]


def largest_remainder(shares: NDArray[np.float64], total: NDArray[np.int64]) -> NDArray[np.int64]:
    """Rows of non-negative shares → integers summing to ``total`` per row (largest remainder;
    ties go to the lower index). An all-zero row is split equally."""
    s = shares.sum(axis=1, keepdims=True)
    frac = np.divide(shares, s, out=np.full_like(shares, 1.0 / shares.shape[1]), where=s > 0)
    exact = frac * total[:, None]
    base = np.floor(exact).astype(np.int64)
    short = total - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(shares.shape[1])[None, :].repeat(len(shares), 0), axis=1)
    return base + (ranks < short[:, None])


def slice_rbs_of(shares: NDArray[np.float64], n_rbs: int) -> NDArray[np.int64]:
    """(D, 3) shares → (D, 3) integer RBs summing to K per DU."""
    s = np.asarray(shares, np.float64)
    return largest_remainder(s, np.full(len(s), n_rbs, np.int64))


def quota_rbs(ratio: NDArray[np.int64] | int, n_rbs: int) -> NDArray[np.int64]:
    """What an E2 node grants for a max PRB ratio (percent): round(ratio × K / 100), half to even
    (Python's ``round``, which the node uses for one value)."""
    return np.rint(np.asarray(ratio, np.float64) * n_rbs / 100.0).astype(np.int64)


def _ratio_of_rbs(rbs: NDArray[np.int64], n_rbs: int) -> NDArray[np.int64]:
    return np.rint(rbs * 100.0 / n_rbs).astype(np.int64)


def ue_ratios(
    share: NDArray[np.float64], seg: NDArray[np.int64], slotted: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Per-UE shares (N,) within segments ``seg`` → integer percents summing to 100 per segment
    over its slotted UEs (≥ 1 each while a segment has ≤ 100 of them); unslotted UEs get 0."""
    n = len(share)
    out = np.zeros(n, np.int64)
    if not n:
        return out
    order = np.lexsort((np.arange(n), seg))
    seg_o, ok_o = seg[order], slotted[order]
    starts = np.flatnonzero(np.r_[True, seg_o[1:] != seg_o[:-1]])
    counts = np.add.reduceat(ok_o.astype(np.int64), starts)
    floor1 = np.repeat(counts <= 100, np.diff(np.r_[starts, n]))
    s = np.where(ok_o, np.maximum(share[order], 0.0), 0.0)
    base = np.where(ok_o & floor1, 1, 0)
    remaining = 100 - np.add.reduceat(base, starts)
    # Split what the floors leave by the shares (largest remainder within each segment).
    tot = np.add.reduceat(s, starts)
    seg_rank = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    equal = ok_o / np.maximum(counts[seg_rank], 1)
    frac = np.where(tot[seg_rank] > 0, s / np.maximum(tot[seg_rank], 1e-300), equal)
    exact = frac * remaining[seg_rank]
    lo = np.floor(exact + 1e-9).astype(np.int64)
    short = remaining - np.add.reduceat(lo, starts)
    # Rank by fractional part (descending), ties by position; only slotted UEs take extras.
    key = np.where(ok_o, exact - lo, -1.0)
    order2 = np.lexsort((np.arange(n), -key, seg_rank))
    pos = np.arange(n) - starts[seg_rank[order2]]
    extra = np.zeros(n, np.int64)
    extra[order2] = (pos < short[seg_rank[order2]]) & ok_o[order2]
    out[order] = np.where(ok_o, base + lo + extra, 0)
    return out


@dataclass(frozen=True)
class ControlPlan:
    """The controls of one decision for ``n_du`` DUs.

    ``slice_ratio`` (D, 3): max PRB ratio per slice in percent. ``ue_*`` (M,): per-UE ratios
    (percent of the UE's slice) for the UEs the DU reported in its last window; empty when the
    intra-slice scheduling is left to the node's own scheduler.
    """

    slice_ratio: NDArray[np.int64]
    ue_id: NDArray[np.int64]
    ue_du: NDArray[np.int64]
    ue_slice: NDArray[np.int64]
    ue_ratio: NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.slice_ratio.ndim != 2 or self.slice_ratio.shape[1] != N_SLICES:
            raise ValueError(f"ControlPlan.slice_ratio: shape {self.slice_ratio.shape}")
        m = len(self.ue_id)
        for name in ("ue_du", "ue_slice", "ue_ratio"):
            if getattr(self, name).shape != (m,):
                raise ValueError(f"ControlPlan.{name}: shape {getattr(self, name).shape}, expected ({m},)")
        bad = (self.slice_ratio < 0) | (self.slice_ratio > 100)
        if bad.any() or (m and ((self.ue_ratio < 0) | (self.ue_ratio > 100)).any()):
            raise ValueError("ControlPlan: ratios must be within 0..100")

    @property
    def n_du(self) -> int:
        return int(self.slice_ratio.shape[0])

    def slice_rbs(self, n_rbs: int) -> NDArray[np.int64]:
        """(D, 3) RBs the node grants for the slice ratios."""
        return quota_rbs(self.slice_ratio, n_rbs)

    @staticmethod
    def slice_ratio_of(rbs: NDArray[np.int64], n_rbs: int) -> NDArray[np.int64]:
        return _ratio_of_rbs(np.asarray(rbs, np.int64), n_rbs)

    def of_du(self, du: int) -> ControlPlan:
        sel = self.ue_du == du
        return ControlPlan(
            self.slice_ratio[du : du + 1].copy(),
            self.ue_id[sel],
            np.zeros(int(sel.sum()), np.int64),
            self.ue_slice[sel],
            self.ue_ratio[sel],
        )
