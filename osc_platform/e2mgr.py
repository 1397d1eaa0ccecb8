"""E2 Manager stand-in: node states over REST, as OSC e2mgr serves them (``/v1/nodeb/...``).

* ``GET /v1/nodeb/states`` → ``[{"inventoryName", "globalNbId": {"plmnId", "nbId"},
  "connectionStatus"}]`` for every node seen since start (``CONNECTED`` / ``DISCONNECTED``).
* ``GET /v1/nodeb/{name}`` → ``{"ranName", "connectionStatus", "globalNbId", "nodeType",
  "setupFromNetwork"}``; 404 for a name never seen.
* ``GET /v1/health`` → 200.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from ric.server import E2NodeHandle, RicServer

__all__ = ["e2mgr_router", "node_state"]


def _global_nb_id(node: E2NodeHandle) -> dict[str, str]:
    if node.node_id is None:
        return {"plmnId": "", "nbId": ""}
    plmn = node.node_id.plmn
    return {"plmnId": f"{plmn.mcc}{plmn.mnc}", "nbId": f"{node.node_id.gnb_id:x}"}


def node_state(node: E2NodeHandle) -> dict[str, Any]:
    """One ``NodebIdentity`` of e2mgr's states listing."""
    return {
        "inventoryName": node.name,
        "globalNbId": _global_nb_id(node),
        "connectionStatus": "CONNECTED" if node.connected else "DISCONNECTED",
    }


def e2mgr_router(server: RicServer) -> APIRouter:
    """e2mgr's node-state routes (paths carry ``/v1``)."""
    router = APIRouter()

    @router.get("/v1/nodeb/states")
    async def states() -> Response:
        return JSONResponse([node_state(n) for n in server.nodes.values()])

    @router.get("/v1/nodeb/{name}")
    async def nodeb(name: str) -> Response:
        node = server.nodes.get(name)
        if node is None:
            return JSONResponse({"errorCode": 404, "errorMessage": f"{name} not found"}, status_code=404)
        state = node_state(node)
        return JSONResponse(
            {
                "ranName": node.name,
                "connectionStatus": state["connectionStatus"],
                "globalNbId": state["globalNbId"],
                "nodeType": "GNB",
                "setupFromNetwork": True,
            }
        )

    @router.get("/v1/health")
    async def health() -> Response:
        return Response(status_code=200)

    return router
