"""Atomic checkpoints of each DU's agent state, on disk and in the SDL (Redis).

Layout (the same on both targets; the SDL keys live in the store's namespace):

- two **slots** per DU, ``ckpt/<du>/slot-0`` and ``ckpt/<du>/slot-1``: each holds one
  self-describing *envelope* — ``MHCKPT1\\n``, a 4-byte big-endian header length, a JSON header
  (``seq``, ``du``, ``kind``, ``sha256`` and ``size`` of the payload, ``saved_unix``, the caller's
  ``meta``) and the payload (``kind`` ``bytes``: as given; ``torch``: a state dict written with
  `xapps.agent.checkpoint.save_checkpoint_file`, read back with ``weights_only=True``);
- a **pointer** ``ckpt/<du>/pointer``: JSON ``{"seq": latest, "slots": {"0": {"seq", "sha256"},
  "1": …}}``.

Save number *n* overwrites slot *n mod 2* — the older of the two — so the last two checkpoints are
kept and nothing needs deleting (the SDL interface has no delete). On disk the slot is written to a
temporary file, fsynced and renamed, then the pointer likewise, then the directory is fsynced; in
the SDL the slot and the pointer are written in one MULTI/EXEC, conditional on the pointer being
unchanged (`SdlStore.compare_and_set`). A crash at any point leaves the previous checkpoint intact.

`load_latest` reads both targets, verifies every candidate's checksum (against its own header and
the pointer), skips a corrupt one with a warning and ``metahrl_du_checkpoints_total{outcome=
"corrupt"}``, and returns the newest valid one. Failed writes are counted
(``outcome="failed"``) and logged once per target until one succeeds again; `save` never raises.
Run it off the control path: `save_async` does the work in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from xapps.agent.checkpoint import CheckpointError, load_checkpoint_file, save_checkpoint_file
from xapps.service.metrics import XappMetrics

__all__ = ["CheckpointStore", "CheckpointTimer", "LoadedCheckpoint", "SdlStore", "checkpoint_periodically"]

log = logging.getLogger(__name__)

_MAGIC: Final = b"MHCKPT1\n"
_HEADER_LEN: Final = struct.Struct(">I")
_SLOTS: Final = 2


class SdlStore(Protocol):
    """The part of `ric.sdl`'s store this module uses."""

    def get(self, ns: str, keys: Iterable[str]) -> dict[str, bytes]: ...

    def set(self, ns: str, items: Mapping[str, bytes]) -> None: ...

    def compare_and_set(
        self, ns: str, key: str, expected: bytes | None, new: bytes, extra: Mapping[str, bytes] = ...
    ) -> bool: ...

    def ping(self) -> bool: ...


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A verified checkpoint: the state as saved (bytes or a state dict) and its metadata."""

    state: bytes | dict[str, Any]
    meta: dict[str, Any]
    seq: int  # per target: 1, 2, … (targets that missed writes lag behind)
    saved_unix: float  # when it was written (compares checkpoints across targets)
    source: str  # "disk" | "sdl"

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``state, meta = store.load_latest(du)``."""
        return iter((self.state, self.meta))


class _CorruptError(ValueError):
    pass


# ---- envelope -----------------------------------------------------------------------------------


def _serialise(state: bytes | Mapping[str, Any]) -> tuple[str, bytes]:
    if isinstance(state, bytes | bytearray | memoryview):
        return "bytes", bytes(state)
    buf = io.BytesIO()
    save_checkpoint_file(state, buf)
    return "torch", buf.getvalue()


def _deserialise(kind: str, payload: bytes) -> bytes | dict[str, Any]:
    if kind == "bytes":
        return payload
    if kind == "torch":
        return load_checkpoint_file(io.BytesIO(payload))
    raise _CorruptError(f"unknown payload kind {kind!r}")


def _envelope(header: Mapping[str, Any], payload: bytes) -> bytes:
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return _MAGIC + _HEADER_LEN.pack(len(head)) + head + payload


