"""E2 fuzzing: every decoder, and the live link into a running DU xApp and a running e2sim node.

Inputs are seeded, structure-aware mutations (byte overwrites, bit flips, insertions,
deletions, truncations, chunk repeats, splices of two seeds, APER length determinants and PER
fragment markers put in place) of real encodings: the captured interop PDUs of other stacks
(``--vectors``, default ``$METAHRL_SHARED_DIR/interop/e2`` or ``../shared/interop/e2``), our own
encoders' E2SM output, and E2AP PDUs built from those with the identifiers of the live session
below (its subscription's request ID, RAN function IDs, control requestor: `session_seeds`), so
that mutations reach the applications behind the link layer. A fixed ``--seed`` gives the same
inputs in the same order (``inputs_sha256`` in the report is their digest).

Two phases share ``--inputs`` (``--live-share`` of them go to the live link):

* **decoders** — E2AP (pycrate, and the ``ric._e2ap_fast`` hot-path codec), E2SM-KPM (RAN
  function description, event trigger, action definition, indication header and message, and
  the ``ric._kpm_fast`` indication decoder and format-3 unwrapping), E2SM-RC (control header,
  message, slice PRB quotas, outcome, RAN function definition) and the TCP framing (a mutated
  stream of length-prefixed frames fed in uneven chunks to ``ric.framing.LengthPrefixFramer``,
  every frame decoded as the links do). Each input runs under a per-input deadline
  (``--deadline-s``, SIGALRM). A *crash* is any exception other than the decoder's documented
  one (:class:`ric.errors.E2DecodeError`, a :class:`ric.errors.PeerError`; ``ValueError`` for the
  format-3 unwrapping; nothing at all for the fast KPM decoder, which returns ``None`` outside
  its subset).
* **live** — the DU xApp (``metahrl.xapp_setup.build_service``: direct E2 on an ephemeral
  loopback port, agents of ``--agent``, learning off) and ``e2sim``'s E2 nodes of the ``small``
  scenario (real-time pacing) run in this process and set up, subscribe and control each other
  over TCP (the xApp serves DU 0). Mutated frames are then written into DU 0's connection,
  alternately to the xApp (from the node's side: mutated indications, control acknowledges and
  failures, Error Indications with the session's IDs, and the interop PDUs) and to the node
  (from the xApp's side: mutated control, subscription and subscription-delete requests, and
  the interop PDUs), each awaited until the receiver has handled it (deadline
  ``--deadline-s``; a missed one is a *hang*). A crash here is an exception out of a receiver's
  PDU handler or in any event-loop callback. Then whole garbage streams go to the xApp's E2 port
  on fresh raw sockets (``--raw-connections``). Finally the link must still work: the xApp drops
  every E2 connection, and DU 0's node must reconnect and complete a fresh E2 Setup, the xApp
  must re-subscribe it and a RIC Control must be acknowledged (``link_ok``).

atheris has a wheel for this Python on the registry (3.0.0, cp311) but is not used: libFuzzer's
loop owns the process (it exits when done, so no report and no live phase after it) and its
coverage guidance would need the pure-Python codecs instrumented; the seeded mutator keeps runs
reproducible instead.

A hard hang (a decoder spinning in C code) cannot be interrupted by asyncio: as a backstop,
``faulthandler`` dumps every thread's stack and ends the process when a live input takes more
than 4 × ``--deadline-s``.

Exit status 1 when there is a crash, a hang, or a broken link. ``--json`` prints one object:
``inputs_total``, ``decoder_inputs_total``, ``live_inputs_total``, ``raw_connections_total``,
``crashes_total``, ``hangs_total``, ``peer_errors_total`` (inputs refused with the documented
error), ``decoded_total``, ``inputs_per_s``, ``decoder_inputs_per_s``, ``live_inputs_per_s``,
``max_input_ms``, ``link_ok``, ``seed``, ``inputs_sha256``, ``per_target`` (inputs, crashes, peer
errors per target) and ``crashes`` (the first reproducers: target, exception, hex input).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import hashlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ric import _e2ap_fast, _kpm_fast, e2ap, kpm, rc
from ric.cause import CauseRicRequest
from ric.e2sm_common import GnbDuUeId, Snssai
from ric.errors import E2DecodeError, PeerError
from ric.framing import HEADER_SIZE, LengthPrefixFramer, encode_frame
from ric.plmn import Plmn

__all__ = [
    "DecoderTarget",
    "FuzzReport",
    "Mutator",
    "add_arguments",
    "decoder_targets",
    "fuzz_decoders",
    "fuzz_live",
    "load_corpus",
    "own_seeds",
    "run",
    "session_seeds",
]

_log = logging.getLogger(__name__)
_REPO = Path(__file__).resolve().parents[1]
_KEPT_CRASHES = 20
_HEX_LIMIT = 4096  # hex characters of a reproducer kept in the report


# ---------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------


def default_vectors_dir() -> Path:
    shared = os.environ.get("METAHRL_SHARED_DIR")
    return (Path(shared) if shared else _REPO.parent / "shared") / "interop" / "e2"


def _vector_kind(name: str, protocol: str) -> str | None:
    if protocol.startswith("E2AP"):
        return "e2ap"
    for part, kind in (
        ("ranfunction_description", "kpm_description"),
        ("event_trigger", "kpm_trigger"),
        ("action_definition", "kpm_action"),
        ("indication_message", "kpm_message"),
        ("ranfunction_definition", "rc_definition"),
    ):
        if part in name:
            return kind
    if name.startswith("rc_"):
        return "rc_header" if "header" in name else "rc_message" if "control_message" in name else None
    return None


def _interop_seeds(directory: Path) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        kind = _vector_kind(str(raw["name"]), str(raw["protocol"]))
        if kind is not None:
            out.setdefault(kind, []).append(bytes.fromhex(raw["hex"]))
    return out


def own_seeds() -> dict[str, list[bytes]]:
    """Our encoders' output for every E2SM payload kind (E2AP comes from a live session)."""
    plmn = Plmn("001", "01")
    quota = rc.SlicePrbQuota(plmn, 1, 2, 10, 50, 20)
    names = list(kpm.MEASUREMENTS)
    ue_reports = tuple(
        kpm.UeMeasReport(
            GnbDuUeId(i),
            kpm.KpmIndicationFormat1(
                (kpm.MeasDataItem((i, 1.5, None, 7, 0.25)),), tuple(kpm.MeasInfo(n) for n in names), 1000
            ),
        )
        for i in range(4)
    )
    return {
        "kpm_description": [kpm.encode_ran_function_description(kpm.default_ran_function_description())],
        "kpm_trigger": [kpm.encode_event_trigger(kpm.KpmEventTrigger(10))],
        "kpm_action": [
            kpm.encode_action_definition(kpm.node_level_action(names[:2], 10, [Snssai(1, 2)])),
            kpm.encode_action_definition(kpm.ue_list_action(names, 10, [GnbDuUeId(1), GnbDuUeId(2)])),
        ],
        "kpm_header": [kpm.encode_indication_header(kpm.KpmIndicationHeader(123, "a", "b", "c", "d"))],
        "kpm_message": [
            kpm.encode_indication_message(kpm.KpmIndicationFormat3(ue_reports)),
            kpm.encode_indication_message(ue_reports[0].report),
        ],
        "rc_header": [rc.encode_control_header(rc.slice_prb_quota_header(GnbDuUeId(3)))],
        "rc_message": [rc.encode_slice_prb_quota([quota, quota])],
        "rc_outcome": [rc.encode_control_outcome(rc.RcControlOutcome((rc.RcOutcomeItem(1, 2),)))],
        "rc_definition": [rc.encode_ran_function_definition(rc.default_ran_function_definition())],
    }


