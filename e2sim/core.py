"""The vectorized radio + traffic simulator (SPEC §1–2): an array program over (DU, UE, RB).

State lives in flat arrays over all UEs of the network (N = Σ UEs), with each UE's serving DU in
``serving``; per-TTI work is a fixed number of numpy operations whatever N, the number of DUs or
RBs — no Python loop over UEs or RBs.

One TTI:

1. timed events (DU off/on, traffic scale), then every ``mobility_update_ttis`` TTIs: move UEs,
   recompute path gains, re-associate to the strongest active RU (with hysteresis → handover);
2. packet arrivals (CBR or Poisson) into per-UE FIFO queues;
3. allocation: each DU's slice RB quotas; inside a slice either the per-UE RB allocation set by
   a controller (fixed RB counts, or per-UE shares applied every TTI to the UEs with data), or
   the built-in scheduler (round robin or proportional fair);
4. the allocation is laid onto RB indices, one owner UE per (DU, RB);
5. eq. 1: for every used (DU p, RB k) with owner u, SINR = P·g(p,u)·|h|² / (I + σ²) where
   I = Σ_{p'≠p, p' uses k} P·g(p',u)·|h_{p',u,k}|² — the interfering RU → victim UE distance;
   Shannon rate × B × TTI gives the bits the RB can carry;
6. queues are served FIFO; delivered packets give latencies; packets past their deadline drop.

Over-budget control (documented behaviour): slice quotas summing to more than K are scaled down
proportionally (largest remainder) when set, and counted in ``slice_over_rbs``; per-UE
allocations whose sum exceeds their slice's quota are granted proportionally (floor, then the
remaining RBs one each to the first UEs of the slice) and the excess is counted per TTI as
eq. 9's K_over (``WindowCounters.kover_rbs``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from e2sim.config import RadioConfig, ScenarioConfig
from e2sim.counters import WindowCounters
from e2sim.topology import hex_sites, sample_disc, sample_hexagon

__all__ = ["HEADING_OFFSETS", "ControlError", "SchedulerKind", "Simulator", "UeTable"]

SchedulerKind = Literal["rr", "pf"]
HEADING_OFFSETS = np.array(
    [0.0, math.pi / 3, -math.pi / 3, math.pi / 6, -math.pi / 6, math.pi / 12, -math.pi / 12]
)
_N_SLICES = 3


class ControlError(ValueError):
    """A control input was rejected; the simulator state is unchanged."""


@dataclass(frozen=True)
class UeTable:
    """Static per-UE attributes (N,), set when the simulator is built."""

    home_du: NDArray[np.int32]
    slice: NDArray[np.int8]
    packet_bits: NDArray[np.float64]
    deadline_ttis: NDArray[np.int64]
    cbr_bits_per_tti: NDArray[np.float64]  # 0 for Poisson UEs
    poisson_per_tti: NDArray[np.float64]  # 0 for CBR UEs
    offered_bps: NDArray[np.float64]  # mean offered load at traffic scale 1
    sla_rate_bps: NDArray[np.float64]  # mMTC λ_i (0 where not applicable)
    speed_mps: NDArray[np.float64]


def _largest_remainder(shares: NDArray[np.float64], total: NDArray[np.int64]) -> NDArray[np.int64]:
    """Rows of non-negative shares → integers summing to ``total`` per row (largest remainder)."""
    s = shares.sum(axis=1, keepdims=True)
    frac = np.divide(shares, s, out=np.full_like(shares, 1.0 / shares.shape[1]), where=s > 0)
    exact = frac * total[:, None]
    base = np.floor(exact).astype(np.int64)
    short = total - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(shares.shape[1])[None, :].repeat(len(shares), 0), axis=1)
    return base + (ranks < short[:, None])


@dataclass(frozen=True)
class _AllocMasks:
    """Per UE in segment order: whether its (DU, slice) uses round robin, proportional fair,
    explicit counts or shares; and whether any does."""

    rr_o: NDArray[np.bool_]
    pf_o: NDArray[np.bool_]
    explicit_o: NDArray[np.bool_]
    weighted_o: NDArray[np.bool_]
    rr_any: bool
    pf_any: bool
    explicit_any: bool
    weighted_any: bool


class Simulator:
    """N_DU DUs × their UEs × K RBs, stepped one TTI at a time. See the module docstring.

    Args:
        scenario: validated scenario (see :func:`e2sim.scenario.load_scenario`).
        seed: seed of every random stream (placement, mobility, traffic, fading); same seed and
            same controls ⇒ same trajectory.
    """

    def __init__(self, scenario: ScenarioConfig, seed: int = 0) -> None:
        self.scenario = scenario
        self.radio: RadioConfig = scenario.radio
        r = self.radio
        seq = np.random.SeedSequence(seed)
        s_place, s_mob, s_traffic, s_fading, s_sched = seq.spawn(5)
        self._rng_mob = np.random.default_rng(s_mob)
        self._rng_traffic = np.random.default_rng(s_traffic)
        self._rng_fading = np.random.default_rng(s_fading)
        self._rng_sched = np.random.default_rng(s_sched)

        self.n_du = scenario.n_du
        self.n_rbs = r.n_rbs
        self.n_slices = _N_SLICES
        self.sites = hex_sites(self.n_du, r.inter_site_distance_m)
        self.region_radius_m = float(np.hypot(*self.sites.T).max()) + r.cell_radius_m
        self.ues, self.positions = self._build_ues(np.random.default_rng(s_place))
        n = self.n_ues = len(self.ues.slice)
        self._n_seg = self.n_du * _N_SLICES

        # Radio constants.
        self._bits_per_rb_unit = r.rb_bandwidth_hz * r.tti_s  # bits per (bit/s/Hz) on one RB·TTI
        self._noise_mw = 10.0 ** (r.noise_per_rb_dbm / 10.0)
        self._hyst = 10.0 ** (r.handover_hysteresis_db / 10.0)

        # Mobility state.
        rng = self._rng_mob
        self._ref_heading = rng.uniform(0, 2 * math.pi, n)
        self._heading = self._ref_heading + HEADING_OFFSETS[rng.integers(0, 7, n)]

        # Queues: FIFO ring of arrival TTIs per UE, plus prefix sums of arrival TTIs so the
        # latency sum of any run of delivered packets is one subtraction.
        q = r.queue_packets
        self._q_arr = np.zeros((n, q), np.int64)
        self._q_cum = np.zeros((n, q), np.int64)
        self._in_cum = np.zeros(n, np.int64)
        self._out_cum = np.zeros(n, np.int64)
        self._q_head = np.zeros(n, np.int64)
        self._q_len = np.zeros(n, np.int64)
        self._head_sent = np.zeros(n, np.float64)
        self._cbr_acc = self._rng_traffic.uniform(0.0, 1.0, n) * self.ues.packet_bits
        self._traffic_scale = np.ones(n)
        self._cbr_idx = np.flatnonzero(self.ues.cbr_bits_per_tti > 0)
        self._pois_idx = np.flatnonzero(self.ues.poisson_per_tti > 0)
        self._refresh_traffic()

        # Association and gains.
        self.du_active = np.ones(self.n_du, bool)
        self.serving = np.zeros(n, np.int32)
        self._gain_pad = np.zeros((self.n_du, n + 1), np.float32)  # last column: "no UE" → 0
        self._geo_rate = np.zeros(n)  # bits per RB·TTI expected at full interference
        self.rate_est = np.zeros(n)  # EWMA of achieved bits per RB·TTI (scheduler's CSI)
        self.avg_thr = np.zeros(n)  # EWMA of delivered bits per TTI (proportional fair)
        self.handovers_total = 0
        self._update_gains()
        self._associate(initial=True)
        self.rate_est[:] = self._geo_rate

        # Fading buffers.
        self._h_full: NDArray[np.float32] | None = None
        if r.fading == "full":
            self._h_full = np.empty((self.n_du, n, self.n_rbs), np.float32)
        self._h_block = np.empty((0, self.n_du, self.n_du, self.n_rbs), np.float32)
        self._h_block_pos = 0
        self._k_idx = np.arange(self.n_rbs)[None, :]
        self._rx = np.empty((self.n_du, self.n_du, self.n_rbs), np.float32)

        # Controls.
        self.slice_rbs = _largest_remainder(
            np.ones((self.n_du, _N_SLICES)), np.full(self.n_du, self.n_rbs, np.int64)
        )
        self.ue_rbs = np.full(n, -1, np.int64)
        self.explicit = np.zeros((self.n_du, _N_SLICES), bool)
        self.ue_share = np.zeros(n, np.float64)
        self.weighted = np.zeros((self.n_du, _N_SLICES), bool)
        self.scheduler_pf = np.ones(self.n_du, bool)
        self.slice_over_rbs = np.zeros(self.n_du, np.int64)

        self.t = 0
        self._events = sorted(
            ((round(ev.at_ms / r.tti_ms), i, ev) for i, ev in enumerate(scenario.events)),
            key=lambda x: (x[0], x[1]),
        )
        self._next_event = 0
        self.counters = WindowCounters(n, self.n_du, _N_SLICES)
        self.last_allocation = np.zeros(n, np.int64)
        self._alloc_kept: tuple[tuple[bytes, bytes, bytes], NDArray[np.int64], _AllocMasks] | None = None

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickle, filling controls added after the pickle was written (older checkpoints)."""
        self.__dict__.update(state)
        self._refresh_traffic()
        if "ue_share" not in state:
            self.ue_share = np.zeros(self.n_ues, np.float64)
            self.weighted = np.zeros((self.n_du, _N_SLICES), bool)

    # ------------------------------------------------------------------ construction
    def _build_ues(self, rng: np.random.Generator) -> tuple[UeTable, NDArray[np.float64]]:
        sc, r = self.scenario, self.radio
        cols: dict[str, list[np.ndarray]] = {k: [] for k in UeTable.__dataclass_fields__}
        pos: list[np.ndarray] = []
        tti_s = r.tti_s
        for du in range(self.n_du):
            task = sc.task_of(du)
            for sl, tr in enumerate(task.slices):
                m = tr.n_ues
                if m == 0:
                    continue
                if tr.placement.kind == "hotspot":
                    p = sample_disc(rng, m, min(tr.placement.radius_m, r.cell_radius_m))
                else:
                    p = sample_hexagon(rng, m, r.inter_site_distance_m)
                pos.append(p + self.sites[du])
                bits = tr.packet_bytes * 8.0
                scale = task.traffic_scale
                if tr.arrival == "cbr":
                    assert tr.rate_mbps is not None
                    rate = rng.uniform(tr.rate_mbps[0], tr.rate_mbps[1], m) * 1e6 * scale
                    cbr, pois = rate * tti_s, np.zeros(m)
                else:
                    assert tr.packets_per_s is not None
                    rate = np.full(m, tr.packets_per_s * bits * scale)
                    cbr, pois = np.zeros(m), np.full(m, tr.packets_per_s * tti_s * scale)
                lo, hi = task.speed_mps
                cols["home_du"].append(np.full(m, du, np.int32))
                cols["slice"].append(np.full(m, sl, np.int8))
                cols["packet_bits"].append(np.full(m, bits))
                cols["deadline_ttis"].append(
                    np.full(m, max(1, math.ceil(tr.deadline_ms / r.tti_ms)), np.int64)
                )
                cols["cbr_bits_per_tti"].append(cbr)
                cols["poisson_per_tti"].append(pois)
                cols["offered_bps"].append(rate)
                cols["sla_rate_bps"].append(np.full(m, (tr.sla_rate_kbps or 0.0) * 1e3))
                cols["speed_mps"].append(rng.uniform(lo, hi, m))
        table = UeTable(**{k: np.concatenate(v) for k, v in cols.items()})
        return table, np.concatenate(pos)

    # ------------------------------------------------------------------ geometry and association
    def _update_gains(self) -> None:
        r = self.radio
        d = np.hypot(
            self.sites[:, 0:1] - self.positions[None, :, 0],
            self.sites[:, 1:2] - self.positions[None, :, 1],
        )
        pl_db = r.pathloss_ref_db + 10.0 * r.pathloss_exponent * np.log10(
            np.maximum(d, r.min_distance_m) / 1000.0
        )
        self._gain_pad[:, :-1] = 10.0 ** ((r.rb_power_dbm - pl_db) / 10.0)

    def _associate(self, initial: bool = False) -> None:
        g = self._gain_pad[:, :-1].astype(np.float64)
        all_on = bool(self.du_active.all())  # the usual case: no masking (same values)
        g_act = g if all_on else np.where(self.du_active[:, None], g, -1.0)
        best = np.argmax(g_act, axis=0).astype(np.int32)
        if initial:
            new = best
        else:
            n_idx = np.arange(self.n_ues)
            cur = g_act[self.serving, n_idx]
            switch = (g_act[best, n_idx] > cur * self._hyst) | ~self.du_active[self.serving]
            new = np.where(switch, best, self.serving).astype(np.int32)
        changed = new != self.serving
        if not initial and changed.any():
            n_ho = int(changed.sum())
            self.handovers_total += n_ho
            self.counters.handovers += n_ho
        self.serving = new
        total = (g if all_on else g * self.du_active[:, None]).sum(axis=0)
        s = g[new, np.arange(self.n_ues)]
        sinr = s / (total - s + self._noise_mw)
        self._geo_rate = self._bits_per_rb_unit * np.log2(1.0 + sinr)
        if not initial and changed.any():
            self.rate_est[changed] = self._geo_rate[changed]
        self._seg = self.serving.astype(np.int64) * _N_SLICES + self.ues.slice
        self._order = np.argsort(self._seg, kind="stable")
        self._seg_o = self._seg[self._order]
        self._seg_start = np.searchsorted(self._seg_o, np.arange(self._n_seg))

    def _move(self) -> None:
        r = self.radio
        dt = r.mobility_update_ttis * r.tti_s
        rng = self._rng_mob
        n = self.n_ues
        if r.heading_change_per_s > 0:
            redraw = rng.random(n) < r.heading_change_per_s * dt
            k = int(redraw.sum())
            if k:
                self._heading[redraw] = self._ref_heading[redraw] + HEADING_OFFSETS[rng.integers(0, 7, k)]
        step = self.ues.speed_mps * dt
        p = self.positions
        p[:, 0] += step * np.cos(self._heading)
        p[:, 1] += step * np.sin(self._heading)
        rad = np.hypot(p[:, 0], p[:, 1])
        out = rad > self.region_radius_m
        if out.any():
            # Reflect at the region's boundary circle: radial reflection of position and velocity.
            nx, ny = p[out, 0] / rad[out], p[out, 1] / rad[out]
            new_r = 2 * self.region_radius_m - rad[out]
            p[out, 0], p[out, 1] = nx * new_r, ny * new_r
            vx, vy = np.cos(self._heading[out]), np.sin(self._heading[out])
            dot = vx * nx + vy * ny
            h = np.arctan2(vy - 2 * dot * ny, vx - 2 * dot * nx)
            self._heading[out] = h
            self._ref_heading[out] = h

    # ------------------------------------------------------------------ controls
    def set_slice_rbs(self, rbs: ArrayLike, dus: Sequence[int] | None = None) -> None:
        """Set slice RB quotas: integer array (n_du, 3), or (len(dus), 3) for the listed DUs.

        Rows summing to more than K are scaled down proportionally and counted in
        ``slice_over_rbs``. Raises :class:`ControlError` (state unchanged) on bad input.
        """
        rows = self._check_dus(dus)
        arr = self._check_array(rbs, (len(rows), _N_SLICES), "slice RB quota", integer=True)
        total = arr.sum(axis=1)
        over = np.maximum(total - self.n_rbs, 0)
        fixed = arr.copy()
        if over.any():
            sel = over > 0
            fixed[sel] = _largest_remainder(arr[sel].astype(np.float64), np.full(int(sel.sum()), self.n_rbs))
        self.slice_rbs[rows] = fixed
        self.slice_over_rbs[rows] += over

    def set_slice_shares(self, shares: ArrayLike, dus: Sequence[int] | None = None) -> None:
        """Set slice quotas from non-negative shares (n_du, 3); each row → integers summing to K."""
        rows = self._check_dus(dus)
        arr = self._check_array(shares, (len(rows), _N_SLICES), "slice shares", integer=False)
        if (arr.sum(axis=1) <= 0).any():
            raise ControlError("slice shares: every row needs a positive sum")
        self.slice_rbs[rows] = _largest_remainder(
            arr.astype(np.float64), np.full(len(rows), self.n_rbs, np.int64)
        )

    def _check_ids(self, ue_ids: ArrayLike) -> NDArray[np.int64]:
        ids = np.asarray(ue_ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ControlError(
                f"UE ids: expected a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.n_ues):
            raise ControlError(f"UE ids: out of range 0..{self.n_ues - 1}")
        if len(np.unique(ids)) != ids.size:
            raise ControlError("UE ids: duplicates")
        return ids.astype(np.int64)

    def set_ue_rbs(self, ue_ids: ArrayLike, rbs: ArrayLike) -> None:
        """Give UEs explicit RB counts; their current (DU, slice) then stops using the built-in
        scheduler (UEs of that slice without an explicit count get 0 RBs) until released."""
        ids = self._check_ids(ue_ids)
        vals = self._check_array(rbs, ids.shape, "UE RB allocation", integer=True)
        self.ue_rbs[ids] = vals
        segs = (self.serving[ids], self.ues.slice[ids])
        self.explicit[segs] = True
        self.weighted[segs] = False

    def set_ue_shares(self, ue_ids: ArrayLike, shares: ArrayLike) -> None:
        """Give UEs a share of their slice's RBs, applied every TTI (a per-UE PRB-quota ratio).

        Each TTI the slice quota is split among the slice's UEs *with data* in proportion to
        their shares (largest remainder), so RBs a UE with an empty queue does not need go to
        the others (work-conserving weighted round robin, as a MAC applies an xApp's ratios).
        If no UE with data has a positive share, those UEs split the quota equally. The UEs'
        (DU, slice) leaves the built-in scheduler until released; UEs of it without a share
        set keep their last share (0 initially).
        """
        ids = self._check_ids(ue_ids)
        vals = self._check_array(shares, ids.shape, "UE RB share", integer=False)
        self.ue_share[ids] = vals
        segs = (self.serving[ids], self.ues.slice[ids])
        self.weighted[segs] = True
        self.explicit[segs] = False

    def set_share_allocation(self, shares: ArrayLike) -> None:
        """Per-TTI RB shares for every UE (N,): every slice of every DU becomes share-controlled."""
        vals = self._check_array(shares, (self.n_ues,), "UE RB share", integer=False)
        self.ue_share[:] = vals
        self.weighted[:] = True
        self.explicit[:] = False

    def set_allocation(self, rbs: ArrayLike) -> None:
        """Explicit RB counts for every UE (N,): every slice of every DU becomes explicit."""
        vals = self._check_array(rbs, (self.n_ues,), "UE RB allocation", integer=True)
        self.ue_rbs[:] = vals
        self.explicit[:] = True
        self.weighted[:] = False

    def release_ue_control(self, dus: Sequence[int] | None = None) -> None:
        """Return the DUs' slices to the built-in scheduler."""
        rows = self._check_dus(dus)
        self.explicit[rows] = False
        self.weighted[rows] = False
        mine = np.isin(self.serving, rows)
        self.ue_rbs[mine] = -1
        self.ue_share[mine] = 0.0

    def set_scheduler(self, kind: SchedulerKind, dus: Sequence[int] | None = None) -> None:
        """Built-in intra-slice scheduler: 'rr' (round robin) or 'pf' (proportional fair)."""
        if kind not in ("rr", "pf"):
            raise ControlError(f"scheduler: expected 'rr' or 'pf', got {kind!r}")
        self.scheduler_pf[self._check_dus(dus)] = kind == "pf"

    def _check_dus(self, dus: Sequence[int] | None) -> NDArray[np.int64]:
        if dus is None:
            return np.arange(self.n_du)
        rows = np.asarray(list(dus), dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= self.n_du)):
            raise ControlError(f"DU indices must be in 0..{self.n_du - 1}, got {list(dus)}")
        return rows

    @staticmethod
    def _check_array(
        value: ArrayLike, shape: tuple[int, ...], what: str, *, integer: bool
    ) -> NDArray[np.int64] | NDArray[np.float64]:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ControlError(f"{what}: not numeric ({err})") from None
        if arr.shape != shape:
            raise ControlError(f"{what}: expected shape {shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ControlError(f"{what}: contains NaN or infinity")
        if (arr < 0).any():
            raise ControlError(f"{what}: contains negative values")
        if integer:
            if (arr != np.round(arr)).any():
                raise ControlError(f"{what}: RB counts must be integers")
            return arr.astype(np.int64)
        return arr

    def set_du_active(self, du: int, active: bool) -> None:
        """Switch a DU (its RU) off or on; UEs re-associate immediately."""
        self._check_dus([du])
        if not active and self.du_active.sum() == 1 and self.du_active[du]:
            raise ControlError("cannot switch off the last active DU")
        self.du_active[du] = active
        self._associate()

    # ------------------------------------------------------------------ stepping
    def step(self, n_ttis: int = 1) -> None:
        """Advance ``n_ttis`` TTIs under the controls in force."""
        for _ in range(n_ttis):
            self._tti()

    def collect(self) -> WindowCounters:
        """Return the counters of the window since the last collect, and start a new window."""
        w = self.counters
        w.backlog_bits = self._q_len * self.ues.packet_bits - self._head_sent
        w.serving = self.serving.copy()
        self.counters = WindowCounters(self.n_ues, self.n_du, _N_SLICES)
        return w

    def _apply_events(self) -> None:
        while self._next_event < len(self._events) and self._events[self._next_event][0] <= self.t:
            ev = self._events[self._next_event][2]
            self._next_event += 1
            dus = list(range(self.n_du)) if ev.dus == "all" else ev.dus
            if ev.kind == "traffic_scale":
                assert ev.factor is not None
                self._traffic_scale[np.isin(self.ues.home_du, dus)] = ev.factor
                self._refresh_traffic()
            else:
                self.du_active[dus] = ev.kind == "du_on"
                if not self.du_active.any():
                    raise RuntimeError(f"event at {ev.at_ms} ms switched off every DU")
                self._associate()

    def _tti(self) -> None:
        if self._next_event < len(self._events):
            self._apply_events()
        if self.t % self.radio.mobility_update_ttis == 0 and self.t > 0:
            self._move()
            self._update_gains()
            self._associate()
        self._arrivals()
        queued = self._q_len * self.ues.packet_bits - self._head_sent
        counts = self._allocate(queued)
        owner = self._owner_map(counts)
        cap = self._radio(owner)
        self._serve(cap, counts, queued)
        self.last_allocation = counts
        self.counters.ttis += 1
        self.t += 1

    # ------------------------------------------------------------------ traffic
    def _refresh_traffic(self) -> None:
        """Per-TTI arrival parameters of the CBR and Poisson UEs under the traffic scale in force
        (recomputed when a ``traffic_scale`` event changes it)."""
        u, ci, pi = self.ues, self._cbr_idx, self._pois_idx
        self._cbr_pkt = u.packet_bits[ci]
        self._cbr_inc = u.cbr_bits_per_tti[ci] * self._traffic_scale[ci]
        self._pois_lam = u.poisson_per_tti[pi] * self._traffic_scale[pi]

    def _arrivals(self) -> None:
        k = np.zeros(self.n_ues, np.int64)
        ci = self._cbr_idx
        if ci.size:
            pkt = self._cbr_pkt
            acc = self._cbr_acc[ci] + self._cbr_inc
            kc = np.floor(acc / pkt).astype(np.int64)
            self._cbr_acc[ci] = acc - kc * pkt
            k[ci] = kc
        if self._pois_idx.size:
            k[self._pois_idx] = self._rng_traffic.poisson(self._pois_lam)
        idx = k.nonzero()[0]
        if not idx.size:
            return
        self.counters.arrived_bits += k * self.ues.packet_bits  # + 0.0 where nothing arrived
        q = self.radio.queue_packets
        kk = k[idx]
        sub = idx
        for j in range(int(kk.max())):
            if j:
                sub = idx[kk > j]
            full = self._q_len[sub] >= q
            if full.any():
                self.counters.dropped_overflow[sub[full]] += 1
                sub = sub[~full]
            slot = (self._q_head[sub] + self._q_len[sub]) % q
            self._q_arr[sub, slot] = self.t
            cum = self._in_cum[sub] + self.t
            self._in_cum[sub] = cum
            self._q_cum[sub, slot] = cum
            self._q_len[sub] += 1

    # ------------------------------------------------------------------ allocation
    def _segment_rank(self, mask_o: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Rank of each (ordered) UE among the masked UEs of its (DU, slice) segment."""
        cs = np.concatenate(([0], np.cumsum(mask_o)))
        return cs[1:] - 1 - cs[self._seg_start][self._seg_o]

    def _allocate(self, queued: NDArray[np.float64]) -> NDArray[np.int64]:
        """Each UE's RBs this TTI; ``queued``: bits waiting per UE."""
        quota = (self.slice_rbs * self.du_active[:, None]).ravel()
        order = self._order
        backlogged_o = (self._q_len > 0)[order]
        m = self._alloc_masks()
        counts_o = np.zeros(self.n_ues, np.int64)
        if m.rr_any:
            counts_o += self._round_robin(backlogged_o & m.rr_o, quota)
        if m.pf_any:
            counts_o += self._proportional_fair(backlogged_o & m.pf_o, queued[order], quota)
        if m.explicit_any:
            counts_o += self._explicit(m.explicit_o, quota)
        if m.weighted_any:
            counts_o += self._weighted(backlogged_o & m.weighted_o, quota)
        counts = np.empty_like(counts_o)
        counts[order] = counts_o
        self.counters.rb_quota += quota.reshape(self.n_du, _N_SLICES)
        return counts

    def _alloc_masks(self) -> _AllocMasks:
        """Which allocation each (segment-ordered) UE's slice uses, recomputed only when the
        controls' flags or the association changed."""
        key = (self.explicit.tobytes(), self.weighted.tobytes(), self.scheduler_pf.tobytes())
        kept = getattr(self, "_alloc_kept", None)  # absent from pickles of before it existed
        if kept is not None and kept[0] == key and kept[1] is self._seg_o:
            return kept[2]
        seg_o = self._seg_o
        explicit_seg, weighted_seg = self.explicit.ravel(), self.weighted.ravel()
        builtin_o = ~(explicit_seg | weighted_seg)[seg_o]
        pf = self.scheduler_pf[seg_o // _N_SLICES]
        rr_o, pf_o = builtin_o & ~pf, builtin_o & pf
        masks = _AllocMasks(
            rr_o=rr_o,
            pf_o=pf_o,
            explicit_o=explicit_seg[seg_o],
            weighted_o=weighted_seg[seg_o],
            rr_any=bool(rr_o.any()),
            pf_any=bool(pf_o.any()),
            explicit_any=bool(explicit_seg.any()),
            weighted_any=bool(weighted_seg.any()),
        )
        self._alloc_kept = (key, seg_o, masks)
        return masks

    def _round_robin(self, mask_o: NDArray[np.bool_], quota: NDArray[np.int64]) -> NDArray[np.int64]:
        """Equal split of the slice quota among backlogged UEs; the remainder rotates per TTI."""
        seg_o = self._seg_o
        nb = np.bincount(seg_o[mask_o], minlength=self._n_seg)
        nbs = np.maximum(nb, 1)
        share, rem = quota // nbs, quota % nbs
        rank = self._segment_rank(mask_o)
        rot = (rank + self.t) % nbs[seg_o]
        return np.where(mask_o, share[seg_o] + (rot < rem[seg_o]), 0)

    def _proportional_fair(
        self, mask_o: NDArray[np.bool_], queued_o: NDArray[np.float64], quota: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Buffer-aware proportional fair: UEs in decreasing order of r̂/R̄ each take the RBs their
        queue needs (with a 25 % margin for fading) until the slice quota is used up.

        Only the masked UEs are sorted (the others ask for nothing, so they change no one's
        share); ``mask_o`` is in segment order, so they stay grouped by segment."""
        out = np.zeros(len(mask_o), np.int64)
        act = np.flatnonzero(mask_o)
        if not act.size:
            return out
        ue = self._order[act]
        rate = np.maximum(self.rate_est[ue], 1.0)
        metric = rate / np.maximum(self.avg_thr[ue], 1.0)
        demand = np.ceil(1.25 * queued_o[act] / rate).astype(np.int64)
        seg = self._seg_o[act]
        # Within segments by decreasing metric (segments stay in place: keys are seg-major).
        perm = np.lexsort((-metric, seg))
        d_p = demand[perm]
        seg_p = seg[perm]
        cs = np.cumsum(d_p)
        before = cs - d_p
        first = np.searchsorted(seg_p, np.arange(self._n_seg))  # each segment's first position
        before -= before[first[seg_p]]
        out[act[perm]] = np.clip(quota[seg_p] - before, 0, d_p)
        return out

    def _weighted(self, mask_o: NDArray[np.bool_], quota: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slice quota split among the masked (backlogged) UEs in proportion to their shares."""
        seg_o, n_seg = self._seg_o, self._n_seg
        w = np.where(mask_o, np.maximum(self.ue_share[self._order], 0.0), 0.0)
        z = np.bincount(seg_o, weights=w, minlength=n_seg)
        equal = mask_o & (z[seg_o] <= 0)  # nobody with data has a share: they split equally
        if equal.any():
            w = np.where(equal, 1.0, w)
            z = np.bincount(seg_o, weights=w, minlength=n_seg)
        exact = np.where(mask_o, w / np.maximum(z[seg_o], 1e-300), 0.0) * quota[seg_o]
        base = np.floor(exact).astype(np.int64)
        left = quota - np.bincount(seg_o, weights=base, minlength=n_seg).astype(np.int64)
        # Remaining RBs one each to the largest fractional parts (ties: rotating with the TTI).
        rank_rot = (self._segment_rank(mask_o) + self.t) % np.maximum(
            np.bincount(seg_o[mask_o], minlength=n_seg), 1
        )[seg_o]
        perm = np.lexsort((rank_rot, -(exact - base), ~mask_o, seg_o))
        seg_p = seg_o[perm]
        rank_p = np.arange(len(perm)) - self._seg_start[seg_p]
        extra = np.zeros_like(base)
        extra[perm] = (rank_p < left[seg_p]) & mask_o[perm]
        return base + extra

    def _explicit(self, mask_o: NDArray[np.bool_], quota: NDArray[np.int64]) -> NDArray[np.int64]:
        """Explicit per-UE counts; a slice asking for more than its quota is scaled down."""
        seg_o = self._seg_o
        req = np.where(mask_o, np.maximum(self.ue_rbs[self._order], 0), 0)
        total = np.bincount(seg_o, weights=req, minlength=self._n_seg).astype(np.int64)
        over = np.maximum(total - quota, 0)
        if not over.any():
            return req
        self.counters.kover_rbs += over.reshape(self.n_du, _N_SLICES)
        scale = np.where(over > 0, quota / np.maximum(total, 1), 1.0)
        grant = np.floor(req * scale[seg_o]).astype(np.int64)
        left = quota - np.bincount(seg_o, weights=grant, minlength=self._n_seg).astype(np.int64)
        want = mask_o & (req > grant) & (over[seg_o] > 0)
        rank = self._segment_rank(want)
        grant += want & (rank < left[seg_o])
        return grant

    def _owner_map(self, counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """(n_du, K) array: the UE using each RB of each DU, or -1."""
        k = self.n_rbs
        counts_o = counts[self._order]
        per_du = np.bincount(self.serving, weights=counts, minlength=self.n_du).astype(np.int64)
        first = np.cumsum(per_du) - per_du
        ue_list = np.repeat(self._order, counts_o)
        du_list = self.serving[ue_list]
        pos = np.arange(len(ue_list)) - first[du_list]
        if self.radio.rb_mapping == "random":
            perm = self._rng_sched.permuted(np.tile(np.arange(k), (self.n_du, 1)), axis=1)
            pos = perm[du_list, pos]
        owner = np.full(self.n_du * k, -1, np.int64)
        owner[du_list * k + pos] = ue_list
        return owner.reshape(self.n_du, k)

    # ------------------------------------------------------------------ radio (eq. 1)
    def _fading(self, owner: NDArray[np.int64]) -> NDArray[np.float32]:
        """|h|² of every RU towards the owner of each (DU, RB): shape (n_du', n_du, K)."""
        if self._h_full is not None:
            if self.t % self.radio.coherence_ttis == 0:
                self._rng_fading.standard_exponential(out=self._h_full, dtype=np.float32)
            return self._h_full[:, owner, self._k_idx]
        if self._h_block_pos >= len(self._h_block):
            block = max(1, min(64, 2_000_000 // (self.n_du * self.n_du * self.n_rbs)))
            self._h_block = self._rng_fading.standard_exponential(
                (block, self.n_du, self.n_du, self.n_rbs), dtype=np.float32
            )
            self._h_block_pos = 0
        h = self._h_block[self._h_block_pos]
        self._h_block_pos += 1
        return h

    def _radio(self, owner: NDArray[np.int64]) -> NDArray[np.float64]:
        """Bits each UE can receive this TTI on its RBs (eq. 1, with interference)."""
        rx = self._rx  # C-contiguous (p', p, k) buffer, so the reshape below is a view
        np.multiply(self._gain_pad[:, owner], self._fading(owner), out=rx)
        used = (owner >= 0).astype(np.float32)
        n_du = self.n_du
        diag = rx.reshape(n_du * n_du, -1)[:: n_du + 1]  # view of the p' = p entries
        signal = diag.copy()
        diag[:] = 0.0  # (summing first and subtracting the signal loses float32 precision)
        interference = np.einsum("qk,qpk->pk", used, rx)
        sinr = signal / (interference + np.float32(self._noise_mw))
        bits = np.log2(np.float32(1.0) + sinr) * np.float32(self._bits_per_rb_unit)
        cap = np.bincount(owner.ravel() + 1, weights=bits.ravel(), minlength=self.n_ues + 1)
        return cap[1:].astype(np.float64, copy=False)

    # ------------------------------------------------------------------ queues
    def _serve(
        self, cap: NDArray[np.float64], counts: NDArray[np.int64], queued: NDArray[np.float64]
    ) -> None:
        u, c = self.ues, self.counters
        pkt = u.packet_bits
        deliv = np.minimum(cap, queued)
        prog = self._head_sent + deliv
        done = np.minimum(np.floor(prog / pkt + 1e-9).astype(np.int64), self._q_len)
        self._head_sent = np.where(done == self._q_len, 0.0, prog - done * pkt)
        c.delivered_bits += deliv
        c.capacity_bits += cap
        c.rbs += counts
        sched = counts > 0
        if sched.any():
            per_rb = cap[sched] / counts[sched]
            self.rate_est[sched] += 0.1 * (per_rb - self.rate_est[sched])
        self.avg_thr += (deliv - self.avg_thr) / self.radio.pf_time_constant_ttis
        self.counters.rb_used += (
            np.bincount(self._seg, weights=counts, minlength=self._n_seg)
            .astype(np.int64)
            .reshape(self.n_du, _N_SLICES)
        )
        idx = np.flatnonzero(done)
        now = self.t + 1
        tti_ms = self.radio.tti_ms
        if idx.size:
            ci = done[idx]
            head = self._q_head[idx]
            q = self.radio.queue_packets
            last = (head + ci - 1) % q
            cum_last = self._q_cum[idx, last]
            arr_sum = cum_last - self._out_cum[idx]
            c.latency_sum_ms[idx] += (now * ci - arr_sum) * tti_ms
            oldest_lat = (now - self._q_arr[idx, head]) * tti_ms
            c.latency_max_ms[idx] = np.maximum(c.latency_max_ms[idx], oldest_lat)
            c.delivered_packets[idx] += ci
            self._out_cum[idx] = cum_last
            self._q_head[idx] = (head + ci) % q
            self._q_len[idx] -= ci
        self._drop_expired(now)

    def _drop_expired(self, now: int) -> None:
        """Drop head-of-line packets that can no longer meet their deadline (only a UE that has
        just dropped one can have another to drop)."""
        q = self.radio.queue_packets
        cand = np.flatnonzero(self._q_len)
        deadline = self.ues.deadline_ttis
        while cand.size:
            age = now - self._q_arr[cand, self._q_head[cand]]
            idx = cand[age >= deadline[cand]]
            if not idx.size:
                return
            head = self._q_head[idx]
            self._out_cum[idx] = self._q_cum[idx, head]
            self._q_head[idx] = (head + 1) % q
            self._q_len[idx] -= 1
            self._head_sent[idx] = 0.0
            self.counters.dropped_deadline[idx] += 1
            cand = idx[self._q_len[idx] > 0]

    # ------------------------------------------------------------------ introspection
    @property
    def queue_bits(self) -> NDArray[np.float64]:
        """Bits waiting in each UE's buffer."""
        return self._q_len * self.ues.packet_bits - self._head_sent

    @property
    def geometric_rate(self) -> NDArray[np.float64]:
        """Bits per RB·TTI each UE would get at its mean SINR with every other RU transmitting."""
        return self._geo_rate
