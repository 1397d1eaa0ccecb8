"""The meta-controller gRPC service (grpc.aio): a thin adapter over `meta_controller.rounds`.

`Controller` owns the sans-IO `Rounds`, the durable `MetaStore` (SDL calls run in worker
threads), the round timer and the latest published meta-init; `MetaControllerServicer` maps
RPCs onto it and refusals onto status codes; `create_server` binds it (port 0 → ephemeral,
the bound port is returned) with TLS/mTLS (insecure only when asked for), per-DU tokens, the
standard health service and explicit keepalive/message-size options.

An update is acknowledged (CommitUpdate returns) only after it is in the SDL, so a killed
controller resumes the round with every acknowledged update; a new meta-version is published to
watchers only after its blob and the ``current`` pointer moved in one MULTI/EXEC.

The event loop only moves bytes and state: hashing a chunk, checking and packing a committed
update (one private copy, one SHA-256, one finiteness pass), the meta-step and the encoding of a
new meta-init run in worker threads. A meta-init is encoded, hashed and serialized into its
`MetaInitChunk` messages once per version; every watcher's stream writes those same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
import torch
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from meta_controller.metrics import ControllerMetrics
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.proto_gen import metahrl_pb2_grpc as pb_grpc
from meta_controller.rawpb import Raw, deserializer, join
from meta_controller.rounds import AcceptedUpdate, ClosedRound, Refused, Rounds, TdStat
from meta_controller.store import MetaStore, record_payload, wire_bytes
from meta_controller.wire import WireDType, chunks, sha256, tensor_bytes
from ric.sdl import SdlUnavailableError

__all__ = [
    "CHANNEL_OPTIONS",
    "CHUNK_DATA_FIELD",
    "DU_METADATA",
    "META_INIT_DATA_FIELD",
    "SERVICE_NAME",
    "Controller",
    "MetaControllerServicer",
    "Published",
    "TlsFiles",
    "create_server",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE_NAME: Final = "metahrl.v1.MetaController"
DU_METADATA: Final = "x-metahrl-du"
MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
CHANNEL_OPTIONS: Final[tuple[tuple[str, int], ...]] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)
SERVER_OPTIONS: Final = (
    *CHANNEL_OPTIONS,
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),  # clients ping every ≥ 30 s
    ("grpc.http2.max_pings_without_data", 0),
)
_CODES: Final = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
}
CHUNK_DATA_FIELD: Final[int] = pb.UploadChunkRequest.DESCRIPTOR.fields_by_name["data"].number
META_INIT_DATA_FIELD: Final[int] = pb.MetaInitChunk.DESCRIPTOR.fields_by_name["data"].number
"""The big ``bytes`` fields, moved without protobuf's copies (`meta_controller.rawpb`)."""
_DTYPES: Final[dict[int, WireDType]] = {pb.FLOAT32: "float32", pb.BFLOAT16: "bfloat16"}
_DTYPE_ENUM: Final = {v: k for k, v in _DTYPES.items()}


@dataclass(frozen=True)
class Published:
    """A durable meta-version as its serialized `MetaInitChunk` messages, made once and written
    as they are to every watcher (see `_raw`)."""

    version: int
    round: int  # the round it opened
    weights: dict[str, dict[str, float]]
    digest: bytes  # SHA-256 of the float32 buffer
    total_bytes: int
    messages: tuple[bytes, ...]

    @classmethod
    def of(
        cls,
        version: int,
        round_: int,
        weights: dict[str, dict[str, float]],
        data: bytes | memoryview,
        chunk_bytes: int,
        digest: bytes | None = None,
    ) -> Published:
        """Split the float32 buffer ``data`` into chunks and serialize each chunk's message (one
        copy of ``data`` in all); ``digest``: its SHA-256 when the caller has it."""
        digest = sha256(data) if digest is None else digest
        parts = list(chunks(data, chunk_bytes))
        head = {"version": version, "round": round_, "weights": _weights_pb(weights), "dtype": pb.FLOAT32,
                "total_bytes": len(data), "sha256": digest}  # fmt: skip
        messages = tuple(
            join(
                pb.MetaInitChunk(index=i, n_chunks=len(parts), **(head if i == 0 else {"version": version})),
                META_INIT_DATA_FIELD,
                part,
            )
            for i, part in enumerate(parts)
        )
        return cls(version, round_, weights, digest, len(data), messages)