def load_corpus(vectors: Path | None, wire: Sequence[bytes] = ()) -> dict[str, list[bytes]]:
    """Seeds per kind: our own E2SM encodings, the interop vectors, E2AP PDUs seen on a wire."""
    out = own_seeds()
    if vectors is not None and vectors.is_dir():
        for kind, seeds in _interop_seeds(vectors).items():
            out.setdefault(kind, []).extend(seeds)
    out.setdefault("e2ap", []).extend(wire)
    if not out["e2ap"]:  # no vectors and no session: at least our own Error Indication
        out["e2ap"].append(e2ap.encode_e2ap(e2ap.ErrorIndication(1, None, None, None)))
    pdus = out["e2ap"]
    out["frames"] = [b"".join(encode_frame(p) for p in pdus[i : i + 3]) for i in range(0, len(pdus), 2)]
    return out


def session_seeds(to_xapp: Sequence[bytes], to_node: Sequence[bytes]) -> dict[str, list[bytes]]:
    """E2AP seeds for each live receiver, built from our own E2SM encodings and the live
    session's identifiers only (the subscription's request ID, the RAN function IDs, the
    controls' requestor): the PDUs seen on the wire carry timing-dependent KPIs and decisions,
    so they are not used as they are, and the same ``--seed`` gives the same inputs on every
    run. Mutations of these get past the link layer into the applications."""
    own = own_seeds()
    ind = next((m for m in _decoded(to_xapp) if isinstance(m, e2ap.RicIndication)), None)
    ctrl = next((m for m in _decoded(to_node) if isinstance(m, e2ap.RicControlRequest)), None)
    if ind is None or ctrl is None:
        raise RuntimeError("the live session exchanged no indication and control to take IDs from")
    sub, kpm_fn, rc_fn = ind.request_id, ind.ran_function_id, ctrl.ran_function_id
    control = e2ap.RicRequestId(ctrl.request_id.requestor, 1)
    report = e2ap.RicIndicationType.REPORT
    header = own["kpm_header"][0]
    to_x: list[e2ap.E2apMessage] = [
        e2ap.RicIndication(sub, kpm_fn, ind.action_id, report, header, msg, sn=7)
        for msg in own["kpm_message"]
    ]
    to_x += [
        e2ap.RicControlAcknowledge(control, rc_fn, outcome=own["rc_outcome"][0]),
        e2ap.RicControlFailure(control, rc_fn, CauseRicRequest.CONTROL_MESSAGE_INVALID),
        e2ap.ErrorIndication(None, sub, kpm_fn, CauseRicRequest.UNSPECIFIED),
    ]
    ack = e2ap.RicControlAckRequest.ACK
    to_n: list[e2ap.E2apMessage] = [
        e2ap.RicControlRequest(control, rc_fn, own["rc_header"][0], own["rc_message"][0], ack_request=ack),
        e2ap.RicSubscriptionDeleteRequest(sub, kpm_fn),
    ]
    to_n += [
        e2ap.RicSubscriptionRequest(
            e2ap.RicRequestId(sub.requestor, 99), kpm_fn, own["kpm_trigger"][0],
            (e2ap.RicActionToBeSetup(1, e2ap.RicActionType.REPORT, action),),
        )
        for action in own["kpm_action"]
    ]  # fmt: skip
    return {
        "live_xapp": [e2ap.encode_e2ap(m) for m in to_x],
        "live_e2sim": [e2ap.encode_e2ap(m) for m in to_n],
    }


