"""KPM reports → the slicing contract's :class:`~slicing.window.KpiWindow` (one DU).

The DU xApp holds one KPM subscription per DU with four REPORT actions (:func:`kpm_actions`):

* action 1 — node level (style 1), :data:`slicing.measurements.SLICE_MEASUREMENTS` per
  ``sliceID`` label: UEs served, PRB quota, PRBs used, K_over per slice;
* actions 2, 3, 4 — UE level (style 4, S-NSSAI condition = eMBB, mMTC, URLLC),
  :data:`slicing.measurements.UE_MEASUREMENTS` for every UE of that slice.

A window is complete when, for one collection start time, the node report has arrived and a
UE report for every slice whose ``RRC.ConnMean`` is positive (a node sends no UE report for a
slice without UEs). :class:`WindowAssembler` is sans-IO: indications in, windows out; an
indication it cannot use raises :class:`UnusableIndication` with a reason from
:data:`xapps.service.metrics.DROP_REASONS`.

Fidelity: every value the MDP reads travels as a REAL (float64) or an exact integer, and the
env holds wire-unit values as decode(encode(x)) (:mod:`slicing.measurements`), so the window
decoded here equals the env's in-process window exactly; ``RRU.PrbUsedDl`` (read by nothing in
the observation or reward) is an integer mean and so quantised to 1 PRB; the window's duration
is the report's granularity period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ric import kpm
from ric.e2sm_common import GnbDuUeId, Snssai
from ric.server import KpmIndication
from slicing import N_SLICES, KpiWindow
from slicing import measurements as meas
from slicing.task import SLICE_SST, DuTask
from xapps.e2access.base import KpmAction

__all__ = [
    "NODE_ACTION_ID",
    "UE_ACTION_IDS",
    "UnusableIndication",
    "WindowAssembler",
    "kpm_actions",
    "task_snssais",
]

NODE_ACTION_ID = 1
UE_ACTION_IDS = (2, 3, 4)  # eMBB, mMTC, URLLC
_MAX_OPEN = 4  # partial windows kept while waiting for their last report
_LAYOUTS_KEPT = 64


class UnusableIndication(ValueError):
    """An indication the xApp cannot use; ``reason`` is a metrics drop reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def task_snssais(task: DuTask) -> tuple[Snssai, ...]:
    return tuple(Snssai(sst, sd) for sst, sd in zip(SLICE_SST, task.slice_sd, strict=True))


def _snssai_octets(s: Snssai) -> bytes:
    return bytes([s.sst]) + (s.sd or 0).to_bytes(3, "big")


def kpm_actions(task: DuTask, period_ms: int) -> tuple[KpmAction, ...]:
    """The subscription's four REPORT actions (see the module docs)."""
    snssais = task_snssais(task)
    node = kpm.node_level_action(meas.SLICE_MEASUREMENTS, period_ms, snssais)
    actions = [KpmAction(NODE_ACTION_ID, node)]
    for action_id, s in zip(UE_ACTION_IDS, snssais, strict=True):
        cond = kpm.UeCondition(
            kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.EQUAL, _snssai_octets(s))
        )
        actions.append(KpmAction(action_id, kpm.ue_condition_action(meas.UE_MEASUREMENTS, period_ms, [cond])))
    return tuple(actions)


@dataclass
class _SliceFigures:
    conn: np.ndarray  # (3,)
    quota: np.ndarray
    used: np.ndarray
    over: np.ndarray


@dataclass
class _Partial:
    node: _SliceFigures | None = None
    duration_ms: float = 0.0
    ues: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)  # slice -> columns

    def complete(self) -> bool:
        if self.node is None:
            return False
        return all(s in self.ues for s in range(N_SLICES) if self.node.conn[s] > 0)


