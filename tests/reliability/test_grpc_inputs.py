"""Bad input to the meta-controller's gRPC service, property-based, over a real grpc.aio server.

The server (per-DU tokens on, MemorySdl, rounds that never close: ``min_updates`` far above the
DUs used) runs on an ephemeral loopback port in its own event-loop thread; the test calls it
through synchronous stubs. Every request is built around a valid one with one or more fields
made malformed, oversized, of the wrong dtype, non-finite, of the wrong layout, replayed or out
of round. Properties: the status code is the documented one for what is wrong (never UNKNOWN
or INTERNAL, which would mean an unhandled exception), and nothing is applied — θ_M, the
meta-version and the round's accepted updates stay as they were.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import torch
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from meta_controller.algorithm import GROUPS, MetaConfig
from meta_controller.metrics import ControllerMetrics
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.proto_gen import metahrl_pb2_grpc as pb_grpc
from meta_controller.rounds import RoundConfig, Rounds
from meta_controller.service import CHANNEL_OPTIONS, DU_METADATA, MAX_MESSAGE_BYTES, Controller, create_server
from meta_controller.store import MetaStore
from meta_controller.wire import encode, layout_hash, layout_spec, sha256
from ric.sdl import MemorySdl
from tests.meta_service.helpers import layout, make_update, theta0

CHUNK = 1024
N_DUS = 400  # a fresh DU per example (an accepted update would make the next a duplicate)
TOKENS = {f"du{i}": secrets.token_hex(16) for i in range(N_DUS)}  # generated at run time
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
C = grpc.StatusCode
NEVER = {C.UNKNOWN, C.INTERNAL, C.UNIMPLEMENTED, C.DATA_LOSS}  # an unhandled exception or worse


@dataclass
class Served:
    controller: Controller
    registry: CollectorRegistry
    stub: pb_grpc.MetaControllerStub
    channel: grpc.Channel
    loop: asyncio.AbstractEventLoop
    next_du: Iterator[int]

    def fresh_du(self) -> str:
        du = f"du{next(self.next_du)}"
        self.call("RegisterTask", _register(du), du)
        return du

    def call(self, method: str, request: Any, du: str | None, token: str | None = None) -> Any:
        md = [] if du is None else [(DU_METADATA, du), ("authorization", f"Bearer {token or TOKENS[du]}")]
        return getattr(self.stub, method)(request, metadata=md, timeout=10)

    def code_of(self, method: str, request: Any, du: str | None, token: str | None = None) -> grpc.StatusCode:
        try:
            self.call(method, request, du, token)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return, unused-ignore]
        return C.OK

    def state(self) -> tuple[int, int, tuple[str, ...], bytes]:
        """(version, round, DUs with an accepted update, θ_M bytes) — read on the server's loop."""

        async def read() -> tuple[int, int, tuple[str, ...], bytes]:
            r = self.controller.rounds
            return r.version, r.round, tuple(sorted(r.reporting)), r.theta_flat.numpy().tobytes()

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(10)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="meta-grpc", daemon=True)
    thread.start()

    registry = CollectorRegistry()

    async def start() -> tuple[Controller, Any, int]:
        rounds = Rounds(theta0(), MetaConfig(), RoundConfig(min_updates=10_000, max_chunk_bytes=CHUNK))
        controller = Controller(
            rounds, MetaStore(MemorySdl(), "fuzz"), ControllerMetrics(registry), tokens=TOKENS
        )
        await controller.start()
        server, port = create_server(controller, "127.0.0.1:0", insecure=True)
        await server.start()
        return controller, server, port

    controller, server, port = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)
    yield Served(controller, registry, pb_grpc.MetaControllerStub(channel), channel, loop, iter(range(N_DUS)))
    channel.close()

    async def stop() -> None:
        await controller.stop()
        await server.stop(grace=1.0)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _register(
    du: str, spec: list[tuple[str, tuple[int, ...]]] | None = None, digest: str | None = None
) -> Any:
    spec = layout_spec(layout()) if spec is None else spec
    tensors = [pb.TensorSpec(name=n, shape=list(s)) for n, s in spec]
    return pb.RegisterTaskRequest(
        du_id=du,
        task_json="{}",
        layout=pb.ParamLayout(tensors=tensors, sha256=digest or layout_hash(layout())),
    )


def _td(variance: float = 1.0) -> list[Any]:
    return [pb.TdStat(group=g, variance=variance, count=10) for g in GROUPS]


