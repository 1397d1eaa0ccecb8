"""The DU xApp's client of the meta-controller (asyncio, grpc.aio).

`MetaClient` registers the DU, uploads task updates (chunked, idempotent retries), watches
meta-inits in a background task (keeping the latest; callback and async iterator) and reconnects
with jittered exponential backoff. Every call has a deadline. Nothing here raises into the DU's
control loop when the controller is unreachable: calls return False/None and `degraded` turns
True until a call succeeds again. The constructor touches no network; `start()` does.

`build_update` is the DU side of a round: the inner loop (eq. 11) from the latest meta-init on
the agent's own experience and the query gradient (`meta_controller.algorithm.task_update`, the
code the experiments use).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
import torch
from torch import Tensor

from meta_controller.algorithm import MetaConfig, TaskUpdate, task_update
from meta_controller.params import ParamLayout
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.proto_gen import metahrl_pb2_grpc as pb_grpc
from meta_controller.rawpb import Raw, deserializer, serializer
from meta_controller.service import (
    CHANNEL_OPTIONS,
    CHUNK_DATA_FIELD,
    DU_METADATA,
    META_INIT_DATA_FIELD,
    SERVICE_NAME,
)
from meta_controller.wire import (
    MAX_CHUNK_BYTES,
    WireDType,
    chunks,
    decode_chunk_into,
    encode,
    layout_hash,
    sha256,
)

__all__ = ["ClientTls", "MetaClient", "MetaInit", "PreparedUpdate", "build_update", "task_json"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CLIENT_OPTIONS: Final = (
    *CHANNEL_OPTIONS,
    ("grpc.keepalive_time_ms", 30_000),  # ≥ the server's min_ping_interval (10 s)
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
)
_RETRYABLE: Final = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@dataclass(frozen=True)
class ClientTls:
    """PEM bytes: the CA that signed the server (None: the system's roots), and (mTLS) this DU's
    key and certificate."""

    root_ca: bytes | None
    key: bytes | None = None
    cert: bytes | None = None
    server_name: str | None = None  # override the name checked against the certificate


@dataclass(frozen=True)
class PreparedUpdate:
    """A task update encoded for the wire (``data``: the flat little-endian buffer)."""

    data: bytes
    sha256: bytes
    dtype: WireDType
    update: TaskUpdate
    chunk_bytes: int = MAX_CHUNK_BYTES
    chunk_sha256: tuple[bytes, ...] = ()  # of each chunk of ``chunk_bytes``

    def chunk_digests(self, size: int) -> tuple[bytes, ...]:
        if size == self.chunk_bytes and self.chunk_sha256:
            return self.chunk_sha256
        return tuple(sha256(c) for c in chunks(self.data, size))


@dataclass(frozen=True)
class MetaInit:
    version: int
    round: int
    params: dict[str, Tensor]  # float32, named as the layout
    weights: dict[str, dict[str, float]]  # group → du → w_g of the round that made it


class MetaClient:
    def __init__(
        self,
        target: str,
        du_id: str,
        layout: ParamLayout,
        *,
        token: str | None = None,
        tls: ClientTls | None = None,
        insecure: bool = False,
        deadline_s: float = 10.0,
        backoff_s: tuple[float, float] = (0.1, 10.0),
        retries: int = 5,
        task_json: str = "{}",
        seed: int | None = None,
        on_meta_init: Callable[[MetaInit], None] | None = None,
    ) -> None:
        if tls is None and not insecure:
            raise ValueError("MetaClient: give tls=ClientTls(...) or insecure=True explicitly")
        self.target, self.du_id, self.layout = target, du_id, layout
        self.token, self.tls, self.deadline_s = token, tls, deadline_s
        self.backoff_s, self.retries, self.task_json = backoff_s, retries, task_json
        self.on_meta_init = on_meta_init
        self.latest: MetaInit | None = None
        self.round: int | None = None
        self.version: int | None = None
        self.registered = False
        self.last_error: str | None = None
        self._rng = random.Random(seed)
        self._channel: grpc.aio.Channel | None = None
        self._stub: _Stub | None = None
        self._watch: asyncio.Task[None] | None = None
        self._degraded = True
        self._new = asyncio.Condition()
        self._max_chunk = MAX_CHUNK_BYTES

    # ---- state -----------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        """True while the controller is unreachable (or not yet reached)."""
        return self._degraded

    @property
    def connected(self) -> bool:
        return self._channel is not None and not self._degraded

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        md: tuple[tuple[str, str], ...] = ((DU_METADATA, self.du_id),)
        return md + ((("authorization", f"Bearer {self.token}"),) if self.token is not None else ())

    def _options(self) -> tuple[tuple[str, int | str], ...]:
        lo, hi = (max(1, int(x * 1000)) for x in self.backoff_s)
        reconnect = (
            ("grpc.initial_reconnect_backoff_ms", lo),
            ("grpc.min_reconnect_backoff_ms", lo),
            ("grpc.max_reconnect_backoff_ms", hi),
        )
        name = self.tls.server_name if self.tls is not None else None
        return CLIENT_OPTIONS + reconnect + ((("grpc.ssl_target_name_override", name),) if name else ())

    def _open(self) -> _Stub:
        if self._stub is None:
            if self.tls is None:
                self._channel = grpc.aio.insecure_channel(self.target, options=self._options())
            else:
                creds = grpc.ssl_channel_credentials(self.tls.root_ca, self.tls.key, self.tls.cert)
                self._channel = grpc.aio.secure_channel(self.target, creds, options=self._options())
            self._stub = _Stub(self._channel)
        return self._stub

    def _delay(self, attempt: int) -> float:
        lo, hi = self.backoff_s
        return self._rng.uniform(0, min(hi, lo * 2**attempt))  # full jitter

    async def _call(self, what: str, fn: Callable[[_Stub], Awaitable[T]]) -> T | None:
        """``fn`` with retries on transient errors; None (and degraded) on failure, never raises."""
        for attempt in range(self.retries + 1):
            try:
                result = await fn(self._open())
            except grpc.aio.AioRpcError as exc:
                self.last_error = f"{what}: {exc.code().name}: {exc.details()}"
                if exc.code() not in _RETRYABLE:
                    log.warning("meta-controller refused %s", self.last_error)
                    if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                        self._degraded = True
                    return None
                self._degraded = True
                await asyncio.sleep(self._delay(attempt))
                continue
            self._degraded = False
            return result
        log.warning("meta-controller unreachable: %s", self.last_error)
        return None

    # ---- calls -------------------------------------------------------------------------------
    async def register(self) -> bool:
        layout = pb.ParamLayout(
            tensors=[
                pb.TensorSpec(name=n, shape=list(s))
                for n, s in zip(self.layout.names, self.layout.shapes, strict=True)
            ],
            sha256=layout_hash(self.layout),
        )
        req = pb.RegisterTaskRequest(du_id=self.du_id, task_json=self.task_json, layout=layout)
        resp = await self._call(
            "register", lambda s: s.RegisterTask(req, timeout=self.deadline_s, metadata=self._metadata())
        )
        if resp is None:
            return False
        self.round, self.version, self.registered = int(resp.round), int(resp.meta_version), True
        self._max_chunk = min(int(resp.max_chunk_bytes) or MAX_CHUNK_BYTES, MAX_CHUNK_BYTES)
        return True

    async def status(self) -> pb.GetStatusResponse | None:
        return await self._call(
            "status",
            lambda s: s.GetStatus(pb.GetStatusRequest(), timeout=self.deadline_s, metadata=self._metadata()),
        )

    def prepare(self, update: TaskUpdate, *, dtype: WireDType = "float32") -> PreparedUpdate:
        """Encode and checksum ``update``, whole and per chunk (pure CPU work, meant for a worker
        thread so that hashing 14 MB never stalls the DU's event loop)."""
        data = encode(update.grads, self.layout, dtype)
        size = self._max_chunk
        digests = tuple(sha256(c) for c in chunks(data, size))
        return PreparedUpdate(data, sha256(data), dtype, update, size, digests)

    async def upload(
        self, update: TaskUpdate, *, dtype: WireDType = "float32", chunk_bytes: int | None = None
    ) -> bool:
        """Send ``update`` for the open round on the latest known version; True once committed."""
        return await self.send(self.prepare(update, dtype=dtype), chunk_bytes=chunk_bytes)

    async def send(
        self, prepared: PreparedUpdate, *, base: MetaInit | None = None, chunk_bytes: int | None = None
    ) -> bool:
        """Upload a prepared update: BeginUpdate, the chunks the controller lacks, CommitUpdate.

        ``base``: the meta-init the update was computed from (its round and version are claimed;
        default: the latest known), so an update is never sent against a newer base."""
        if not self.registered and not await self.register():
            return False
        round_, version = (self.round, self.version) if base is None else (base.round, base.version)
        assert round_ is not None and version is not None
        update, data = prepared.update, prepared.data
        size = int(chunk_bytes or self._max_chunk)
        parts = list(chunks(data, size))
        begin = pb.BeginUpdateRequest(
            du_id=self.du_id, round=round_, base_version=version,
            dtype=pb.FLOAT32 if prepared.dtype == "float32" else pb.BFLOAT16, total_bytes=len(data),
            chunk_bytes=size, sha256=prepared.sha256, samples=update.samples,
            td=[pb.TdStat(group=g, variance=v, count=update.td_count.get(g, 0))
                for g, v in update.td_variance.items()],
        )  # fmt: skip
        md = self._metadata()
        resp = await self._call("begin", lambda s: s.BeginUpdate(begin, timeout=self.deadline_s, metadata=md))
        if resp is None:
            return False
        digests = prepared.chunk_digests(size)
        for i in resp.missing_chunks:
            if not await self._send_chunk(resp.upload_id, i, parts[i], digests[i]):
                return False
        commit = pb.CommitUpdateRequest(upload_id=resp.upload_id)
        done = await self._call(
            "commit", lambda s: s.CommitUpdate(commit, timeout=self.deadline_s, metadata=md)
        )
        return done is not None

    async def _send_chunk(self, upload_id: str, index: int, data: memoryview, digest: bytes) -> bool:
        req = Raw(pb.UploadChunkRequest(upload_id=upload_id, index=index, sha256=digest), data)
        md = self._metadata()
        return (
            await self._call("chunk", lambda s: s.UploadChunk(req, timeout=self.deadline_s, metadata=md))
            is not None
        )

    # ---- meta-inits ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background watch of meta-inits (registers first; reconnects forever)."""
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_loop(), name=f"meta-watch-{self.du_id}")

    async def _watch_loop(self) -> None:
        attempt = 0
        while True:
            if not self.registered and not await self.register():
                await asyncio.sleep(self._delay(attempt))
                attempt += 1
                continue
            try:
                await self._stream()
            except grpc.aio.AioRpcError as exc:
                self.last_error = f"watch: {exc.code().name}: {exc.details()}"
                self._degraded = True
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                    self.registered = False
            await asyncio.sleep(self._delay(attempt))
            attempt = min(attempt + 1, 20)

    async def _stream(self) -> None:
        req = pb.WatchMetaInitRequest(
            du_id=self.du_id, known_version=self.latest.version if self.latest else 0
        )
        if self.latest is None:
            req.known_version = 0
        call = self._open().WatchMetaInit(req, metadata=self._metadata())  # a stream: no deadline, keepalive
        row: Tensor | None = None
        head: pb.MetaInitChunk | None = None
        chunk_bytes = 0
        digest = hashlib.sha256()
        async for raw in call:
            self._degraded = False
            part, data = raw.message, raw.data
            if part.index == 0:
                head, digest, chunk_bytes = part, hashlib.sha256(), len(data)
                row = torch.empty(self.layout.numel, dtype=torch.float32)
            if head is None or row is None or part.version != head.version:
                continue
            # copying 4 MiB and hashing it would stall the DU's loop for milliseconds: a thread
            await asyncio.to_thread(_take_chunk, row, digest, data, part.index, chunk_bytes)
            if part.index == part.n_chunks - 1:
                self._install(head, row, digest.digest())
                head, row = None, None

    def _install(self, head: pb.MetaInitChunk, row: Tensor, digest: bytes) -> None:
        if digest != head.sha256:
            log.warning("meta-init %d failed its checksum; ignored", head.version)
            return
        weights: dict[str, dict[str, float]] = {}
        for w in head.weights:
            weights.setdefault(w.group, {})[w.du_id] = w.weight
        init = MetaInit(int(head.version), int(head.round), self.layout.unflatten(row), weights)
        self.latest, self.version, self.round = init, init.version, init.round
        if self.on_meta_init is not None:
            try:
                self.on_meta_init(init)
            except Exception:  # the caller's callback must not end the watch
                log.exception("on_meta_init callback failed")
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._new:
            self._new.notify_all()

    async def meta_inits(self) -> AsyncIterator[MetaInit]:
        """Each new meta-init (the latest one first, if any); skips versions it was too slow for."""
        seen = -1
        while True:
            latest = await self.wait_version(seen + 1, timeout_s=None)
            if latest is not None:
                seen = latest.version
                yield latest

    async def wait_version(self, version: int, timeout_s: float | None) -> MetaInit | None:
        """The latest meta-init once its version is ≥ ``version`` (None on timeout)."""

        async def wait() -> None:
            async with self._new:
                await self._new.wait_for(lambda: self.latest is not None and self.latest.version >= version)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wait(), timeout_s)
        return self.latest if self.latest is not None and self.latest.version >= version else None

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._channel is not None:
            await self._channel.close()
        self._channel, self._stub = None, None
        self._degraded = True


