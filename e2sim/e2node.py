"""The simulator as E2 nodes: one E2 node per DU, serving E2SM-KPM reports and E2SM-RC controls.

:class:`E2SimNodes` runs one :class:`~e2sim.core.Simulator` and, for each DU, a
:class:`DuNode` (the service logic) behind an :class:`~ric.client.E2NodeClient` (connection,
E2 Setup, reconnect with backoff). Conventions (also in :mod:`ric.ids`):

* **Node identity** — DU ``d`` is gNB ID ``d + 1`` (22 bits) with gNB-DU-ID ``d`` in the
  scenario's PLMN; its E2 node name is ``gnbd_<MCC>_<MNC>_<gNB ID, 6 hex>_0``
  (``gnbd_001_001_000001_0`` for DU 0 of PLMN 00101). E2 Setup advertises E2SM-KPM
  (RAN function 2) and E2SM-RC (RAN function 3, style 2 / action 6).
* **UE IDs** — simulator UE ``i`` (global index) is ``GnbDuUeId(i + 1)``; a UE is reported
  by the DU serving it at the end of the report window (so after a handover, by its new DU).
* **Slices** — slice index 0/1/2 (eMBB/mMTC/URLLC) is S-NSSAI (SST 1/3/2, SD =
  ``scenario.slice_sd``), in the scenario's PLMN.
* **KPM subscriptions** — event trigger format 1, period ≥ 10 ms (:data:`MIN_PERIOD_MS`,
  configurable), rounded to whole TTIs; a report covers the simulator's window counters since the previous
  report of that subscription (one data item per report; the action's granularity is not
  subdivided). Reports fall on multiples of the period in simulated time, so all
  subscriptions of a period report at the same TTIs (the first report covers the time from
  the subscription to the next multiple); in lockstep the first falls one period after the
  subscription. Timestamps are simulated time: ``epoch + TTI index × TTI``, with ``epoch``
  the wall-clock time at start. Styles:

  - 1 (format 1 → indication format 1): node level, each measurement per ``sliceID`` label
    (or unlabeled = the whole DU);
  - 2 (one UE → format 1), 4 (UEs matching S-NSSAI conditions; ``present`` = every UE)
    and 5 (explicit UE list) → indication format 3 with one report per UE served.

  Measurements: ``DRB.UEThpDl`` (delivered kbit/s; node level: mean over UEs),
  ``DRB.RlcSduDelayDl`` (mean delay of delivered packets in 0.1 ms; noValue if none),
  ``RRU.PrbUsedDl`` (mean PRBs per TTI), ``RRU.PrbAvailDl`` (mean PRB quota of the slice —
  of the UE's slice at UE level —, or K unlabeled), ``DRB.RlcPacketDropRateDl`` (dropped /
  (delivered + dropped) packets), and the slicing contract's measurements
  (:mod:`slicing.measurements`: delivered and arrived volume, worst delay, deadline drops,
  buffer, rate per PRB, connected UEs, K_over), taken from the DU's
  :class:`~slicing.window.KpiWindow` (:func:`e2sim.window.kpi_window`) — the window the
  training env observes in-process; at node level volumes, drops and buffers add up over the
  UEs, the delay is the worst and the rate per PRB the mean. Anything else (other styles,
  labels, condition types, measurement names, a KPM v02.01 definition) is not admitted, with
  a cause.
* **RC controls** (style 2 / action 6, slice-level PRB quota): header UE ID
  :data:`~ric.ids.SLICE_LEVEL_UE` (``GnbDuUeId(0)``) → for each policy row, the slice's RB
  budget on this DU becomes ``round(max_ratio % × K)`` (rows over K in total are scaled down
  by the simulator; as on srsRAN only the max ratio binds); any other UE ID → that UE's
  *share* of its slice's RBs becomes ``max_ratio %``, applied every TTI to the UEs with data
  (one row, the UE's own slice; the UE must be served by this DU; its slice on this DU then
  splits its quota by the UEs' shares — :meth:`Simulator.set_ue_shares`; UEs without a share
  set keep their last one, 0 at first). These are the integers of the slicing contract's
  :class:`~slicing.controls.ControlPlan`, applied as the training env applies them.
  Answers: Control Acknowledge, or Control Failure with a cause (undecodable or unknown
  slice/UE: ``control-message-invalid``; another style/action: ``action-not-supported``;
  UE not on this DU or values the simulator rejects: ``control-failed-to-execute``).

Time: simulated by default — the simulator runs as fast as it can while at least one E2 node
is set up with the RIC (one TTI = 1 ms of simulated time; it stands still while no node is;
the loop yields to the network every TTI, and between DUs' reports, and waits while a
connection's send buffer is full, so it cannot run far ahead of what the RIC reads);
``realtime=True`` paces TTIs to the wall clock (late TTIs are caught up back to back).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from e2sim.control import apply_slice_ratios, apply_ue_ratios
from e2sim.core import ControlError, Simulator
from e2sim.counters import WindowCounters
from e2sim.window import arrived_wire_of, delay_wire_of, kpi_window
from ric import kpm, rc
from ric.cause import Cause, CauseRicRequest
from ric.client import E2NodeClient
from ric.e2ap import (
    ComponentInterface,
    E2NodeComponentConfig,
    E2NodeComponentId,
    E2SetupResponse,
    GlobalGnbId,
    RanFunction,
    RicActionNotAdmitted,
    RicActionType,
    RicControlRequest,
    RicRequestId,
    RicSubscriptionRequest,
)
from ric.e2sm_common import Snssai, UeId
from ric.errors import E2smDecodeError
from ric.ids import SLICE_LEVEL_UE, e2_node_name, ue_id, ue_index
from ric.link import LinkConfig, NodeLink
from ric.plmn import Plmn
from ric.transport import Backoff, TransportConfig
from slicing import ControlPlan, KpiWindow
from slicing import measurements as meas
from slicing.task import SLICE_SST as _SLICE_SST

__all__ = [
    "MIN_PERIOD_MS",
    "SLICE_SST",
    "DuNode",
    "E2SimConfig",
    "E2SimNodes",
    "NodeCpu",
    "NodeObserver",
    "du_node_id",
    "ran_functions",
    "slice_snssais",
]

_log = logging.getLogger(__name__)

MIN_PERIOD_MS = 10
"""Shortest KPM reporting period served."""

SLICE_SST = _SLICE_SST
"""SST of slice index 0, 1, 2 (eMBB, mMTC, URLLC)."""

_N_SLICES = 3
_SUPPORTED_MEASUREMENTS = frozenset(kpm.MEASUREMENTS)


def du_node_id(plmn: Plmn, du: int) -> GlobalGnbId:
    """The Global E2 node ID of DU ``du``."""
    return GlobalGnbId(plmn, du + 1, 22, du_id=du)


def slice_snssais(slice_sd: Sequence[int]) -> tuple[Snssai, ...]:
    """S-NSSAI of each slice index."""
    return tuple(Snssai(sst, sd) for sst, sd in zip(SLICE_SST, slice_sd, strict=True))


@lru_cache(maxsize=1)
def ran_functions() -> tuple[RanFunction, ...]:
    """The RAN functions every DU advertises: KPM (2) and RC (3), with their definitions."""
    kpm_def = kpm.encode_ran_function_description(kpm.default_ran_function_description())
    rc_def = rc.encode_ran_function_definition(rc.default_ran_function_definition())
    return (
        RanFunction(kpm.KPM_RAN_FUNCTION_ID, kpm_def, 0, kpm.KPM_OID),
        RanFunction(rc.RC_RAN_FUNCTION_ID, rc_def, 0, rc.RC_OID),
    )


class NodeObserver(Protocol):
    """Optional instrumentation hooks (e.g. the E2 round-trip benchmark)."""

    def indication_sent(self, du: int, request_id: RicRequestId, sn: int) -> None: ...

    def control_received(self, du: int, request: RicControlRequest) -> None: ...


class _Refused(Exception):
    """A request we answer with a failure (internal to this module)."""

    def __init__(self, cause: Cause, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause


# ---------------------------------------------------------------------------------------
# KPM actions and reports
# ---------------------------------------------------------------------------------------


@dataclass
class _ReportAction:
    """One admitted REPORT action: what to measure, for which UEs or slices."""

    action_id: int
    style: int
    names: tuple[str, ...]
    infos: tuple[kpm.MeasInfo, ...]
    slice_columns: tuple[int | None, ...] = ()  # style 1: slice index per record (None: DU)
    ue_filter: Callable[[NDArray[np.int64]], NDArray[np.bool_]] | None = None  # styles 2/4/5


@dataclass
class _KpmSubscription:
    request_id: RicRequestId
    period_ttis: int
    period_ms: int
    actions: list[_ReportAction]
    next_due: int
    window_start: int
    window: WindowCounters | None = None


def _slice_of(snssai: Snssai, snssais: Sequence[Snssai]) -> int:
    for i, s in enumerate(snssais):
        if s.sst == snssai.sst and (snssai.sd is None or snssai.sd == s.sd):
            return i
    raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"unknown slice {snssai}")


def _node_columns(infos: Sequence[kpm.MeasInfo], snssais: Sequence[Snssai]) -> tuple[int | None, ...]:
    cols: list[int | None] = []
    for info in infos:
        for label in info.labels:
            if label == kpm.NO_LABEL:
                cols.append(None)
            elif label.slice_id is not None and label == kpm.MeasLabel(slice_id=label.slice_id):
                cols.append(_slice_of(label.slice_id, snssais))
            else:
                raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"unsupported label {label}")
    return tuple(cols)


def _ue_list_filter(ues: Sequence[UeId], n_ues: int) -> Callable[[NDArray[np.int64]], NDArray[np.bool_]]:
    wanted = np.zeros(n_ues, bool)
    for ue in ues:
        idx = ue_index(ue)
        if idx is None or not 0 <= idx < n_ues:
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"unknown UE {ue}")
        wanted[idx] = True
    return lambda candidates: wanted[candidates]


def _condition_filter(
    conditions: Sequence[kpm.UeCondition], ue_slice: NDArray[np.int8], snssais: Sequence[Snssai]
) -> Callable[[NDArray[np.int64]], NDArray[np.bool_]]:
    """S-NSSAI conditions: ``present`` (every UE) or ``equal`` to an SST (int, or 1 octet) or
    SST+SD (4 octets); combined with AND, or OR when any condition sets ``logicalOR``."""
    masks = []
    for cond in conditions:
        test = cond.test
        if test.test_type is not kpm.TestCondType.S_NSSAI:
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"UE condition {test.test_type.value}")
        if test.expression in (None, kpm.TestCondExpression.PRESENT):
            masks.append(np.ones(_N_SLICES, bool))
            continue
        value = test.value
        if test.expression is not kpm.TestCondExpression.EQUAL or not isinstance(value, int | bytes):
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"S-NSSAI condition {test}")
        if isinstance(value, bytes) and len(value) in (1, 4):
            snssai = Snssai(value[0], int.from_bytes(value[1:], "big") if len(value) == 4 else None)
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
            snssai = Snssai(value)
        else:
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"S-NSSAI value {value!r}")
        mask = np.zeros(_N_SLICES, bool)
        mask[_slice_of(snssai, snssais)] = True
        masks.append(mask)
    combined = (
        np.logical_or.reduce(masks) if any(c.logical_or for c in conditions) else np.logical_and.reduce(masks)
    )
    return lambda candidates: combined[ue_slice[candidates]]


def _report_action(
    action_id: int, definition: kpm.KpmActionDefinition, sim: Simulator, snssais: Sequence[Snssai]
) -> _ReportAction:
    infos = definition.measurements
    names = tuple(m.name for m in infos)
    unknown = [n for n in names if n not in _SUPPORTED_MEASUREMENTS]
    if unknown:
        raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, f"unsupported measurements {unknown}")
    body, style = definition.body, definition.style
    if style == 1 and isinstance(body, kpm.KpmActionFormat1):
        return _ReportAction(action_id, 1, names, infos, slice_columns=_node_columns(infos, snssais))
    if any(lab != kpm.NO_LABEL for m in infos for lab in m.labels):
        raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, "labels are only served at node level (style 1)")
    if style == 2 and isinstance(body, kpm.KpmActionFormat2):
        return _ReportAction(action_id, 2, names, infos, ue_filter=_ue_list_filter([body.ue], sim.n_ues))
    if style == 4 and isinstance(body, kpm.KpmActionFormat4):
        flt = _condition_filter(body.conditions, sim.ues.slice, snssais)
        return _ReportAction(action_id, 4, names, infos, ue_filter=flt)
    if style == 5 and isinstance(body, kpm.KpmActionFormat5):
        return _ReportAction(action_id, 5, names, infos, ue_filter=_ue_list_filter(body.ues, sim.n_ues))
    raise _Refused(
        CauseRicRequest.ACTION_NOT_SUPPORTED, f"report style {style} with {type(body).__name__} is not served"
    )


def _ue_columns(
    names: Sequence[str], w: WindowCounters, kw: KpiWindow, ues: NDArray[np.int64], tti_ms: float
) -> list[NDArray[np.generic]]:
    """Per-UE values of the measurements ``names`` (see the module docstring and
    :mod:`slicing.measurements`): an integer column is sent as INTEGER records, a float column
    as REAL ones, an object column holds ``None`` (noValue) where there is no value.
    ``kw`` is the DU's KPI window; ``ues`` index both it and ``w`` (simulator UE indices)."""
    return [_UE_COLUMNS[name](_UeColumnInputs(w, kw, ues, tti_ms)) for name in names]


