"""ric: what both ends of E2 and every xApp share.

Codecs (this package's E2 layer so far):

* :mod:`ric.e2ap` — E2AP messages as typed dataclasses, ``encode_e2ap`` / ``decode_e2ap``
  (pycrate, aligned PER); IEs in :mod:`ric.e2ap_ies`, causes in :mod:`ric.cause`.
* :mod:`ric.kpm` — E2SM-KPM v03.00 (RAN function description, event trigger, action
  definitions, indication header and messages).
* :mod:`ric.rc` — E2SM-RC (control header/message/outcome, RAN function definition, slice
  PRB quotas).
* :mod:`ric.e2sm_common` — UE IDs, S-NSSAI, cell IDs; :mod:`ric.plmn` — PLMN BCD.
* :mod:`ric.errors` — ``PeerError`` (what decoders raise: ``E2DecodeError``) vs
  ``LocalError`` (what encoders raise: ``E2EncodeError``).

E2 link (sans-IO) and its asyncio adapters:

* :mod:`ric.states` — E2 link and procedure states and transitions, as tables;
  :mod:`ric.link` — ``NodeLink`` / ``RicLink`` state machines (PDUs in → events + PDUs out,
  timers returned); :mod:`ric.events` — their events; :mod:`ric.ids` — node name, UE ID and
  slice-level control conventions.
* :mod:`ric.framing` — TCP length-prefix framing; :mod:`ric.transport` — asyncio TCP / SCTP
  channels, bounded send queues, reconnect backoff.
* :mod:`ric.server` — the RIC side for xApps (``RicServer``, per-node handles, subscriptions,
  controls); :mod:`ric.client` — the E2 node side's connection (``E2NodeClient``).

The ASN.1 sources of the service models are package data under ``ric/asn1/``.
"""