def _open_envelope(blob: bytes) -> tuple[dict[str, Any], bytes]:
    """Header and payload of `blob`, with the payload's checksum verified."""
    start = len(_MAGIC) + _HEADER_LEN.size
    if not blob.startswith(_MAGIC) or len(blob) < start:
        raise _CorruptError("not a checkpoint envelope")
    (head_len,) = _HEADER_LEN.unpack_from(blob, len(_MAGIC))
    try:
        header = json.loads(blob[start : start + head_len])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _CorruptError(f"unreadable header: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("seq"), int):
        raise _CorruptError("header without a seq")
    payload = blob[start + head_len :]
    if len(payload) != header.get("size") or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise _CorruptError(f"checksum mismatch (seq {header['seq']})")
    return header, payload


# ---- targets ------------------------------------------------------------------------------------


class _Target(Protocol):
    name: str

    def read(self, keys: list[str]) -> dict[str, bytes]: ...

    def write(self, slot_key: str, blob: bytes, pointer_key: str, old: bytes | None, new: bytes) -> None: ...


class _DiskTarget:
    name = "disk"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / (key.replace("/", os.sep) + ".bin")

    def read(self, keys: list[str]) -> dict[str, bytes]:
        out = {}
        for key in keys:
            path = self._path(key)
            if path.exists():
                out[key] = path.read_bytes()
        return out

    def write(self, slot_key: str, blob: bytes, pointer_key: str, old: bytes | None, new: bytes) -> None:
        _atomic_write(self._path(slot_key), blob)
        _atomic_write(self._path(pointer_key), new)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write temp + fsync + rename + fsync(directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _SdlTarget:
    name = "sdl"

    def __init__(self, sdl: SdlStore, namespace: str) -> None:
        self.sdl = sdl
        self.namespace = namespace

    def read(self, keys: list[str]) -> dict[str, bytes]:
        return self.sdl.get(self.namespace, keys)

    def write(self, slot_key: str, blob: bytes, pointer_key: str, old: bytes | None, new: bytes) -> None:
        if not self.sdl.compare_and_set(self.namespace, pointer_key, old, new, {slot_key: blob}):
            raise RuntimeError(f"SDL pointer {pointer_key} changed under us (another writer?)")


# ---- the store ----------------------------------------------------------------------------------


_DU_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _keys(du: int | str) -> tuple[str, list[str]]:
    """Pointer and slot keys of `du` (also file names on disk, so `du` must be a plain name)."""
    if not _DU_NAME.match(str(du)):
        raise ValueError(f"DU id {du!r}: expected letters, digits, _ or - (at most 64)")
    return f"ckpt/{du}/pointer", [f"ckpt/{du}/slot-{i}" for i in range(_SLOTS)]


def _parse_pointer(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {"seq": 0, "slots": {}}
    try:
        pointer = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _CorruptError(f"unreadable pointer: {exc}") from exc
    if not isinstance(pointer, dict) or not isinstance(pointer.get("seq"), int):
        raise _CorruptError("pointer without a seq")
    if not isinstance(pointer.get("slots"), dict):
        raise _CorruptError("pointer without slots")
    return pointer


class CheckpointStore:
    """Checkpoints of DU agent state in `directory` and/or `sdl` (either may be None).

    Thread-safe; does no I/O until called.
    """

    def __init__(
        self,
        directory: Path | None,
        sdl: SdlStore | None,
        namespace: str,
        *,
        metrics: XappMetrics | None = None,
    ) -> None:
        self._targets: list[_Target] = []
        if directory is not None:
            self._targets.append(_DiskTarget(Path(directory)))
        if sdl is not None:
            self._targets.append(_SdlTarget(sdl, namespace))
        self._metrics = metrics
        self._lock = threading.Lock()
        self._failing: set[str] = set()  # targets whose last write failed (logged once)

    # ---- save -----------------------------------------------------------------------------

    def save(self, du: int | str, state: bytes | Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Write one checkpoint of `du` to every target; never raises (failures are counted)."""
        try:
            _keys(du)
            kind, payload = _serialise(state)
            meta_json = json.loads(json.dumps(dict(meta)))
        except Exception as exc:  # never raise into the control loop (pickling errors included)
            for target in self._targets:
                self._failed(target.name, du, exc)
            return
        with self._lock:
            for target in self._targets:
                self._save_one(target, du, kind, payload, meta_json)

    async def save_async(
        self, du: int | str, state: bytes | Mapping[str, Any], meta: Mapping[str, Any]
    ) -> None:
        """`save` in a worker thread, off the event loop."""
        await asyncio.to_thread(self.save, du, state, meta)

    def _save_one(
        self, target: _Target, du: int | str, kind: str, payload: bytes, meta: dict[str, Any]
    ) -> None:
        pointer_key, slot_keys = _keys(du)
        try:
            old_raw = target.read([pointer_key]).get(pointer_key)
            try:
                pointer = _parse_pointer(old_raw)
            except _CorruptError as exc:
                log.warning(
                    "checkpoint pointer of DU %s on %s is corrupt (%s); starting over", du, target.name, exc
                )
                self._count("corrupt", target.name)
                pointer = {"seq": 0, "slots": {}}
            seq = int(pointer["seq"]) + 1
            slot = seq % _SLOTS
            digest = hashlib.sha256(payload).hexdigest()
            header = {
                "seq": seq,
                "du": str(du),
                "kind": kind,
                "size": len(payload),
                "sha256": digest,
                "saved_unix": time.time(),
                "meta": meta,
            }
            slots = dict(pointer["slots"])
            slots[str(slot)] = {"seq": seq, "sha256": digest}
            new_pointer = json.dumps({"seq": seq, "slots": slots}, sort_keys=True).encode()
            target.write(slot_keys[slot], _envelope(header, payload), pointer_key, old_raw, new_pointer)
        except Exception as exc:  # the boundary that must never raise into the control loop
            self._failed(target.name, du, exc)
            return
        if target.name in self._failing:
            log.info("checkpoint writes to %s work again", target.name)
            self._failing.discard(target.name)
        self._count("saved", target.name)

    def _failed(self, target: str, du: int | str, exc: BaseException) -> None:
        self._count("failed", target)
        if target not in self._failing:
            self._failing.add(target)
            log.error(
                "checkpoint of DU %s to %s failed: %s: %s (further failures not logged)",
                du,
                target,
                type(exc).__name__,
                exc,
            )

    def _count(self, outcome: str, target: str) -> None:
        if self._metrics is not None:
            self._metrics.checkpoint(outcome, target)

    # ---- load -----------------------------------------------------------------------------

    def load_latest(self, du: int | str) -> LoadedCheckpoint | None:
        """The newest checkpoint of `du` that verifies, from any target; None if there is none.

        An unreachable target is skipped with a warning; only a malformed `du` raises (ValueError).
        """
        _keys(du)
        best: LoadedCheckpoint | None = None
        for target in self._targets:
            found = self._load_from(target, du)
            if found is not None and (best is None or found.saved_unix > best.saved_unix):
                best = found
        if best is not None:
            self._count("loaded", best.source)
        return best

    def _load_from(self, target: _Target, du: int | str) -> LoadedCheckpoint | None:
        pointer_key, slot_keys = _keys(du)
        try:
            raw = target.read([pointer_key, *slot_keys])
        except Exception as exc:  # an unreachable target is skipped, not fatal
            log.warning(
                "cannot read checkpoints of DU %s from %s: %s: %s", du, target.name, type(exc).__name__, exc
            )
            return None
        try:
            expected = {int(k): v for k, v in _parse_pointer(raw.get(pointer_key))["slots"].items()}
        except (_CorruptError, ValueError, TypeError) as exc:
            log.warning(
                "checkpoint pointer of DU %s on %s is corrupt (%s); checking slots", du, target.name, exc
            )
            self._count("corrupt", target.name)
            expected = {}
        candidates = []
        for slot, key in enumerate(slot_keys):
            if key in raw:
                found = self._verify(target.name, du, slot, raw[key], expected.get(slot))
                if found is not None:
                    candidates.append(found)
        return max(candidates, key=lambda c: c.seq, default=None)

    def _verify(
        self, target: str, du: int | str, slot: int, blob: bytes, expected: Any
    ) -> LoadedCheckpoint | None:
        try:
            header, payload = _open_envelope(blob)
            _check_against_pointer(header, expected)
            state = _deserialise(str(header.get("kind")), payload)
        except (_CorruptError, CheckpointError) as exc:
            log.warning("skipping corrupt checkpoint of DU %s on %s, slot %d: %s", du, target, slot, exc)
            self._count("corrupt", target)
            return None
        meta = header.get("meta")
        saved = header.get("saved_unix")
        return LoadedCheckpoint(
            state=state,
            meta=meta if isinstance(meta, dict) else {},
            seq=int(header["seq"]),
            saved_unix=float(saved) if isinstance(saved, int | float) else 0.0,
            source=target,
        )


def _check_against_pointer(header: Mapping[str, Any], expected: Any) -> None:
    """A slot older than the pointer says, or the same seq with other bytes, is stale or torn.

    A slot *newer* than the pointer is a complete save whose pointer update was lost (a crash
    between the two renames on disk): its own checksum verified, so it is used.
    """
    if not isinstance(expected, dict):
        return
    want = expected.get("seq")
    if not isinstance(want, int) or header["seq"] > want:
        return
    if header["seq"] < want or expected.get("sha256") != header["sha256"]:
        raise _CorruptError(f"slot holds seq {header['seq']}, the pointer expects seq {want} ({expected})")


# ---- periodic checkpoints -----------------------------------------------------------------------

Snapshot = Callable[[], tuple[bytes | Mapping[str, Any], Mapping[str, Any]] | None]


class CheckpointTimer:
    """Sans-IO: whether a periodic checkpoint is due (time passed in; the interval may change)."""

    def __init__(self, interval_s: float, now: float) -> None:
        self.interval_s = interval_s
        self._last = now

    def due(self, now: float) -> bool:
        return now - self._last >= self.interval_s

    def next_due(self) -> float:
        return self._last + self.interval_s

    def mark(self, now: float) -> None:
        """A checkpoint was taken at `now`."""
        self._last = now


async def checkpoint_periodically(
    store: CheckpointStore,
    du: int | str,
    snapshot: Snapshot,
    interval_s: Callable[[], float],
    stop: asyncio.Event,
    *,
    final: bool = True,
) -> None:
    """Save ``snapshot()`` every ``interval_s()`` seconds (re-read each period, so a config PUT
    takes effect) until `stop` is set; then once more if `final`. The save runs in a thread.

    `snapshot` runs on the event loop and must be cheap (hand over a copy the learner already
    made); it returns ``(state, meta)``, or None when there is nothing new to save. An exception
    from it is logged and the loop carries on.
    """
    loop = asyncio.get_running_loop()
    timer = CheckpointTimer(interval_s(), loop.time())
    while not stop.is_set():
        timer.interval_s = interval_s()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, timer.next_due() - loop.time()))
        if stop.is_set() and not final:
            break
        if timer.due(loop.time()) or stop.is_set():
            timer.mark(loop.time())
            await _save_snapshot(store, du, snapshot)


async def _save_snapshot(store: CheckpointStore, du: int | str, snapshot: Snapshot) -> None:
    try:
        taken = snapshot()
    except Exception:  # a failing snapshot must not end the periodic task
        log.exception("checkpoint snapshot of DU %s failed", du)
        return
    if taken is not None:
        await store.save_async(du, *taken)
