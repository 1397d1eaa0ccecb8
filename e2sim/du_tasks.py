"""The DU tasks of a scenario, as its DU xApps serve them (:class:`slicing.task.DuTask`)."""

from __future__ import annotations

from e2sim.config import ScenarioConfig
from e2sim.e2node import du_node_id
from e2sim.kpi import sla_table
from ric.ids import e2_node_name
from ric.plmn import Plmn
from slicing import CellSpec
from slicing.task import DuTask

__all__ = ["du_tasks"]


def du_tasks(scenario: ScenarioConfig) -> list[DuTask]:
    """One task per DU of ``scenario``: its E2 node name, slices, cell and SLA row."""
    r = scenario.radio
    cell = CellSpec(n_rbs=r.n_rbs, rb_bandwidth_hz=r.rb_bandwidth_hz, tti_ms=r.tti_ms)
    sla = sla_table(scenario)
    plmn = Plmn.parse(scenario.plmn)
    return [
        DuTask(
            du=d,
            node=e2_node_name(du_node_id(plmn, d)),
            plmn=scenario.plmn,
            slice_sd=tuple(scenario.slice_sd),
            cell=cell,
            sla=sla.rows([d]),
        )
        for d in range(scenario.n_du)
    ]