class _Stub(pb_grpc.MetaControllerStub):
    """The generated stub, but the chunk methods move their data without protobuf's copies:
    UploadChunk sends a `Raw` request, WatchMetaInit yields `Raw` messages (`rawpb`)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.UploadChunk = channel.unary_unary(
            f"/{SERVICE_NAME}/UploadChunk",
            request_serializer=serializer(CHUNK_DATA_FIELD),
            response_deserializer=pb.UploadChunkResponse.FromString,
        )
        self.WatchMetaInit = channel.unary_stream(
            f"/{SERVICE_NAME}/WatchMetaInit",
            request_serializer=pb.WatchMetaInitRequest.SerializeToString,
            response_deserializer=deserializer(pb.MetaInitChunk, META_INIT_DATA_FIELD),
        )


def _take_chunk(row: Tensor, digest: Any, data: bytes | memoryview, index: int, chunk_bytes: int) -> None:
    """Decode one float32 meta-init chunk into ``row`` and feed it to the running ``digest``."""
    decode_chunk_into(row, data, index, chunk_bytes, "float32")
    digest.update(data)


def build_update(
    agent: Any,
    meta_init: MetaInit | Mapping[str, Tensor] | None,
    *,
    inner_steps: int,
    config: MetaConfig | None = None,
    samples: int = 0,
) -> TaskUpdate:
    """The DU's task update for the open round (`meta_controller.algorithm.task_update`): eq. 11
    from the latest meta-init (None: the agent's current parameters) on the agent's own replay,
    then the clipped query gradient and the TD-error variances."""
    theta = meta_init.params if isinstance(meta_init, MetaInit) else meta_init
    return task_update(agent, theta, inner_steps=inner_steps, config=config or MetaConfig(), samples=samples)


def task_json(descriptor: Mapping[str, Any]) -> str:
    return json.dumps(dict(descriptor), sort_keys=True)
