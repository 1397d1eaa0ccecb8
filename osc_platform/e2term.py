"""E2 termination stand-in: E2 nodes (over :class:`ric.server.RicServer`) ↔ RMR.

* **Indications** of a subscription made by the Subscription Manager go to the subscribing
  xApp's RMR endpoint (``ClientEndpoint`` ``Host:RMRPort``) as RMR 12050 with ``sub_id`` = the
  RIC instance ID (``E2EventInstanceId``) and ``meid`` = the node name; the payload is the
  E2AP RICindication PDU. (OSC's routing manager installs that route for the subscription;
  here the stand-in opens an RMR wormhole to the endpoint.)
* **Controls:** an xApp's RMR 12040 (payload: an E2AP RICcontrolRequest PDU, ``meid`` = node
  name) is sent to that node; the node's acknowledge or failure returns to the sender (RMR
  return-to-sender) as 12041 / 12042 carrying the xApp's own RIC request ID. The E2 link
  allocates its own request IDs towards the node (:class:`ric.link.RicLink` runs the
  procedures), so the stand-in maps them back. A control the node does not answer gets no
  reply, as with e2term: the xApp's timer fires. A request for a node that is not connected,
  or one that does not decode, is answered with 12042 (``misc:unspecified`` /
  ``protocol:…``) when its request ID is readable.
"""

from __future__ import annotations

import asyncio
import logging

from osc_platform.counters import PlatformCounters
from ric.cause import Cause, CauseMisc, CauseProtocol
from ric.e2ap import RicControlAcknowledge, RicControlFailure, RicControlRequest, RicIndication
from ric.errors import E2DecodeError
from ric.rmr import RmrEndpoint, RmrMessage, RmrSendError, RmrType, decode_e2ap_payload, encode_e2ap_payload
from ric.server import ControlOutcome, RicServer

__all__ = ["E2Term"]

_log = logging.getLogger(__name__)


class E2Term:
    """Bridges a :class:`RicServer`'s nodes to an :class:`RmrEndpoint` (set by :meth:`attach`)."""

    def __init__(self, server: RicServer, counters: PlatformCounters) -> None:
        self.server = server
        self.counters = counters
        self._rmr: RmrEndpoint | None = None
        self._unroutable: set[str] = set()

    def attach(self, endpoint: RmrEndpoint) -> None:
        self._rmr = endpoint

    # ------------------------------------------------------------------ node → xApp
    def forward_indication(self, endpoint: str, node: str, indication: RicIndication) -> None:
        """Send one RIC Indication to the subscriber at ``endpoint`` (``host:port``)."""
        if self._rmr is None:
            return
        payload = encode_e2ap_payload(indication)
        try:
            self._rmr.send_to(
                endpoint, RmrType.RIC_INDICATION, payload, meid=node, sub_id=indication.request_id.instance
            )
        except RmrSendError as exc:
            self.counters.indications_unroutable += 1
            self.counters.rmr_send_failed += 1
            if endpoint not in self._unroutable:  # once per outage of that endpoint
                self._unroutable.add(endpoint)
                _log.warning("e2term: indications to %s not sent (until it is back): %s", endpoint, exc)
            return
        if endpoint in self._unroutable:
            self._unroutable.discard(endpoint)
            _log.info("e2term: indications reach %s again", endpoint)
        self.counters.indications_forwarded += 1

    # ------------------------------------------------------------------ xApp → node
    def on_rmr(self, message: RmrMessage) -> None:
        """The RMR receive callback."""
        if message.mtype == RmrType.RIC_CONTROL_REQ:
            self._control(message)
            return
        self.counters.rmr_unexpected += 1
        _log.warning("e2term: RMR message type %d from %s not handled", message.mtype, message.source)

    def _control(self, message: RmrMessage) -> None:
        try:
            request = decode_e2ap_payload(message.payload)
        except E2DecodeError as exc:
            self._reject(message, None, exc.cause or CauseProtocol.ABSTRACT_SYNTAX_ERROR_REJECT, str(exc))
            return
        if not isinstance(request, RicControlRequest):
            self._reject(
                message,
                None,
                CauseProtocol.MESSAGE_NOT_COMPATIBLE_WITH_RECEIVER_STATE,
                f"{type(request).__name__} on RMR 12040",
            )
            return
        node = self.server.nodes.get(message.meid)
        if node is None or not node.connected:
            self._reject(message, request, CauseMisc.UNSPECIFIED, f"E2 node {message.meid!r} not connected")
            return
        assert self._rmr is not None
        self._rmr.hold(message)
        future = node.send_control(
            request.ran_function_id, request.header, request.message, call_process_id=request.call_process_id
        )
        self.counters.controls_forwarded += 1
        future.add_done_callback(lambda f: self._answer(message, request, f))

    def _answer(
        self, message: RmrMessage, request: RicControlRequest, future: asyncio.Future[ControlOutcome]
    ) -> None:
        rmr = self._rmr
        if rmr is None or not rmr.is_open:
            return
        if future.cancelled() or future.exception() is not None:
            self.counters.controls_unanswered += 1
            _log.info(
                "e2term: control %s to %s unanswered: %s",
                request.request_id,
                message.meid,
                "cancelled" if future.cancelled() else future.exception(),
            )
            rmr.release(message)
            return
        outcome = future.result()
        if outcome.acknowledged:
            mtype = RmrType.RIC_CONTROL_ACK
            answer: RicControlAcknowledge | RicControlFailure = RicControlAcknowledge(
                request.request_id, request.ran_function_id, outcome.call_process_id, outcome.outcome
            )
            self.counters.controls_acked += 1
        else:
            mtype = RmrType.RIC_CONTROL_FAILURE
            answer = RicControlFailure(
                request.request_id,
                request.ran_function_id,
                outcome.cause or CauseMisc.UNSPECIFIED,
                outcome.call_process_id,
                outcome.outcome,
            )
            self.counters.controls_failed += 1
        self._reply(message, mtype, encode_e2ap_payload(answer))

    def _reject(self, message: RmrMessage, request: RicControlRequest | None, cause: Cause, why: str) -> None:
        self.counters.controls_rejected += 1
        _log.warning("e2term: control from %s rejected: %s", message.source, why)
        if request is None or self._rmr is None:
            return
        self._rmr.hold(message)
        failure = RicControlFailure(
            request.request_id, request.ran_function_id, cause, request.call_process_id
        )
        self._reply(message, RmrType.RIC_CONTROL_FAILURE, encode_e2ap_payload(failure))

    def _reply(self, message: RmrMessage, mtype: RmrType, payload: bytes) -> None:
        assert self._rmr is not None
        try:
            self._rmr.reply(message, mtype, payload)
        except RmrSendError as exc:
            self.counters.rmr_send_failed += 1
            _log.warning("e2term: answer %d to %s not sent: %s", mtype, message.source, exc)
