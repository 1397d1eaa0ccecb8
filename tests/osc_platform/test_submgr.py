"""The stand-in's Subscription Manager and E2 Manager REST, checked against OSC's Swagger.

A recording HTTP endpoint plays the xApp's notification receiver; the simulator's E2 nodes are
real; bodies are validated with jsonschema against ``xapp_rest_api.yaml``'s definitions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI, Request, Response

from ric import kpm
from ric.e2ap import RicActionToBeSetup, RicActionType
from tests.osc_platform.conftest import free_port, require_rmr, run_async, swagger_schema, topology, until
from xapps.e2access.osc_rest import NOTIFICATION_PATH, SubscriptionNotification, subscription_params
from xapps.service.http import serve

pytestmark = pytest.mark.usefixtures("_rmr")


@pytest.fixture
def _rmr() -> None:
    require_rmr()


def _validate(definition: str, body: Any) -> None:
    jsonschema.Draft4Validator(swagger_schema(definition)).validate(body)


def _body(meid: str, http_port: int, **overrides: Any) -> dict[str, Any]:
    trigger = kpm.encode_event_trigger(kpm.KpmEventTrigger(10))
    definition = kpm.encode_action_definition(kpm.node_level_action(["RRU.PrbUsedDl"], 10))
    actions = [RicActionToBeSetup(1, RicActionType.REPORT, definition)]
    body = subscription_params(
        subscription_id=None,
        host="127.0.0.1",
        http_port=http_port,
        rmr_port=free_port(),
        meid=meid,
        ran_function_id=kpm.KPM_RAN_FUNCTION_ID,
        event_trigger=trigger,
        actions=actions,
    )
    return {**body, **overrides}


def test_the_xapps_subscription_json_matches_the_swagger() -> None:
    body = _body("gnbd_001_001_000001_0", 8080)
    _validate("SubscriptionParams", body)
    assert body["ClientEndpoint"] == {
        "Host": "127.0.0.1",
        "HTTPPort": 8080,
        "RMRPort": body["ClientEndpoint"]["RMRPort"],
    }
    assert all(0 <= b <= 255 for b in body["SubscriptionDetails"][0]["EventTriggers"])
    # ricxappframe's own client writes snake_case keys: the schema (like submgr) rejects them
    snake = {
        "subscription_id": "x",
        "client_endpoint": {"host": "h", "http_port": 8080, "rmr_port": 4560},
        "meid": "gnb",
        "ran_function_id": 2,
        "subscription_details": [],
    }
    with pytest.raises(jsonschema.ValidationError):
        _validate("SubscriptionParams", snake)


class Recorder:
    """The xApp's notification endpoint: records every body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post(NOTIFICATION_PATH)
        async def notified(request: Request) -> Response:
            self.bodies.append(await request.json())
            return Response(status_code=200)


def test_submgr_rest_follows_the_swagger() -> None:
    async def main() -> None:
        recorder = Recorder()
        server, port = await serve(recorder.app, "127.0.0.1", 0)
        try:
            async with topology() as topo, httpx.AsyncClient(timeout=5) as http:
                await _exercise(
                    topo.platform.submgr_url, sorted(topo.platform.server.nodes), port, recorder, http
                )
                submgr = topo.platform.submgr
                assert submgr is not None and submgr.subscriptions == {}
                counters = topo.platform.counters
                assert counters.subscribe_invalid == 2 and counters.subscribe_refused == 1
                assert counters.subscribe_failed == 0 and counters.notify_failed == 0
        finally:
            await server.stop()

    run_async(main())


