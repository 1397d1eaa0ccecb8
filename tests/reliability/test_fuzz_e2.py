"""`metahrl bench fuzz-e2`: a short seeded slice of the E2 fuzzer, and proof it can find faults.

The slice runs the real command (every decoder, the live xApp ↔ e2sim link, raw garbage
connections, the link re-established afterwards). The other tests plant a crash and a hang in a
decoder and a crash behind a live receiver, to show those outcomes are counted, not missed.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from benchmarks import fuzz_e2
from benchmarks.fuzz_e2 import DecoderTarget, FuzzReport, Mutator, _Tap, fuzz_decoders, load_corpus
from metahrl.cli import main
from ric.errors import E2DecodeError


def test_seeded_slice_finds_no_crash_no_hang_and_the_link_still_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc = main(
        [
            "bench",
            "fuzz-e2",
            "--inputs",
            "3000",
            "--seed",
            "7",
            "--live-share",
            "0.3",
            "--raw-connections",
            "10",
            # a hang never ends; 5 s only keeps a CI host shared by other jobs from looking like one
            # (the slowest input seen under a load average of 9 on 2 cores took 0.7 s)
            "--deadline-s",
            "5",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = {k: v for k, v in out.items() if k != "per_target"}
    assert out["crashes"] == [] and out["crashes_total"] == 0 and out["hangs_total"] == 0, summary
    assert out["inputs_total"] == 3000 and out["live_inputs_total"] == 900, summary
    assert out["raw_connections_total"] == 10 and out["link_ok"] is True and rc == 0, summary
    targets = out["per_target"]
    expected = {t.name for t in fuzz_e2.decoder_targets()} | {"live_xapp", "live_e2sim", "live_xapp_raw"}
    assert expected <= set(targets)  # every decoder and both live receivers got inputs
    assert all(targets[t]["inputs"] > 0 for t in expected), targets
    # Mutations are not all trivially rejected (nor all accepted): both outcomes occur.
    assert 0 < out["peer_errors_total"] < out["inputs_total"] and out["decoded_total"] > 0, summary


def _digest(capsys: pytest.CaptureFixture[str], seed: int) -> str:
    assert (
        main(["bench", "fuzz-e2", "--inputs", "600", "--seed", str(seed), "--live-share", "0", "--json"]) == 0
    )
    return str(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["inputs_sha256"])


def test_the_inputs_are_reproducible_from_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert _digest(capsys, 5) == _digest(capsys, 5) != _digest(capsys, 6)


def test_same_seed_same_inputs() -> None:
    corpus = load_corpus(None)
    first, second = Mutator(random.Random(3)), Mutator(random.Random(3))
    a = [first.mutate(corpus["rc_message"]) for _ in range(200)]
    b = [second.mutate(corpus["rc_message"]) for _ in range(200)]
    assert a == b and len(set(a)) > 150  # deterministic, and not the same input over and over


def _planted(data: bytes) -> object:
    if len(data) % 5 == 0:
        raise KeyError("planted")  # a crash: not the documented peer error
    raise E2DecodeError("refused")


def test_a_planted_crash_is_counted_with_its_reproducer() -> None:
    report = FuzzReport(seed=0)
    target = DecoderTarget("planted", "rc_message", _planted)
    fuzz_decoders(200, load_corpus(None), random.Random(0), report, targets=[target])
    assert report.crashes > 0 and report.peer_errors == 200 - report.crashes
    repro = report.reproducers[0]
    assert repro["target"] == "planted" and "KeyError" in repro["exception"]
    assert len(bytes.fromhex(repro["input_hex"])) % 5 == 0  # the very input that crashed
    assert not report.ok


def test_a_planted_hang_is_cut_by_the_deadline() -> None:
    def slow(data: bytes) -> object:
        time.sleep(5)  # interrupted by the 0.05 s per-input deadline
        return None

    report = FuzzReport(seed=0)
    t0 = time.perf_counter()
    fuzz_decoders(
        3,
        load_corpus(None),
        random.Random(0),
        report,
        deadline_s=0.05,
        targets=[DecoderTarget("slow", "rc_header", slow)],
    )
    assert report.hangs == 3 and report.crashes == 3
    assert time.perf_counter() - t0 < 4  # three deadlines, not three 5 s sleeps (generous: shared CPUs)


class _Exploding:
    def pdu_received(self, pdu: bytes) -> None:
        raise IndexError("planted")


def test_a_crash_behind_a_live_receiver_is_counted() -> None:
    report = FuzzReport(seed=0)
    tap = _Tap(_Exploding(), "live_xapp", report)
    tap.awaited = b"\x01\x02"
    tap.pdu_received(b"\x01\x02")  # swallowed and counted, so the run goes on
    assert report.crashes == 1 and report.reproducers[0]["input_hex"] == "0102"
    assert tap.arrived.is_set()  # the waiter is released either way: a crash is not a hang


# Found by this fuzzer (seed 7 slice): an E2 Setup Request whose NG component (AMF) name holds
# '|' — pycrate decodes it, but cannot encode the Setup Response that echoes the name back, so
# the RIC's accept_setup raised E2EncodeError out of the connection's PDU handler.
_BAD_AMF_NAME_SETUP = (
    "0001008240000004003100020001000300090037343738b5c67788000a0081ff0000080081f900000081e920c04f52414e2d4532"
    "534d2d4b504d0000054f494431323305004b504d206d6f6e69746f7208dc2bdae3aed14d00600001010700506572696f646963"
    "207265706f727401051401011d004f2d4455204d6561737572656d656e7420436f6e7461696e657220666f7220746865203547"
    "4320636f6e6e6563746564206465706c6f796d656e74010101010001021d004f2d4455204d6561737572656d656e7420436f6e"
    "7461696e657220666f72207468652045504320636f6e6e6563746564206465706c6f796d656e74010101010001031e804f2d43"
    "552d4350204d6561737572656d656e7420436f6e7461696e657220666f72207468652035474320636f6e6e6563746564206465"
    "706c6f796d656e74010101010001041e804f2d43552d4350204d6561737572656d656e7420436f6e7461696e657220666f7220"
    "7468652045504320636f6e6e6563746564206465706c6f796d656e74010101010001051e804f2d43552d5550204d6561737572"
    "656d656e7420436f6e7461696e657220666f72207468652035474320636f6e6e6563746564206465706c6f796d656e74010101"
    "010001061e804f2d43552d5550204d6561737572656d656e7420436f6e7461696e655220666f72207468652045504320636f6e"
    "6e6563746564206465706cb1796d656e740101010100020000054f49443132330032002200000033001c0000e06e67696e7c65"
    "72660007726571706172740772657370617274"
)


def test_a_setup_request_with_a_non_printable_amf_name_is_refused_not_crashed() -> None:
    from ric import e2ap
    from ric.cause import CauseProtocol
    from ric.e2ap import ErrorIndication, GlobalRicId
    from ric.events import SetupRequested
    from ric.link import RicLink
    from ric.plmn import Plmn

    data = bytes.fromhex(_BAD_AMF_NAME_SETUP)
    with pytest.raises(E2DecodeError, match="non-printable"):
        e2ap.decode_e2ap(data)
    link = RicLink(GlobalRicId(Plmn("001", "01"), 7), 42)
    link.receive_pdu(data, 0.0)  # no exception: a peer error, answered on the wire
    assert not any(isinstance(e, SetupRequested) for e in link.events())
    (answer,) = [e2ap.decode_e2ap(p) for p in link.data_to_send()]
    assert isinstance(answer, ErrorIndication) and answer.transaction_id == 1
    assert answer.cause is CauseProtocol.ABSTRACT_SYNTAX_ERROR_FALSELY_CONSTRUCTED_MESSAGE


def test_live_seeds_carry_the_sessions_ids_and_nothing_timing_dependent() -> None:
    from ric import e2ap

    sub, ctl = e2ap.RicRequestId(42, 3), e2ap.RicRequestId(42, 917)
    seen_by_xapp = [
        e2ap.encode_e2ap(
            e2ap.RicIndication(sub, 2, 1, e2ap.RicIndicationType.REPORT, b"h%d" % i, b"m%d" % i, sn=i)
        )
        for i in range(3)  # KPIs that differ from run to run
    ]
    seen_by_node = [e2ap.encode_e2ap(e2ap.RicControlRequest(ctl, 3, b"hdr", b"msg"))]
    seeds = fuzz_e2.session_seeds(seen_by_xapp, seen_by_node)
    other = [e2ap.encode_e2ap(e2ap.RicIndication(sub, 2, 1, e2ap.RicIndicationType.REPORT, b"x", b"y", sn=9))]
    assert seeds == fuzz_e2.session_seeds(other, seen_by_node)  # only the IDs are taken
    to_xapp = [e2ap.decode_e2ap(p) for p in seeds["live_xapp"]]
    assert any(isinstance(m, e2ap.RicIndication) and m.request_id == sub for m in to_xapp)
    to_node = [e2ap.decode_e2ap(p) for p in seeds["live_e2sim"]]
    assert any(isinstance(m, e2ap.RicControlRequest) and m.request_id.requestor == 42 for m in to_node)
    with pytest.raises(RuntimeError, match="no indication and control"):
        fuzz_e2.session_seeds([], seen_by_node)
