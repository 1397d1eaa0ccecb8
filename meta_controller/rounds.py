"""The meta-controller's round logic, sans-IO: messages and time in, decisions out.

One `Rounds` holds the meta-parameters θ_M (version v), the open round r, the registered DUs and
the uploads in flight. Chunks are decoded straight into the uploading DU's row of a preallocated
``(n_registered, numel)`` gradient stack. A round closes at a quorum (``min_updates``, or
``quorum_fraction`` of the registered DUs, whichever is larger) or, with at least one accepted
update, at ``round_timeout_s`` after its first accepted update; closing runs
`meta_controller.algorithm.meta_step` — the function the experiments call — and yields v+1.

Refusals raise `Refused` with a gRPC-like code and a short metric reason: ``stale`` (old base
version or a round that is not the open one), ``closed_round``, ``duplicate`` (a second,
different update of a DU in one round), ``invalid`` (names/shapes/dtype/size/checksum/finiteness,
naming the tensor), ``unknown_du``, ``unknown_upload``, ``incomplete``. Nothing refused ever
reaches θ_M: a row only counts once `accept` is called, after validation (and, in the service,
after the update is durable).

Committing is split so that the service can run its CPU-heavy middle off the event loop:
`complete` (cheap: the upload has every chunk) → `check` (whole SHA-256 and finiteness of a
private wire copy; touches no round state, so it may run in a worker thread) → `accept`, which
refuses (``duplicate``) when a chunk rewrote the row since `complete`. `validate` is
`complete` + `check` in one call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from meta_controller.algorithm import GROUPS, MetaConfig, MetaStepResult, meta_step, variances_with_fallback
from meta_controller.errors import MetaInputError
from meta_controller.params import GradientStack, ParamLayout
from meta_controller.wire import (
    MAX_CHUNK_BYTES,
    WireDType,
    all_finite,
    chunk_count,
    decode_chunk_into,
    element_size,
    layout_hash,
    row_to_wire,
    sha256,
    torch_dtype,
)

__all__ = [
    "AcceptedUpdate",
    "ClosedRound",
    "Code",
    "Refused",
    "RoundConfig",
    "Rounds",
    "TdStat",
    "Upload",
]

Code = Literal["invalid_argument", "failed_precondition", "not_found", "unauthenticated", "permission_denied"]


class Refused(Exception):
    """An input the controller refuses: ``code`` (the gRPC status), ``reason`` (metric label)."""

    def __init__(self, code: Code, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class RoundConfig(BaseModel):
    """When a round closes and what the controller accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_updates: int = Field(1, ge=1, description="Accepted updates that close a round (quorum).")
    quorum_fraction: float = Field(
        1.0, gt=0, le=1, description="…or this fraction of the registered DUs, whichever is larger."
    )
    round_timeout_s: float = Field(
        60.0, gt=0, description="A round with ≥ 1 accepted update closes this long after its first one."
    )
    stack_dtype: WireDType = Field(
        "float32", description="Dtype of the gradient stack (bfloat16 halves RAM)."
    )
    groups: tuple[str, ...] = Field(GROUPS, description="Parameter groups, one TD variance each.")
    max_chunk_bytes: int = Field(MAX_CHUNK_BYTES, ge=1024, le=MAX_CHUNK_BYTES, description="Largest chunk.")


@dataclass(frozen=True)
class TdStat:
    variance: float
    count: int = 0


@dataclass
class Upload:
    upload_id: str
    du: str
    round: int
    base_version: int
    dtype: WireDType
    total_bytes: int
    chunk_bytes: int
    digest: bytes
    td: dict[str, TdStat]
    samples: int
    n_chunks: int
    received: dict[int, bytes] = field(default_factory=dict)  # index → chunk sha256
    accepted: bool = False
    revision: int = 0  # chunks decoded into the row so far (a commit checks it did not move)

    def missing(self) -> list[int]:
        return [i for i in range(self.n_chunks) if i not in self.received]


@dataclass(frozen=True)
class AcceptedUpdate:
    """A complete upload on its way in: checked (`Rounds.check`), made durable, then accepted,
    provided its row is still at ``revision``."""

    upload: Upload
    row: Tensor  # the DU's row in the gradient stack (stack dtype)
    revision: int = 0


@dataclass(frozen=True)
class ClosedRound:
    round: int
    version: int  # the new meta-version
    dus: tuple[str, ...]  # reporting DUs, in stack order
    weights: dict[str, dict[str, float]]  # group → du → w_g
    variances: dict[str, dict[str, float]]  # group → du → σ² as reported
    step: MetaStepResult