async def _exercise(
    url: str, nodes: list[str], port: int, recorder: Recorder, http: httpx.AsyncClient
) -> None:
    subs = f"{url}/ric/v1/subscriptions"
    response = await http.post(subs, json=_body(nodes[0], port))
    assert response.status_code == 201
    _validate("SubscriptionResponse", response.json())
    sub_id = response.json()["SubscriptionId"]
    await until(lambda: len(recorder.bodies) == 1, what="the notification")
    notification = recorder.bodies[0]
    _validate("SubscriptionResponse", notification)
    parsed = SubscriptionNotification.model_validate(notification)
    assert parsed.SubscriptionId == sub_id and len(parsed.SubscriptionInstances) == 1
    instance = parsed.SubscriptionInstances[0]
    assert not instance.failed and instance.XappEventInstanceId == 1 and instance.E2EventInstanceId > 0

    listing = (await http.get(subs)).json()
    _validate("SubscriptionList", listing)
    assert [item["Meid"] for item in listing] == [nodes[0]]

    # the xApp names its ID, and a retried POST of it is answered with the same subscription
    mine = await http.post(subs, json=_body(nodes[1], port, SubscriptionId="du-7.abc"))
    again = await http.post(subs, json=_body(nodes[1], port, SubscriptionId="du-7.abc"))
    assert mine.json()["SubscriptionId"] == again.json()["SubscriptionId"] == "du-7.abc"
    await until(lambda: len(recorder.bodies) == 3, what="two more notifications")
    assert recorder.bodies[1] == recorder.bodies[2]

    bad = await http.post(subs, json={"client_endpoint": {"host": "h"}, "meid": nodes[0]})
    assert bad.status_code == 400
    bad_bytes = _body(nodes[0], port)
    bad_bytes["SubscriptionDetails"][0]["EventTriggers"] = [1, 300]
    assert (await http.post(subs, json=bad_bytes)).status_code == 400
    assert (await http.post(subs, json=_body("gnbd_999_999_000009_0", port))).status_code == 503

    for name in (sub_id, "du-7.abc"):
        assert (await http.delete(f"{subs}/{name}")).status_code == 204
    assert (await http.delete(f"{subs}/{sub_id}")).status_code == 400  # gone
    assert (await http.get(subs)).json() == []


def test_e2mgr_node_states_follow_the_connections() -> None:
    async def main() -> None:
        async with topology() as topo, httpx.AsyncClient(timeout=5) as http:
            url = f"{topo.platform.e2mgr_url}/v1/nodeb"
            states = (await http.get(f"{url}/states")).json()
            names = sorted(topo.platform.server.nodes)
            assert sorted(s["inventoryName"] for s in states) == names
            assert {s["connectionStatus"] for s in states} == {"CONNECTED"}
            assert states[0]["globalNbId"]["plmnId"] == "00101"
            one = (await http.get(f"{url}/{names[0]}")).json()
            assert one["ranName"] == names[0] and one["connectionStatus"] == "CONNECTED"
            assert (await http.get(f"{url}/gnbd_nope")).status_code == 404
            await topo.stop_nodes()
            states = (await http.get(f"{url}/states")).json()
            assert {s["connectionStatus"] for s in states} == {"DISCONNECTED"}

    run_async(main())


def test_a_failed_e2_subscription_is_notified_with_its_cause() -> None:
    async def main() -> None:
        recorder = Recorder()
        server, port = await serve(recorder.app, "127.0.0.1", 0)
        try:
            async with topology(notify_first=True) as topo, httpx.AsyncClient(timeout=5) as http:
                node = sorted(topo.platform.server.nodes)[0]
                body = _body(node, port)
                bogus = kpm.encode_action_definition(kpm.node_level_action(["Not.A.Measurement"], 10))
                body["SubscriptionDetails"][0]["ActionToBeSetupList"][0]["ActionDefinition"] = list(bogus)
                response = await http.post(f"{topo.platform.submgr_url}/ric/v1/subscriptions", json=body)
                assert response.status_code == 201
                assert len(recorder.bodies) == 1  # notify_first: already there when the POST returns
                _validate("SubscriptionResponse", recorder.bodies[0])
                (instance,) = recorder.bodies[0]["SubscriptionInstances"]
                assert instance["ErrorSource"] == "E2Node"
                assert instance["ErrorCause"] == "ricRequest:action-not-supported"
                assert topo.platform.counters.subscribe_failed == 1
        finally:
            await server.stop()

    run_async(main())


def test_notification_failures_are_counted() -> None:
    async def main() -> None:
        async with topology() as topo, httpx.AsyncClient(timeout=5) as http:
            node = sorted(topo.platform.server.nodes)[0]
            nobody = free_port()  # nothing listens there
            response = await http.post(
                f"{topo.platform.submgr_url}/ric/v1/subscriptions", json=_body(node, nobody)
            )
            assert response.status_code == 201
            await until(lambda: topo.platform.counters.notify_failed == 1, what="the failed notification")
            await asyncio.sleep(0)

    run_async(main())