def _raw(message: bytes) -> bytes:
    """WatchMetaInit's response serializer: its messages are serialized once, in `Published`."""
    return message


@dataclass(frozen=True)
class TlsFiles:
    """PEM bytes: the server's key and certificate, and (mTLS) the CA clients must chain to."""

    key: bytes
    cert: bytes
    client_ca: bytes | None = None


class Controller:
    """Rounds + store + timer + publication; every state change happens on the event loop."""

    def __init__(
        self,
        rounds: Rounds,
        store: MetaStore,
        metrics: ControllerMetrics,
        *,
        tokens: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sdl_check_s: float = 2.0,
        push_concurrency: int = 4,
        push_timeout_s: float = 30.0,
        commit_concurrency: int = 2,
    ) -> None:
        self.rounds, self.store, self.metrics = rounds, store, metrics
        self.tokens = dict(tokens) if tokens is not None else None
        self.clock, self.sdl_check_s = clock, sdl_check_s
        self.published: Published | None = None
        self.sdl_ok = False
        self.started = False
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._kick = asyncio.Event()
        # meta-inits streamed at once: each in-flight stream holds gRPC's copy of what it writes
        self.push_slots = asyncio.Semaphore(push_concurrency)
        self.push_timeout_s = push_timeout_s
        # commits checked and written at once: each holds a private copy of its update until
        # the SDL has it (the SDL takes one write at a time anyway)
        self.commit_slots = asyncio.Semaphore(commit_concurrency)
        self._unsaved: ClosedRound | None = None
        self._timer: asyncio.Task[None] | None = None
        self.health = health_aio.HealthServicer()

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Resume from the store (or write version 0), then start the round timer."""
        await self._sdl(self._restore)
        self.sdl_ok, self.started = True, True
        self.published = await asyncio.to_thread(self._publication, self.rounds.last_weights)
        self._gauges()
        self.metrics.weights(self.rounds.last_weights)  # a restarted controller shows them too
        await self._set_health()
        self._timer = asyncio.create_task(self._run_timer(), name="meta-round-timer")

    def _restore(self) -> None:
        r = self.rounds
        stored = self.store.load_current(r.layout_sha256)
        if stored is None:
            self.store.save_version(r.version, r.round, r.theta_flat, r.layout_sha256, None, None)
        else:
            r.advance(stored.flat.to(r.theta_flat.dtype), stored.version, stored.round, stored.weights)
        for du, task in self.store.load_dus().items():
            r.registered.setdefault(du, task)
        r._grow(len(r.registered))
        now = self.clock()
        for upload, wire in self.store.load_updates(r.round):
            if upload.du in r.registered and upload.base_version == r.version:
                r.restore_accepted(upload, wire, now)
        log.info(
            "meta-controller at version %d, round %d (%d updates restored)",
            r.version,
            r.round,
            len(r.reporting),
        )

    async def stop(self) -> None:
        self.started = False
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self._set_health()
        async with self._changed:
            self._changed.notify_all()

    async def _sdl(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(fn)
        except SdlUnavailableError:
            self.sdl_ok = False
            self.metrics.sdl_errors.inc()
            raise

    # ---- auth ----------------------------------------------------------------------------
    def authenticate(self, metadata: Mapping[str, str], claimed_du: str | None) -> Refused | None:
        """None when the call may proceed; else the refusal (counted)."""
        if self.tokens is None:
            return None
        du = metadata.get(DU_METADATA, "")
        bearer = metadata.get("authorization", "")
        refusal: Refused | None = None
        if du not in self.tokens or not bearer.startswith("Bearer "):
            refusal = Refused("unauthenticated", "auth", f"unknown DU {du!r} or no bearer token")
        elif not hmac.compare_digest(bearer[len("Bearer ") :].encode(), self.tokens[du].encode()):
            refusal = Refused("permission_denied", "auth", f"wrong token for DU {du!r}")
        elif claimed_du is not None and claimed_du != du:
            refusal = Refused("permission_denied", "auth", f"DU {du!r} may not act as {claimed_du!r}")
        if refusal is not None:
            self.metrics.auth_failures.labels(refusal.code).inc()
        return refusal

    # ---- operations ----------------------------------------------------------------------
    async def register(
        self, du: str, task_json: str, layout_sha: str, spec: list[tuple[str, list[int]]]
    ) -> None:
        async with self._lock:
            self.rounds.register(du, task_json, layout_sha, spec)
            await self._sdl(lambda: self.store.save_du(du, task_json))
        self._gauges()

    async def begin(self, req: pb.BeginUpdateRequest) -> pb.BeginUpdateResponse:
        if req.dtype not in _DTYPES:
            raise Refused("invalid_argument", "invalid", f"dtype {req.dtype}: expected FLOAT32 or BFLOAT16")
        if self._unsaved is not None:
            raise SdlUnavailableError("the previous round is not durable yet")
        td = {s.group: TdStat(s.variance, s.count) for s in req.td}
        async with self._lock:
            upload = self.rounds.begin(
                req.du_id, req.round, req.base_version, _DTYPES[req.dtype], req.total_bytes, req.chunk_bytes,
                req.sha256, td, req.samples,
            )  # fmt: skip
        return pb.BeginUpdateResponse(
            upload_id=upload.upload_id, missing_chunks=upload.missing(), n_chunks=upload.n_chunks
        )

    async def chunk(self, raw: Raw[pb.UploadChunkRequest]) -> pb.UploadChunkResponse:
        """One chunk; ``raw.data`` is a view into the received message (`rawpb`, no copy)."""
        req, data = raw.message, raw.data
        actual = await asyncio.to_thread(sha256, data)  # hashlib releases the GIL: off the loop
        async with self._lock:
            duplicate = self.rounds.chunk(req.upload_id, req.index, data, req.sha256, actual)
        self.metrics.received_bytes.inc(len(data))
        return pb.UploadChunkResponse(index=req.index, duplicate=duplicate)

    async def commit(self, upload_id: str) -> pb.CommitUpdateResponse:
        """Check, make durable, then accept. The check and the SDL write run in worker threads
        without the lock (other DUs' chunks keep flowing) on a private copy of the row; the round,
        the upload and the row's revision are re-checked before accepting."""
        async with self._lock:
            update = self.rounds.complete(upload_id)
            round_ = self.rounds.round
            upload = update.upload
        stored = False
        if not upload.accepted:
            async with self.commit_slots:
                record = await asyncio.to_thread(self._checked_record, update)
                await self._sdl(lambda: self.store.put_update(upload, record))
            stored = True
        async with self._lock:
            if self.rounds.round != round_:
                raise Refused("failed_precondition", "closed_round", f"round {round_} closed meanwhile")
            if self.rounds.uploads.get(upload_id) is not upload:  # replaced by a newer attempt
                raise Refused("failed_precondition", "duplicate", f"upload {upload_id} was replaced")
            if stored and not upload.accepted:
                self.rounds.accept(update, self.clock())
                self.metrics.accepted.inc()
            accepted = len(self.rounds.reporting)
            closing = self.rounds.quorum_reached()
        self._kick.set()
        return pb.CommitUpdateResponse(round=round_, accepted_in_round=accepted, round_closed=closing)

    def _checked_record(self, update: AcceptedUpdate) -> bytes:
        """The SDL record of ``update`` (worker thread): one copy of the row in the wire dtype,
        labelled with the announced digest, then that copy itself checked (digest, finiteness):
        what is stored is exactly what was checked, whatever happens to the row meanwhile."""
        upload = update.upload
        record = self.store.pack_update(upload, wire_bytes(update.row, upload.dtype), trust_digest=True)
        self.rounds.check(update, record_payload(record))
        return record

    # ---- closing rounds ------------------------------------------------------------------
    async def _run_timer(self) -> None:
        next_sdl_check = 0.0
        while True:
            deadline = self.rounds.deadline()
            wait = (
                self.sdl_check_s
                if deadline is None
                else max(0.0, min(self.sdl_check_s, deadline - self.clock()))
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=wait)
            self._kick.clear()
            try:
                await self._maybe_close()
            except SdlUnavailableError as exc:
                log.warning("meta-version not saved yet: %s", exc)
            except Exception:
                log.exception("closing round %d failed", self.rounds.round)
            if self.clock() >= next_sdl_check:
                self.sdl_ok = await asyncio.to_thread(self.store.sdl.ping)
                next_sdl_check = self.clock() + self.sdl_check_s
                await self._set_health()

    async def _maybe_close(self) -> None:
        async with self._lock:
            if self._unsaved is None:
                if not self.rounds.due(self.clock()):
                    return
                started = self.rounds.first_accept_at
                self._unsaved = await asyncio.to_thread(self.rounds.close)
                duration = self.clock() - started if started is not None else math.nan
                c = self._unsaved
                self.metrics.closed(duration, c.step.update_ms / 1e3, c.weights, c.variances)
            closed = self._unsaved
            r = self.rounds
            data = tensor_bytes(r.theta_flat.to(torch.float32))  # no copy: θ_M is never changed in place
            digest = await asyncio.to_thread(sha256, data)
            # the SDL write and the watchers' messages, at the same time (both read ``data``)
            pub, _ = await asyncio.gather(
                asyncio.to_thread(self._publication, closed.weights, data, digest),
                self._sdl(
                    lambda: self.store.save_version(
                        closed.version, r.round, r.theta_flat, r.layout_sha256, closed.round,
                        {"weights": closed.weights, "variances": closed.variances, "dus": list(closed.dus)},
                        flat_sha256=digest,
                    )
                ),
            )  # fmt: skip
            self._unsaved = None
            self.published = pub
        self._gauges()
        async with self._changed:
            self._changed.notify_all()

    def _publication(
        self,
        weights: dict[str, dict[str, float]],
        data: memoryview | None = None,
        digest: bytes | None = None,
    ) -> Published:
        """The current θ_M as messages for every watcher (``data``: its float32 bytes, ``digest``
        their SHA-256, when the caller has them). A worker thread: the round state only changes
        under the lock, which the caller holds or, at start, nobody contends."""
        r = self.rounds
        data = tensor_bytes(r.theta_flat.to(torch.float32)) if data is None else data
        return Published.of(r.version, r.round, weights, data, r.config.max_chunk_bytes, digest)

    def _gauges(self) -> None:
        self.metrics.version.set(self.rounds.version)
        self.metrics.round.set(self.rounds.round)
        self.metrics.registered.set(len(self.rounds.registered))

    async def _set_health(self) -> None:
        ok = self.ready()
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    @property
    def durable(self) -> bool:
        """No closed round waits to be written to the SDL."""
        return self._unsaved is None

    def ready(self) -> bool:
        """Started, the SDL answers and every closed round is durable."""
        return self.started and self.sdl_ok and self.durable

    def alive(self) -> bool:
        """The round timer (which closes rounds and checks the SDL) is running."""
        return self.started and self._timer is not None and not self._timer.done()

    async def wait_newer(self, known: int) -> Published | None:
        """The published version newer than ``known`` (waits; None when stopping)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: not self.started or (self.published is not None and self.published.version > known)
            )
        return self.published if self.started else None

    def status(self) -> pb.GetStatusResponse:
        r = self.rounds
        return pb.GetStatusResponse(
            round=r.round, meta_version=r.version, registered_dus=list(r.registered),
            reporting_dus=sorted(r.reporting), last_weights=_weights_pb(r.last_weights), sdl_ok=self.sdl_ok,
        )  # fmt: skip


def _weights_pb(weights: Mapping[str, Mapping[str, float]]) -> list[pb.TaskWeight]:
    return [pb.TaskWeight(du_id=du, group=g, weight=w) for g, per in weights.items() for du, w in per.items()]


@dataclass(frozen=True)
class Malformed:
    """A request message that did not parse (stands in for it; the RPC answers INVALID_ARGUMENT)."""

    method: str
    error: str


def _tolerant(method: str, parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """``parse``, with a parse failure turned into a `Malformed` value: left to gRPC, it ends the
    call with UNKNOWN and an error log of the servicer's, not the client's, fault."""

    def tolerant(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return Malformed(method, str(exc))

    return tolerant


class MetaControllerServicer(pb_grpc.MetaControllerServicer):
    """RPCs → `Controller`; `Refused` → its status code, SDL down → UNAVAILABLE (both counted)."""

    def __init__(self, controller: Controller) -> None:
        self.c = controller

    async def _refuse_malformed(self, request: object, context: Any) -> None:
        if isinstance(request, Malformed):
            self.c.metrics.reject("invalid")
            peer = context.peer() if hasattr(context, "peer") else "?"
            log.warning("%s from %s: malformed request (%s)", request.method, peer, request.error)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"malformed {request.method} request: {request.error}"
            )

    async def _guard(
        self, context: grpc.aio.ServicerContext[Any, Any], du: str | None, op: Callable[[], Awaitable[T]]
    ) -> T:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        refusal = self.c.authenticate(metadata, du)
        if refusal is not None:
            await context.abort(_CODES[refusal.code], refusal.message)
        try:
            return await op()
        except Refused as exc:
            self.c.metrics.reject(exc.reason)
            await context.abort(_CODES[exc.code], exc.message)
        except SdlUnavailableError as exc:
            self.c.metrics.reject("sdl_unavailable")
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        raise AssertionError("unreachable")  # context.abort raises

    async def RegisterTask(self, request: pb.RegisterTaskRequest, context: Any) -> pb.RegisterTaskResponse:
        await self._refuse_malformed(request, context)
        spec = [(t.name, list(t.shape)) for t in request.layout.tensors]

        async def op() -> pb.RegisterTaskResponse:
            await self.c.register(request.du_id, request.task_json, request.layout.sha256, spec)
            r = self.c.rounds
            return pb.RegisterTaskResponse(
                round=r.round,
                meta_version=r.version,
                max_chunk_bytes=r.config.max_chunk_bytes,
                groups=list(r.config.groups),
            )

        return await self._guard(context, request.du_id, op)

    async def BeginUpdate(self, request: pb.BeginUpdateRequest, context: Any) -> pb.BeginUpdateResponse:
        await self._refuse_malformed(request, context)
        return await self._guard(context, request.du_id, lambda: self.c.begin(request))

    async def UploadChunk(self, request: Raw[pb.UploadChunkRequest], context: Any) -> pb.UploadChunkResponse:
        await self._refuse_malformed(request, context)
        du = request.message.upload_id.split("/", 1)[0]
        return await self._guard(context, du, lambda: self.c.chunk(request))

    async def CommitUpdate(self, request: pb.CommitUpdateRequest, context: Any) -> pb.CommitUpdateResponse:
        await self._refuse_malformed(request, context)
        return await self._guard(
            context, request.upload_id.split("/", 1)[0], lambda: self.c.commit(request.upload_id)
        )

    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        await self._refuse_malformed(request, context)

        async def op() -> pb.GetStatusResponse:
            return self.c.status()

        return await self._guard(context, None, op)

    async def WatchMetaInit(self, request: pb.WatchMetaInitRequest, context: Any) -> None:
        """Stream every meta-version newer than the DU's; at most ``push_slots`` streams send at
        once (each holds its messages' copies), and a DU that does not take a chunk within
        ``push_timeout_s`` has its stream aborted (counted) instead of holding a slot."""
        await self._refuse_malformed(request, context)

        async def check() -> None:
            return None

        await self._guard(context, request.du_id, check)
        known = int(request.known_version) if request.known_version else -1
        while True:
            pub = await self.c.wait_newer(known)
            if pub is None:
                return
            async with self.c.push_slots:
                taken = await self._push(pub, context)
            if not taken:  # outside the slot: the abort may wait for the stuck write
                self.c.metrics.push_timeouts.inc()
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "meta-init chunk not taken in time")
            known = pub.version

    async def _push(self, pub: Published, context: Any) -> bool:
        """Write ``pub``'s messages; False when the DU did not take one within ``push_timeout_s``."""
        for message in pub.messages:
            try:
                await asyncio.wait_for(context.write(message), self.c.push_timeout_s)
            except TimeoutError:
                return False
        return True


def create_server(
    controller: Controller,
    address: str = "127.0.0.1:0",
    *,
    tls: TlsFiles | None = None,
    insecure: bool = False,
) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server with the meta-controller and health services bound to ``address``
    (not started). TLS unless ``insecure`` is passed explicitly; mTLS when ``tls.client_ca``."""
    if tls is None and not insecure:
        raise ValueError(
            "refusing to serve without TLS: give a key and certificate, or insecure=True explicitly"
        )
    server = grpc.aio.server(options=SERVER_OPTIONS)
    servicer = MetaControllerServicer(controller)

    # The chunk methods move their data without protobuf's copies: these handlers are added
    # first, so they answer those methods (gRPC asks generic handlers in order); the generated
    # table answers the rest.
    # Every request deserializer is `_tolerant`: an undecodable message reaches the servicer as
    # `Malformed` and is answered INVALID_ARGUMENT (counted).
    def unary(name: str, message: Any, response: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            getattr(servicer, name),
            request_deserializer=_tolerant(name, message.FromString),
            response_serializer=response.SerializeToString,
        )

    handlers = {
        "RegisterTask": unary("RegisterTask", pb.RegisterTaskRequest, pb.RegisterTaskResponse),
        "BeginUpdate": unary("BeginUpdate", pb.BeginUpdateRequest, pb.BeginUpdateResponse),
        "CommitUpdate": unary("CommitUpdate", pb.CommitUpdateRequest, pb.CommitUpdateResponse),
        "GetStatus": unary("GetStatus", pb.GetStatusRequest, pb.GetStatusResponse),
        "UploadChunk": grpc.unary_unary_rpc_method_handler(
            servicer.UploadChunk,
            request_deserializer=_tolerant(
                "UploadChunk", deserializer(pb.UploadChunkRequest, CHUNK_DATA_FIELD)
            ),
            response_serializer=pb.UploadChunkResponse.SerializeToString,
        ),
        "WatchMetaInit": grpc.unary_stream_rpc_method_handler(
            servicer.WatchMetaInit,
            request_deserializer=_tolerant("WatchMetaInit", pb.WatchMetaInitRequest.FromString),
            response_serializer=_raw,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    health_pb2_grpc.add_HealthServicer_to_server(controller.health, server)
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        creds = grpc.ssl_server_credentials(
            [(tls.key, tls.cert)],
            root_certificates=tls.client_ca,
            require_client_auth=tls.client_ca is not None,
        )
        port = server.add_secure_port(address, creds)
    if port == 0:
        raise OSError(f"could not bind the meta-controller to {address}")
    return server, port