@dataclass(frozen=True)
class _UeColumnInputs:
    w: WindowCounters
    kw: KpiWindow
    ues: NDArray[np.int64]
    tti_ms: float

    @property
    def window_ms(self) -> float:
        return max(self.w.ttis, 1) * self.tti_ms  # bits per ms = kbit/s

    def slice_cells(self, per_slice: NDArray[np.float64]) -> NDArray[np.float64]:
        """A (DU, slice) figure at each UE's DU and slice."""
        return per_slice[self.kw.du[self.ues], self.kw.slice[self.ues]]


def _sdu_delay(c: _UeColumnInputs) -> NDArray[np.generic]:
    pkts = c.w.delivered_packets[c.ues]
    delay = np.divide(c.w.latency_sum_ms[c.ues] * 10.0, pkts, out=np.zeros(len(c.ues)), where=pkts > 0)
    if (pkts > 0).all():
        return delay
    return np.array([float(d) if p else None for d, p in zip(delay, pkts, strict=True)], dtype=object)


def _drop_rate(c: _UeColumnInputs) -> NDArray[np.float64]:
    w, ues = c.w, c.ues
    dropped = w.dropped_deadline[ues] + w.dropped_overflow[ues]
    total = w.delivered_packets[ues] + dropped
    return np.divide(dropped, total, out=np.zeros(len(ues)), where=total > 0)