class Rounds:
    """Round state and decisions (no IO, no clock: ``now`` is passed in)."""

    def __init__(
        self,
        theta: Mapping[str, Tensor],
        meta: MetaConfig,
        config: RoundConfig,
        *,
        version: int = 0,
        round_: int = 0,
    ) -> None:
        self.layout = ParamLayout.of(theta)
        self.layout_sha256 = layout_hash(self.layout)
        self.meta, self.config = meta, config
        first = theta[self.layout.names[0]]
        self.theta_flat = self.layout.flatten(theta).to(first.dtype).clone()
        self.version, self.round = version, round_
        self.registered: dict[str, str] = {}  # du → task json, in registration (= stack row) order
        self.uploads: dict[str, Upload] = {}
        self.reporting: dict[str, Upload] = {}
        self.first_accept_at: float | None = None
        self.last_weights: dict[str, dict[str, float]] = {}
        self._stack = torch.zeros(0, self.layout.numel, dtype=torch_dtype(config.stack_dtype))

    # ---- registration -------------------------------------------------------------------
    def register(
        self, du: str, task_json: str, layout_sha256: str, spec: Sequence[tuple[str, Sequence[int]]]
    ) -> None:
        if not du or len(du) > 64 or not all(c.isalnum() or c in "_-" for c in du):
            raise Refused("invalid_argument", "invalid", f"du_id {du!r}: letters, digits, _ or - (≤ 64)")
        self._check_layout(layout_sha256, spec)
        self.registered[du] = task_json  # its stack row is allocated by its first upload

    def _check_layout(self, digest: str, spec: Sequence[tuple[str, Sequence[int]]]) -> None:
        names = [n for n, _ in spec]
        if names != list(self.layout.names):
            missing = sorted(set(self.layout.names) - set(names))[:3]
            extra = sorted(set(names) - set(self.layout.names))[:3]
            raise Refused(
                "invalid_argument",
                "invalid",
                f"layout names differ (missing {missing}, extra {extra}, or order)",
            )
        for (name, shape), want in zip(spec, self.layout.shapes, strict=True):
            if tuple(int(d) for d in shape) != tuple(want):
                raise Refused(
                    "invalid_argument",
                    "invalid",
                    f"tensor {name!r}: shape {tuple(shape)}, expected {tuple(want)}",
                )
        if digest != self.layout_sha256:
            raise Refused("invalid_argument", "invalid", "layout sha256 does not match the meta-parameters'")

    def _grow(self, rows: int) -> None:
        """Make the stack ``rows`` long (growing costs old + new rows for a moment, so it happens
        once per new DU, at its first upload, not at each registration)."""
        if rows > self._stack.shape[0]:
            bigger = torch.zeros(rows, self.layout.numel, dtype=self._stack.dtype)
            bigger[: self._stack.shape[0]] = self._stack
            self._stack = bigger

    def _row_of(self, du: str) -> int:
        return list(self.registered).index(du)

    # ---- uploads --------------------------------------------------------------------------
    def begin(
        self,
        du: str,
        round_: int,
        base_version: int,
        dtype: WireDType,
        total_bytes: int,
        chunk_bytes: int,
        digest: bytes,
        td: Mapping[str, TdStat],
        samples: int,
    ) -> Upload:
        """Open (or, same digest, resume) an upload; returns it (see `Upload.missing`)."""
        if du not in self.registered:
            raise Refused("failed_precondition", "unknown_du", f"DU {du!r} has not registered")
        if round_ != self.round or base_version != self.version:
            raise Refused(
                "failed_precondition",
                "stale",
                f"update for round {round_} on version {base_version}; "
                f"open: round {self.round}, version {self.version}",
            )
        upload_id = f"{du}/{round_}/{digest.hex()}"
        if du in self.reporting and self.reporting[du].upload_id != upload_id:
            raise Refused(
                "failed_precondition", "duplicate", f"DU {du!r} already has an update in round {round_}"
            )
        if upload_id in self.uploads:
            return self.uploads[upload_id]
        self._check_header(dtype, total_bytes, chunk_bytes, digest, td)
        for other in [u for u in self.uploads.values() if u.du == du and not u.accepted]:
            del self.uploads[other.upload_id]  # a new attempt replaces an unfinished one
        upload = Upload(
            upload_id, du, round_, base_version, dtype, total_bytes, chunk_bytes, digest,
            dict(td), samples, chunk_count(total_bytes, chunk_bytes),
        )  # fmt: skip
        self.uploads[upload_id] = upload
        self._grow(len(self.registered))
        return upload

    def _check_header(
        self, dtype: str, total_bytes: int, chunk_bytes: int, digest: bytes, td: Mapping[str, TdStat]
    ) -> None:
        if dtype not in ("float32", "bfloat16"):
            raise Refused("invalid_argument", "invalid", f"dtype {dtype!r}: expected float32 or bfloat16")
        want = self.layout.numel * element_size(dtype)  # type: ignore[arg-type]
        if total_bytes != want:
            raise Refused(
                "invalid_argument", "invalid", f"update of {total_bytes} bytes, the layout has {want}"
            )
        if not 0 < chunk_bytes <= self.config.max_chunk_bytes or chunk_bytes % 4:
            raise Refused(
                "invalid_argument",
                "invalid",
                f"chunk_bytes {chunk_bytes}: a multiple of 4, ≤ {self.config.max_chunk_bytes}",
            )
        if len(digest) != 32:
            raise Refused("invalid_argument", "invalid", "sha256 must be 32 bytes")
        if self.meta.scheme != "uniform":
            if set(td) != set(self.config.groups):
                raise Refused(
                    "invalid_argument",
                    "invalid",
                    f"TD statistics for {sorted(td)}, expected {list(self.config.groups)}",
                )
            for g, s in td.items():
                if not (math.isnan(s.variance) or (math.isfinite(s.variance) and s.variance >= 0)):
                    raise Refused("invalid_argument", "invalid", f"TD variance of group {g!r}: {s.variance}")

    def _upload(self, upload_id: str) -> Upload:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise Refused(
                "not_found", "unknown_upload", f"no upload {upload_id!r} (closed round or never begun)"
            )
        if upload.round != self.round:
            raise Refused("failed_precondition", "closed_round", f"round {upload.round} is closed")
        return upload

    def chunk(
        self, upload_id: str, index: int, data: bytes | memoryview, digest: bytes, actual: bytes | None = None
    ) -> bool:
        """Decode one chunk into the DU's row; returns True for an idempotent re-send.
        ``actual``: the chunk's sha256 if the caller already computed it (e.g. in a thread)."""
        upload = self._upload(upload_id)
        if not 0 <= index < upload.n_chunks:
            raise Refused("invalid_argument", "invalid", f"chunk {index} of {upload.n_chunks}")
        size = (
            upload.chunk_bytes
            if index < upload.n_chunks - 1
            else upload.total_bytes - index * upload.chunk_bytes
        )
        if len(data) != size:
            raise Refused("invalid_argument", "invalid", f"chunk {index}: {len(data)} bytes, expected {size}")
        actual = sha256(data) if actual is None else actual
        if actual != digest:
            raise Refused("invalid_argument", "invalid", f"chunk {index}: sha256 mismatch")
        if upload.received.get(index) == actual:
            return True
        if upload.accepted:
            raise Refused("failed_precondition", "duplicate", "the update is already committed")
        row = self._stack[self._row_of(upload.du)]
        try:
            decode_chunk_into(row, data, index, upload.chunk_bytes, upload.dtype)
        except MetaInputError as exc:
            raise Refused("invalid_argument", "invalid", str(exc)) from None
        upload.received[index] = actual
        upload.revision += 1
        return False

    def complete(self, upload_id: str) -> AcceptedUpdate:
        """The upload with every chunk in, and its row as it is now (nothing is checked or applied)."""
        upload = self._upload(upload_id)
        row = self._stack[self._row_of(upload.du)]
        if not upload.accepted and upload.missing():
            raise Refused("failed_precondition", "incomplete", f"missing chunks {upload.missing()[:10]}")
        return AcceptedUpdate(upload, row, upload.revision)

    def check(self, update: AcceptedUpdate, wire: bytes | memoryview) -> None:
        """Check ``wire``, the update's buffer in its wire dtype (a copy the caller owns): the
        whole SHA-256 and every value finite (naming the first bad tensor). Reads only the
        layout, so it may run in a worker thread while the round goes on."""
        upload = update.upload
        if sha256(wire) != upload.digest:
            raise Refused("invalid_argument", "invalid", "whole-update sha256 mismatch")
        if not all_finite(wire, upload.dtype):
            values = torch.frombuffer(bytearray(wire), dtype=torch_dtype(upload.dtype))
            bad = next(n for n, t in self.layout.unflatten(values).items() if not bool(t.isfinite().all()))
            raise Refused("invalid_argument", "invalid", f"tensor {bad!r} has non-finite values")

    def validate(self, upload_id: str) -> AcceptedUpdate:
        """Check a complete upload (whole checksum, finiteness per tensor); nothing is applied."""
        update = self.complete(upload_id)
        if not update.upload.accepted:
            self.check(update, row_to_wire(update.row, update.upload.dtype))
        return update

    def accept(self, update: AcceptedUpdate, now: float) -> bool:
        """Count a validated (and durable) update; returns whether the round has its quorum.
        Refused when a chunk rewrote the row after `complete` (what was checked is not the row)."""
        upload = update.upload
        if upload.revision != update.revision:
            raise Refused(
                "failed_precondition", "duplicate", f"upload {upload.upload_id} changed during its commit"
            )
        upload.accepted = True
        self.reporting[upload.du] = upload
        if self.first_accept_at is None:
            self.first_accept_at = now
        return self.quorum_reached()

    def restore_accepted(self, upload: Upload, wire: bytes, now: float) -> None:
        """Reload an update accepted before a restart (from the store) into its row."""
        row = self._stack[self._row_of(upload.du)]
        for i in range(upload.n_chunks):
            start = i * upload.chunk_bytes
            decode_chunk_into(
                row, memoryview(wire)[start : start + upload.chunk_bytes], i, upload.chunk_bytes, upload.dtype
            )
            upload.received[i] = b""
        upload.accepted = True
        self.uploads[upload.upload_id] = upload
        self.reporting[upload.du] = upload
        self.first_accept_at = now

    # ---- closing --------------------------------------------------------------------------
    def quorum(self) -> int:
        return max(
            self.config.min_updates, math.ceil(self.config.quorum_fraction * len(self.registered) - 1e-9)
        )

    def quorum_reached(self) -> bool:
        return len(self.reporting) >= self.quorum()

    def deadline(self) -> float | None:
        """When the open round times out (None: no accepted update yet)."""
        return None if self.first_accept_at is None else self.first_accept_at + self.config.round_timeout_s

    def due(self, now: float) -> bool:
        deadline = self.deadline()
        return bool(self.reporting) and (self.quorum_reached() or (deadline is not None and now >= deadline))

    def close(self) -> ClosedRound:
        """Aggregate the accepted updates (eq. 13) into version v+1 and open round r+1."""
        if not self.reporting:
            raise Refused("failed_precondition", "empty_round", "no accepted update to aggregate")
        order = list(self.registered)
        dus = tuple(du for du in order if du in self.reporting)
        rows = [order.index(du) for du in dus]
        data = self._stack[: len(rows)] if rows == list(range(len(rows))) else self._stack[rows]
        stack = GradientStack.wrap(self.layout, data)
        raw = {g: {du: self.reporting[du].td[g].variance for du in dus} for g in self.config.groups}
        variances = (
            None
            if self.meta.scheme == "uniform"
            else variances_with_fallback({g: [raw[g][du] for du in dus] for g in self.config.groups})
        )
        theta = self.layout.unflatten(self.theta_flat)
        step = meta_step(theta, stack, variances, self.meta)
        weights = {
            g: {
                du: float(w) for du, w in zip(dus, step.weights.get(g, step.weights.get("", ())), strict=True)
            }
            for g in self.config.groups
        }
        closed = ClosedRound(self.round, self.version + 1, dus, weights, raw, step)
        self.advance(step.flat, self.version + 1, self.round + 1, weights)
        return closed

    def advance(self, flat: Tensor, version: int, round_: int, weights: dict[str, dict[str, float]]) -> None:
        """Install θ_M version ``version`` and open round ``round_`` (also used on restore)."""
        self.theta_flat = flat
        self.version, self.round = version, round_
        self.last_weights = weights
        self.uploads = {k: u for k, u in self.uploads.items() if u.round >= round_}
        self.reporting = {}
        self.first_accept_at = None
        # The stack is not cleared: a row counts only once accepted, and acceptance needs every
        # chunk of that upload, which overwrite the whole row (clearing cost a pass over N rows).

    def theta(self) -> dict[str, Tensor]:
        return self.layout.unflatten(self.theta_flat)
