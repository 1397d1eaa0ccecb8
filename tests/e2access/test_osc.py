"""OscE2 end to end: real librmr, the OSC platform stand-in, the simulator's E2 nodes (TCP).

xApp (OscE2) ⇄ RMR 12050 / 12040-12042 ⇄ stand-in e2term ⇄ E2AP/TCP ⇄ E2SimNodes, with the
Subscription Manager and E2 Manager REST in between. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from e2sim.e2node import slice_snssais
from ric import kpm, rc
from ric.cause import CauseRicRequest
from ric.ids import SLICE_LEVEL_UE
from ric.rmr import RmrConfig, RmrEndpoint, RmrMessage, RmrType, write_route_table
from ric.sdl import MemorySdl, RedisSdl
from ric.server import E2TimeoutError, KpmIndication, NodeDisconnectedError, SubscriptionFailedError
from tests.e2.conftest import PLMN
from tests.osc_platform.conftest import (
    Topology,
    free_port,
    osc_e2,
    require_rmr,
    run_async,
    topology,
    until,
    xapp_settings,
)
from xapps.e2access.base import E2Access, KpmAction, NodeDown, NodeEvent, NodeUp
from xapps.e2access.osc import OscE2, OscE2Settings
from xapps.service.http import serve

pytestmark = pytest.mark.usefixtures("_rmr")

NAMES = tuple(kpm.MEASUREMENTS)
PRESENT = kpm.UeCondition(kpm.TestCondition(kpm.TestCondType.S_NSSAI, kpm.TestCondExpression.PRESENT))


@pytest.fixture
def _rmr() -> None:
    require_rmr()


async def _next_event(events: object, timeout: float = 10.0) -> NodeEvent:
    async with asyncio.timeout(timeout):
        return await anext(events)  # type: ignore[call-overload]


def _actions(slices: object) -> list[KpmAction]:
    node_level = kpm.node_level_action(["RRU.PrbUsedDl", "RRU.PrbAvailDl"], 10, slices)  # type: ignore[arg-type]
    return [KpmAction(1, node_level), KpmAction(2, kpm.ue_condition_action(NAMES, 10, [PRESENT]))]


def test_kpm_with_two_actions_and_controls_over_rmr() -> None:
    async def main() -> None:
        async with topology() as topo, osc_e2(xapp_settings(topo.platform)) as e2:
            events = e2.events()
            ups = {(await _next_event(events)) for _ in range(topo.sim.n_du)}
            assert ups == {NodeUp(n, reconnect=False) for n in topo.platform.server.nodes}
            assert e2.platform_reachable
            node = sorted(topo.platform.server.nodes)[0]
            got: list[KpmIndication] = []
            snssais = slice_snssais(topo.sim.scenario.slice_sd)
            sub = await e2.subscribe_kpm(node, _actions(snssais), 10, got.append)
            await until(lambda: {i.action_id for i in got} == {1, 2}, what="indications of both actions")
            by_action = {i.action_id: i for i in got}
            assert isinstance(by_action[1].message, kpm.KpmIndicationFormat1)
            assert isinstance(by_action[2].message, kpm.KpmIndicationFormat3)
            assert all(i.node == node for i in got) and sub.active

            # slice quotas: acknowledged (12041) and obeyed by the simulator
            quotas = [
                rc.SlicePrbQuota(PLMN, s.sst, s.sd, 0, r, 0)
                for s, r in zip(snssais, (50, 30, 20), strict=True)
            ]
            outcome = await e2.send_slice_quotas(node, quotas)
            assert outcome.acknowledged and outcome.cause is None
            du = topo.platform.server.nodes[node].node_id.du_id  # type: ignore[union-attr]
            assert topo.sim.slice_rbs[du].tolist() == [round(12 * r / 100) for r in (50, 30, 20)]
            # a quota for a slice the node does not serve: 12042, a failed outcome with its cause
            bad = await e2.send_slice_quotas(node, [rc.SlicePrbQuota(PLMN, 99, 1, 0, 10, 0)], SLICE_LEVEL_UE)
            assert not bad.acknowledged and bad.cause is CauseRicRequest.CONTROL_MESSAGE_INVALID
            assert e2.counters.controls_acked == 1 and e2.counters.controls_failed == 1
            assert topo.platform.counters.controls_acked == 1 and topo.platform.counters.controls_failed == 1

            await sub.delete()
            assert not sub.active and topo.platform.submgr is not None
            assert topo.platform.submgr.subscriptions == {}
            assert e2.counters.indications_undecodable == 0 and e2.counters.callback_errors == 0

    run_async(main())


async def _events_of(events: object, node: str, count: int, timeout: float = 15.0) -> list[NodeEvent]:
    """The next ``count`` events about ``node`` (others are skipped)."""
    out: list[NodeEvent] = []
    while len(out) < count:
        event = await _next_event(events, timeout)
        if event.node == node:
            out.append(event)
    return out


def test_node_disconnect_deletes_subscriptions_and_reconnect_resubscribes() -> None:
    async def main() -> None:
        async with topology() as topo, osc_e2(xapp_settings(topo.platform)) as e2:
            events = e2.events()
            for _ in range(topo.sim.n_du):
                await _next_event(events)
            node = sorted(topo.platform.server.nodes)[1]
            got: list[KpmIndication] = []
            sub = await e2.subscribe_kpm(node, _actions(()), 10, got.append)
            await until(lambda: len(got) > 0, what="first indication")
            assert len(e2.stored_subscriptions()) == 1
            submgr = topo.platform.submgr
            assert submgr is not None and len(submgr.subscriptions) == 1

            await topo.stop_nodes()  # every E2 connection closes
            downs = {await _next_event(events) for _ in range(topo.sim.n_du)}
            assert {type(e) for e in downs} == {NodeDown} and {e.node for e in downs} == set(
                topo.platform.server.nodes
            )
            assert submgr.subscriptions == {}  # submgr deleted them with the connection
            assert not sub.active and not e2.connected(node) and e2.stored_subscriptions() == {}
            with pytest.raises(NodeDisconnectedError):
                e2.send_slice_quotas(node, [rc.SlicePrbQuota(PLMN, 1, 1, 0, 10, 0)])

            topo.start_nodes()
            ups = {await _next_event(events, 20) for _ in range(topo.sim.n_du)}
            assert ups == {NodeUp(n, reconnect=True) for n in topo.platform.server.nodes}
            again: list[KpmIndication] = []
            sub2 = await e2.subscribe_kpm(node, _actions(()), 10, again.append)
            await until(lambda: {i.action_id for i in again} == {1, 2}, what="indications after reconnect")
            assert sub2.active and sub2.subscription_id == sub.subscription_id  # same request, same ID
            snssai = slice_snssais(topo.sim.scenario.slice_sd)[2]
            outcome = await e2.send_slice_quotas(
                node, [rc.SlicePrbQuota(PLMN, snssai.sst, snssai.sd, 0, 25, 0)]
            )
            assert outcome.acknowledged

    run_async(main(), timeout=90)


def test_a_flap_between_polls_is_seen_through_the_deleted_subscriptions() -> None:
    async def main() -> None:
        async with topology() as topo, osc_e2(xapp_settings(topo.platform, poll_interval_s=0.2)) as e2:
            events = e2.events()
            for _ in range(topo.sim.n_du):
                await _next_event(events)
            node = sorted(topo.platform.server.nodes)[0]
            sub = await e2.subscribe_kpm(node, _actions(()), 10, lambda _i: None)
            await topo.platform.disconnect_all()  # the nodes reconnect within ~0.1 s
            down, up = await _events_of(events, node, 2)
            assert isinstance(down, NodeDown) and up == NodeUp(node, reconnect=True)
            assert not sub.active
            got: list[KpmIndication] = []
            await until(lambda: topo.platform.server.nodes[node].connected, what="node back")
            await e2.subscribe_kpm(node, _actions(()), 10, got.append)
            await until(lambda: len(got) > 0, what="indications after the flap")

    run_async(main(), timeout=60)


def test_notification_before_the_http_response() -> None:
    async def main() -> None:
        async with topology(notify_first=True) as topo, osc_e2(xapp_settings(topo.platform)) as e2:
            node = sorted(topo.platform.server.nodes)[2]
            await until(lambda: e2.connected(node), what="node up")
            got: list[KpmIndication] = []
            sub = await e2.subscribe_kpm(node, _actions(()), 10, got.append)
            assert e2.counters.notifications_early == 1  # it came first and was kept
            await until(lambda: {i.action_id for i in got} == {1, 2}, what="indications")
            assert sub.active and e2.counters.indications_unmatched == 0
            # the same request again: a second subscription of its own, and deleting it leaves the first
            twin: list[KpmIndication] = []
            sub2 = await e2.subscribe_kpm(node, _actions(()), 10, twin.append)
            assert sub2.subscription_id == f"{sub.subscription_id}-2"
            await until(lambda: len(twin) > 0, what="indications of the twin")
            await sub2.delete()
            before = len(got)
            await until(lambda: len(got) > before, what="the first one still flowing")
            assert sub.active and not sub2.active

    run_async(main())


def test_a_refused_subscription_raises_with_the_nodes_cause() -> None:
    async def main() -> None:
        async with topology() as topo, osc_e2(xapp_settings(topo.platform)) as e2:
            node = sorted(topo.platform.server.nodes)[0]
            await until(lambda: e2.connected(node), what="node up")
            bogus = kpm.node_level_action(["Not.A.Measurement"], 10)
            with pytest.raises(SubscriptionFailedError) as info:
                await e2.subscribe_kpm(node, [KpmAction(1, bogus)], 10, lambda _i: None)
            assert info.value.cause is CauseRicRequest.ACTION_NOT_SUPPORTED
            assert e2.counters.subscribe_failures == 1 and e2.stored_subscriptions() == {}

    run_async(main())


def test_subscription_ids_survive_a_restart_through_redis() -> None:
    async def main() -> None:
        sdl = RedisSdl("redis://127.0.0.1:6379/0")
        if not sdl.ping():
            pytest.skip("no redis-server on 127.0.0.1:6379")
        namespace = f"metahrl-osc-test-{uuid.uuid4().hex[:8]}"
        try:
            async with topology() as topo:
                await _restart_scenario(topo, sdl, namespace)
        finally:
            sdl.delete(namespace, sdl.keys(namespace))
            sdl.close()

    run_async(main(), timeout=90)


async def _restart_scenario(topo: Topology, sdl: RedisSdl, namespace: str) -> None:
    settings = xapp_settings(topo.platform, sdl_namespace=namespace, instance="du-test", rmr_port=free_port())
    a, b = sorted(topo.platform.server.nodes)[:2]
    submgr = topo.platform.submgr
    assert submgr is not None
    first = OscE2(settings, sdl)
    await first.start()
    kept = await first.subscribe_kpm(a, _actions(()), 10, lambda _i: None)
    other = await first.subscribe_kpm(b, _actions(()), 20, lambda _i: None)
    await first.close(keep_subscriptions=True)  # a rolling restart: submgr keeps both
    assert set(submgr.subscriptions) == {kept.subscription_id, other.subscription_id}

    # The next run answers on other ports (librmr's rmr_close leaves an in-process context's
    # connections open, so a same-process restart cannot take the port over; a new pod would).
    restarted = settings.model_copy(update={"rmr_port": free_port()})
    async with osc_e2(restarted, sdl) as second:
        assert second.stored_subscriptions() == {kept.subscription_id: a, other.subscription_id: b}
        got: list[KpmIndication] = []
        again = await second.subscribe_kpm(a, _actions(()), 10, got.append)
        assert again.subscription_id == kept.subscription_id and second.counters.subscriptions_reused == 1
        assert len(topo.platform.server.nodes[a].subscriptions) == 1  # no second E2 subscription
        await until(lambda: len(got) > 0, what="indications of the reused subscription")
        await second.purge_stale()  # the one not asked for again is deleted at submgr and in the SDL
        assert set(submgr.subscriptions) == {kept.subscription_id} and second.counters.stale_deleted == 1
        assert second.stored_subscriptions() == {kept.subscription_id: a}
    assert submgr.subscriptions == {}  # a plain close deletes


def test_unanswered_controls_time_out_and_bad_input_is_counted(tmp_path: Path) -> None:
    """Controls routed to an RMR endpoint that never answers time out; garbage on 12050 and a
    bad notification are counted, never fatal."""

    async def main() -> None:
        async with topology() as topo:
            silent_port = free_port()
            table = write_route_table(tmp_path / "rt", {RmrType.RIC_CONTROL_REQ: f"127.0.0.1:{silent_port}"})
            heard: list[RmrMessage] = []
            silent = RmrEndpoint(RmrConfig(port=silent_port, route_table=table), heard.append)
            await silent.open()
            settings = xapp_settings(topo.platform, rmr_route_table=table, control_timeout_s=0.3)
            try:
                async with osc_e2(settings) as e2:
                    await _check_bad_inputs(topo, e2, silent, heard)
            finally:
                silent.close()

    run_async(main())


async def _check_bad_inputs(topo: Topology, e2: OscE2, silent: RmrEndpoint, heard: list[RmrMessage]) -> None:
    node = sorted(topo.platform.server.nodes)[0]
    await until(lambda: e2.connected(node), what="node up")
    future = e2.send_slice_quotas(node, [rc.SlicePrbQuota(PLMN, 1, 1, 0, 10, 0)])
    with pytest.raises(E2TimeoutError):
        await future
    assert len(heard) == 1 and heard[0].mtype == 12040 and heard[0].meid == node
    assert e2.counters.controls_timed_out == 1 and e2.counters.controls_sent == 1

    got: list[KpmIndication] = []
    sub = await e2.subscribe_kpm(node, _actions(()), 10, got.append)
    xapp = f"127.0.0.1:{e2.settings.rmr_port}"
    silent.send_to(xapp, RmrType.RIC_INDICATION, b"\x00garbage", meid=node, sub_id=sub.instances[0])
    await until(lambda: e2.counters.indications_undecodable == 1, what="the garbage counted")
    await until(lambda: len(got) > 0, what="good indications still flowing")
    async with httpx.AsyncClient(timeout=5) as http:
        url = f"http://127.0.0.1:{e2.http_port}/ric/v1/subscriptions/response"
        assert (await http.post(url, json={"SubscriptionInstances": "nope"})).status_code == 400
    assert e2.counters.notifications_invalid == 1 and sub.active


def _is_e2_access(e2: OscE2) -> E2Access:
    return e2  # mypy checks OscE2 against the E2Access protocol here


def test_the_router_mounted_on_the_xapps_own_app() -> None:
    """As the DU xApp does: the notification route on its port-8080 app (here port 0)."""

    async def main() -> None:
        async with topology() as topo:
            e2 = _is_e2_access(OscE2(xapp_settings(topo.platform, http_bind=None), MemorySdl()))
            assert isinstance(e2, OscE2)
            app = FastAPI()
            app.include_router(e2.router)
            server, port = await serve(app, "127.0.0.1", 0)
            e2.use_http_port(port)
            await e2.start()
            try:
                node = sorted(topo.platform.server.nodes)[0]
                await until(lambda: e2.connected(node), what="node up")
                got: list[KpmIndication] = []
                await e2.subscribe_kpm(node, _actions(()), 10, got.append)
                await until(lambda: len(got) > 0, what="indications")
            finally:
                await e2.close()
                await server.stop()

    run_async(main())


def test_an_unreachable_platform_is_counted_and_reported(tmp_path: Path) -> None:
    async def main() -> None:
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        table = write_route_table(tmp_path / "rt", {RmrType.RIC_CONTROL_REQ: f"127.0.0.1:{free_port()}"})
        settings = OscE2Settings(
            rmr_port=free_port(), rmr_route_table=table, submgr_url=dead, e2mgr_url=dead,
            client_host="127.0.0.1", http_port=0, http_bind="127.0.0.1", poll_interval_s=0.05,
        )  # fmt: skip
        async with osc_e2(settings) as e2:
            assert not e2.platform_reachable and e2.counters.poll_failures >= 1
            await until(lambda: e2.counters.poll_failures >= 3, what="polls keep trying")
            with pytest.raises(NodeDisconnectedError):
                await e2.subscribe_kpm("gnbd_001_001_000001_0", _actions(()), 10, lambda _i: None)

    run_async(main())
