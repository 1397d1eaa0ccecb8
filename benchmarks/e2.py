"""E2 codec speed: encode + decode time per PDU type, and the UE-level KPM report.

Every row encodes a typed value to APER bytes and decodes them back to a typed value
(E2AP via pycrate, E2SM-KPM/RC via asn1tools or the fast KPM indication path). Times are
the best mean over ``--repeats`` timed batches, in microseconds per operation.

The headline case, ``kpm_ue30``, is what a DU sends every reporting period for a slice of
30 UEs: an E2SM-KPM indication header plus an indication message format 3 (one format-1
report per UE with 5 measurements and the measurement list, as srsRAN sends it), wrapped in
an E2AP RIC Indication — encoded, then decoded back to typed values. Target: ≤ 5 ms for
encode + decode. In-run reference: the bare pycrate E2AP RIC Indication round trip
(``set_val``/``to_aper``/``from_aper``/``get_val``) with the same payload sizes.

``--json`` prints one object with unit-suffixed keys. Each measurement function returns
such keys; transport-level measurements (e.g. loopback round-trip percentiles) plug in as
further entries of ``MEASUREMENTS``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["MEASUREMENTS", "add_arguments", "run"]

KPM_UE30_TARGET_MS = 5.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeats", type=int, default=5, help="timed batches per case; best kept (default 5)")
    p.add_argument(
        "--batch-s", type=float, default=0.05, help="approximate seconds per timed batch (default 0.05)"
    )


def _time_us(fn: Callable[[], object], repeats: int, batch_s: float) -> float:
    """Best mean time of ``fn`` in µs over ``repeats`` batches of about ``batch_s`` each."""
    fn()  # warm-up (compiles ASN.1 specs, fills caches)
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(batch_s / once))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e6


@dataclass(frozen=True)
class _Case:
    key: str
    label: str
    encode: Callable[[], bytes]
    decode: Callable[[bytes], object]


def _samples() -> dict[str, Any]:
    """Typed sample values (built once; imports kept local so `metahrl --help` stays fast)."""
    from ric import e2ap, kpm, rc
    from ric.e2sm_common import GnbDuUeId, Snssai
    from ric.plmn import Plmn

    plmn = Plmn("001", "01")
    names = tuple(kpm.MEASUREMENTS)
    infos = tuple(kpm.MeasInfo(n) for n in names)
    reports = tuple(
        kpm.UeMeasReport(
            GnbDuUeId(i),
            kpm.KpmIndicationFormat1(
                (kpm.MeasDataItem((20_000 + i, 12.5 + i / 10, 10 + i, 106, 0.001 * i)),), infos, 1000
            ),
        )
        for i in range(30)
    )
    slices = [Snssai(1, 1), Snssai(2, 2), Snssai(3, 3)]
    return {
        "plmn": plmn,
        "header": kpm.KpmIndicationHeader(kpm.ntp_timestamp(1_700_000_000.0)),
        "ue30": kpm.KpmIndicationFormat3(reports),
        "node": kpm.KpmIndicationFormat1(
            (kpm.MeasDataItem(tuple(range(15))),),
            tuple(kpm.MeasInfo.per_slice(n, slices) for n in names),
            1000,
        ),
        "action": kpm.node_level_action(names, 1000, slices),
        "quotas": [rc.SlicePrbQuota(plmn, s.sst, s.sd, 10, 40 + 10 * i, 5) for i, s in enumerate(slices)],
        "req": e2ap.RicRequestId(123, 1),
    }


def _e2ap_messages(s: dict[str, Any]) -> dict[str, Any]:
    from ric import e2ap, kpm, rc
    from ric.cause import CauseProtocol

    kpm_fn = e2ap.RanFunction(
        kpm.KPM_RAN_FUNCTION_ID,
        kpm.encode_ran_function_description(kpm.default_ran_function_description()),
        0,
        kpm.KPM_OID,
    )
    rc_fn = e2ap.RanFunction(
        rc.RC_RAN_FUNCTION_ID,
        rc.encode_ran_function_definition(rc.default_ran_function_definition()),
        0,
        rc.RC_OID,
    )
    ng = e2ap.E2NodeComponentId(e2ap.ComponentInterface.NG, name="amf")
    req = s["req"]
    return {
        "e2_setup_request": e2ap.E2SetupRequest(
            0,
            e2ap.GlobalGnbId(s["plmn"], 411),
            (kpm_fn, rc_fn),
            (e2ap.E2NodeComponentConfig(ng, b"r", b"s"),),
        ),
        "e2_setup_response": e2ap.E2SetupResponse(
            0,
            e2ap.GlobalRicId(s["plmn"], 1),
            (e2ap.E2NodeComponentConfigAck(ng),),
            (e2ap.RanFunctionIdItem(2), e2ap.RanFunctionIdItem(3)),
        ),
        "ric_subscription_request": e2ap.RicSubscriptionRequest(
            req,
            2,
            kpm.encode_event_trigger(kpm.KpmEventTrigger(1000)),
            (
                e2ap.RicActionToBeSetup(
                    1, e2ap.RicActionType.REPORT, kpm.encode_action_definition(s["action"])
                ),
            ),
        ),
        "ric_subscription_response": e2ap.RicSubscriptionResponse(req, 2, (1,)),
        "ric_control_request": e2ap.RicControlRequest(
            req,
            3,
            b"\x01\x00\x00\x01\x02\x00\x00\x05",
            rc.encode_slice_prb_quota(s["quotas"]),
            ack_request=e2ap.RicControlAckRequest.ACK,
        ),
        "ric_control_acknowledge": e2ap.RicControlAcknowledge(req, 3),
        "error_indication": e2ap.ErrorIndication(request_id=req, cause=CauseProtocol.TRANSFER_SYNTAX_ERROR),
    }


def _cases(s: dict[str, Any]) -> list[_Case]:
    from ric import e2ap, kpm, rc

    cases = [
        _Case(
            f"e2ap_{name}", f"E2AP {name.replace('_', ' ')}", _bind(e2ap.encode_e2ap, msg), e2ap.decode_e2ap
        )
        for name, msg in _e2ap_messages(s).items()
    ]
    cases += [
        _Case(
            "kpm_action_definition",
            "E2SM-KPM action def (5 meas × 3 slices)",
            _bind(kpm.encode_action_definition, s["action"]),
            kpm.decode_action_definition,
        ),
        _Case(
            "kpm_indication_node",
            "E2SM-KPM indication fmt 1 (15 records)",
            _bind(kpm.encode_indication_message, s["node"]),
            kpm.decode_indication_message,
        ),
        _Case(
            "kpm_indication_ue30",
            "E2SM-KPM indication fmt 3 (30 UEs × 5)",
            _bind(kpm.encode_indication_message, s["ue30"]),
            kpm.decode_indication_message,
        ),
        _Case(
            "rc_slice_prb_quota",
            "E2SM-RC slice PRB quota (3 slices)",
            _bind(rc.encode_slice_prb_quota, s["quotas"]),
            rc.decode_slice_prb_quota,
        ),
    ]
    return cases


def _bind(fn: Callable[[Any], bytes], value: Any) -> Callable[[], bytes]:
    return lambda: fn(value)


def _bind_decode(fn: Callable[[bytes], object], data: bytes) -> Callable[[], object]:
    return lambda: fn(data)


def _codec_rows(args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    for case in _cases(_samples()):
        data = case.encode()
        enc = _time_us(case.encode, args.repeats, args.batch_s)
        dec = _time_us(_bind_decode(case.decode, data), args.repeats, args.batch_s)
        out[f"{case.key}_encode_us"] = round(enc, 1)
        out[f"{case.key}_decode_us"] = round(dec, 1)
        out[f"{case.key}_bytes"] = len(data)
    return out


def _ue30_indication_bytes(s: dict[str, Any]) -> bytes:
    from ric import e2ap, kpm

    indication = e2ap.RicIndication(
        s["req"],
        kpm.KPM_RAN_FUNCTION_ID,
        1,
        e2ap.RicIndicationType.REPORT,
        kpm.encode_indication_header(s["header"]),
        kpm.encode_indication_message(s["ue30"]),
        sn=7,
    )
    return e2ap.encode_e2ap(indication)


def _decode_ue30(data: bytes) -> tuple[object, object]:
    from ric import e2ap, kpm

    message = e2ap.decode_e2ap(data)
    if not isinstance(message, e2ap.RicIndication):
        raise TypeError(f"expected a RIC Indication, got {type(message).__name__}")
    return kpm.decode_indication_header(message.header), kpm.decode_indication_message(message.message)


def _kpm_ue30(args: argparse.Namespace) -> dict[str, float]:
    """The headline: typed header + format-3 message -> RIC Indication bytes -> typed again."""
    s = _samples()
    data = _ue30_indication_bytes(s)
    header, message = _decode_ue30(data)
    if (header, message) != (s["header"], s["ue30"]):
        raise RuntimeError("kpm_ue30 round trip changed the report")
    enc = _time_us(lambda: _ue30_indication_bytes(s), args.repeats, args.batch_s)
    dec = _time_us(lambda: _decode_ue30(data), args.repeats, args.batch_s)
    slow = _time_us(lambda: _asn1tools_ue30(s["ue30"]), args.repeats, args.batch_s)
    ref = _time_us(lambda: _pycrate_indication_round_trip(data), args.repeats, args.batch_s)
    total_ms = (enc + dec) / 1000
    return {
        "kpm_ue30_encode_ms": round(enc / 1000, 3),
        "kpm_ue30_decode_ms": round(dec / 1000, 3),
        "kpm_ue30_codec_ms": round(total_ms, 3),
        "kpm_ue30_target_ms": KPM_UE30_TARGET_MS,
        "kpm_ue30_bytes": len(data),
        "kpm_ue30_e2sm_asn1tools_ms": round(slow / 1000, 3),
        "pycrate_ricindication_roundtrip_ms": round(ref / 1000, 3),
        "kpm_ue30_ratio_to_pycrate_ricindication": round(total_ms * 1000 / ref, 2),
    }


def _asn1tools_ue30(message: Any) -> object:
    """The E2SM format-3 message through asn1tools only (the fast path's reference)."""
    from ric import _asn1, kpm

    data = _asn1.encode("kpm", "E2SM-KPM-IndicationMessage", kpm._indication_to_asn(message))
    return kpm._indication_from_asn(_asn1.decode("kpm", "E2SM-KPM-IndicationMessage", data))


def _pycrate_indication_round_trip(data: bytes) -> object:
    from pycrate_asn1dir import E2AP

    pdu = E2AP.E2AP_PDU_Descriptions.E2AP_PDU
    pdu.from_aper(data)
    value = pdu.get_val()
    pdu.set_val(value)
    return pdu.to_aper()


MEASUREMENTS: list[Callable[[argparse.Namespace], dict[str, float]]] = [_codec_rows, _kpm_ue30]
"""Measurement functions; each returns unit-suffixed keys for the JSON object."""


def run(args: argparse.Namespace) -> int:
    out: dict[str, float] = {}
    for measure in MEASUREMENTS:
        out.update(measure(args))
    if args.json:
        print(json.dumps(out))
        return 0
    _print_table(out)
    return 0


def _print_table(out: dict[str, float]) -> None:
    rows = sorted({k[: -len("_encode_us")] for k in out if k.endswith("_encode_us")}, key=_row_order)
    print(f"{'case':<34} {'encode µs':>10} {'decode µs':>10} {'total µs':>10} {'bytes':>7}")
    for key in rows:
        enc, dec = out[f"{key}_encode_us"], out[f"{key}_decode_us"]
        print(f"{key:<34} {enc:10.1f} {dec:10.1f} {enc + dec:10.1f} {int(out[f'{key}_bytes']):7d}")
    print()
    ue30 = out["kpm_ue30_codec_ms"]
    verdict = "ok" if ue30 <= KPM_UE30_TARGET_MS else "OVER TARGET"
    print(
        f"UE-level KPM report, 30 UEs × 5 measurements, E2AP RIC Indication included: "
        f"{out['kpm_ue30_encode_ms']:.3f} ms encode + {out['kpm_ue30_decode_ms']:.3f} ms decode = "
        f"{ue30:.3f} ms ({verdict}; target ≤ {KPM_UE30_TARGET_MS:g} ms), {int(out['kpm_ue30_bytes'])} bytes"
    )
    print(f"  E2SM part through asn1tools only (no fast path): {out['kpm_ue30_e2sm_asn1tools_ms']:.3f} ms")
    print(
        f"  reference, bare pycrate RIC Indication round trip (same bytes): "
        f"{out['pycrate_ricindication_roundtrip_ms']:.3f} ms -> ratio "
        f"{out['kpm_ue30_ratio_to_pycrate_ricindication']:.2f}×"
    )
    extra = [k for k in out if not k.startswith(("e2ap_", "kpm_", "rc_", "pycrate_"))]
    for key in extra:
        print(f"{key}: {out[key]}")


def _row_order(key: str) -> tuple[int, str]:
    return (0 if key.startswith("e2ap_") else 1, key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2", description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