def _begin(du: str, data: bytes, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "du_id": du, "round": 0, "base_version": 0, "dtype": pb.FLOAT32, "total_bytes": len(data),
        "chunk_bytes": CHUNK, "sha256": sha256(data), "td": _td(), "samples": 64,
    }  # fmt: skip
    values.update(fields)
    return pb.BeginUpdateRequest(**values)


def _upload_all(served: Served, du: str, upload_id: str, data: bytes) -> None:
    for i in range(-(-len(data) // CHUNK)):
        part = data[i * CHUNK : (i + 1) * CHUNK]
        served.call(
            "UploadChunk",
            pb.UploadChunkRequest(upload_id=upload_id, index=i, data=part, sha256=sha256(part)),
            du,
        )


def _good_data(seed: int = 0) -> bytes:
    return encode(make_update(seed).grads, layout(), "float32")


# ---- BeginUpdate headers ---------------------------------------------------------------------

_FLOATS = st.sampled_from([1.0, 0.0, math.nan, math.inf, -math.inf, -1.0, 1e308, -0.0])
_HEADER = st.fixed_dictionaries(
    {},
    optional={
        "round": st.sampled_from([1, 7, 2**63]),
        "base_version": st.sampled_from([1, 5, 2**64 - 1]),
        "dtype": st.sampled_from([0, pb.BFLOAT16, 3, 99]),
        "total_bytes": st.sampled_from([0, 4, 2**40, 2**64 - 1]),
        "chunk_bytes": st.sampled_from([0, 1, 3, CHUNK + 4, 2**32 - 1]),
        "sha256": st.binary(max_size=40).filter(lambda b: len(b) != 32),
        "td": st.one_of(
            st.just([]),
            _FLOATS.map(_td),
            st.lists(
                st.builds(pb.TdStat, group=st.sampled_from([*GROUPS, "nope"]), variance=_FLOATS), max_size=6
            ),
        ),
    },
)


def _header_is_valid(fields: dict[str, Any]) -> bool:
    """Whether a header with these overrides is acceptable (rounds: round 0 on version 0)."""
    if any(k in fields for k in ("round", "base_version", "total_bytes", "chunk_bytes", "sha256")):
        return False
    if fields.get("dtype", pb.FLOAT32) != pb.FLOAT32:  # BFLOAT16: total_bytes is float32's
        return False
    td = fields.get("td")
    if td is None:
        return True
    return (
        {s.group for s in td} == set(GROUPS)
        and len(td) == len(GROUPS)
        and all(math.isnan(s.variance) or (math.isfinite(s.variance) and s.variance >= 0) for s in td)
    )


def _expected_codes(fields: dict[str, Any]) -> set[grpc.StatusCode]:
    if fields.get("dtype", pb.FLOAT32) not in (pb.FLOAT32, pb.BFLOAT16):
        return {C.INVALID_ARGUMENT}  # an unknown dtype enum value is refused first
    if "round" in fields or "base_version" in fields:
        return {C.FAILED_PRECONDITION}  # out of round / stale base version, checked first
    return {C.INVALID_ARGUMENT}


@FUZZ
@given(fields=_HEADER)
def test_bad_update_headers_are_refused_with_their_code(served: Served, fields: dict[str, Any]) -> None:
    du, data = served.fresh_du(), _good_data()
    before = served.state()
    code = served.code_of("BeginUpdate", _begin(du, data, **fields), du)
    assert code not in NEVER
    if _header_is_valid(fields):
        assert code is C.OK
    else:
        assert code in _expected_codes(fields), (code, fields)
    assert served.state() == before  # a header alone applies nothing


# ---- whole uploads with a bad payload -------------------------------------------------------

_POISON = st.sampled_from([math.nan, math.inf, -math.inf])


@FUZZ
@given(position=st.integers(0, layout().numel - 1), value=_POISON)
def test_non_finite_values_are_refused_at_commit_naming_the_tensor(
    served: Served, position: int, value: float
) -> None:
    du = served.fresh_du()
    flat = layout().flatten(make_update(position).grads)
    flat[position] = value
    data = encode(flat, layout(), "float32")
    before = served.state()
    resp = served.call("BeginUpdate", _begin(du, data), du)
    _upload_all(served, du, resp.upload_id, data)
    with pytest.raises(grpc.RpcError) as err:
        served.call("CommitUpdate", pb.CommitUpdateRequest(upload_id=resp.upload_id), du)
    name = next(n for n, t in layout().unflatten(flat).items() if not bool(t.isfinite().all()))
    assert err.value.code() is C.INVALID_ARGUMENT and name in str(err.value.details())
    assert served.state() == before


@FUZZ
@given(
    wire=st.sampled_from(["bfloat16-as-float32", "float32-as-bfloat16", "truncated", "padded"]),
)
def test_wrong_dtype_or_size_payloads_are_refused(served: Served, wire: str) -> None:
    du, grads = served.fresh_du(), make_update(1).grads
    data = {
        "bfloat16-as-float32": encode(grads, layout(), "bfloat16"),
        "float32-as-bfloat16": encode(grads, layout(), "float32"),
        "truncated": encode(grads, layout(), "float32")[:-4],
        "padded": encode(grads, layout(), "float32") + b"\0\0\0\0",
    }[wire]
    dtype = pb.BFLOAT16 if wire == "float32-as-bfloat16" else pb.FLOAT32
    before = served.state()
    assert served.code_of("BeginUpdate", _begin(du, data, dtype=dtype), du) is C.INVALID_ARGUMENT
    assert served.state() == before


@FUZZ
@given(
    change=st.sampled_from(["drop", "swap", "reshape", "rename", "hash"]),
    which=st.integers(0, len(layout().names) - 1),
)
def test_a_wrong_layout_cannot_register(served: Served, change: str, which: int) -> None:
    spec = layout_spec(layout())
    digest = None
    name, shape = spec[which]
    if change == "drop":
        del spec[which]
    elif change == "swap":
        spec[which], spec[-1 - which] = spec[-1 - which], spec[which]
        if which == len(spec) - 1 - which:
            spec[0], spec[1] = spec[1], spec[0]
    elif change == "reshape":
        spec[which] = (name, (*shape[:-1], shape[-1] + 1))
    elif change == "rename":
        spec[which] = (name + "x", shape)
    else:
        digest = "0" * 64
    du = f"du{next(served.next_du)}"
    before = served.state()
    assert served.code_of("RegisterTask", _register(du, spec, digest), du) is C.INVALID_ARGUMENT
    assert (
        served.code_of("BeginUpdate", _begin(du, _good_data()), du) is C.FAILED_PRECONDITION
    )  # not registered
    assert served.state() == before


@FUZZ
@given(
    index=st.one_of(st.integers(-5, -1).map(lambda i: 2**32 + i), st.integers(0, 40)),
    size=st.integers(0, CHUNK + 8),
    good_sha=st.booleans(),
)
def test_bad_chunks_are_refused_and_leave_the_upload_incomplete(
    served: Served, index: int, size: int, good_sha: bool
) -> None:
    du, data = served.fresh_du(), _good_data(2)
    resp = served.call("BeginUpdate", _begin(du, data), du)
    n = resp.n_chunks
    expected = data[index * CHUNK : (index + 1) * CHUNK] if index < n else b""
    part = (data[index * CHUNK :] + b"\x01" * CHUNK)[:size] if index < n else b"\x01" * size
    request = pb.UploadChunkRequest(
        upload_id=resp.upload_id, index=index, data=part, sha256=sha256(part) if good_sha else b"\0" * 32
    )
    code = served.code_of("UploadChunk", request, du)
    valid = index < n and part == expected and good_sha
    assert code is (C.OK if valid else C.INVALID_ARGUMENT), (index, size, good_sha, code)
    before = served.state()
    assert served.code_of("CommitUpdate", pb.CommitUpdateRequest(upload_id=resp.upload_id), du) is (
        C.FAILED_PRECONDITION  # incomplete: nothing to apply
    )
    assert served.state() == before


# ---- replayed and out-of-round updates ------------------------------------------------------


def test_replayed_commits_and_chunks_apply_once(served: Served) -> None:
    du, data = served.fresh_du(), _good_data(3)
    resp = served.call("BeginUpdate", _begin(du, data), du)
    _upload_all(served, du, resp.upload_id, data)
    first = served.call("CommitUpdate", pb.CommitUpdateRequest(upload_id=resp.upload_id), du)
    after = served.state()
    assert du in after[2]
    again = served.call("CommitUpdate", pb.CommitUpdateRequest(upload_id=resp.upload_id), du)
    assert again.accepted_in_round == first.accepted_in_round  # idempotent: counted once
    part = data[:CHUNK]
    replay = pb.UploadChunkRequest(upload_id=resp.upload_id, index=0, data=part, sha256=sha256(part))
    assert served.call("UploadChunk", replay, du).duplicate
    other = _good_data(4)  # a different update of the same DU in the same round
    assert served.code_of("BeginUpdate", _begin(du, other), du) is C.FAILED_PRECONDITION
    changed = bytes([data[0] ^ 1]) + data[1:CHUNK]  # the committed row rewritten: refused
    rewrite = pb.UploadChunkRequest(upload_id=resp.upload_id, index=0, data=changed, sha256=sha256(changed))
    assert served.code_of("UploadChunk", rewrite, du) is C.FAILED_PRECONDITION
    assert served.state() == after


@FUZZ
@given(upload_id=st.one_of(st.text(max_size=80), st.just("du0/0/" + "00" * 32), st.just("")))
def test_unknown_uploads_are_not_found(served: Served, upload_id: str) -> None:
    du = upload_id.split("/", 1)[0]
    before = served.state()
    token = TOKENS.get(du, "no-such-token-0000")
    for method, request in (
        ("CommitUpdate", pb.CommitUpdateRequest(upload_id=upload_id)),
        ("UploadChunk", pb.UploadChunkRequest(upload_id=upload_id, index=0, data=b"x", sha256=sha256(b"x"))),
    ):
        code = served.code_of(method, request, du if du in TOKENS else "du0", token if du in TOKENS else None)
        if du in TOKENS:
            assert code is C.NOT_FOUND, (method, upload_id, code)
        else:  # the upload ID names another DU than the caller's token: refused before lookup
            assert code in (C.PERMISSION_DENIED, C.NOT_FOUND), (method, upload_id, code)
    assert served.state() == before


# ---- auth and transport-level garbage -------------------------------------------------------


@FUZZ
@given(
    du=st.sampled_from(["du1", "du2", "ghost", ""]),
    token=st.one_of(st.none(), st.text("abc-0123456789", max_size=40), st.just(TOKENS["du2"])),
)
def test_wrong_tokens_are_refused(served: Served, du: str, token: str | None) -> None:
    md = [(DU_METADATA, du)] + ([] if token is None else [("authorization", f"Bearer {token}")])
    before = served.state()
    try:
        served.stub.BeginUpdate(_begin("du1", _good_data()), metadata=md, timeout=10)
        code = C.OK
    except grpc.RpcError as exc:
        code = exc.code()
    if du not in TOKENS or token is None:
        assert code is C.UNAUTHENTICATED
    elif token != TOKENS[du] or du != "du1":
        assert code is C.PERMISSION_DENIED  # a wrong token, or a DU acting as another
    assert served.state() == before


@FUZZ
@given(
    method=st.sampled_from(["RegisterTask", "BeginUpdate", "UploadChunk", "CommitUpdate", "GetStatus"]),
    blob=st.binary(min_size=1, max_size=300),
)
def test_undecodable_messages_are_refused_without_effect(served: Served, method: str, blob: bytes) -> None:
    call = served.channel.unary_unary(f"/metahrl.v1.MetaController/{method}")
    before = served.state()
    md = [(DU_METADATA, "du3"), ("authorization", f"Bearer {TOKENS['du3']}")]
    try:
        call(blob, metadata=md, timeout=10)
        code = C.OK
    except grpc.RpcError as exc:
        code = exc.code()
    try:
        getattr(pb, f"{method}Request").FromString(blob)
    except DecodeError:
        assert code is C.INVALID_ARGUMENT  # not UNKNOWN: the service answers it as the client's fault
    else:  # a blob that parses is an ordinary request, here an invalid or a harmless one
        assert code in {C.OK, C.INVALID_ARGUMENT, C.FAILED_PRECONDITION, C.NOT_FOUND, C.PERMISSION_DENIED}
    assert served.state() == before


def test_an_oversized_message_is_refused_by_size(served: Served) -> None:
    du = served.fresh_du()
    huge = pb.UploadChunkRequest(upload_id=f"{du}/0/x", index=0, data=b"\0" * (MAX_MESSAGE_BYTES + 1))
    before = served.state()
    assert served.code_of("UploadChunk", huge, du) is C.RESOURCE_EXHAUSTED
    assert served.state() == before


def test_the_refusals_went_through_the_service_and_were_counted(served: Served) -> None:
    """Runs last in this module: the properties above hit the live service (counted by reason)."""

    def rejected(reason: str) -> float:
        return (
            served.registry.get_sample_value("metahrl_meta_updates_rejected_total", {"reason": reason}) or 0.0
        )

    assert rejected("invalid") > 50 and rejected("stale") > 0 and rejected("incomplete") > 0
    assert served.call("GetStatus", pb.GetStatusRequest(), "du0").meta_version == 0
    assert torch.equal(served.controller.rounds.theta_flat, layout().flatten(theta0()))  # θ_M untouched