def _decoded(pdus: Sequence[bytes]) -> Iterator[e2ap.E2apMessage]:
    for pdu in pdus:
        with contextlib.suppress(E2DecodeError):
            yield e2ap.decode_e2ap(pdu)


# ---------------------------------------------------------------------------------------
# Mutation
# ---------------------------------------------------------------------------------------


_INTERESTING = (0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC1, 0xC4, 0xFE, 0xFF)


class Mutator:
    """Seeded, structure-aware mutations of seed encodings (1 to 4 edits each)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._ops: tuple[Callable[[bytearray, Sequence[bytes]], None], ...] = (
            self._set,
            self._flip,
            self._flip,
            self._insert,
            self._delete,
            self._truncate,
            self._repeat,
            self._splice,
            self._interesting,
            self._length,
        )

    def mutate(self, seeds: Sequence[bytes]) -> bytes:
        rng = self.rng
        if rng.random() < 0.03:
            return rng.randbytes(rng.randrange(0, 96))
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            rng.choice(self._ops)(data, seeds)
        return bytes(data)

    def _pos(self, data: bytearray) -> int:
        return self.rng.randrange(len(data)) if data else 0

    def _set(self, data: bytearray, _s: Sequence[bytes]) -> None:
        if data:
            data[self._pos(data)] = self.rng.randrange(256)

    def _flip(self, data: bytearray, _s: Sequence[bytes]) -> None:
        if data:
            data[self._pos(data)] ^= 1 << self.rng.randrange(8)

    def _insert(self, data: bytearray, _s: Sequence[bytes]) -> None:
        pos = self._pos(data)
        data[pos:pos] = self.rng.randbytes(self.rng.randint(1, 8))

    def _delete(self, data: bytearray, _s: Sequence[bytes]) -> None:
        pos = self._pos(data)
        del data[pos : pos + self.rng.randint(1, 8)]

    def _truncate(self, data: bytearray, _s: Sequence[bytes]) -> None:
        del data[self._pos(data) :]

    def _repeat(self, data: bytearray, _s: Sequence[bytes]) -> None:
        pos = self._pos(data)
        chunk = data[pos : pos + self.rng.randint(1, 32)]
        data[pos:pos] = chunk * self.rng.randint(1, 4)

    def _splice(self, data: bytearray, seeds: Sequence[bytes]) -> None:
        other = self.rng.choice(seeds)
        cut = self._pos(data)
        data[cut:] = other[self.rng.randrange(len(other) + 1) :]

    def _interesting(self, data: bytearray, _s: Sequence[bytes]) -> None:
        if data:
            data[self._pos(data)] = self.rng.choice(_INTERESTING)

    def _length(self, data: bytearray, _s: Sequence[bytes]) -> None:
        """A two-octet APER length determinant (up to 16383) where a length may be."""
        if data:
            pos = self._pos(data)
            data[pos : pos + 2] = bytes((0x80 | self.rng.randrange(64), self.rng.randrange(256)))


# ---------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------


@dataclass
class TargetStats:
    inputs: int = 0
    crashes: int = 0
    peer_errors: int = 0


@dataclass
class FuzzReport:
    seed: int
    decoder_inputs: int = 0
    live_inputs: int = 0
    raw_connections: int = 0
    crashes: int = 0
    hangs: int = 0
    peer_errors: int = 0
    decoded: int = 0
    decoder_s: float = 0.0
    live_s: float = 0.0
    max_input_s: float = 0.0
    link_ok: bool | None = None
    digest: Any = field(default_factory=hashlib.sha256)  # of every input, in order
    per_target: dict[str, TargetStats] = field(default_factory=dict)
    reproducers: list[dict[str, str]] = field(default_factory=list)

    def target(self, name: str) -> TargetStats:
        return self.per_target.setdefault(name, TargetStats())

    def crash(self, target: str, exc: BaseException | str, data: bytes | None) -> None:
        self.crashes += 1
        self.target(target).crashes += 1
        what = exc if isinstance(exc, str) else f"{type(exc).__qualname__}: {exc}"
        _log.error("fuzz-e2: crash in %s: %s (input %s)", target, what, None if data is None else data.hex())
        if len(self.reproducers) < _KEPT_CRASHES:
            hexed = "" if data is None else data.hex()[:_HEX_LIMIT]
            self.reproducers.append({"target": target, "exception": what[:500], "input_hex": hexed})

    def as_json(self) -> dict[str, Any]:
        total = self.decoder_inputs + self.live_inputs
        elapsed = self.decoder_s + self.live_s
        return {
            "inputs_total": total,
            "decoder_inputs_total": self.decoder_inputs,
            "live_inputs_total": self.live_inputs,
            "raw_connections_total": self.raw_connections,
            "crashes_total": self.crashes,
            "hangs_total": self.hangs,
            "peer_errors_total": self.peer_errors,
            "decoded_total": self.decoded,
            "inputs_per_s": round(total / elapsed, 1) if elapsed else 0.0,
            "decoder_inputs_per_s": round(self.decoder_inputs / self.decoder_s, 1) if self.decoder_s else 0.0,
            "live_inputs_per_s": round(self.live_inputs / self.live_s, 1) if self.live_s else 0.0,
            "max_input_ms": round(self.max_input_s * 1e3, 3),
            "link_ok": self.link_ok,
            "seed": self.seed,
            "inputs_sha256": self.digest.hexdigest(),
            "per_target": {k: asdict(v) for k, v in sorted(self.per_target.items())},
            "crashes": self.reproducers,
        }

    @property
    def ok(self) -> bool:
        return self.crashes == 0 and self.hangs == 0 and self.link_ok is not False


# ---------------------------------------------------------------------------------------
# Decoder phase
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecoderTarget:
    """A decoder, the corpus kind its inputs are mutated from, and the errors it documents."""

    name: str
    kind: str
    decode: Callable[[bytes], object]
    allowed: tuple[type[Exception], ...] = (E2DecodeError,)


_CHUNKS = (1, 3, 7, 64, 4096)


def decode_stream(data: bytes) -> int:
    """Feed ``data`` to a framer in uneven chunks and decode every frame as a link does."""
    framer = LengthPrefixFramer(max_frame=1 << 16)
    frames, pos, i = 0, 0, 0
    while pos < len(data):
        step = _CHUNKS[(data[pos] + i) % len(_CHUNKS)]
        framer.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
        while True:
            try:
                frame = framer.next_frame()
            except PeerError:  # an oversized frame: skipped, the stream goes on
                continue
            if frame is None:
                break
            frames += 1
            with contextlib.suppress(E2DecodeError):
                _e2ap_fast.decode(frame)
    if framer.buffered > len(data) + HEADER_SIZE:
        raise AssertionError(f"framer holds {framer.buffered} bytes of a {len(data)}-byte stream")
    return frames


def decoder_targets() -> list[DecoderTarget]:
    return [
        DecoderTarget("e2ap", "e2ap", e2ap.decode_e2ap),
        DecoderTarget("e2ap_fast", "e2ap", _e2ap_fast.decode),
        DecoderTarget("framing", "frames", decode_stream, (PeerError,)),
        DecoderTarget("kpm_description", "kpm_description", kpm.decode_ran_function_description),
        DecoderTarget("kpm_trigger", "kpm_trigger", kpm.decode_event_trigger),
        DecoderTarget("kpm_action", "kpm_action", kpm.decode_action_definition),
        DecoderTarget("kpm_header", "kpm_header", kpm.decode_indication_header),
        DecoderTarget("kpm_message", "kpm_message", kpm.decode_indication_message),
        DecoderTarget("kpm_fast_message", "kpm_message", _kpm_fast.decode_indication, ()),
        DecoderTarget("kpm_fast_unwrap", "kpm_message", _kpm_fast.unwrap_format3, (ValueError,)),
        DecoderTarget("rc_header", "rc_header", rc.decode_control_header),
        DecoderTarget("rc_message", "rc_message", rc.decode_control_message),
        DecoderTarget("rc_slice_quota", "rc_message", rc.decode_slice_prb_quota),
        DecoderTarget("rc_outcome", "rc_outcome", rc.decode_control_outcome),
        DecoderTarget("rc_definition", "rc_definition", rc.decode_ran_function_definition),
    ]


class _Hang(Exception):
    """Raised by SIGALRM when one input outlives its deadline."""


@contextlib.contextmanager
def _alarm(deadline_s: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"still decoding after {deadline_s} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _one(target: DecoderTarget, data: bytes, deadline_s: float, report: FuzzReport) -> None:
    report.digest.update(data)
    stats = report.target(target.name)
    stats.inputs += 1
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, deadline_s)
    try:
        target.decode(data)
        report.decoded += 1
    except _Hang:
        report.hangs += 1
        report.crash(target.name, f"hang: no result within {deadline_s} s", data)
    except target.allowed:
        report.peer_errors += 1
        stats.peer_errors += 1
    except Exception as exc:  # the finding this fuzzer looks for
        report.crash(target.name, exc, data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    report.max_input_s = max(report.max_input_s, time.perf_counter() - t0)


def fuzz_decoders(
    n: int,
    corpus: dict[str, list[bytes]],
    rng: random.Random,
    report: FuzzReport,
    deadline_s: float = 2.0,
    targets: Sequence[DecoderTarget] | None = None,
) -> None:
    """``n`` mutated inputs, round robin over the decoder targets (default: every one)."""
    targets = [t for t in (targets or decoder_targets()) if corpus.get(t.kind)]
    mutator = Mutator(rng)
    t0 = time.perf_counter()
    with _alarm(deadline_s):
        for i in range(n):
            target = targets[i % len(targets)]
            _one(target, mutator.mutate(corpus[target.kind]), deadline_s, report)
    report.decoder_inputs += n
    report.decoder_s += time.perf_counter() - t0


# ---------------------------------------------------------------------------------------
# Live phase
# ---------------------------------------------------------------------------------------


class _Tap:
    """Wraps a channel's PDU handler: records PDUs, reports an awaited one, catches crashes."""

    def __init__(self, inner: Any, name: str, report: FuzzReport) -> None:
        self.inner = inner
        self.name = name
        self.report = report
        self.recorded: list[bytes] | None = []
        self.awaited: bytes | None = None
        self.arrived = asyncio.Event()

    def pdu_received(self, pdu: bytes) -> None:
        if self.recorded is not None and len(self.recorded) < 64:
            self.recorded.append(pdu)
        try:
            self.inner.pdu_received(pdu)
        except Exception as exc:  # the finding this fuzzer looks for
            self.report.crash(self.name, exc, pdu)
        finally:
            if self.awaited is not None and pdu == self.awaited:
                self.awaited = None
                self.arrived.set()

    def frame_error(self, error: PeerError) -> None:
        self.inner.frame_error(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


@dataclass
class _Live:
    service: Any
    nodes: Any
    node_name: str
    report: FuzzReport
    running: asyncio.Task[Any]
    taps: dict[str, tuple[Any, _Tap]] = field(default_factory=dict)  # target -> (channel, tap)

    def xapp_channel(self) -> Any:
        handle = self.service.e2.server.nodes[self.node_name]
        return handle._conn.channel  # the accepted connection (no public accessor; harness only)

    def node_channel(self) -> Any:
        return self.nodes.clients[0].channel

    def tap(self) -> None:
        """(Re)wrap both ends' handlers on the current connection."""
        for target, channel in (("live_xapp", self.xapp_channel()), ("live_e2sim", self.node_channel())):
            tapped = self.taps.get(target)
            if tapped is not None and tapped[0] is channel:
                continue
            tap = _Tap(channel.handler, target, self.report)
            channel.handler = tap
            self.taps[target] = (channel, tap)

    def injector(self, target: str) -> Any:
        return self.node_channel() if target == "live_xapp" else self.xapp_channel()


def _quiet_logs() -> None:
    for name in ("ric", "xapps", "e2sim", "metahrl"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _loop_errors(report: FuzzReport) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        report.crash(
            "event_loop", exc if isinstance(exc, BaseException) else str(context.get("message")), None
        )

    return handler


async def _start(args: argparse.Namespace, report: FuzzReport) -> _Live:
    from e2sim.core import Simulator
    from e2sim.e2node import E2SimConfig, E2SimNodes
    from e2sim.scenario import load_scenario
    from metahrl.xapp_setup import build_service
    from xapps.service.settings import XappSettings

    settings = XappSettings.model_validate(
        {
            "scenario": str(_REPO / "experiments" / "scenarios" / "small.yaml"),
            "agent": args.agent,
            "du": [0],
            "seed": args.seed,
            "e2": {"listen_port": 0},
            "learning": {"mode": "off", "explore": False},
            "control": {"kpm_period_ms": args.kpm_period_ms},
        }
    )
    service: Any = build_service(settings).service  # direct E2: service.e2 is a DirectE2
    await service.start()
    sim = Simulator(load_scenario(settings.scenario), seed=args.seed)
    config = E2SimConfig(
        ric_port=service.e2.port,
        realtime=True,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        progress_every_s=1e9,
    )
    nodes = E2SimNodes(sim, config)
    live = _Live(service, nodes, nodes.nodes[0].name, report, asyncio.create_task(nodes.run()))
    await service.wait_decisions(3, 60)
    return live


async def _inject(live: _Live, target: str, data: bytes, deadline_s: float) -> None:
    channel, tap = live.taps[target]
    report = live.report
    report.digest.update(data)
    stats = report.target(target)
    stats.inputs += 1
    tap.arrived.clear()
    tap.awaited = data
    link = tap.inner.link  # the receiving side's sans-IO link (RicLink or NodeLink)
    refused = link.counters.peer_errors
    t0 = time.perf_counter()
    faulthandler.dump_traceback_later(4 * deadline_s + 5, exit=True, file=2)
    try:
        if not live.injector(target).send_pdu(data):
            raise ConnectionError("the injecting side's channel is closed")
        async with asyncio.timeout(deadline_s):
            await tap.arrived.wait()
    except TimeoutError:
        if not channel.is_closing():
            report.hangs += 1
            report.crash(target, f"hang: not handled within {deadline_s} s", data)
    finally:
        faulthandler.cancel_dump_traceback_later()
        tap.awaited = None
    if link.counters.peer_errors > refused:
        report.peer_errors += 1
        stats.peer_errors += 1
    report.max_input_s = max(report.max_input_s, time.perf_counter() - t0)


async def _reconnected(live: _Live, timeout_s: float) -> None:
    """Both ends up again on a fresh connection, taps on it."""
    async with asyncio.timeout(timeout_s):
        await live.nodes.clients[0].wait_established()
        await live.service.e2.server.wait_for_node(live.node_name)
    live.tap()


async def _fuzz_connection(
    live: _Live, n: int, rng: random.Random, corpus: dict[str, list[bytes]], deadline_s: float
) -> None:
    mutator = Mutator(rng)
    seeds = {target: corpus[target] + corpus["e2ap"] for target in ("live_xapp", "live_e2sim")}
    for i in range(n):
        target = "live_xapp" if i % 2 == 0 else "live_e2sim"
        channel = live.taps[target][0]
        if channel.is_closing() or live.injector(target).is_closing():
            _log.warning("fuzz-e2: the connection closed during fuzzing; waiting for the reconnection")
            await _reconnected(live, 30)
        await _inject(live, target, mutator.mutate(seeds[target]), deadline_s)
        live.report.live_inputs += 1
        if i % 64 == 63:
            await asyncio.sleep(0)  # let the real traffic and timers run between bursts


async def _raw_streams(
    port: int, count: int, rng: random.Random, corpus: dict[str, list[bytes]], report: FuzzReport
) -> None:
    """Whole garbage byte streams (mutated framed PDUs) on fresh connections to the xApp's port."""
    mutator = Mutator(rng)
    loop = asyncio.get_running_loop()
    for _ in range(count):
        stream = b"".join(mutator.mutate(corpus["frames"]) for _ in range(rng.randint(1, 8)))
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        try:
            await loop.sock_sendall(sock, stream)
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(0.05):  # read what it answers, briefly
                    await loop.sock_recv(sock, 65536)
        except OSError:
            pass  # the server may close a connection it cannot make sense of
        finally:
            sock.close()
        report.raw_connections += 1
        report.target("live_xapp_raw").inputs += 1


async def _link_still_works(live: _Live, timeout_s: float) -> bool:
    """Every node dropped; each must set up afresh, be re-subscribed and get a control acked."""
    service = live.service
    rt = next(iter(service.dus.values()))
    setups = live.nodes.clients[0].counters.setups
    await service.e2.server.disconnect_all()
    try:
        async with asyncio.timeout(timeout_s):
            while live.nodes.clients[0].counters.setups <= setups:
                await live.nodes.clients[0].wait_established()
                if live.nodes.clients[0].counters.setups <= setups:
                    await live.nodes.clients[0].wait_disconnected()
            subscribed, acked = rt.counters.subscriptions, rt.counters.acknowledged
            while rt.counters.subscriptions <= subscribed or rt.counters.acknowledged <= acked:
                await asyncio.sleep(0.05)
    except TimeoutError:
        _log.error("fuzz-e2: the link did not come back within %.0f s", timeout_s)
        return False
    return True


async def fuzz_live(
    args: argparse.Namespace, n: int, corpus: dict[str, list[bytes]], report: FuzzReport
) -> list[bytes]:
    """The live phase; returns its session seeds (`session_seeds`, also seeds for the decoders)."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_errors(report))
    rng = random.Random(args.seed + 1)
    live = await _start(args, report)
    try:
        live.tap()
        await live.service.wait_decisions(6, 60)  # a few more real PDUs recorded in both directions
        session = session_seeds(*(live.taps[t][1].recorded or [] for t in ("live_xapp", "live_e2sim")))
        for _channel, tap in live.taps.values():
            tap.recorded = None
        wire = [p for pdus in session.values() for p in pdus]
        t0 = time.perf_counter()
        await _fuzz_connection(live, n, rng, corpus | session, args.deadline_s)
        await _raw_streams(live.service.e2.port, args.raw_connections, rng, load_corpus(None, wire), report)
        report.live_s += time.perf_counter() - t0
        report.link_ok = await _link_still_works(live, 60)
        return wire
    finally:
        live.nodes.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(live.running, 10)
        await live.service.close()


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0)")
    p.add_argument(
        "--live-share",
        type=float,
        default=0.2,
        help="fraction of --inputs sent over the live link (default 0.2; 0 skips the live phase)",
    )
    p.add_argument(
        "--raw-connections", type=int, default=50, help="raw garbage connections to the xApp (default 50)"
    )
    p.add_argument("--deadline-s", type=float, default=2.0, help="per-input deadline: a longer one is a hang")
    p.add_argument("--agent", default="tiny", help="training config of the xApp's agents (default tiny)")
    p.add_argument("--kpm-period-ms", type=int, default=20, help="the live xApp's KPM period (default 20)")
    p.add_argument(
        "--vectors", type=Path, default=None, help="interop vector directory (default: shared/interop/e2)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _validate(args: argparse.Namespace) -> str | None:
    if args.inputs < 1:
        return f"--inputs: must be at least 1, got {args.inputs}"
    if not 0.0 <= args.live_share <= 1.0:
        return f"--live-share: must be within 0..1, got {args.live_share}"
    if args.deadline_s <= 0:
        return f"--deadline-s: must be positive, got {args.deadline_s}"
    if args.vectors is not None and not args.vectors.is_dir():
        return f"--vectors: {args.vectors} is not a directory"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _validate(args)
    if problem is not None:
        print(f"metahrl bench fuzz-e2: {problem}", file=sys.stderr)
        return 2
    _quiet_logs()
    report = FuzzReport(seed=args.seed)
    live_n = round(args.inputs * args.live_share)
    vectors = args.vectors or default_vectors_dir()
    corpus = load_corpus(vectors)
    if live_n:
        corpus = load_corpus(vectors, asyncio.run(fuzz_live(args, live_n, corpus, report)))
    fuzz_decoders(args.inputs - live_n, corpus, random.Random(args.seed), report, args.deadline_s)
    out = report.as_json()
    if args.json:
        print(json.dumps(out))
    else:
        _print_table(out)
    return 0 if report.ok else 1


def _print_table(out: dict[str, Any]) -> None:
    for key, value in out.items():
        if key == "per_target":
            for name, stats in value.items():
                counts = f"inputs {stats['inputs']:>8}  peer errors {stats['peer_errors']:>8}"
                print(f"  {name:<18} {counts}  crashes {stats['crashes']}")
        elif key == "crashes":
            for c in value:
                print(f"  CRASH {c['target']}: {c['exception']}\n    input {c['input_hex'][:200]}")
        else:
            print(f"{key:<24} {value}")