class WindowAssembler:
    """Collects one DU's KPM reports into KPI windows (see the module docs)."""

    def __init__(self, task: DuTask, actions: Sequence[KpmAction], period_ms: int) -> None:
        self.task = task
        self.period_ms = period_ms
        self._infos = {a.action_id: a.definition.measurements for a in actions}
        self._sd = {s: i for i, s in enumerate(task_snssais(task))}
        self._open: dict[int, _Partial] = {}
        self._positions: dict[tuple[kpm.MeasInfo, ...], tuple[int, ...]] = {}
        # measurement list object -> (it, record positions, records expected): a report's list
        # is the same object for every UE (and, from the decoder, across reports), so it is
        # looked up by identity instead of hashing its measurements for every UE
        self._layouts: dict[int, tuple[Sequence[kpm.MeasInfo], tuple[int, ...], int]] = {}
        self._last_done = -1
        self.incomplete_dropped = 0

    def reset(self) -> None:
        """Forget partial windows (the subscription ended)."""
        self._open.clear()
        self._last_done = -1

    def add(self, ind: KpmIndication) -> KpiWindow | None:
        """Take one indication; the window it completes, if any."""
        t = ind.header.collect_start_time
        if t < self._last_done:  # equal is fine: a node's first, empty, window has no length
            raise UnusableIndication("stale", f"report for {t} after window {self._last_done} closed")
        part = self._open.get(t)
        if part is None:
            part = self._open[t] = _Partial()
            self._trim()
        if ind.action_id == NODE_ACTION_ID:
            part.node, part.duration_ms = self._node(ind)
        elif ind.action_id in UE_ACTION_IDS:
            sl = UE_ACTION_IDS.index(ind.action_id)
            part.ues[sl] = self._ues(ind, sl)
        else:
            raise UnusableIndication("unknown_subscription", f"unknown action {ind.action_id}")
        if not part.complete():
            return None
        del self._open[t]
        for old in [k for k in self._open if k < t]:
            del self._open[old]
            self.incomplete_dropped += 1
        self._last_done = t
        return self._window(part)

    # ------------------------------------------------------------------ parsing
    def _trim(self) -> None:
        while len(self._open) > _MAX_OPEN:
            del self._open[min(self._open)]
            self.incomplete_dropped += 1

    def _format1(self, message: kpm.KpmIndicationMessage, action_id: int) -> kpm.KpmIndicationFormat1:
        if not isinstance(message, kpm.KpmIndicationFormat1):
            raise UnusableIndication("other", f"action {action_id}: expected indication format 1")
        return message

    def _node(self, ind: KpmIndication) -> tuple[_SliceFigures, float]:
        msg = self._format1(ind.message, ind.action_id)
        values = _as_dict(msg, self._infos[NODE_ACTION_ID])
        cols = {name: np.zeros(N_SLICES) for name in meas.SLICE_MEASUREMENTS}
        seen = {name: 0 for name in meas.SLICE_MEASUREMENTS}
        for (name, label), v in values.items():
            if name not in cols or label.slice_id is None:
                continue
            sl = self._slice_of(label.slice_id)
            if v is None:
                raise UnusableIndication("missing_measurement", f"{name} of slice {sl}: no value")
            cols[name][sl] = float(v)
            seen[name] += 1
        missing = [n for n, k in seen.items() if k != N_SLICES]
        if missing:
            raise UnusableIndication("missing_measurement", f"node report lacks per-slice {missing}")
        figures = _SliceFigures(
            cols[meas.CONN_MEAN], cols[meas.PRB_AVAIL], cols[meas.PRB_USED], cols[meas.PRB_OVER]
        )
        return figures, float(msg.granularity_ms or self.period_ms)

    def _slice_of(self, s: Snssai) -> int:
        for key, i in self._sd.items():
            if key.sst == s.sst and (s.sd is None or s.sd == key.sd):
                return i
        raise UnusableIndication("other", f"unknown slice {s}")

    def _ues(self, ind: KpmIndication, sl: int) -> dict[str, np.ndarray]:
        msg = ind.message
        if not isinstance(msg, kpm.KpmIndicationFormat3):
            raise UnusableIndication("other", f"action {ind.action_id}: expected indication format 3")
        infos = self._infos[ind.action_id]
        ids: list[int] = []
        rows: list[list[float]] = []
        for report in msg.reports:
            ue = report.ue
            if not isinstance(ue, GnbDuUeId) or ue.cu_ue_f1ap_id <= 0:
                raise UnusableIndication("unknown_ue", f"UE ID {ue} is not a DU UE")
            row = self._ue_row(report.report, infos)
            if row is None:
                raise UnusableIndication(
                    "missing_measurement", f"UE {ue.cu_ue_f1ap_id}: a measurement has no value"
                )
            ids.append(ue.cu_ue_f1ap_id)
            rows.append(row)
        table = np.array(rows, np.float64).reshape(len(rows), len(meas.UE_MEASUREMENTS))
        out = {name: table[:, j] for j, name in enumerate(meas.UE_MEASUREMENTS)}
        out["ue_id"] = np.array(ids, np.int64)
        return out

    def _ue_row(self, report: kpm.KpmIndicationFormat1, infos: Sequence[kpm.MeasInfo]) -> list[float] | None:
        """One UE's values in :data:`UE_MEASUREMENTS` order (None if one has no value)."""
        given = report.measurements if report.measurements is not None else infos
        layout = self._layouts.get(id(given))
        if layout is None or layout[0] is not given:
            layout = self._layout(given)
        _given, where, n_records = layout
        records = report.data[-1].records
        if len(records) != n_records:
            raise UnusableIndication("missing_measurement", "records do not match the measurements")
        row = [records[i] if i >= 0 else None for i in where]
        if None in row:
            return None
        return [float(v) for v in row]  # type: ignore[arg-type]

    def _layout(self, given: Sequence[kpm.MeasInfo]) -> tuple[Sequence[kpm.MeasInfo], tuple[int, ...], int]:
        key = tuple(given)
        where = self._positions.get(key)
        if where is None:
            where = self._positions[key] = _positions(key)
        if len(self._layouts) >= _LAYOUTS_KEPT:  # an entry holds its list: ids stay unique
            self._layouts.clear()
        layout = (given, where, sum(len(m.labels) for m in given))
        self._layouts[id(given)] = layout
        return layout

    def _window(self, part: _Partial) -> KpiWindow:
        node = part.node
        assert node is not None
        cols = [part.ues[s] for s in sorted(part.ues)]
        slices = [np.full(len(part.ues[s]["ue_id"]), s, np.int64) for s in sorted(part.ues)]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([c[name] for c in cols]) if cols else np.zeros(0)

        ue_id = cat("ue_id").astype(np.int64)
        order = np.argsort(ue_id, kind="stable")
        if len(np.unique(ue_id)) != len(ue_id):
            raise UnusableIndication("other", "a UE reported in two slices")
        sl = (np.concatenate(slices) if slices else np.zeros(0, np.int64))[order]
        col = {name: cat(name)[order] for name in meas.UE_MEASUREMENTS}
        return KpiWindow(
            n_du=1,
            duration_ms=part.duration_ms,
            ue_id=ue_id[order],
            du=np.zeros(len(ue_id), np.int64),
            slice=sl,
            delivered_kbit=col[meas.DELIVERED],
            arrived_kbit=np.asarray(meas.arrived_kbit(col[meas.ARRIVED]), np.float64),
            delay_max_ms=np.asarray(meas.delay_ms(col[meas.DELAY_MAX]), np.float64),
            deadline_drops=col[meas.DEADLINE_DROPS].astype(np.int64),
            buffer_kbit=col[meas.BUFFER],
            rate_per_prb_kbps=col[meas.RATE_PER_PRB],
            prb_used=col[meas.PRB_USED],
            slice_prb_quota=node.quota[None, :].copy(),
            slice_prb_used=node.used[None, :].copy(),
            slice_prb_over=node.over[None, :].copy(),
        )


def _positions(infos: Sequence[kpm.MeasInfo]) -> tuple[int, ...]:
    """Record index of each UE measurement (unlabeled) in a report listing ``infos``; −1 absent."""
    index: dict[str, int] = {}
    i = 0
    for m in infos:
        for label in m.labels:
            if label == kpm.NO_LABEL:
                index.setdefault(m.name, i)
            i += 1
    return tuple(index.get(name, -1) for name in meas.UE_MEASUREMENTS)


def _as_dict(
    msg: kpm.KpmIndicationFormat1, infos: Sequence[kpm.MeasInfo]
) -> Mapping[tuple[str, kpm.MeasLabel], kpm.MeasRecord]:
    try:
        return msg.as_dict(infos)
    except ValueError as exc:
        raise UnusableIndication("missing_measurement", str(exc)) from None