def _rint(x: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.rint(x).astype(np.int64)


_UE_COLUMNS: dict[str, Callable[[_UeColumnInputs], NDArray[np.generic]]] = {
    kpm.DRB_UE_THP_DL.name: lambda c: _rint(c.w.delivered_bits[c.ues] / c.window_ms),
    kpm.DRB_RLC_SDU_DELAY_DL.name: _sdu_delay,
    kpm.RRU_PRB_USED_DL.name: lambda c: _rint(c.w.rbs[c.ues] / max(c.w.ttis, 1)),
    kpm.RRU_PRB_AVAIL_DL.name: lambda c: _rint(c.slice_cells(c.kw.slice_prb_quota)),
    kpm.DRB_RLC_PACKET_DROP_RATE_DL.name: _drop_rate,
    meas.DELIVERED: lambda c: c.kw.delivered_kbit[c.ues].astype(np.float64),
    meas.ARRIVED: lambda c: arrived_wire_of(c.w)[c.ues],
    meas.DELAY_MAX: lambda c: delay_wire_of(c.w)[c.ues],
    meas.DEADLINE_DROPS: lambda c: c.kw.deadline_drops[c.ues].astype(np.int64),
    meas.BUFFER: lambda c: c.kw.buffer_kbit[c.ues].astype(np.float64),
    meas.RATE_PER_PRB: lambda c: c.kw.rate_per_prb_kbps[c.ues].astype(np.float64),
    meas.CONN_MEAN: lambda c: np.ones(len(c.ues), np.int64),
    meas.PRB_OVER: lambda c: c.slice_cells(c.kw.slice_prb_over).astype(np.float64),
}


def _node_value(
    name: str,
    w: WindowCounters,
    kw: KpiWindow,
    ues: NDArray[np.int64],
    sl: int | None,
    du: int,
    tti_ms: float,
) -> kpm.MeasRecord:
    """One node-level record over ``ues`` (slice ``sl``'s UEs, or the whole DU's for None)."""
    cols = slice(None) if sl is None else slice(sl, sl + 1)
    if name == kpm.RRU_PRB_USED_DL.name:
        return round(float(kw.slice_prb_used[du, cols].sum()))
    if name == kpm.RRU_PRB_AVAIL_DL.name:
        return round(float(kw.slice_prb_quota[du, cols].sum())) if sl is not None else None
    if name == meas.PRB_OVER:
        return float(kw.slice_prb_over[du, cols].sum())
    if name == meas.CONN_MEAN:
        return len(ues)
    if name == kpm.DRB_UE_THP_DL.name:
        return round(float(w.delivered_bits[ues].mean()) / (max(w.ttis, 1) * tti_ms)) if len(ues) else 0
    sums = {
        meas.DELIVERED: kw.delivered_kbit,
        meas.ARRIVED: arrived_wire_of(w),
        meas.BUFFER: kw.buffer_kbit,
        meas.DEADLINE_DROPS: kw.deadline_drops,
    }
    if name in sums:
        total = sums[name][ues].sum()
        return int(total) if name == meas.DEADLINE_DROPS else float(total)
    if name == meas.DELAY_MAX:
        return float(delay_wire_of(w)[ues].max(initial=0.0))
    if name == meas.RATE_PER_PRB:
        return float(kw.rate_per_prb_kbps[ues].mean()) if len(ues) else None
    pkts = int(w.delivered_packets[ues].sum())
    if name == kpm.DRB_RLC_SDU_DELAY_DL.name:
        return float(w.latency_sum_ms[ues].sum() * 10.0 / pkts) if pkts else None
    dropped = int(w.dropped_deadline[ues].sum() + w.dropped_overflow[ues].sum())
    return dropped / (pkts + dropped) if pkts + dropped else 0.0


@dataclass(frozen=True)
class _UeGroups:
    """Simulator UE indices grouped by serving DU and by (DU, slice), each group ascending
    (what ``np.flatnonzero(serving == du)`` gives, for every DU at once)."""

    serving: NDArray[np.int32]  # the window's array these groups were made from
    by_du: NDArray[np.int64]
    du_start: NDArray[np.int64]  # (n_du + 1,)
    by_seg: NDArray[np.int64]
    seg_start: NDArray[np.int64]  # (3 n_du + 1,)

    @staticmethod
    def of(serving: NDArray[np.int32], ue_slice: NDArray[np.int8], n_du: int) -> _UeGroups:
        du = serving.astype(np.int64)
        seg = du * _N_SLICES + ue_slice
        by_du, by_seg = np.argsort(du, kind="stable"), np.argsort(seg, kind="stable")
        du_start = np.searchsorted(du[by_du], np.arange(n_du + 1))
        seg_start = np.searchsorted(seg[by_seg], np.arange(n_du * _N_SLICES + 1))
        return _UeGroups(serving, by_du, du_start, by_seg, seg_start)

    def served(self, du: int) -> NDArray[np.int64]:
        return self.by_du[self.du_start[du] : self.du_start[du + 1]]

    def of_slice(self, du: int, sl: int) -> NDArray[np.int64]:
        k = du * _N_SLICES + sl
        return self.by_seg[self.seg_start[k] : self.seg_start[k + 1]]


# ---------------------------------------------------------------------------------------
# One DU's E2 node
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _control_header(header: bytes) -> rc.RcControlHeader | rc.RcControlHeaderFormat2:
    """The decoded RC control header (cached: a RIC re-sends the same few headers)."""
    return rc.decode_control_header(header)


@lru_cache(maxsize=1024)
def _decode_control(header: bytes, message: bytes) -> tuple[rc.RcControlHeader, tuple[rc.SlicePrbQuota, ...]]:
    """Decoded RC header + quota rows (cached: a RIC re-sends the same few payloads)."""
    decoded = _control_header(header)
    if not isinstance(decoded, rc.RcControlHeader):
        raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, "RC control header format 2 is not served")
    if (decoded.style, decoded.action_id) != (
        rc.RC_STYLE_RADIO_RESOURCE_ALLOCATION,
        rc.RC_ACTION_SLICE_PRB_QUOTA,
    ):
        raise _Refused(
            CauseRicRequest.ACTION_NOT_SUPPORTED, f"RC style {decoded.style} action {decoded.action_id}"
        )
    return decoded, rc.decode_slice_prb_quota(message)


