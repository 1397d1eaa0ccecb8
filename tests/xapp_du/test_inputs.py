"""Bad input to the DU xApp: unusable indications, bad settings, bad config PUTs."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from e2sim.du_tasks import du_tasks
from metahrl.cli import main
from ric import kpm
from ric.e2ap import RicRequestId
from ric.e2sm_common import GnbCuUpUeId, GnbDuUeId
from ric.server import KpmIndication
from slicing import measurements as meas
from tests.xapp_du.helpers import share_env, small_scenario, tiny_pool
from xapps.du.reports import UnusableIndication, WindowAssembler, kpm_actions, task_snssais
from xapps.du.service import XappService
from xapps.e2access.direct import DirectE2
from xapps.service.http import create_app
from xapps.service.metrics import XappMetrics
from xapps.service.settings import XappSettings

TASK = du_tasks(small_scenario())[0]
ACTIONS = kpm_actions(TASK, 10)
T0 = 1 << 40


def _ind(action_id: int, message: Any, t: int = T0) -> KpmIndication:
    header = kpm.KpmIndicationHeader(t)
    return KpmIndication("n", RicRequestId(1, 1), action_id, 0, 0.0, header, message, None)  # type: ignore[arg-type]


def _node(conn: tuple[int, int, int], t: int = T0, drop: str | None = None) -> KpmIndication:
    infos = tuple(kpm.MeasInfo.per_slice(n, task_snssais(TASK)) for n in meas.SLICE_MEASUREMENTS if n != drop)
    values = {
        meas.CONN_MEAN: conn,
        meas.PRB_AVAIL: (34, 33, 33),
        meas.PRB_USED: (30, 2, 1),
        meas.PRB_OVER: (0.0,) * 3,
    }
    records = tuple(v for n in meas.SLICE_MEASUREMENTS if n != drop for v in values[n])
    return _ind(1, kpm.KpmIndicationFormat1((kpm.MeasDataItem(records),), infos, 10), t)


def _ues(action_id: int, ids: list[Any], t: int = T0, drop: str | None = None) -> KpmIndication:
    names = [n for n in meas.UE_MEASUREMENTS if n != drop]
    infos = tuple(kpm.MeasInfo(n) for n in names)
    row = tuple(1 if n in (meas.THROUGHPUT, meas.PRB_USED, meas.DEADLINE_DROPS) else 1.5 for n in names)
    reports = tuple(
        kpm.UeMeasReport(u, kpm.KpmIndicationFormat1((kpm.MeasDataItem(row),), infos, 10)) for u in ids
    )
    return _ind(action_id, kpm.KpmIndicationFormat3(reports), t)


def test_a_window_completes_with_the_node_report_and_every_populated_slice() -> None:
    a = WindowAssembler(TASK, ACTIONS, 10)
    assert a.add(_node((2, 0, 1))) is None
    assert a.add(_ues(2, [GnbDuUeId(7), GnbDuUeId(3)])) is None
    w = a.add(_ues(4, [GnbDuUeId(5)]))
    assert w is not None and w.n_du == 1 and w.duration_ms == 10.0
    assert w.ue_id.tolist() == [3, 5, 7] and w.slice.tolist() == [0, 2, 0]
    np.testing.assert_array_equal(w.slice_prb_quota, [[34, 33, 33]])
    assert w.arrived_kbit[0] == meas.arrived_kbit(1.5) and w.delay_max_ms[0] == meas.delay_ms(1.5)


@pytest.mark.parametrize(
    ("indication", "reason"),
    [
        (_ues(2, [GnbCuUpUeId(4)]), "unknown_ue"),
        (_ues(2, [GnbDuUeId(0)]), "unknown_ue"),
        (_ues(3, [GnbDuUeId(4)], drop=meas.BUFFER), "missing_measurement"),
        (_node((1, 1, 1), drop=meas.PRB_AVAIL), "missing_measurement"),
        (
            _ind(9, kpm.KpmIndicationFormat1((kpm.MeasDataItem((1,)),), (kpm.MeasInfo("x"),))),
            "unknown_subscription",
        ),
        (_ues(1, [GnbDuUeId(4)]), "other"),  # a UE report on the node action
    ],
)
def test_unusable_indications_name_their_reason(indication: KpmIndication, reason: str) -> None:
    with pytest.raises(UnusableIndication) as err:
        WindowAssembler(TASK, ACTIONS, 10).add(indication)
    assert err.value.reason == reason


def test_a_report_for_a_closed_window_is_stale() -> None:
    a = WindowAssembler(TASK, ACTIONS, 10)
    assert a.add(_node((0, 0, 0), t=T0 + 10)) is not None
    with pytest.raises(UnusableIndication) as err:
        a.add(_node((0, 0, 0), t=T0))
    assert err.value.reason == "stale"


def _service() -> XappService:
    scenario = small_scenario()
    env = share_env(scenario)
    pool = tiny_pool(env)
    agents = {d: pool[d] for d in range(3)}
    metrics = XappMetrics(CollectorRegistry())
    return XappService(
        XappSettings(), du_tasks(scenario), agents, agents, env.mdp_config, DirectE2(), metrics
    )


def test_an_unusable_indication_is_counted_not_fatal() -> None:
    service = _service()
    rt = service.dus[0]
    service._indication(rt, _ues(2, [GnbCuUpUeId(4)]))
    service._indication(rt, _ues(2, [GnbCuUpUeId(4)]))
    assert rt.counters.dropped == {"unknown_ue": 2} and rt.counters.decisions == 0
    value = service.metrics.registry.get_sample_value(
        "metahrl_du_indications_dropped_total", {"du": "0", "reason": "unknown_ue"}
    )
    assert value == 2


def test_bad_settings_exit_2_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xapp", "--period-ms", "0", "--no-http"]) == 2
    assert "control.kpm_period_ms" in capsys.readouterr().err
    assert main(["xapp", "--listen", "nohost", "--no-http"]) == 2
    assert "--listen" in capsys.readouterr().err


def test_config_put_validates_and_changes_nothing_on_error() -> None:
    service = _service()
    token = secrets.token_hex(16)  # generated at run time: no credential is committed
    app = create_app(service, service.metrics.registry, config_token=token)
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    before = client.get("/ric/v1/config").json()
    bad = {**before, "control": {**before["control"], "control_timeout_s": -1}}
    assert client.put("/ric/v1/config", json=bad).status_code == 422
    switch = {**before, "learning": {**before["learning"], "mode": "online"}}
    assert client.put("/ric/v1/config", json=switch).status_code == 409
    assert client.get("/ric/v1/config").json() == before
    good = {**before, "control": {"control_timeout_s": 0.25, "high_period_steps": 5}}
    assert client.put("/ric/v1/config", json=good).status_code == 200
    assert service.settings.control.control_timeout_s == 0.25
    assert all(rt.controller.mdp.config.high_period_steps == 5 for rt in service.dus.values())


def test_a_window_that_never_completes_is_counted() -> None:
    service = _service()
    rt = service.dus[0]

    async def feed() -> None:  # a decision sends controls: it needs the loop (no node: not sent)
        service._indication(rt, _node((1, 0, 0), t=T0))  # its eMBB UE report never comes
        service._indication(rt, _node((0, 0, 0), t=T0 + 10))  # the next window completes alone

    asyncio.run(feed())
    assert rt.counters.dropped == {"stale": 1} and rt.counters.windows == 1
    assert rt.counters.disconnected == 1  # the slice quotas of that decision had no node to go to