@dataclass
class DuCounters:
    subscriptions: int = 0
    subscriptions_refused: int = 0
    indications: int = 0
    reports_skipped: int = 0  # UE-level reports with no matching UE on this DU
    controls_acked: int = 0
    controls_failed: int = 0


class DuNode:
    """The E2 service logic of one DU (a :class:`ric.client.NodeApplication`)."""

    def __init__(
        self,
        sim: Simulator,
        du: int,
        plmn: Plmn,
        slice_sd: Sequence[int],
        epoch_unix: float,
        runner: E2SimNodes,
    ) -> None:
        self.sim = sim
        self.du = du
        self.plmn = plmn
        self.snssais = slice_snssais(slice_sd)
        self.node_id = du_node_id(plmn, du)
        self.name = e2_node_name(self.node_id)
        self.epoch_unix = epoch_unix
        self.runner = runner
        self.client: E2NodeClient | None = None
        self.subscriptions: dict[RicRequestId, _KpmSubscription] = {}
        self.counters = DuCounters()
        self.awaiting = False  # lockstep: a report was sent and the RIC has not answered yet

    def make_link(self, config: LinkConfig | None = None) -> NodeLink:
        component = E2NodeComponentConfig(E2NodeComponentId(ComponentInterface.F1, node_id=self.du), b"", b"")
        return NodeLink(self.node_id, ran_functions(), (component,), config, self.name)

    # ------------------------------------------------------------------ NodeApplication
    def setup_completed(self, client: E2NodeClient, response: E2SetupResponse) -> None:
        _log.info("%s: E2 Setup accepted by RIC (functions %s)", self.name, [f.id for f in response.accepted])
        self.runner.node_set_up(self.du)
        self.runner.lockstep_changed()

    def released(self, client: E2NodeClient, reason: str) -> None:
        if self.subscriptions:
            _log.info("%s: %d subscription(s) released: %s", self.name, len(self.subscriptions), reason)
        self.subscriptions.clear()
        self.awaiting = False
        self.runner.reschedule()
        self.runner.lockstep_changed()

    def subscription_deleted(self, client: E2NodeClient, request_id: RicRequestId) -> None:
        self.subscriptions.pop(request_id, None)
        if not self.subscriptions:
            self.awaiting = False
        self.runner.reschedule()
        self.runner.lockstep_changed()

    def subscription_requested(self, client: E2NodeClient, request: RicSubscriptionRequest) -> None:
        link, now = client.link, client.now()
        assert link is not None
        try:
            sub, refused = self._admit(request)
        except _Refused as exc:
            self.counters.subscriptions_refused += 1
            _log.warning(
                "%s: subscription %s refused: %s (%s)", self.name, request.request_id, exc, exc.cause
            )
            link.reject_subscription(request, exc.cause, now)
            return
        self.runner.flush_window()  # the new subscription's window starts now
        sub.window_start = self.sim.t
        link.accept_subscription(request, [a.action_id for a in sub.actions], now, refused)
        self.subscriptions[request.request_id] = sub
        self.counters.subscriptions += 1
        self.runner.reschedule()
        if self.runner.config.lockstep:
            self._report_now(sub)
        self.runner.lockstep_changed()
        _log.info(
            "%s: KPM subscription %s every %d ms, actions %s",
            self.name,
            request.request_id,
            sub.period_ms,
            [(a.action_id, a.style) for a in sub.actions],
        )

    def _admit(self, request: RicSubscriptionRequest) -> tuple[_KpmSubscription, list[RicActionNotAdmitted]]:
        if request.ran_function_id != kpm.KPM_RAN_FUNCTION_ID:
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, "only E2SM-KPM serves subscriptions")
        try:
            period_ms = kpm.decode_event_trigger(request.event_trigger).period_ms
        except E2smDecodeError as exc:
            raise _Refused(exc.cause, str(exc)) from exc
        min_period = self.runner.config.min_period_ms
        if period_ms < min_period:
            raise _Refused(
                CauseRicRequest.EVENT_TRIGGER_NOT_SUPPORTED, f"period {period_ms} ms < {min_period} ms"
            )
        admitted: list[_ReportAction] = []
        refused: list[RicActionNotAdmitted] = []
        for action in request.actions:
            try:
                admitted.append(self._action(action.action_id, action.action_type, action.definition))
            except _Refused as exc:
                _log.warning("%s: action %d not admitted: %s", self.name, action.action_id, exc)
                refused.append(RicActionNotAdmitted(action.action_id, exc.cause))
        if not admitted:
            first = refused[0]
            raise _Refused(first.cause, f"no action admitted ({[r.action_id for r in refused]})")
        period_ttis = max(1, round(period_ms / self.sim.radio.tti_ms))
        t = self.sim.t
        # On the period's grid (outside lockstep), so every subscription of a period reports
        # at the same TTIs and the simulator's window is collected and merged once for all.
        due = t + period_ttis if self.runner.config.lockstep else (t // period_ttis + 1) * period_ttis
        sub = _KpmSubscription(request.request_id, period_ttis, period_ms, admitted, due, 0)
        return sub, refused

    def _action(self, action_id: int, action_type: RicActionType, definition: bytes | None) -> _ReportAction:
        if action_type is not RicActionType.REPORT or definition is None:
            raise _Refused(
                CauseRicRequest.ACTION_NOT_SUPPORTED, f"{action_type.value} actions are not served"
            )
        try:
            decoded = kpm.decode_action_definition(definition)
        except E2smDecodeError as exc:  # includes a KPM v02.01 definition (E2smVersionError)
            raise _Refused(exc.cause, str(exc)) from exc
        return _report_action(action_id, decoded, self.sim, self.snssais)

    def control_requested(self, client: E2NodeClient, request: RicControlRequest) -> None:
        c0 = time.process_time()
        try:
            self._control(client, request)
        finally:
            self.runner.cpu.controls_s += time.process_time() - c0

    def _control(self, client: E2NodeClient, request: RicControlRequest) -> None:
        link, now = client.link, client.now()
        assert link is not None
        if self.runner.observer is not None:
            self.runner.observer.control_received(self.du, request)
        if self.runner.config.lockstep:
            self._answered(request)
        try:
            self._apply_control(request)
        except (_Refused, E2smDecodeError) as exc:
            self.counters.controls_failed += 1
            _log.warning("%s: control %s failed: %s", self.name, request.request_id, exc)
            link.fail_control(request, exc.cause, now)
            return
        self.counters.controls_acked += 1
        link.acknowledge_control(request, now)

    def _answered(self, request: RicControlRequest) -> None:
        """Lockstep: the slice-level quota control closes the RIC's answer to a report."""
        if not self.awaiting:
            return
        try:
            header = _control_header(request.header)
        except E2smDecodeError:
            return
        if isinstance(header, rc.RcControlHeader) and header.ue == SLICE_LEVEL_UE:
            self.awaiting = False
            self.runner.lockstep_changed()

    # ------------------------------------------------------------------ RC
    def _apply_control(self, request: RicControlRequest) -> None:
        if request.ran_function_id != rc.RC_RAN_FUNCTION_ID:
            raise _Refused(CauseRicRequest.ACTION_NOT_SUPPORTED, "only E2SM-RC serves controls")
        header, quotas = _decode_control(request.header, request.message)
        for q in quotas:
            if q.plmn != self.plmn:
                raise _Refused(CauseRicRequest.CONTROL_MESSAGE_INVALID, f"unknown PLMN {q.plmn}")
            if q.min_ratio > q.max_ratio:
                raise _Refused(CauseRicRequest.CONTROL_MESSAGE_INVALID, f"min ratio > max ratio in {q}")
        if header.ue == SLICE_LEVEL_UE:
            self._apply_slice_quotas(quotas)
        else:
            self._apply_ue_quota(header.ue, quotas)

    def _quota_slice(self, q: rc.SlicePrbQuota) -> int:
        try:
            return _slice_of(Snssai(q.sst, q.sd), self.snssais)
        except _Refused:
            raise _Refused(
                CauseRicRequest.CONTROL_MESSAGE_INVALID, f"unknown slice SST {q.sst} SD {q.sd}"
            ) from None

    def _apply_slice_quotas(self, quotas: Sequence[rc.SlicePrbQuota]) -> None:
        k = self.sim.n_rbs
        row = ControlPlan.slice_ratio_of(self.sim.slice_rbs[self.du], k)
        for q in quotas:
            row[self._quota_slice(q)] = q.max_ratio
        try:
            apply_slice_ratios(self.sim, row[None, :], dus=[self.du])
        except ControlError as exc:
            raise _Refused(CauseRicRequest.CONTROL_FAILED_TO_EXECUTE, str(exc)) from exc

    def _apply_ue_quota(self, ue: UeId, quotas: Sequence[rc.SlicePrbQuota]) -> None:
        idx = ue_index(ue)
        if idx is None or not 0 <= idx < self.sim.n_ues:
            raise _Refused(CauseRicRequest.CONTROL_MESSAGE_INVALID, f"unknown UE {ue}")
        if int(self.sim.serving[idx]) != self.du:
            raise _Refused(CauseRicRequest.CONTROL_FAILED_TO_EXECUTE, f"UE {ue} is not served by {self.name}")
        if len(quotas) != 1 or self._quota_slice(quotas[0]) != int(self.sim.ues.slice[idx]):
            raise _Refused(
                CauseRicRequest.CONTROL_MESSAGE_INVALID, f"a UE quota needs one row, the slice of UE {ue}"
            )
        try:
            apply_ue_ratios(self.sim, np.array([idx + 1]), np.array([quotas[0].max_ratio]))
        except ControlError as exc:
            raise _Refused(CauseRicRequest.CONTROL_FAILED_TO_EXECUTE, str(exc)) from exc

    # ------------------------------------------------------------------ reports
    def absorb(self, w: WindowCounters, merges: dict[int, WindowCounters] | None = None) -> None:
        """Add a collected simulator window to every subscription's pending window.

        ``merges`` (id of a pending window → it merged with ``w``), shared by the nodes
        absorbing the same ``w``, merges a pending window held by many subscriptions once."""
        merges = {} if merges is None else merges
        for sub in self.subscriptions.values():
            if sub.window is None:
                sub.window = w
                continue
            merged = merges.get(id(sub.window))
            if merged is None:
                merged = merges[id(sub.window)] = sub.window.merged(w)
            sub.window = merged

    def next_due(self) -> float:
        return min((s.next_due for s in self.subscriptions.values()), default=math.inf)

    def report_due(self, t: int) -> None:
        """Send the reports of every subscription due at TTI ``t`` (windows absorbed)."""
        c0 = time.process_time()
        try:
            self._reports_due(t)
        finally:
            self.runner.cpu.reports_s += time.process_time() - c0

    def _reports_due(self, t: int) -> None:
        for sub in list(self.subscriptions.values()):
            if sub.next_due > t or sub.window is None:
                continue
            w, start = sub.window, sub.window_start
            sub.window, sub.window_start = None, t
            sub.next_due = t + sub.period_ttis
            self._send_reports(sub, w, start)

    def _report_now(self, sub: _KpmSubscription) -> None:
        """Lockstep: report the (empty) window since the last collection at once."""
        self._send_reports(sub, self.sim.collect(), self.sim.t)

    def _send_reports(self, sub: _KpmSubscription, w: WindowCounters, start: int) -> None:
        sent = self.counters.indications
        for action in sub.actions:
            self._report(sub, action, w, start)
        if self.runner.config.lockstep and self.counters.indications > sent:
            self.awaiting = True

    def _report(self, sub: _KpmSubscription, action: _ReportAction, w: WindowCounters, start: int) -> None:
        client = self.client
        if client is None:
            return
        message = (
            self._node_report(action, w, sub.period_ms)
            if action.style == 1
            else self._ue_report(action, w, sub.period_ms)
        )
        if message is None:
            self.counters.reports_skipped += 1
            return
        header = kpm.KpmIndicationHeader(
            kpm.ntp_timestamp(self.epoch_unix + start * self.sim.radio.tti_s),
            sender_type="DU",
            vendor_name="oran-metahrl",
        )
        sn = client.send_indication(
            sub.request_id, action.action_id, kpm.encode_indication_header(header), message
        )
        if sn is not None:
            self.counters.indications += 1
            if self.runner.observer is not None:
                self.runner.observer.indication_sent(self.du, sub.request_id, sn)

    def _served(self, w: WindowCounters) -> NDArray[np.int64]:
        """The UEs this DU served at the end of ``w`` (ascending)."""
        return self.runner.ue_groups_of(w).served(self.du)

    def _ue_report(self, action: _ReportAction, w: WindowCounters, period_ms: int) -> bytes | None:
        """The encoded UE-level report (format 1 for style 2, else format 3), None if no UE
        of this DU matches."""
        served = self._served(w)
        assert action.ue_filter is not None
        ues = served[action.ue_filter(served)]
        if not len(ues):
            return None
        cols = _ue_columns(action.names, w, self.runner.kpi_window_of(w), ues, self.sim.radio.tti_ms)
        if action.style != 2:
            ids = ues + ue_id(0).cu_ue_f1ap_id  # ric.ids.ue_id, for every UE at once
            return kpm.encode_ue_reports(ids, cols, action.infos, period_ms)
        records = tuple(c.tolist()[0] for c in cols)
        report = kpm.KpmIndicationFormat1((kpm.MeasDataItem(records),), action.infos, period_ms)
        return kpm.encode_indication_message(report)

    def _node_report(self, action: _ReportAction, w: WindowCounters, period_ms: int) -> bytes:
        groups = self.runner.ue_groups_of(w)
        served = groups.served(self.du)
        kw = self.runner.kpi_window_of(w)
        records: list[kpm.MeasRecord] = []
        columns = iter(action.slice_columns)
        tti_ms = self.sim.radio.tti_ms
        for info in action.infos:
            for _label in info.labels:
                s = next(columns)
                ues = served if s is None else groups.of_slice(self.du, s)
                if s is None and info.name == kpm.RRU_PRB_AVAIL_DL.name:
                    records.append(int(self.sim.n_rbs * self.sim.du_active[self.du]))
                    continue
                records.append(_node_value(info.name, w, kw, ues, s, self.du, tti_ms))
        message = kpm.KpmIndicationFormat1((kpm.MeasDataItem(tuple(records)),), action.infos, period_ms)
        return kpm.encode_indication_message(message)


# ---------------------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class E2SimConfig:
    """How :class:`E2SimNodes` runs.

    Attributes:
        ric_host, ric_port: the RIC's E2 endpoint.
        transport: TCP (default) or SCTP.
        realtime: pace TTIs to the wall clock (default: simulated time, as fast as possible).
        duration_s: stop after this much simulated time (None: run until stopped).
        link: E2 procedure timers.
        backoff_initial_s, backoff_max_s: reconnect backoff bounds.
        progress_every_s: wall-clock seconds between progress log lines.
        min_period_ms: shortest KPM reporting period served (default :data:`MIN_PERIOD_MS`).
        lockstep: simulated time follows the RIC's decisions (see :class:`E2SimNodes`).
        lockstep_timeout_s: longest wait for the RIC's answer to a report, in lockstep.
        ric_ports: one RIC port per DU (each DU's node connects to its own xApp); empty: every
            node connects to ``ric_port``.
        join_at_s: DU index → simulated second at which that DU joins: until then its radio is
            off (its UEs are served by the other DUs) and its E2 node does not connect; from then
            on the node connects (E2 Setup at run time, retried every ``join_retry_s``) and the
            DU's radio goes on when the RIC accepts its E2 Setup, so it never carries traffic
            before its RIC side controls it. Empty: every node connects at start.
        join_retry_s: connection retry interval of a joining node (a RIC side may start late).
        leave_at_s: DU index → simulated second at which that DU leaves: its E2 node closes its
            connection for good (the RIC sees the node disconnect; its subscriptions end) and its
            radio goes off (its UEs re-associate to the other DUs). A DU may join and leave.
    """

    ric_host: str = "127.0.0.1"
    ric_port: int = 36422
    transport: TransportConfig = field(default_factory=TransportConfig)
    realtime: bool = False
    duration_s: float | None = None
    link: LinkConfig = field(default_factory=LinkConfig)
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    progress_every_s: float = 5.0
    min_period_ms: int = MIN_PERIOD_MS
    lockstep: bool = False
    lockstep_timeout_s: float = 2.0
    ric_ports: tuple[int, ...] = ()
    join_at_s: dict[int, float] = field(default_factory=dict)
    join_retry_s: float = 0.5
    leave_at_s: dict[int, float] = field(default_factory=dict)

    def port_of(self, du: int) -> int:
        """The RIC port DU ``du``'s node connects to."""
        if not self.ric_ports:
            return self.ric_port
        if len(self.ric_ports) == 1:
            return self.ric_ports[0]
        return self.ric_ports[du]


def _pending(field_name: str, at_s: dict[int, float], sim: Simulator) -> list[tuple[int, float]]:
    """The joins or leaves, earliest first; ``ValueError`` naming a DU outside the scenario or a
    bad time."""
    verb = field_name.split("_")[0] + "s"
    for du, at in at_s.items():
        if not 0 <= du < sim.n_du:
            raise ValueError(f"{field_name}: DU {du} is not in the scenario (DUs 0..{sim.n_du - 1})")
        if not at >= 0:
            raise ValueError(f"{field_name}: DU {du} {verb} at {at} s; must be >= 0")
    return sorted(at_s.items(), key=lambda x: (x[1], x[0]))


def _check_schedule(config: E2SimConfig, sim: Simulator) -> None:
    if len(config.join_at_s) >= sim.n_du:
        raise ValueError("join_at_s: at least one DU must be on the air from the start")
    if len(config.leave_at_s) >= sim.n_du:
        raise ValueError("leave_at_s: at least one DU must stay on the air")
    for du, at in config.leave_at_s.items():
        if du in config.join_at_s and at <= config.join_at_s[du]:
            raise ValueError(
                f"leave_at_s: DU {du} leaves at {at} s, not after it joins ({config.join_at_s[du]} s)"
            )


@dataclass
class NodeCpu:
    """CPU seconds (``time.process_time``) the E2 node process spent, by phase: stepping the
    simulator (with collecting its windows), building + encoding + sending reports, and
    decoding + applying + answering controls. The rest of its CPU is the event loop, E2
    setup and subscriptions, and reading the network."""

    step_s: float = 0.0
    reports_s: float = 0.0
    controls_s: float = 0.0


class E2SimNodes:
    """One simulator, one E2 node per DU, each connected to the RIC (see the module docstring).

    **Lockstep** (``config.lockstep``, simulated time only): a closed loop over E2 follows the
    in-process environment's trajectory for the same seed, whatever the machine's speed.
    A node answers a new KPM subscription at once with a report of the (empty) window so far —
    the xApp's first decision sees what ``HierarchicalSlicingEnv.reset`` returns; after every
    report the node waits for the RIC's decision, whose last control is the slice-level PRB
    quota (:data:`~ric.ids.SLICE_LEVEL_UE`; a DU xApp sends it every period, after its per-UE
    ratios); the simulator steps on only when every node that reported has been answered and
    every connected node is subscribed (before the first step: every node connected). Each wait
    is bounded by ``lockstep_timeout_s``; a wait that runs out is counted
    (``lockstep_timeouts``) and the simulator steps on.
    """

    def __init__(
        self,
        sim: Simulator,
        config: E2SimConfig,
        *,
        observer: NodeObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sim = sim
        self.config = config
        self.observer = observer
        self.clock = clock
        self.sleep = sleep
        sc = sim.scenario
        epoch = time.time()
        plmn = Plmn.parse(sc.plmn)
        self.nodes = [DuNode(sim, du, plmn, sc.slice_sd, epoch, self) for du in range(sim.n_du)]
        self.clients: list[E2NodeClient] = []
        self._next_due = math.inf
        self._stop = asyncio.Event()
        self._t0, self._wall0 = sim.t, clock()
        self._answered = asyncio.Event()  # lockstep: something the wait depends on changed
        self.cpu = NodeCpu()
        self._kpi_kept: tuple[WindowCounters, int, KpiWindow] | None = None
        self._groups_kept: _UeGroups | None = None
        self._lockstep_started = False
        self.lockstep_timeouts = 0
        self._joins = _pending("join_at_s", config.join_at_s, sim)
        self._leaves = _pending("leave_at_s", config.leave_at_s, sim)
        _check_schedule(config, sim)
        self._left: set[int] = set()  # DUs whose E2 node has left for good
        self._radio_off = {du for du, _ in self._joins}
        self._started: set[int] = set()  # DUs whose E2 node runs (connecting or connected)
        self._join_tasks: list[asyncio.Task[None]] = []
        for du in sorted(self._radio_off):
            sim.set_du_active(du, False)  # off the air until it joins; its UEs re-associate

    # ------------------------------------------------------------------ lockstep
    def lockstep_changed(self) -> None:
        """A node was answered, subscribed, set up or released (wakes the lockstep wait)."""
        self._answered.set()

    def _lockstep_ready(self) -> bool:
        if any(n.awaiting for n in self.nodes):
            return False
        live = [(n, c) for n, c in zip(self.nodes, self.clients, strict=True) if n.du in self._started]
        if not self._lockstep_started and not all(c.established for _, c in live):
            return False
        return all(n.subscriptions for n, c in live if c.established)

    async def _lockstep_wait(self) -> None:
        deadline = self.clock() + self.config.lockstep_timeout_s
        while not self._lockstep_ready():
            left = deadline - self.clock()
            self._answered.clear()
            try:
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait_for(self._answered.wait(), left)
            except TimeoutError:
                self.lockstep_timeouts += 1
                late = [n.name for n in self.nodes if n.awaiting]
                _log.warning(
                    "lockstep: no answer within %.1f s at sim %.3f s (awaiting %s); stepping on",
                    self.config.lockstep_timeout_s,
                    self.sim.t * self.sim.radio.tti_s,
                    late or "subscriptions",
                )
                for n in self.nodes:
                    n.awaiting = False
                break
        self._lockstep_started = True

    # ------------------------------------------------------------------ called by DuNode
    def flush_window(self) -> None:
        """Collect the simulator's window so far into every active subscription."""
        w = self.sim.collect()
        merges: dict[int, WindowCounters] = {}  # keys: windows alive at the same time as the
        for node in self.nodes:  # pending ones looked up, so an id never names two windows
            node.absorb(w, merges)  # a node without subscriptions ignores it

    def ue_groups_of(self, w: WindowCounters) -> _UeGroups:
        """The UEs of each DU and (DU, slice) at the end of ``w``, grouped once for every DU
        reporting a window that ends with the same serving DUs."""
        kept = self._groups_kept
        if kept is None or kept.serving is not w.serving:
            kept = self._groups_kept = _UeGroups.of(w.serving, self.sim.ues.slice, self.sim.n_du)
        return kept

    def kpi_window_of(self, w: WindowCounters) -> KpiWindow:
        """:func:`~e2sim.window.kpi_window` of ``w``, computed once for every DU reporting it
        (kept while the simulator stands at the same TTI; a window of no TTI reads the quotas
        in force, which a control may change between two DUs' reports, so it is not kept)."""
        kept = self._kpi_kept
        if kept is not None and kept[0] is w and kept[1] == self.sim.t:
            return kept[2]
        kw = kpi_window(w, self.sim)
        self._kpi_kept = (w, self.sim.t, kw) if w.ttis else None
        return kw

    def node_set_up(self, du: int) -> None:
        """A node's E2 Setup was accepted: a joining DU's radio goes on now."""
        if du in self._radio_off:
            self._radio_off.discard(du)
            self.sim.set_du_active(du, True)
            sim_s = self.sim.t * self.sim.radio.tti_s
            _log.info("DU %d joined at sim %.3f s: E2 Setup accepted, radio on", du, sim_s)

    def _start_joins(self) -> None:
        """Start the E2 nodes of the DUs whose join time has come."""
        now_s = self.sim.t * self.sim.radio.tti_s
        while self._joins and self._joins[0][1] <= now_s + 1e-9:
            du, _ = self._joins.pop(0)
            _log.info("DU %d joins at sim %.3f s: connecting its E2 node", du, now_s)
            self._start_node(du)

    def _apply_leaves(self) -> None:
        """Take the DUs whose leave time has come off E2 and off the air."""
        now_s = self.sim.t * self.sim.radio.tti_s
        while self._leaves and self._leaves[0][1] <= now_s + 1e-9:
            du, _ = self._leaves.pop(0)
            self._left.add(du)
            self._started.discard(du)
            self._radio_off.discard(du)  # a DU that never finished joining does not come on later
            self.clients[du].stop()  # closes the connection; the node's subscriptions end
            self.sim.set_du_active(du, False)
            self.lockstep_changed()
            _log.info("DU %d left at sim %.3f s: E2 connection closed, radio off", du, now_s)

    def _start_node(self, du: int) -> None:
        self._started.add(du)
        client = self.clients[du]
        self._join_tasks.append(asyncio.create_task(client.run(), name=f"e2-{self.nodes[du].name}"))

    def lag_ttis(self) -> float:
        """Real time: how many TTIs the simulator is behind the wall clock (0 when it keeps up;
        it never runs ahead); simulated time: how far the wall clock is ahead, in TTIs."""
        behind = (self.clock() - self._wall0) / self.sim.radio.tti_s - (self.sim.t - self._t0)
        return max(0.0, behind)

    def reschedule(self) -> None:
        self._next_due = min((n.next_due() for n in self.nodes), default=math.inf)

    # ------------------------------------------------------------------ running
    def stop(self) -> None:
        """Make :meth:`run` return (after closing every connection)."""
        self._stop.set()

    async def run(self) -> None:
        """Connect every DU's E2 node and step the simulator until the duration or :meth:`stop`."""
        cfg = self.config
        for node in self.nodes:
            backoff = Backoff(cfg.backoff_initial_s, max(cfg.backoff_max_s, cfg.backoff_initial_s))
            if node.du in cfg.join_at_s:
                backoff = Backoff(cfg.join_retry_s, cfg.join_retry_s)
            client = E2NodeClient(
                cfg.ric_host,
                cfg.port_of(node.du),
                partial(node.make_link, cfg.link),
                node,
                transport=cfg.transport,
                backoff=backoff,
                sleep=self.sleep,
            )
            node.client = client
            self.clients.append(client)
        nodes = {
            n.du: asyncio.create_task(c.run(), name=f"e2-{n.name}")
            for c, n in zip(self.clients, self.nodes, strict=True)
            if n.du not in cfg.join_at_s
        }
        self._started.update(nodes)
        stepping = asyncio.create_task(self._step_loop(), name="e2sim-steps")
        try:
            await self._until_done(stepping, nodes)
        finally:
            stepping.cancel()
            for client in self.clients:
                client.stop()
            tasks = [*nodes.values(), *self._join_tasks]
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(stepping, *tasks, return_exceptions=True)
            self._log_progress(final=True)
        errors = [
            r for r in results if isinstance(r, Exception) and not isinstance(r, asyncio.CancelledError)
        ]
        if errors:
            raise errors[0]

    async def _until_done(self, stepping: asyncio.Task[None], nodes: dict[int, asyncio.Task[None]]) -> None:
        """Until the stepping ends or a node's task ends other than by leaving."""
        while True:
            staying = [t for du, t in nodes.items() if du not in self._left]
            done, _ = await asyncio.wait([stepping, *staying], return_when=asyncio.FIRST_COMPLETED)
            if stepping in done or any(t in done for du, t in nodes.items() if du not in self._left):
                return

    def tick(self) -> None:
        """Advance the simulator one TTI and send every report that falls due."""
        for node in self._step():
            node.report_due(self.sim.t)
        self.reschedule()

    def _step(self) -> list[DuNode]:
        """One TTI; the nodes with a report due now (windows already absorbed)."""
        sim = self.sim
        c0 = time.process_time()
        sim.step(1)
        if sim.t < self._next_due:
            self.cpu.step_s += time.process_time() - c0
            return []
        self.flush_window()
        self.cpu.step_s += time.process_time() - c0
        return [n for n in self.nodes if n.next_due() <= sim.t]

    async def _step_loop(self) -> None:
        cfg, sim = self.config, self.sim
        end = math.inf if cfg.duration_s is None else round(cfg.duration_s * 1000 / sim.radio.tti_ms)
        self._t0, self._wall0 = sim.t, self.clock()
        next_log = self._wall0 + cfg.progress_every_s
        while not self._stop.is_set() and sim.t - self._t0 < end:
            if self._joins:
                self._start_joins()
            if self._leaves:
                self._apply_leaves()
            if cfg.realtime:
                delay = self._wall0 + (sim.t - self._t0 + 1) * sim.radio.tti_s - self.clock()
                await (self.sleep(delay) if delay > 0 else asyncio.sleep(0))
            else:
                await self._backpressure()
            due = self._step()
            for i, node in enumerate(due):
                if i:
                    await asyncio.sleep(0)  # let controls in between DUs' reports
                node.report_due(sim.t)
            if due:
                self.reschedule()
            if self.clock() >= next_log:
                next_log += cfg.progress_every_s
                self._log_progress()
        if cfg.lockstep and not self._stop.is_set():
            await self._lockstep_wait()  # the answer to the last report is applied too
            await asyncio.sleep(0)

    async def _backpressure(self) -> None:
        """Yield to the network; wait while a connection's send buffer is full, and while no
        E2 node is set up with the RIC (simulated time stands still without a RIC)."""
        await asyncio.sleep(0)
        if self.clients and not any(c.established for c in self.clients):
            await self._await_ric()
        if self.config.lockstep:
            await self._lockstep_wait()
        for client in self.clients:
            await client.wait_writable()

    async def _await_ric(self) -> None:
        sim_s = self.sim.t * self.sim.radio.tti_s
        _log.info("simulated time paused at %.3f s: no E2 node is set up with the RIC", sim_s)
        waiters: list[asyncio.Task[object]] = [
            asyncio.create_task(c.wait_established()) for c in self.clients
        ]
        waiters.append(asyncio.create_task(self._stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        _log.info("simulated time runs again")

    def _log_progress(self, final: bool = False) -> None:
        # "sim S s (F× real time)" opens the line: metahrl demo and bench soak parse it.
        sim = self.sim
        sim_s = (sim.t - self._t0) * sim.radio.tti_s
        wall = max(self.clock() - self._wall0, 1e-9)
        up = sum(c.established for c in self.clients)
        ind = sum(n.counters.indications for n in self.nodes)
        acked = sum(n.counters.controls_acked for n in self.nodes)
        failed = sum(n.counters.controls_failed for n in self.nodes)
        dropped = sum(c.counters.indications_dropped for c in self.clients)
        cpu = self.cpu
        _log.info(
            "%ssim %.1f s (%.2f× real time)%s · %d/%d nodes up · %d indications (%d dropped) · "
            "controls %d acked, %d failed · CPU s: step %.1f, reports %.1f, controls %.1f",
            "done: " if final else "",
            sim_s,
            sim_s / wall,
            f" · {self.lag_ttis() * sim.radio.tti_s:.1f} s behind" if self.config.realtime else "",
            up,
            len(self.clients),
            ind,
            dropped,
            acked,
            failed,
            cpu.step_s,
            cpu.reports_s,
            cpu.controls_s,
        )

    def stats(self) -> dict[str, int | float]:
        """Counters summed over DUs (and the simulated time so far)."""
        out: dict[str, int | float] = {"sim_time_s": self.sim.t * self.sim.radio.tti_s}
        out.update({f"cpu_{k}": round(v, 6) for k, v in vars(self.cpu).items()})
        if self.config.lockstep:
            out["lockstep_timeouts"] = self.lockstep_timeouts
        for node in self.nodes:
            for key, value in vars(node.counters).items():
                out[key] = out.get(key, 0) + value
        for client in self.clients:
            for key, value in vars(client.counters).items():
                out[key] = out.get(key, 0) + value
        return out
